package client

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode"
)

// socketHost is the URL host of requests sent over a unix socket. The
// daemon's host gate accepts it on the socket listener only.
const socketHost = "mapwright"

// Server is a parsed admin API address.
type Server struct {
	// Socket is the unix socket path; empty for an HTTPS server.
	Socket string
	// URL is the base URL requests are sent to: http://mapwright for a
	// socket, https://host:port otherwise.
	URL *url.URL
}

// String returns the canonical form of the address: unix:///path or
// https://host[:port].
func (s Server) String() string {
	if s.Socket != "" {
		return "unix://" + s.Socket
	}
	return s.URL.String()
}

// ParseServer parses an admin API address: "unix:///abs/path/admin.sock",
// an absolute socket path "/abs/path/admin.sock", or "https://host[:port]".
// Plain http:// is refused (the admin API over TCP is always TLS), and so
// is a URL carrying credentials, a path, a query or a fragment.
func ParseServer(s string) (Server, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Server{}, fmt.Errorf("%w: empty address", ErrServer)
	}
	if strings.HasPrefix(s, "/") {
		return socketServer(s)
	}
	if rest, ok := strings.CutPrefix(s, "unix://"); ok {
		if !strings.HasPrefix(rest, "/") {
			return Server{}, fmt.Errorf("%w: %q: a socket address is unix:///absolute/path", ErrServer, s)
		}
		return socketServer(rest)
	}
	u, err := url.Parse(s)
	if err != nil {
		return Server{}, fmt.Errorf("%w: %v", ErrServer, err)
	}
	switch u.Scheme {
	case "https":
	case "http":
		return Server{}, fmt.Errorf("%w: %q: the admin API over TCP is always TLS; use https://", ErrServer, s)
	default:
		return Server{}, fmt.Errorf("%w: %q: want unix:///path/admin.sock or https://host:port", ErrServer, s)
	}
	if u.User != nil {
		// Never echo the address: its user part may be a secret.
		return Server{}, fmt.Errorf("%w: the address carries credentials; pass a token with --token-file or MWCTL_TOKEN instead", ErrServer)
	}
	if u.Host == "" || u.Hostname() == "" {
		return Server{}, fmt.Errorf("%w: %q has no host", ErrServer, s)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return Server{}, fmt.Errorf("%w: %q: give only scheme, host and port", ErrServer, s)
	}
	return Server{URL: &url.URL{Scheme: "https", Host: u.Host}}, nil
}

func socketServer(path string) (Server, error) {
	clean := filepath.Clean(path)
	if !filepath.IsAbs(clean) || clean == "/" {
		return Server{}, fmt.Errorf("%w: socket path %q must be an absolute file path", ErrServer, path)
	}
	// ParseServer trims the address, so a path ending in white space
	// ("/ /" cleans to "/ ") would not survive its own canonical form.
	if strings.TrimRightFunc(clean, unicode.IsSpace) != clean {
		return Server{}, fmt.Errorf("%w: socket path %q must not end in white space", ErrServer, path)
	}
	return Server{Socket: clean, URL: &url.URL{Scheme: "http", Host: socketHost}}, nil
}

// ParseFingerprint normalises a SHA-256 certificate fingerprint: 64
// hexadecimal digits in any case, optionally grouped with colons or spaces
// and prefixed with "sha256:" or "SHA256:". It returns the 32-byte digest.
func ParseFingerprint(s string) ([]byte, error) {
	t := strings.TrimSpace(s)
	if len(t) >= 7 && strings.EqualFold(t[:7], "sha256:") {
		t = t[7:]
	}
	t = strings.NewReplacer(":", "", " ", "", "-", "").Replace(t)
	if len(t) != 2*sha256.Size {
		return nil, fmt.Errorf("%w: want 64 hexadecimal digits (SHA-256), got %d characters", ErrFingerprint, len(t))
	}
	b, err := hex.DecodeString(t)
	if err != nil {
		return nil, fmt.Errorf("%w: not hexadecimal", ErrFingerprint)
	}
	return b, nil
}

