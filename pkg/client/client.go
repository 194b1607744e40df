package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// DefaultUserAgent is sent when Options.UserAgent is empty.
const DefaultUserAgent = "mapwright-client"

// Response size limits: the admin API's answers are small, and a client
// must not buffer whatever a misbehaving server streams at it.
const (
	maxJSONBody  = 32 << 20
	maxErrorBody = 64 << 10
	maxMetrics   = 64 << 20
	maxDetailLen = 512
)

// Options configure a Client.
type Options struct {
	// Server is the admin API address: "unix:///path/admin.sock" (or the
	// bare absolute path) or "https://host:port". Required.
	Server string
	// Token is a secret key (mpw_sk_...) sent as "Authorization: Bearer".
	// It never appears in errors or logs. Over the unix socket it is
	// optional: access to the socket is admin access.
	Token string
	// CACertFile is a PEM file of CA certificates that sign the server's
	// certificate (HTTPS only). Empty: the system roots.
	CACertFile string
	// PinnedFingerprint is the SHA-256 of the DER of the server's CA or
	// leaf certificate, as hex (see ParseFingerprint). When set, the
	// server must present or chain to that certificate; without
	// CACertFile the pin replaces the system roots.
	PinnedFingerprint string
	// SessionCookie is a session from Login, as "name=value", sent as a
	// Cookie header. It never appears in errors or logs.
	SessionCookie string
	// HTTPClient replaces the client New builds (tests, custom proxies).
	// When set, Server still names the base URL but CACertFile and
	// PinnedFingerprint are ignored.
	HTTPClient *http.Client
	// UserAgent is the User-Agent header; empty: DefaultUserAgent.
	UserAgent string
}

// Client calls the admin API. It is safe for concurrent use.
type Client struct {
	server  Server
	hc      *http.Client
	token   string
	cookie  string
	ua      string
	display string
}

// New returns a client of the admin API at opts.Server. It checks the
// address, the CA file and the fingerprint, but does not connect.
func New(opts Options) (*Client, error) {
	srv, err := ParseServer(opts.Server)
	if err != nil {
		return nil, err
	}
	var pin []byte
	if opts.PinnedFingerprint != "" {
		if pin, err = ParseFingerprint(opts.PinnedFingerprint); err != nil {
			return nil, err
		}
	}
	if strings.ContainsAny(opts.Token, "\r\n") || strings.ContainsAny(opts.SessionCookie, "\r\n;") {
		return nil, errors.New("token or session cookie contains a line break or separator")
	}
	hc := opts.HTTPClient
	if hc == nil {
		t, err := newTransport(srv, opts.CACertFile, pin)
		if err != nil {
			return nil, err
		}
		hc = &http.Client{
			Transport: t,
			// The admin API never redirects; following one could carry the
			// credentials somewhere else.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	ua := opts.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	return &Client{
		server:  srv,
		hc:      hc,
		token:   opts.Token,
		cookie:  opts.SessionCookie,
		ua:      ua,
		display: srv.String(),
	}, nil
}

// Server returns the canonical admin API address this client talks to.
func (c *Client) Server() string { return c.display }

// request describes one call.
type request struct {
	method string
	path   string
	query  url.Values
	body   any
	// accept is the expected success statuses; empty: 200.
	accept []int
	// header holds extra request headers; an Accept here replaces the
	// default application/json.
	header http.Header
	// auth: send the token or the session cookie. Login sends neither
	// header: its body carries the key.
	noAuth bool
}

// do sends req and returns the response with an accepted status; the caller
// closes its body. Any other status is decoded into an *APIError.
func (c *Client) do(ctx context.Context, req request) (*http.Response, error) {
	u := *c.server.URL
	// req.path is already escaped (ids are path-escaped): RawPath keeps an
	// escaped slash from turning into a path separator.
	u.RawPath = req.path
	if p, err := url.PathUnescape(req.path); err == nil {
		u.Path = p
	}
	if len(req.query) > 0 {
		u.RawQuery = req.query.Encode()
	}
	var body io.Reader
	if req.body != nil {
		b, err := json.Marshal(req.body)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s request: %w", req.method, req.path, err)
		}
		body = bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.method, req.path, err)
	}
	hr.Header.Set("User-Agent", c.ua)
	hr.Header.Set("Accept", "application/json")
	if req.body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	for name, vals := range req.header {
		hr.Header[http.CanonicalHeaderKey(name)] = vals
	}
	if !req.noAuth {
		if c.token != "" {
			hr.Header.Set("Authorization", "Bearer "+c.token)
		}
		if c.cookie != "" {
			hr.Header.Set("Cookie", c.cookie)
		}
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		if ce := connectError(c.display, err); ce != nil {
			return nil, ce
		}
		return nil, fmt.Errorf("%s %s at %s: %w", req.method, req.path, c.display, unwrapURL(err))
	}
	accept := req.accept
	if len(accept) == 0 {
		accept = []int{http.StatusOK}
	}
	for _, s := range accept {
		if resp.StatusCode == s {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	return nil, decodeError(resp)
}

// call sends req and decodes a JSON answer into out (unless out is nil).
func (c *Client) call(ctx context.Context, req request, out any) error {
	resp, err := c.do(ctx, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxJSONBody))
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("decode %s %s answer: %w", req.method, req.path, err)
	}
	return nil
}

// decodeError turns an error response into an *APIError. The body is read
// up to a limit; problem details are used when present, else the status
// line and the start of a plain-text body.
func decodeError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return parseErrorBody(resp.StatusCode, resp.Header.Get("Content-Type"), body)
}

// parseErrorBody decodes an error answer's body. It never fails: whatever
// the server sent, the result is an *APIError with a readable message of
// bounded length.
func parseErrorBody(status int, contentType string, body []byte) *APIError {
	ae := &APIError{Status: status}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/problem+json" || mt == "application/json" {
		var p Problem
		if json.Unmarshal(body, &p) == nil {
			ae.Problem = p
		}
	} else if mt == "text/plain" || mt == "" {
		ae.Problem.Detail = firstLine(body)
	}
	ae.Problem.Status = status
	ae.Problem.Title = clean(ae.Problem.Title)
	ae.Problem.Detail = clean(ae.Problem.Detail)
	if ae.Problem.Title == "" {
		ae.Problem.Title = http.StatusText(status)
	}
	return ae
}

func firstLine(b []byte) string {
	s := string(b)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return s
}

// clean bounds a server-supplied message and strips control characters, so
// that printing it cannot drive the terminal.
func clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n >= maxDetailLen {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = ' '
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}
