package admin

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/pkg/client"
)

func TestStatus(t *testing.T) {
	e := newEnv(t)
	e.issue(t, client.CreateKeyRequest{Name: "web"})
	st := decode[client.Status](t, e.tcp(t, http.MethodGet, "/admin/v1/status", nil, bearer(e.root.Token)), http.StatusOK)
	if st.Version != "1.2.3" || st.Backend != "sqlite" || !st.Ready || st.SchemaVersion < 2 || st.UptimeSeconds != 3600 ||
		st.Tilesets.Loaded != 1 || st.Tilesets.Failed != 0 || st.Keys["active"] != 2 || st.Keys["revoked"] != 0 {
		t.Errorf("status %+v", st)
	}
}

func TestTilesets(t *testing.T) {
	e := newEnv(t)
	metricsKey := e.issue(t, client.CreateKeyRequest{Name: "ops", Kind: "secret", Scopes: []string{keys.ScopeTilesetsAdmin}})
	list := decode[client.TilesetList](t, e.tcp(t, http.MethodGet, "/admin/v1/tilesets", nil, bearer(metricsKey.Token)), http.StatusOK)
	if list.Loaded != 1 || list.Failed != 0 || len(list.Tilesets) != 1 {
		t.Fatalf("tilesets %+v", list)
	}
	if ts := list.Tilesets[0]; ts.Name != "countries" || !ts.Public || ts.Status != "ok" || ts.Format != "mvt" || ts.MaxZoom < ts.MinZoom {
		t.Errorf("tileset %+v", ts)
	}

	if err := os.WriteFile(filepath.Join(e.tileDir, "broken.pmtiles"), []byte("not a tileset"), 0o644); err != nil {
		t.Fatal(err)
	}
	list = decode[client.TilesetList](t, e.tcp(t, http.MethodPost, "/admin/v1/tilesets/reload", nil, bearer(metricsKey.Token)), http.StatusOK)
	if list.Loaded != 1 || list.Failed != 1 {
		t.Fatalf("after reload %+v", list)
	}
	var broken client.Tileset
	for _, ts := range list.Tilesets {
		if ts.Name == "broken" {
			broken = ts
		}
	}
	if broken.Status != "failed" || broken.Error == "" || broken.Public {
		t.Errorf("broken tileset %+v", broken)
	}
	evs := e.events(t, audit.ActionTilesetReload)
	if len(evs) != 1 || evs[0].Actor != "key:"+metricsKey.Key.ID || evs[0].Details["loaded"] != "1" || evs[0].Details["failed"] != "1" {
		t.Errorf("reload events %+v", evs)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	e := newEnv(t)
	reader := e.issue(t, client.CreateKeyRequest{Name: "prometheus", Kind: "secret", Scopes: []string{keys.ScopeMetricsRead}})
	e.tcp(t, http.MethodGet, "/admin/v1/keys", nil) // a 401, to be counted
	w := e.tcp(t, http.MethodGet, "/metrics", nil, bearer(reader.Token), header("Accept", "application/json"))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q, want the Prometheus text format", ct)
	}
	body := w.Body.String()
	for _, want := range []string{
		`mapwright_http_requests_total{code="401",listener="admin",route="GET /admin/v1/keys"} 1`,
		`mapwright_auth_failures_total{reason="missing"} 1`,
		"# TYPE mapwright_http_request_duration_seconds histogram",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// Over the socket no key is needed.
	if w := e.unix(t, http.MethodGet, "/metrics", nil); w.Code != http.StatusOK {
		t.Errorf("metrics over the socket: %d", w.Code)
	}
}

func TestProbes(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/livez", "/readyz"} {
		w := e.tcp(t, http.MethodGet, path, nil)
		if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
			t.Errorf("%s: %d %q", path, w.Code, w.Header().Get("Content-Type"))
		}
	}
	if body := e.tcp(t, http.MethodGet, "/readyz", nil).Body.String(); body != "ready\n" {
		t.Errorf("/readyz body %q", body)
	}
	if err := e.st.Close(); err != nil {
		t.Fatal(err)
	}
	problem(t, e.tcp(t, http.MethodGet, "/readyz", nil), http.StatusServiceUnavailable, probNotReady)
	if w := e.tcp(t, http.MethodGet, "/livez", nil); w.Code != http.StatusOK {
		t.Errorf("/livez with the store closed: %d, want 200 (the process lives)", w.Code)
	}
	st := decode[client.Status](t, e.unix(t, http.MethodGet, "/admin/v1/status", nil), http.StatusOK)
	if st.Ready {
		t.Error("status says ready with the store closed")
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	for _, w := range []interface{ Header() http.Header }{
		e.tcp(t, http.MethodGet, "/admin/v1/keys", nil, bearer(e.root.Token)),
		e.tcp(t, http.MethodGet, "/admin/v1/keys", nil),
		e.tcp(t, http.MethodGet, "/livez", nil, host("evil.example")),
	} {
		h := w.Header()
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("headers %v", h)
		}
	}
}

func TestRequestLogRedactsKeys(t *testing.T) {
	e := newEnv(t)
	e.tcp(t, http.MethodGet, "/admin/v1/keys/"+e.root.Token, nil, bearer(e.root.Token))
	e.tcp(t, http.MethodGet, "/admin/v1/keys", nil, bearer(e.root.Token[:20]+"0000000000000000"))
	logs := e.logs.String()
	if !strings.Contains(logs, "route=\"GET /admin/v1/keys/{id}\"") || !strings.Contains(logs, "actor=key:"+e.root.Key.ID) {
		t.Errorf("the request log lacks the route or actor:\n%s", logs)
	}
	if strings.Contains(logs, e.root.Token[7:]) {
		t.Error("the log holds the random part of a key")
	}
}
