package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/demo"
	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/metrics"
	"github.com/mapwright/mapwright/internal/sessions"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/sqlite"
	"github.com/mapwright/mapwright/internal/testutil/testenv"
	"github.com/mapwright/mapwright/internal/tiles"
	"github.com/mapwright/mapwright/pkg/apikey"
	"github.com/mapwright/mapwright/pkg/client"
)

// Test constants: the TCP listener's allowed host and a client inside and
// outside the allowed networks.
const (
	testHost    = "localhost:9443"
	insideAddr  = "127.0.0.1:40000"
	outsideAddr = "203.0.113.50:40000"
	testActor   = "unix:1000(alice)"
)

// clock is a settable time source shared by every component of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is an admin API over a real SQLite store, key service, session
// manager and tileset catalog.
type env struct {
	st       store.Store
	keys     *keys.Service
	sessions *sessions.Manager
	clock    *clock
	admin    *Admin
	catalog  *tiles.Catalog
	tileDir  string
	// opts built admin; tests derive other instances from it.
	opts Options
	logs *testenv.Buffer
	// root is a secret key with scope admin, created over the socket.
	root keys.Issued
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "mapwright.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	log := audit.New(bytes.Repeat([]byte{7}, audit.KeySize), c.Now)
	ks := keys.New(st, log, keys.Options{Now: c.Now, CacheSize: -1})
	sm, err := sessions.New(sessions.Options{Key: bytes.Repeat([]byte{9}, sessions.KeySize), Store: st, Keys: ks, Audit: log, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	tileDir := filepath.Join(dir, "tiles")
	if err := os.Mkdir(tileDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.WriteTileset(tileDir); err != nil {
		t.Fatal(err)
	}
	cat := tiles.Open(tileDir, nil, tiles.WithGrace(0))
	t.Cleanup(func() { cat.Close() })
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	logs := &testenv.Buffer{}
	opts := Options{
		Keys: ks, Audit: log, Store: st, Catalog: cat, PublicTilesets: []string{"countries"},
		Gatherer: reg, Metrics: m, Sessions: sm,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    c.Now, Version: "1.2.3", Backend: st.Backend(), StartedAt: c.Now().Add(-time.Hour),
		AllowedHosts: []string{testHost, "127.0.0.1:9443", "[::1]:9443"},
		AllowedCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
	}
	e := &env{st: st, keys: ks, sessions: sm, clock: c, admin: New(opts), catalog: cat, tileDir: tileDir, logs: logs, opts: opts}
	e.root = e.issue(t, client.CreateKeyRequest{Name: "root", Kind: "secret", Scopes: []string{keys.ScopeAdmin}})
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		// No response or log line may hold a full key.
		checkNoTokens(t, "the log", logs.String())
	})
	return e
}

// issue creates a key directly through the key service.
func (e *env) issue(t *testing.T, req client.CreateKeyRequest) keys.Issued {
	t.Helper()
	kind := apikey.Public
	if req.Kind == "secret" {
		kind = apikey.Secret
	}
	is, err := e.keys.Issue(t.Context(), keys.IssueRequest{
		Kind: kind, Name: req.Name, Scopes: req.Scopes, ExpiresAt: req.ExpiresAt, Labels: req.Labels, Tilesets: req.Tilesets,
	}, keys.Actor{Name: testActor})
	if err != nil {
		t.Fatal(err)
	}
	return is
}

// reqOpt adjusts a test request.
type reqOpt func(*http.Request)

func bearer(token string) reqOpt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func cookie(v string) reqOpt {
	return func(r *http.Request) { r.AddCookie(&http.Cookie{Name: sessions.CookieName, Value: v}) }
}

func header(k, v string) reqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

func from(addr string) reqOpt { return func(r *http.Request) { r.RemoteAddr = addr } }

func host(h string) reqOpt { return func(r *http.Request) { r.Host = h } }

// rawBody replaces the JSON body with body sent as contentType.
func rawBody(contentType, body string) reqOpt {
	return func(r *http.Request) {
		r.Body = io.NopCloser(strings.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Set("Content-Type", contentType)
	}
}

// asPeer marks a unix socket request as coming from actor, as ConnContext
// would.
func asPeer(actor string) reqOpt {
	return func(r *http.Request) {
		*r = *r.WithContext(context.WithValue(r.Context(), peerKey{}, peerResult{peer: peer{Actor: actor}}))
	}
}

// do sends one request to h. body, unless nil, is sent as JSON.
func do(t *testing.T, h http.Handler, method, path string, body any, opts ...reqOpt) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	r := httptest.NewRequestWithContext(t.Context(), method, path, rd)
	r.Host = testHost
	r.RemoteAddr = insideAddr
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	checkNoTokens(t, method+" "+path, w.Body.String())
	for k := range w.Header() {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			t.Errorf("%s %s: response carries the CORS header %s", method, path, k)
		}
	}
	return w
}

// tcp sends a request to the TCP handler.
func (e *env) tcp(t *testing.T, method, path string, body any, opts ...reqOpt) *httptest.ResponseRecorder {
	t.Helper()
	return do(t, e.admin.TCPHandler(), method, path, body, opts...)
}

// unix sends a request to the unix socket handler as testActor.
func (e *env) unix(t *testing.T, method, path string, body any, opts ...reqOpt) *httptest.ResponseRecorder {
	t.Helper()
	return do(t, e.admin.UnixHandler(), method, path, body, append([]reqOpt{asPeer(testActor)}, opts...)...)
}

// checkNoTokens fails when text holds a whole key. Tokens returned once on
// purpose (a created or rotated key) are in the "key" field of a JSON
// answer, which the caller removes before calling this.
func checkNoTokens(t *testing.T, where, text string) {
	t.Helper()
	text = stripTokenField(text)
	for _, m := range apikey.AppendMatches(nil, []byte(text)) {
		t.Errorf("%s holds a full key: %s", where, apikey.Redact(text[m.Offset:m.Offset+apikey.TokenLen]))
	}
}

// stripTokenField removes the one place a token may appear: the "key"
// member of a created or rotated key.
func stripTokenField(s string) string {
	var v map[string]any
	if json.Unmarshal([]byte(s), &v) != nil {
		return s
	}
	if _, ok := v["key"].(string); !ok {
		return s
	}
	delete(v, "key")
	b, _ := json.Marshal(v)
	return string(b)
}

// decode parses a JSON answer, failing on another status.
func decode[T any](t *testing.T, w *httptest.ResponseRecorder, status int) T {
	t.Helper()
	var v T
	if w.Code != status {
		t.Fatalf("status %d, want %d; body: %s", w.Code, status, w.Body.String())
	}
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %T: %v; body: %s", v, err, w.Body.String())
	}
	return v
}

// problem checks an error answer's status and problem code and returns it.
func problem(t *testing.T, w *httptest.ResponseRecorder, status int, code string) client.Problem {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body: %s", w.Code, status, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var p client.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("decode problem: %v; body: %s", err, w.Body.String())
	}
	if p.Status != status || p.Title == "" {
		t.Errorf("problem %+v: status or title wrong", p)
	}
	if code != "" && p.Type != ProblemTypePrefix+code {
		t.Errorf("problem type %q, want %q (detail: %s)", p.Type, ProblemTypePrefix+code, p.Detail)
	}
	return p
}

// events returns the audit events with action, in order.
func (e *env) events(t *testing.T, action string) []store.AuditEvent {
	t.Helper()
	var out []store.AuditEvent
	err := e.st.ScanAudit(t.Context(), 1, 0, func(ev store.AuditEvent) error {
		if ev.Action == action {
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