// Fingerprint returns the SHA-256 fingerprint of a DER certificate as
// lowercase hex, the form ParseFingerprint accepts and mapwrightd prints.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// tlsConfig builds the client TLS configuration: the system roots or the CA
// file, and the pin when one is set.
func tlsConfig(serverName, caFile string, pin []byte) (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("read CA certificate %q: no PEM certificate in it", caFile)
		}
		conf.RootCAs = pool
	}
	if pin == nil {
		return conf, nil
	}
	if caFile != "" {
		// The chain is verified against the CA file as usual; the pin must
		// also be in a verified chain (the CA itself when the server does
		// not send it).
		conf.VerifyConnection = func(cs tls.ConnectionState) error {
			for _, chain := range cs.VerifiedChains {
				for _, c := range chain {
					if pinMatches(c.Raw, pin) {
						return nil
					}
				}
			}
			return ErrPinMismatch
		}
		return conf, nil
	}
	// With a pin and no CA file, the pin replaces the system roots: the
	// default verification is off and VerifyConnection does all of it.
	conf.InsecureSkipVerify = true
	conf.VerifyConnection = func(cs tls.ConnectionState) error {
		return verifyPinned(cs, pin)
	}
	return conf, nil
}

func pinMatches(der, pin []byte) bool {
	sum := sha256.Sum256(der)
	return subtle.ConstantTimeCompare(sum[:], pin) == 1
}

// verifyPinned accepts a connection whose leaf certificate is the pinned one,
// or whose leaf chains (with the host name checked) to a pinned CA that the
// server sent in its chain. A CA certificate is public, so merely presenting
// it proves nothing: the leaf must be signed by it.
func verifyPinned(cs tls.ConnectionState, pin []byte) error {
	certs := cs.PeerCertificates
	if len(certs) == 0 {
		return fmt.Errorf("%w: the server sent no certificate", ErrPinMismatch)
	}
	if pinMatches(certs[0].Raw, pin) {
		// The handshake proves the server holds the leaf's private key.
		return nil
	}
	for i, c := range certs[1:] {
		if !pinMatches(c.Raw, pin) {
			continue
		}
		roots := x509.NewCertPool()
		roots.AddCert(c)
		inter := x509.NewCertPool()
		for _, ic := range certs[1 : i+1] {
			inter.AddCert(ic)
		}
		_, err := certs[0].Verify(x509.VerifyOptions{
			DNSName:       cs.ServerName,
			Roots:         roots,
			Intermediates: inter,
		})
		if err != nil {
			return fmt.Errorf("%w: %v", ErrPinMismatch, err)
		}
		return nil
	}
	return ErrPinMismatch
}

// newTransport returns the transport for srv: a dialer of the unix socket,
// or a TLS transport.
func newTransport(srv Server, caFile string, pin []byte) (*http.Transport, error) {
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	t := &http.Transport{
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     srv.Socket == "",
	}
	if srv.Socket != "" {
		path := srv.Socket
		t.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", path)
		}
		return t, nil
	}
	conf, err := tlsConfig(srv.URL.Hostname(), caFile, pin)
	if err != nil {
		return nil, err
	}
	t.DialContext = dialer.DialContext
	t.TLSClientConfig = conf
	return t, nil
}

// connectError wraps a transport failure with the server address and a hint.
// It returns nil when err is not a failure to connect (for example a
// cancelled context after the request was sent).
func connectError(server string, err error) error {
	var (
		opErr    *net.OpError
		certErr  *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostErr  x509.HostnameError
		recErr   tls.RecordHeaderError
		alertErr tls.AlertError
	)
	switch {
	case errors.Is(err, ErrPinMismatch):
		return &ConnectError{Server: server, Err: ErrPinMismatch, Hint: "check the fingerprint mapwrightd printed"}
	case errors.As(err, &unknown), errors.As(err, &hostErr), errors.As(err, &certErr):
		return &ConnectError{Server: server, Err: unwrapURL(err), Hint: "pass the server's CA with --ca-cert FILE or pin it with --fingerprint HEX"}
	case errors.As(err, &recErr), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return &ConnectError{Server: server, Err: errors.New("the server did not answer with TLS"), Hint: "is this the admin TLS port?"}
	case errors.As(err, &alertErr):
		return &ConnectError{Server: server, Err: unwrapURL(err), Hint: "the server refused the TLS handshake (a client certificate may be required)"}
	case errors.As(err, &opErr) && opErr.Op == "dial":
		hint := "is mapwrightd running?"
		if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
			hint = "access to the socket is admin access: run as the daemon's user or a member of its group"
		}
		return &ConnectError{Server: server, Err: unwrapURL(err), Hint: hint}
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		return &ConnectError{Server: server, Err: unwrapURL(err), Hint: "the server refused the TLS handshake (a client certificate may be required)"}
	}
	return nil
}

// unwrapURL drops the *url.Error layer, whose message repeats the method and
// the URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
