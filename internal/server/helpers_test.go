package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/metrics"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/testutil/testenv"
	"github.com/mapwright/mapwright/internal/tiles"
	"github.com/mapwright/mapwright/pkg/apikey"
)

// memSource is an in-memory tile source.
type memSource struct {
	meta  tiles.Metadata
	enc   tiles.Encoding
	tiles map[[3]int][]byte
	err   error
}

func (m *memSource) Metadata() tiles.Metadata { return m.meta }
func (m *memSource) Encoding() tiles.Encoding { return m.enc }
func (m *memSource) Close() error             { return nil }
func (m *memSource) Tile(_ context.Context, z, x, y int) ([]byte, error) {
	if m.err != nil {
		return nil, m.err
	}
	return m.tiles[[3]int{z, x, y}], nil
}

// memTilesets is a Tilesets over memSources. It counts acquisitions not yet
// released, so tests can check that every request releases.
type memTilesets struct {
	mu      sync.Mutex
	sets    map[string]tiles.Source
	held    int
	onEnter func(name string)
}

// heldSource releases its acquisition on Close.
type heldSource struct {
	tiles.Source
	m    *memTilesets
	once sync.Once
}

func (h *heldSource) Close() error {
	h.once.Do(func() {
		h.m.mu.Lock()
		h.m.held--
		h.m.mu.Unlock()
	})
	return nil
}

func (m *memTilesets) Acquire(name string) (tiles.Source, bool) {
	if m.onEnter != nil {
		m.onEnter(name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	src, ok := m.sets[name]
	if !ok {
		return nil, false
	}
	m.held++
	return &heldSource{Source: src, m: m}, true
}

func (m *memTilesets) Names() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]string, 0, len(m.sets))
	for n := range m.sets {
		out = append(out, n)
	}
	return out
}

// fakeKeys is a KeyVerifier with the key service's error contract.
type fakeKeys struct {
	mu    sync.Mutex
	keys  map[string]*store.Key
	errs  map[string]error
	calls int
}

func (f *fakeKeys) VerifyHashAt(_ context.Context, hash [32]byte, now time.Time) (*store.Key, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if now.IsZero() {
		// The handler passes the request's start; a zero time would judge
		// every key at year 1.
		return nil, errors.New("fakeKeys: VerifyHashAt without a time")
	}
	for token := range f.keys {
		if apikey.Hash(token) == hash {
			return f.keys[token], f.errs[token]
		}
	}
	for token, err := range f.errs {
		if apikey.Hash(token) == hash {
			return nil, err
		}
	}
	return nil, keys.ErrUnknownKey
}

func (f *fakeKeys) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// recorder captures MisuseEvents and AuthFailures.
type recorder struct {
	mu       sync.Mutex
	misuse   []MisuseEvent
	failures []AuthFailure
}

func (r *recorder) RecordKeyMisuse(_ context.Context, ev MisuseEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.misuse = append(r.misuse, ev)
}

func (r *recorder) RecordAuthFailure(_ context.Context, f AuthFailure) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, f)
}

