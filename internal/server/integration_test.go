package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/store/sqlite"
	"github.com/mapwright/mapwright/internal/tiles"
	"github.com/mapwright/mapwright/internal/tiles/pmtiles"
	"github.com/mapwright/mapwright/pkg/apikey"
)

// realStack is the handler over the real key service (SQLite store, audit
// log) and a real catalog of PMTiles files written by the project's writer.
type realStack struct {
	h       http.Handler
	svc     *keys.Service
	catalog *tiles.Catalog
}

func newRealStack(t testing.TB, public []string) *realStack {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "mapwright.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	key, err := audit.OpenKey(ctx, dir, st)
	if err != nil {
		t.Fatal(err)
	}
	svc := keys.New(st, audit.New(key, nil), keys.Options{})

	tileDir := filepath.Join(dir, "tiles")
	if err := os.Mkdir(tileDir, 0o755); err != nil {
		t.Fatal(err)
	}
	meta := map[string]any{
		"name":          "Roads",
		"attribution":   "test data",
		"vector_layers": []any{map[string]any{"id": "roads", "fields": map[string]any{"kind": "String"}}},
	}
	writeArchive(t, filepath.Join(tileDir, "roads.pmtiles"), pmtiles.TileTypeMVT, pmtiles.CompressionGzip, meta,
		[]pmtiles.Tile{{Z: 0, X: 0, Y: 0, Data: gz(t, mvtTile)}, {Z: 3, X: 4, Y: 2, Data: gz(t, mvtTile)}})
	writeArchive(t, filepath.Join(tileDir, "base.pmtiles"), pmtiles.TileTypeMVT, pmtiles.CompressionGzip, meta,
		[]pmtiles.Tile{{Z: 0, X: 0, Y: 0, Data: gz(t, mvtTile)}, {Z: 3, X: 4, Y: 2, Data: gz(t, mvtTile)}})
	writeArchive(t, filepath.Join(tileDir, "sat.pmtiles"), pmtiles.TileTypePNG, pmtiles.CompressionNone, nil,
		[]pmtiles.Tile{{Z: 0, X: 0, Y: 0, Data: pngTile}, {Z: 1, X: 1, Y: 1, Data: pngTile}})
	catalog := tiles.Open(tileDir, nil)
	t.Cleanup(func() { _ = catalog.Close() })
	if catalog.Loaded() != 3 {
		t.Fatalf("catalog loaded %d tilesets: %+v", catalog.Loaded(), catalog.List())
	}
	h := New(Options{
		Tilesets:       FromCatalog(catalog),
		Keys:           svc,
		PublicTilesets: public,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	return &realStack{h: h, svc: svc, catalog: catalog}
}

func writeArchive(t testing.TB, path string, tt pmtiles.TileType, c pmtiles.Compression, meta map[string]any, ts []pmtiles.Tile) {
	t.Helper()
	var buf bytes.Buffer
	if err := pmtiles.Write(&buf, ts, pmtiles.WriterOptions{TileType: tt, TileCompression: c, Metadata: meta}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (rs *realStack) issue(t testing.TB, req keys.IssueRequest) keys.Issued {
	t.Helper()
	if req.Kind == 0 {
		req.Kind = apikey.Public
	}
	if req.Name == "" {
		req.Name = "test key"
	}
	iss, err := rs.svc.Issue(context.Background(), req, keys.Actor{Name: "unix:1000(test)"})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func (rs *realStack) get(t testing.TB, target string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := newRequest("GET", target)
	for k, v := range header {
		r.Header.Set(k, v)
	}
	return serve(rs.h, r)
}

func TestIntegrationRealKeysAndTiles(t *testing.T) {
	rs := newRealStack(t, []string{"base"})
	browser := rs.issue(t, keys.IssueRequest{Origins: []string{"https://maps.example.com", "https://*.example.org"}})
	server := rs.issue(t, keys.IssueRequest{Tilesets: []string{"sat"}})
	secret := rs.issue(t, keys.IssueRequest{Kind: apikey.Secret, Scopes: []string{"keys:read"}})

	tests := []struct {
		name     string
		target   string
		header   map[string]string
		want     int
		wantBody []byte
		wantGzip bool
	}{
		{name: "keyed gzip tile to a gzip client", target: "/v1/tiles/roads/3/4/2.mvt?key=" + browser.Token, header: map[string]string{"Accept-Encoding": "gzip"}, want: 200, wantBody: mvtTile, wantGzip: true},
		{name: "keyed gzip tile inflated", target: "/v1/tiles/roads/3/4/2.pbf?key=" + browser.Token, want: 200, wantBody: mvtTile},
		{name: "allowed origin", target: "/v1/tiles/roads/0/0/0.mvt?key=" + browser.Token, header: map[string]string{"Origin": "https://a.example.org"}, want: 200, wantBody: mvtTile},
		{name: "refused origin", target: "/v1/tiles/roads/0/0/0.mvt?key=" + browser.Token, header: map[string]string{"Origin": "https://example.org"}, want: 403},
		{name: "absent tile", target: "/v1/tiles/roads/3/0/0.mvt?key=" + browser.Token, want: 204},
		{name: "png by bearer", target: "/v1/tiles/sat/1/1/1.png", header: map[string]string{"Authorization": "Bearer " + server.Token}, want: 200, wantBody: pngTile},
		{name: "tileset outside key list", target: "/v1/tiles/roads/0/0/0.mvt", header: map[string]string{"Authorization": "Bearer " + server.Token}, want: 403},
		{name: "server key from a browser", target: "/v1/tiles/sat/0/0/0.png?key=" + server.Token, header: map[string]string{"Referer": "https://maps.example.com/"}, want: 403},
		{name: "public tileset anonymous", target: "/v1/tiles/base/0/0/0.mvt", want: 200, wantBody: mvtTile},
		{name: "secret key", target: "/v1/tiles/roads/0/0/0.mvt?key=" + secret.Token, want: 403},
		{name: "no key", target: "/v1/tiles/roads/0/0/0.mvt", want: 401},
		{name: "unknown key", target: "/v1/tiles/roads/0/0/0.mvt?key=" + token(t, apikey.Public), want: 401},
		{name: "unknown tileset", target: "/v1/tiles/nope/0/0/0.mvt?key=" + browser.Token, want: 404},
		{name: "wrong extension", target: "/v1/tiles/sat/0/0/0.webp?key=" + server.Token, want: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := rs.get(t, tt.target, tt.header)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body.String())
			}
			if tt.wantBody == nil {
				return
			}
			body := w.Body.Bytes()
			if tt.wantGzip {
				if w.Header().Get("Content-Encoding") != "gzip" {
					t.Fatalf("Content-Encoding %q", w.Header().Get("Content-Encoding"))
				}
				body = readAllGunzip(t, body)
			}
			if !bytes.Equal(body, tt.wantBody) {
				t.Errorf("body %q, want %q", body, tt.wantBody)
			}
		})
	}

	w := rs.get(t, "/v1/tiles/roads.json?key="+browser.Token, nil)
	var doc struct {
		TileJSON     string            `json:"tilejson"`
		Tiles        []string          `json:"tiles"`
		VectorLayers []json.RawMessage `json:"vector_layers"`
		MaxZoom      int               `json:"maxzoom"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.TileJSON != "3.0.0" || doc.Tiles[0] != "http://tiles.test/v1/tiles/roads/{z}/{x}/{y}.mvt?key="+browser.Token || len(doc.VectorLayers) != 1 || doc.MaxZoom != 3 {
		t.Errorf("TileJSON %s", w.Body.String())
	}

	var list TilesetList
	if err := json.Unmarshal(rs.get(t, "/v1/tilesets?key="+server.Token, nil).Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Tilesets) != 2 || list.Tilesets[0].Name != "base" || list.Tilesets[1].Name != "sat" {
		t.Errorf("list %+v", list.Tilesets)
	}
}

// TestIntegrationRevokeStopsAtOnce revokes a key between two requests on the
// same handler: the second is refused without waiting for any cache.
func TestIntegrationRevokeStopsAtOnce(t *testing.T) {
	rs := newRealStack(t, nil)
	iss := rs.issue(t, keys.IssueRequest{})
	target := "/v1/tiles/roads/0/0/0.mvt?key=" + iss.Token
	for range 3 { // warm the verify cache
		if w := rs.get(t, target, nil); w.Code != 200 {
			t.Fatalf("before revocation: %d", w.Code)
		}
	}
	if _, _, err := rs.svc.Revoke(context.Background(), iss.Key.ID, "test", keys.Actor{Name: "unix:1000(test)"}); err != nil {
		t.Fatal(err)
	}
	w := rs.get(t, target, nil)
	if w.Code != 403 {
		t.Fatalf("after revocation: %d", w.Code)
	}
	if p := problemOf(t, w); p.Type != ProblemTypePrefix+probKeyRevoked {
		t.Errorf("problem %q", p.Type)
	}
}

// TestIntegrationFixtures serves the third-party fixture tilesets through
// the whole chain: every tile comes back byte for byte as the reader holds
// it, with the right type and encoding.
func TestIntegrationFixtures(t *testing.T) {
	dir := fixtureDir(t)
	catalog := tiles.Open(dir, nil)
	t.Cleanup(func() { _ = catalog.Close() })
	var names []string
	for _, e := range catalog.List() {
		if e.Status == tiles.StatusOK {
			names = append(names, e.Name)
		}
	}
	if len(names) == 0 {
		t.Fatal("no fixture tileset loaded")
	}
	h := New(Options{Tilesets: FromCatalog(catalog), PublicTilesets: names, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	served := 0
	for _, name := range names {
		src, ok := catalog.Acquire(name)
		if !ok {
			t.Fatalf("%s vanished", name)
		}
		meta := src.Metadata()
		ext := meta.Format.Extensions()[0]
		for z := meta.MinZoom; z <= min(meta.MaxZoom, 3); z++ {
			for x := 0; x < 1<<z; x++ {
				for y := 0; y < 1<<z; y++ {
					want, err := src.Tile(context.Background(), z, x, y)
					r := newRequest("GET", "/v1/tiles/"+name+"/"+itoa(z)+"/"+itoa(x)+"/"+itoa(y)+"."+ext)
					r.Header.Set("Accept-Encoding", "gzip")
					w := serve(h, r)
					if err != nil {
						// A tile the reader cannot read is a 500 problem,
						// never a partial body.
						if w.Code != 500 {
							t.Errorf("%s %d/%d/%d: unreadable tile (%v) answered %d", name, z, x, y, err, w.Code)
						}
						continue
					}
					if len(want) == 0 {
						if w.Code != 204 {
							t.Errorf("%s %d/%d/%d: absent tile answered %d", name, z, x, y, w.Code)
						}
						continue
					}
					if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), want) {
						t.Errorf("%s %d/%d/%d: status %d, %d bytes, want the %d stored bytes", name, z, x, y, w.Code, w.Body.Len(), len(want))
						continue
					}
					if ct := w.Header().Get("Content-Type"); ct != meta.Format.ContentType() {
						t.Errorf("%s: Content-Type %q", name, ct)
					}
					if enc := w.Header().Get("Content-Encoding"); enc != string(src.Encoding()) {
						t.Errorf("%s: Content-Encoding %q, stored %q", name, enc, src.Encoding())
					}
					served++
				}
			}
		}
		_ = src.Close()
	}
	if served == 0 {
		t.Error("no fixture tile served")
	}
}

// fixtureDir finds the shared fixtures beside the module root; absent, the
// test is skipped (failed when CI=true).
func fixtureDir(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			fx := filepath.Join(d, "..", "shared", "fixtures")
			if _, err := os.Stat(fx); err == nil {
				return fx
			}
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("shared fixtures not found beside the module root")
	}
	t.Skip("shared fixtures not found beside the module root")
	return ""
}

// TestIntegrationConnectionMemo sends keys over one keep-alive HTTP/2
// connection, whose memo remembers the last well-formed key: the memo must
// never let a revoked, malformed or secret key through, nor mix up keys.
func TestIntegrationConnectionMemo(t *testing.T) {
	rs := newRealStack(t, nil)
	a := rs.issue(t, keys.IssueRequest{Name: "a"})
	b := rs.issue(t, keys.IssueRequest{Name: "b", Tilesets: []string{"sat"}})
	secret := rs.issue(t, keys.IssueRequest{Kind: apikey.Secret, Name: "ci", Scopes: []string{keys.ScopeKeysRead}})

	var conns atomic.Int32
	ts := httptest.NewUnstartedServer(rs.h)
	ts.Config.ConnContext = ConnContext
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.EnableHTTP2 = true
	ts.StartTLS()
	defer ts.Close()
	client := ts.Client()

	get := func(path, token string) int {
		t.Helper()
		r, err := http.NewRequest("GET", ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("%s: protocol %s, want HTTP/2", path, resp.Proto)
		}
		return resp.StatusCode
	}
	// The same key differing in its last character: the checksum fails.
	last := "A"
	if strings.HasSuffix(a.Token, last) {
		last = "B"
	}
	mangled := a.Token[:len(a.Token)-1] + last
	steps := []struct {
		name, path, token string
		want              int
	}{
		{"first use", "/v1/tiles/roads/0/0/0.mvt", a.Token, 200},
		{"repeat", "/v1/tiles/roads/3/4/2.mvt", a.Token, 200},
		{"malformed after a good key", "/v1/tiles/roads/0/0/0.mvt", mangled, 401},
		{"other key's restrictions", "/v1/tiles/roads/0/0/0.mvt", b.Token, 403},
		{"other key allowed", "/v1/tiles/sat/0/0/0.png", b.Token, 200},
		{"first key again", "/v1/tiles/roads/0/0/0.mvt", a.Token, 200},
		{"secret key", "/v1/tiles/roads/0/0/0.mvt", secret.Token, 403},
	}
	for _, s := range steps {
		if got := get(s.path, s.token); got != s.want {
			t.Errorf("%s: status %d, want %d", s.name, got, s.want)
		}
	}
	if _, _, err := rs.svc.Revoke(context.Background(), a.Key.ID, "test", keys.Actor{Name: "unix:1000(test)"}); err != nil {
		t.Fatal(err)
	}
	if got := get("/v1/tiles/roads/0/0/0.mvt", a.Token); got != 403 {
		t.Errorf("revoked key on the connection that remembers it: status %d, want 403", got)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want every request on one", n)
	}
}
