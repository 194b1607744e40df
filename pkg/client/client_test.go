package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/pkg/client"
	"github.com/mapwright/mapwright/pkg/client/clienttest"
)

// testToken is a syntactically valid secret key used as the bearer token.
var testToken = clienttest.TokenFor("secret", 999)

// recorded is one request seen by a recording server.
type recorded struct {
	method, path, query, auth, cookie, ua, contentType, host string
	body                                                     []byte
}

// recordingServer answers every request with status and body and records
// what it received.
func recordingServer(t *testing.T, status int, contentType, body string) (*httptest.Server, *[]recorded) {
	t.Helper()
	var got []recorded
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, recorded{
			method: r.Method, path: r.URL.EscapedPath(), query: r.URL.RawQuery,
			auth: r.Header.Get("Authorization"), cookie: r.Header.Get("Cookie"),
			ua: r.Header.Get("User-Agent"), contentType: r.Header.Get("Content-Type"),
			host: r.Host, body: b,
		})
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		if status == http.StatusCreated && r.URL.Path == "/admin/v1/sessions" {
			http.SetCookie(w, &http.Cookie{Name: "mpw_session", Value: "s3cr3t", HttpOnly: true, Path: "/admin"})
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &got
}

func newClient(t *testing.T, srv *httptest.Server, opts client.Options) *client.Client {
	t.Helper()
	opts.Server = srv.URL
	if opts.HTTPClient == nil {
		opts.HTTPClient = srv.Client()
	}
	c, err := client.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	if want == "" {
		if len(got) != 0 {
			t.Errorf("body = %s, want none", got)
		}
		return
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("request body %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %q: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("body = %s\nwant   %s", got, want)
	}
}

func TestRequestShapes(t *testing.T) {
	exp := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
	tests := []struct {
		name      string
		status    int
		answer    string
		call      func(ctx context.Context, c *client.Client) (any, error)
		method    string
		path      string
		query     string
		body      string
		noAuth    bool
		wantValue any
	}{
		{
			name: "status", status: 200, answer: `{"version":"1.2.3","backend":"sqlite","keys":{"active":2}}`,
			call:   func(ctx context.Context, c *client.Client) (any, error) { return c.Status(ctx) },
			method: "GET", path: "/admin/v1/status",
			wantValue: client.Status{Version: "1.2.3", Backend: "sqlite", Keys: map[string]int{"active": 2}},
		},
		{
			name: "list keys with every filter", status: 200, answer: `{"keys":[{"id":"k1","name":"web"}],"next":"c1"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ListKeys(ctx, client.ListKeysOptions{
					Kind: "public", State: "expiring", ExpiringWithin: 168 * time.Hour, Tileset: "osm",
					Labels: map[string]string{"team": "maps", "env": "prod"}, Cursor: "abc", Limit: 10,
				})
			},
			method: "GET", path: "/admin/v1/keys",
			query:     "cursor=abc&expiring_within=168h0m0s&kind=public&label=env%3Dprod&label=team%3Dmaps&limit=10&state=expiring&tileset=osm",
			wantValue: client.KeyList{Keys: []client.Key{{ID: "k1", Name: "web"}}, Next: "c1"},
		},
		{
			name: "list keys without filters gives an empty list, not nil", status: 200, answer: `{"keys":null}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.ListKeys(ctx, client.ListKeysOptions{})
			},
			method: "GET", path: "/admin/v1/keys",
			wantValue: client.KeyList{Keys: []client.Key{}},
		},
		{
			name: "get key escapes the id", status: 200, answer: `{"id":"a/b"}`,
			call:   func(ctx context.Context, c *client.Client) (any, error) { return c.GetKey(ctx, "a/b") },
			method: "GET", path: "/admin/v1/keys/a%2Fb",
			wantValue: client.Key{ID: "a/b"},
		},
		{
			name: "create key", status: 201, answer: `{"id":"k2","name":"ci","kind":"secret","key":"mpw_sk_x"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.CreateKey(ctx, client.CreateKeyRequest{
					Name: "ci", Kind: "secret", Scopes: []string{"keys:read"}, Rate: 5, Burst: 10,
					Labels: map[string]string{"team": "ops"}, ExpiresAt: &exp,
				})
			},
			method: "POST", path: "/admin/v1/keys",
			body:      `{"name":"ci","kind":"secret","scopes":["keys:read"],"rate":5,"burst":10,"labels":{"team":"ops"},"expires_at":"2031-02-03T04:05:06Z"}`,
			wantValue: client.CreatedKey{Key: client.Key{ID: "k2", Name: "ci", Kind: "secret"}, Token: "mpw_sk_x"},
		},
		{
			name: "rotate key with grace", status: 201, answer: `{"id":"k3","replaces":"k2","key":"mpw_sk_y","old_expires_at":"2031-02-03T04:05:06Z"}`,
			call:   func(ctx context.Context, c *client.Client) (any, error) { return c.RotateKey(ctx, "k2", 24*time.Hour) },
			method: "POST", path: "/admin/v1/keys/k2/rotate", body: `{"grace":"24h0m0s"}`,
			wantValue: client.RotatedKey{Key: client.Key{ID: "k3", Replaces: "k2"}, Token: "mpw_sk_y", OldExpiresAt: &exp},
		},
		{
			name: "rotate key without grace sends 0s", status: 201, answer: `{"id":"k3"}`,
			call:   func(ctx context.Context, c *client.Client) (any, error) { return c.RotateKey(ctx, "k2", 0) },
			method: "POST", path: "/admin/v1/keys/k2/rotate", body: `{"grace":"0s"}`,
			wantValue: client.RotatedKey{Key: client.Key{ID: "k3"}},
		},
		{
			name: "revoke key", status: 200, answer: `{"key":{"id":"k2","state":"revoked"},"already_revoked":true}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				return c.RevokeKey(ctx, "k2", "leaked in a log")
			},
			method: "POST", path: "/admin/v1/keys/k2/revoke", body: `{"reason":"leaked in a log"}`,
			wantValue: client.RevokeResult{Key: client.Key{ID: "k2", State: "revoked"}, AlreadyRevoked: true},
		},
		{
			name: "lookup hashes", status: 200, answer: `{"results":[{"hash":"ab","state":"unknown"}]}`,
			call:   func(ctx context.Context, c *client.Client) (any, error) { return c.LookupKeys(ctx, []string{"ab"}) },
			method: "POST", path: "/admin/v1/keys/lookup", body: `{"hashes":["ab"]}`,
			wantValue: client.LookupResponse{Results: []client.LookupResult{{Hash: "ab", State: "unknown"}}},
		},
		{
			name: "enrol totp", status: 201, answer: `{"uri":"otpauth://totp/x?secret=AB"}`,
			call:   func(ctx context.Context, c *client.Client) (any, error) { return c.EnrollTOTP(ctx, "k2") },
			method: "POST", path: "/admin/v1/keys/k2/totp",
			wantValue: client.TOTPEnrollment{URI: "otpauth://totp/x?secret=AB"},
		},
		{
			name: "list tilesets", status: 200, answer: `{"tilesets":[{"name":"osm","status":"ok"}],"loaded":1}`,
			call:   func(ctx context.Context, c *client.Client) (any, error) { return c.ListTilesets(ctx) },
			method: "GET", path: "/admin/v1/tilesets",
			wantValue: client.TilesetList{Tilesets: []client.Tileset{{Name: "osm", Status: "ok"}}, Loaded: 1},
		},
		{
			name: "reload tilesets", status: 200, answer: `{"tilesets":[],"loaded":0,"failed":0}`,
			call:   func(ctx context.Context, c *client.Client) (any, error) { return c.ReloadTilesets(ctx) },
			method: "POST", path: "/admin/v1/tilesets/reload",
			wantValue: client.TilesetList{Tilesets: []client.Tileset{}},
		},
		{
			name: "metrics is raw text", status: 200, answer: "mapwright_up 1\n",
			call: func(ctx context.Context, c *client.Client) (any, error) {
				b, err := c.Metrics(ctx)
				return string(b), err
			},
			method: "GET", path: "/metrics", wantValue: "mapwright_up 1\n",
		},
		{
			name: "ready", status: 200, answer: `{}`,
			call:   func(ctx context.Context, c *client.Client) (any, error) { return nil, c.Ready(ctx) },
			method: "GET", path: "/readyz",
		},
		{
			name: "logout", status: 204,
			call:   func(ctx context.Context, c *client.Client) (any, error) { return nil, c.Logout(ctx) },
			method: "DELETE", path: "/admin/v1/sessions",
		},
		{
			name: "login sends the key in the body, not as a header", status: 201,
			answer: `{"key_id":"k9","expires_at":"2031-02-03T04:05:06Z","idle_expires_at":"2031-02-03T04:05:06Z"}`,
			call: func(ctx context.Context, c *client.Client) (any, error) {
				s, cookie, err := c.Login(ctx, testToken, "123456")
				return fmt.Sprintf("%s %s %s", s.KeyID, s.ExpiresAt.Format(time.RFC3339), cookie), err
			},
			method: "POST", path: "/admin/v1/sessions", body: `{"key":"` + testToken + `","totp":"123456"}`,
			noAuth: true, wantValue: "k9 2031-02-03T04:05:06Z mpw_session=s3cr3t",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, got := recordingServer(t, tt.status, "application/json", tt.answer)
			c := newClient(t, srv, client.Options{Token: testToken, SessionCookie: "mpw_session=abc", UserAgent: "mwctl/test"})
			v, err := tt.call(context.Background(), c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if len(*got) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(*got))
			}
			r := (*got)[0]
			if r.method != tt.method || r.path != tt.path || r.query != tt.query {
				t.Errorf("request = %s %s?%s, want %s %s?%s", r.method, r.path, r.query, tt.method, tt.path, tt.query)
			}
			if r.ua != "mwctl/test" {
				t.Errorf("User-Agent = %q", r.ua)
			}
			wantAuth, wantCookie := "Bearer "+testToken, "mpw_session=abc"
			if tt.noAuth {
				wantAuth, wantCookie = "", ""
			}
			if r.auth != wantAuth || r.cookie != wantCookie {
				t.Errorf("Authorization = %q, Cookie = %q; want %q, %q", r.auth, r.cookie, wantAuth, wantCookie)
			}
			jsonEqual(t, r.body, tt.body)
			if tt.body != "" && r.contentType != "application/json" {
				t.Errorf("Content-Type = %q", r.contentType)
			}
			if tt.wantValue != nil && !reflect.DeepEqual(v, tt.wantValue) {
				t.Errorf("result = %#v\nwant     %#v", v, tt.wantValue)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantMsg     string
		is          func(error) bool
	}{
		{"not found", 404, "application/problem+json", `{"title":"Not Found","status":404,"detail":"no key with id \"k1\""}`, `Not Found: no key with id "k1"`, client.IsNotFound},
		{"forbidden", 403, "application/problem+json", `{"title":"Forbidden","status":403,"detail":"the key lacks scope keys:write"}`, "Forbidden: the key lacks scope keys:write", client.IsForbidden},
		{"unauthorized", 401, "application/problem+json", `{"title":"Unauthorized","status":401}`, "Unauthorized", client.IsUnauthorized},
		{"conflict", 409, "application/problem+json", `{"title":"Conflict","status":409,"detail":"key k1 is revoked"}`, "Conflict: key k1 is revoked", client.IsConflict},
		{"invalid", 422, "application/problem+json", `{"title":"Unprocessable Content","detail":"unknown scope \"x\""}`, `Unprocessable Content: unknown scope "x"`, client.IsInvalid},
		{"plain text body", 500, "text/plain; charset=utf-8", "database is locked\nstack...", "Internal Server Error: database is locked", func(err error) bool { return !client.IsNotFound(err) }},
		{"garbage JSON falls back to the status", 502, "application/json", `{"title":`, "Bad Gateway", func(error) bool { return true }},
		{"HTML is not echoed", 503, "text/html", "<html>down</html>", "Service Unavailable", func(error) bool { return true }},
		{"control characters are stripped", 400, "application/problem+json", `{"title":"Bad\u001b[31mRequest","detail":"x\u0007y"}`, "Bad [31mRequest: x y", client.IsInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := recordingServer(t, tt.status, tt.contentType, tt.body)
			c := newClient(t, srv, client.Options{Token: testToken})
			_, err := c.GetKey(context.Background(), "k1")
			var ae *client.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T) is not an *APIError", err, err)
			}
			if ae.Status != tt.status {
				t.Errorf("Status = %d, want %d", ae.Status, tt.status)
			}
			if ae.Error() != tt.wantMsg {
				t.Errorf("Error() = %q, want %q", ae.Error(), tt.wantMsg)
			}
			if !strings.Contains(err.Error(), `get key "k1": `) {
				t.Errorf("error %q lacks the operation's context", err)
			}
			if !tt.is(err) {
				t.Errorf("predicate does not hold for %v", err)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	var sawAuth []string
	target := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawAuth = append(sawAuth, r.Header.Get("Authorization"))
	}))
	defer target.Close()
	srv := httptest.NewTLSServer(http.RedirectHandler(target.URL+"/steal", http.StatusTemporaryRedirect))
	defer srv.Close()
	caFile := writeCert(t, srv.Certificate().Raw)
	c, err := client.New(client.Options{Server: srv.URL, Token: testToken, CACertFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Status(context.Background())
	if err == nil {
		t.Fatal("a redirect was treated as success")
	}
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusTemporaryRedirect {
		t.Errorf("err = %v, want an APIError with status 307", err)
	}
	if len(sawAuth) != 0 {
		t.Errorf("the redirect target was contacted %d times", len(sawAuth))
	}
}

func TestUnixSocket(t *testing.T) {
	fake := clienttest.New(clienttest.Options{})
	addr := fake.StartUnix(t)
	c, err := client.New(client.Options{Server: addr})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	created, err := c.CreateKey(ctx, client.CreateKeyRequest{Name: "web", Kind: "public", Origins: []string{"https://maps.example.com"}})
	if err != nil {
		t.Fatalf("create over the socket: %v", err)
	}
	if !strings.HasPrefix(created.Token, "mpw_pk_") || created.ID == "" {
		t.Errorf("created = %+v", created)
	}
	got, err := c.GetKey(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "web" || got.State != "active" {
		t.Errorf("get = %+v", got)
	}
	reqs := fake.Requests()
	if h := reqs[0].Header.Get("User-Agent"); h != client.DefaultUserAgent {
		t.Errorf("User-Agent = %q", h)
	}
	if c.Server() != addr {
		t.Errorf("Server() = %q, want %q", c.Server(), addr)
	}
	// The bare path form reaches the same socket.
	c2, err := client.New(client.Options{Server: strings.TrimPrefix(addr, "unix://")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Status(ctx); err != nil {
		t.Errorf("status over the bare socket path: %v", err)
	}
}

func TestUnixSocketHostHeader(t *testing.T) {
	var host string
	dir, err := os.MkdirTemp("", "mwsock")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "admin.sock")
	srv := startUnix(t, sock, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host = r.Host
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c, err := client.New(client.Options{Server: "unix://" + sock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status(context.Background()); err != nil {
		t.Fatal(err)
	}
	if host != "mapwright" {
		t.Errorf("Host = %q, want mapwright", host)
	}
}

func TestConnectFailure(t *testing.T) {
	dir := t.TempDir()
	addr := "unix://" + filepath.Join(dir, "admin.sock")
	c, err := client.New(client.Options{Server: addr, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Status(context.Background())
	if !errors.Is(err, client.ErrConnect) {
		t.Fatalf("err = %v, want ErrConnect", err)
	}
	var ce *client.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("err %T is not a ConnectError", err)
	}
	msg := err.Error()
	for _, want := range []string{"connect to admin API at " + addr, "no such file or directory", "is mapwrightd running?"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, testToken) {
		t.Error("message leaks the token")
	}
}

func TestListAllKeysFollowsCursors(t *testing.T) {
	fake := clienttest.New(clienttest.Options{})
	addr := fake.StartUnix(t)
	c, err := client.New(client.Options{Server: addr})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 7 {
		if _, err := c.CreateKey(ctx, client.CreateKeyRequest{Name: fmt.Sprintf("k%d", i), Kind: "public"}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := c.ListAllKeys(ctx, client.ListKeysOptions{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 7 {
		t.Fatalf("got %d keys, want 7", len(all))
	}
	for i, k := range all {
		if k.Name != fmt.Sprintf("k%d", i) {
			t.Errorf("key %d = %q", i, k.Name)
		}
	}
	var lists int
	for _, r := range fake.Requests() {
		if r.Method == "GET" && r.Path == "/admin/v1/keys" {
			lists++
		}
	}
	if lists != 3 {
		t.Errorf("%d list requests, want 3 (pages of 3, 3, 1)", lists)
	}
}

func TestListAllKeysStopsOnARepeatedCursor(t *testing.T) {
	srv, got := recordingServer(t, 200, "application/json", `{"keys":[{"id":"k"}],"next":"same"}`)
	c := newClient(t, srv, client.Options{})
	_, err := c.ListAllKeys(context.Background(), client.ListKeysOptions{})
	if !errors.Is(err, client.ErrPaging) {
		t.Fatalf("err = %v, want ErrPaging", err)
	}
	if len(*got) != 2 {
		t.Errorf("%d requests, want 2", len(*got))
	}
}

func TestLoginThenUseTheSession(t *testing.T) {
	fake := clienttest.New(clienttest.Options{})
	admin := fake.AddAdminKey("ops", "admin")
	fake.RequireTOTP(admin.Token, "424242")
	addr := fake.StartUnix(t)
	ctx := context.Background()
	anon, err := client.New(client.Options{Server: addr})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := anon.Login(ctx, admin.Token, "000000"); !client.IsUnauthorized(err) {
		t.Fatalf("login with a bad TOTP code: err = %v, want 401", err)
	}
	sess, cookie, err := anon.Login(ctx, admin.Token, "424242")
	if err != nil {
		t.Fatal(err)
	}
	if sess.KeyID != admin.ID || !strings.HasPrefix(cookie, clienttest.SessionCookieName+"=") {
		t.Errorf("session = %+v, cookie = %q", sess, cookie)
	}
	if _, err := anon.Status(ctx); !client.IsUnauthorized(err) {
		t.Errorf("status without credentials: err = %v, want 401", err)
	}
	withSession, err := client.New(client.Options{Server: addr, SessionCookie: cookie})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := withSession.Status(ctx); err != nil {
		t.Errorf("status with the session: %v", err)
	}
	if err := withSession.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := withSession.Status(ctx); !client.IsUnauthorized(err) {
		t.Errorf("status after logout: err = %v, want 401", err)
	}
}

func TestScopes(t *testing.T) {
	fake := clienttest.New(clienttest.Options{})
	reader := fake.AddAdminKey("reader", "keys:read")
	addr := fake.StartUnix(t)
	c, err := client.New(client.Options{Server: addr, Token: reader.Token})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.ListKeys(ctx, client.ListKeysOptions{}); err != nil {
		t.Errorf("list with keys:read: %v", err)
	}
	if _, err := c.CreateKey(ctx, client.CreateKeyRequest{Name: "x", Kind: "public"}); !client.IsForbidden(err) {
		t.Errorf("create with keys:read: err = %v, want 403", err)
	}
	if _, err := c.RevokeKey(ctx, reader.ID, ""); !client.IsForbidden(err) {
		t.Errorf("revoke with keys:read: err = %v, want 403", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts client.Options
		want error
	}{
		{"no server", client.Options{}, client.ErrServer},
		{"plain http", client.Options{Server: "http://localhost:9443"}, client.ErrServer},
		{"short fingerprint", client.Options{Server: "https://localhost:9443", PinnedFingerprint: "abcd"}, client.ErrFingerprint},
		{"missing CA file", client.Options{Server: "https://localhost:9443", CACertFile: filepath.Join(t.TempDir(), "none.pem")}, os.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.New(tt.opts)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := client.New(client.Options{Server: "unix:///run/x.sock", Token: "mpw_sk_a\r\nX-Evil: 1"}); err == nil || strings.Contains(err.Error(), "mpw_sk_a") {
		t.Errorf("a token with a line break: err = %v", err)
	}
}