func (r *recorder) reasons() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, f := range r.failures {
		out = append(out, f.Reason)
	}
	return out
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func token(t testing.TB, k apikey.Kind) string {
	t.Helper()
	tok, err := apikey.Generate(k)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Tile bytes of the fixture.
var (
	mvtTile = []byte("\x1a\x0b\x0a\x05water\x78\x02 a vector tile")
	pngTile = []byte("\x89PNG\r\n\x1a\n a png tile")
)

// fixture is a handler over a fixed set of tilesets and keys.
type fixture struct {
	t        *testing.T
	h        http.Handler
	sets     *memTilesets
	keys     *fakeKeys
	rec      *recorder
	reg      *prometheus.Registry
	logs     *testenv.Buffer
	clock    *time.Time
	tok      map[string]string // role -> token
	srv      *server
	gzStored []byte
}

// Key roles of the fixture.
const (
	roleGood      = "good"       // all tilesets, origins set
	roleNoOrigins = "no-origins" // all tilesets, no browser use
	roleRoadsOnly = "roads-only"
	roleNoScope   = "no-scope"
	roleRevoked   = "revoked"
	roleExpired   = "expired"
	roleNotYet    = "not-yet"
	roleUnknown   = "unknown"
	roleSecret    = "secret"
	roleLimited   = "limited" // rate 1/s, burst 2
	roleStoreDown = "store-down"
)

func newFixture(t *testing.T, mod func(*Options)) *fixture {
	t.Helper()
	f := &fixture{t: t, rec: &recorder{}, reg: prometheus.NewRegistry(), logs: &testenv.Buffer{}, tok: map[string]string{}}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f.clock = &now
	f.gzStored = gz(t, mvtTile)
	vl := json.RawMessage(`[{"id":"water","fields":{"name":"String"}}]`)
	f.sets = &memTilesets{sets: map[string]tiles.Source{
		"pub": &memSource{
			meta:  tiles.Metadata{Name: "Public base", Format: tiles.FormatMVT, MinZoom: 0, MaxZoom: 5, VectorLayers: vl},
			enc:   tiles.EncodingGzip,
			tiles: map[[3]int][]byte{{0, 0, 0}: f.gzStored, {1, 1, 0}: f.gzStored},
		},
		"roads": &memSource{
			meta:  tiles.Metadata{Name: "Roads", Description: "road network", Attribution: "© contributors", Version: "1.2.0", Format: tiles.FormatMVT, MinZoom: 0, MaxZoom: 14, Bounds: &[4]float64{-10, 40, 10, 60}, Center: &[3]float64{0, 50, 4}, VectorLayers: vl},
			tiles: map[[3]int][]byte{{0, 0, 0}: mvtTile, {3, 4, 2}: mvtTile, {14, 8000, 5000}: mvtTile},
		},
		"sat": &memSource{
			meta:  tiles.Metadata{Format: tiles.FormatPNG, MinZoom: 0, MaxZoom: 3},
			tiles: map[[3]int][]byte{{0, 0, 0}: pngTile},
		},
		"broken": &memSource{
			meta: tiles.Metadata{Format: tiles.FormatMVT, MinZoom: 0, MaxZoom: 3},
			err:  errors.New("read at offset 4096: input/output error"),
		},
		"badgz": &memSource{
			meta:  tiles.Metadata{Format: tiles.FormatMVT, MinZoom: 0, MaxZoom: 3},
			enc:   tiles.EncodingGzip,
			tiles: map[[3]int][]byte{{0, 0, 0}: []byte("not gzip at all")},
		},
	}}
	f.keys = &fakeKeys{keys: map[string]*store.Key{}, errs: map[string]error{}}
	add := func(role string, k *store.Key, err error) {
		tok := token(t, apikey.Public)
		if role == roleSecret {
			tok = token(t, apikey.Secret)
		}
		f.tok[role] = tok
		if k != nil {
			k.ID = "key_" + strings.ToUpper(strings.ReplaceAll(role, "-", ""))
			k.Start = apikey.Start(tok)
			if k.Kind == "" {
				k.Kind = "public"
			}
			f.keys.keys[tok] = k
		}
		if err != nil {
			f.keys.errs[tok] = err
		}
	}
	read := []string{keys.ScopeTilesRead}
	origins := []string{"https://maps.example.com", "https://*.example.org", "http://localhost:*", "http://192.0.2.7:8080"}
	add(roleGood, &store.Key{Scopes: read, Origins: origins, Rate: 1000, Burst: 1000}, nil)
	add(roleNoOrigins, &store.Key{Scopes: read}, nil)
	add(roleRoadsOnly, &store.Key{Scopes: read, Tilesets: []string{"roads"}, Origins: origins}, nil)
	add(roleNoScope, &store.Key{Scopes: []string{}}, nil)
	add(roleRevoked, &store.Key{Scopes: read}, keys.ErrRevoked)
	add(roleExpired, &store.Key{Scopes: read}, keys.ErrExpired)
	add(roleNotYet, &store.Key{Scopes: read}, keys.ErrNotYetValid)
	add(roleUnknown, nil, nil)
	add(roleSecret, &store.Key{Kind: "secret", Scopes: []string{"keys:read"}}, nil)
	add(roleLimited, &store.Key{Scopes: read, Rate: 1, Burst: 2}, nil)
	add(roleStoreDown, nil, errors.New("database unavailable: connection refused"))

	opts := Options{
		Tilesets:            f.sets,
		Keys:                f.keys,
		PublicTilesets:      []string{"pub"},
		Logger:              slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics:             metrics.New(f.reg),
		MisuseRecorder:      f.rec,
		AuthFailureRecorder: f.rec,
		AuthFailRPS:         1,
		AuthFailBurst:       5,
		HSTS:                true,
		Now:                 func() time.Time { return *f.clock },
	}
	if mod != nil {
		mod(&opts)
	}
	f.srv = newServer(opts)
	f.h = f.srv.handler()
	return f
}

// server digs the *server out of the chain, for white-box checks.
func (f *fixture) server() *server {
	f.t.Helper()
	s := f.srv
	if s == nil {
		f.t.Fatal("fixture has no server")
	}
	return s
}

// advance moves the fixture's clock.
func (f *fixture) advance(d time.Duration) { *f.clock = f.clock.Add(d) }

// req describes one request in table tests.
type req struct {
	method string
	path   string
	key    string // role; sent as ?key=
	bearer string // role; sent as Authorization: Bearer
	header map[string]string
	remote string
}

func (f *fixture) do(r req) *httptest.ResponseRecorder {
	f.t.Helper()
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	path := r.path
	if r.key != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "key=" + f.tokenOf(r.key)
	}
	hr := httptest.NewRequest(method, "http://tiles.test"+path, nil)
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	}
	if r.bearer != "" {
		hr.Header.Set("Authorization", "Bearer "+f.tokenOf(r.bearer))
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, hr)
	f.sets.mu.Lock()
	held := f.sets.held
	f.sets.mu.Unlock()
	if held != 0 {
		f.t.Fatalf("%s %s: %d tileset acquisitions not released", method, r.path, held)
	}
	return w
}

// tokenOf maps a role to its token; anything else is used verbatim.
func (f *fixture) tokenOf(role string) string {
	if tok, ok := f.tok[role]; ok {
		return tok
	}
	return role
}

// problemOf decodes a problem body, failing the test if it is not one.
func problemOf(t *testing.T, w *httptest.ResponseRecorder) Problem {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d: Content-Type %q, want application/problem+json; body %q", w.Code, ct, w.Body.String())
	}
	var p Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("problem body %q: %v", w.Body.String(), err)
	}
	if p.Status != w.Code {
		t.Fatalf("problem status %d, response status %d", p.Status, w.Code)
	}
	if !strings.HasPrefix(p.Type, ProblemTypePrefix) || p.Title == "" {
		t.Fatalf("problem %+v lacks type or title", p)
	}
	return p
}

func readAllGunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("body is not gzip: %v", err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// newRequest builds a request; a bare path goes to http://tiles.test.
func newRequest(method, target string) *http.Request {
	if !strings.HasPrefix(target, "http") {
		target = "http://tiles.test" + target
	}
	return httptest.NewRequest(method, target, nil)
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
