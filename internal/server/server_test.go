package server

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestStatuses(t *testing.T) {
	tests := []struct {
		name       string
		req        req
		want       int
		problem    string // problem code, for error statuses
		wantHeader map[string]string
	}{
		{name: "public tile without key", req: req{path: "/v1/tiles/pub/0/0/0.mvt"}, want: 200},
		{name: "public tile with good key", req: req{path: "/v1/tiles/pub/0/0/0.mvt", key: roleGood}, want: 200},
		{name: "public tile with revoked key is still refused", req: req{path: "/v1/tiles/pub/0/0/0.mvt", key: roleRevoked}, want: 403, problem: probKeyRevoked},
		{name: "public tile with malformed key", req: req{path: "/v1/tiles/pub/0/0/0.mvt", key: "mpw_pk_short"}, want: 401, problem: probInvalidKey},
		{name: "public tile ignores key restrictions", req: req{path: "/v1/tiles/pub/0/0/0.mvt", key: roleRoadsOnly, header: map[string]string{"Origin": "https://evil.test"}}, want: 200},
		{name: "keyed tile via query", req: req{path: "/v1/tiles/roads/3/4/2.mvt", key: roleGood}, want: 200},
		{name: "keyed tile via bearer", req: req{path: "/v1/tiles/roads/3/4/2.pbf", bearer: roleGood}, want: 200},
		{name: "keyed tile same key twice", req: req{path: "/v1/tiles/roads/3/4/2.mvt", key: roleGood, bearer: roleGood}, want: 200},
		{name: "keyed tile two different keys", req: req{path: "/v1/tiles/roads/3/4/2.mvt", key: roleGood, bearer: roleNoOrigins}, want: 400, problem: probBadRequest},
		{name: "two different key params", req: req{path: "/v1/tiles/roads/3/4/2.mvt?key=a", key: roleGood}, want: 400, problem: probBadRequest},
		{name: "missing key", req: req{path: "/v1/tiles/roads/3/4/2.mvt"}, want: 401, problem: probMissingKey,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="mapwright"`}},
		{name: "non-bearer authorization is not a key", req: req{path: "/v1/tiles/roads/3/4/2.mvt", header: map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}}, want: 401, problem: probMissingKey},
		{name: "empty key", req: req{path: "/v1/tiles/roads/3/4/2.mvt?key="}, want: 401, problem: probInvalidKey},
		{name: "malformed key", req: req{path: "/v1/tiles/roads/3/4/2.mvt", key: "mpw_pk_0000000000000000000000000000000000000"}, want: 401, problem: probInvalidKey,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="mapwright", error="invalid_token"`}},
		{name: "unknown key", req: req{path: "/v1/tiles/roads/3/4/2.mvt", key: roleUnknown}, want: 401, problem: probInvalidKey},
		{name: "revoked key", req: req{path: "/v1/tiles/roads/3/4/2.mvt", key: roleRevoked}, want: 403, problem: probKeyRevoked},
		{name: "expired key", req: req{path: "/v1/tiles/roads/3/4/2.mvt", key: roleExpired}, want: 403, problem: probKeyExpired},
		{name: "not yet valid key", req: req{path: "/v1/tiles/roads/3/4/2.mvt", key: roleNotYet}, want: 403, problem: probKeyNotYetValid},
		{name: "secret key", req: req{path: "/v1/tiles/roads/3/4/2.mvt", bearer: roleSecret}, want: 403, problem: probSecretKey},
		{name: "key without tiles:read", req: req{path: "/v1/tiles/roads/3/4/2.mvt", key: roleNoScope}, want: 403, problem: probScope},
		{name: "tileset not in key list", req: req{path: "/v1/tiles/sat/0/0/0.png", key: roleRoadsOnly}, want: 403, problem: probTileset},
		{name: "tileset in key list", req: req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleRoadsOnly}, want: 200},
		{name: "store down fails closed", req: req{path: "/v1/tiles/roads/3/4/2.mvt", key: roleStoreDown}, want: 503, problem: probUnavailable},
		{name: "unknown tileset without key is 401", req: req{path: "/v1/tiles/nope/0/0/0.mvt"}, want: 401, problem: probMissingKey},
		{name: "unknown tileset with key is 404", req: req{path: "/v1/tiles/nope/0/0/0.mvt", key: roleGood}, want: 404, problem: probNotFound},
		{name: "unknown tileset with restricted key is 403", req: req{path: "/v1/tiles/nope/0/0/0.mvt", key: roleRoadsOnly}, want: 403, problem: probTileset},
		{name: "extension does not fit format", req: req{path: "/v1/tiles/roads/0/0/0.png", key: roleGood}, want: 404, problem: probNotFound},
		{name: "jpeg alias on png set", req: req{path: "/v1/tiles/sat/0/0/0.jpeg", key: roleGood}, want: 404, problem: probNotFound},
		{name: "absent tile is 204", req: req{path: "/v1/tiles/roads/3/0/0.mvt", key: roleGood}, want: 204},
		{name: "zoom beyond maxzoom is 204", req: req{path: "/v1/tiles/sat/4/0/0.png", key: roleGood}, want: 204},
		{name: "deepest zoom", req: req{path: "/v1/tiles/roads/14/8000/5000.mvt", key: roleGood}, want: 200},
		{name: "x out of grid", req: req{path: "/v1/tiles/roads/3/8/0.mvt", key: roleGood}, want: 400, problem: probBadRequest},
		{name: "zoom 31", req: req{path: "/v1/tiles/roads/31/0/0.mvt", key: roleGood}, want: 400, problem: probBadRequest},
		{name: "leading zero", req: req{path: "/v1/tiles/roads/03/0/0.mvt", key: roleGood}, want: 400, problem: probBadRequest},
		{name: "bad path checked before auth", req: req{path: "/v1/tiles/roads/a/0/0.mvt"}, want: 400, problem: probBadRequest},
		{name: "encoded traversal", req: req{path: "/v1/tiles/%2e%2e/0/0/0.mvt"}, want: 400, problem: probBadRequest},
		{name: "encoded slash", req: req{path: "/v1/tiles/roads%2f..%2fsat/0/0/0.mvt"}, want: 400, problem: probBadRequest},
		{name: "dot segment", req: req{path: "/v1/tiles/roads/../sat/0/0/0.png"}, want: 400, problem: probBadRequest},
		{name: "double slash", req: req{path: "/v1//tiles/roads/0/0/0.mvt"}, want: 400, problem: probBadRequest},
		{name: "tile read error", req: req{path: "/v1/tiles/broken/0/0/0.mvt", key: roleGood}, want: 500, problem: probInternal},
		{name: "corrupt gzip tile", req: req{path: "/v1/tiles/badgz/0/0/0.mvt", key: roleGood}, want: 500, problem: probInternal},
		{name: "POST tile", req: req{method: "POST", path: "/v1/tiles/roads/0/0/0.mvt", key: roleGood}, want: 405, problem: probMethod,
			wantHeader: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{name: "DELETE tilejson", req: req{method: "DELETE", path: "/v1/tiles/roads.json"}, want: 405, problem: probMethod},
		{name: "POST tilesets", req: req{method: "POST", path: "/v1/tilesets"}, want: 405, problem: probMethod},
		{name: "livez", req: req{path: "/livez"}, want: 200},
		{name: "livez HEAD", req: req{method: "HEAD", path: "/livez"}, want: 200},
		{name: "tilejson keyed without key", req: req{path: "/v1/tiles/roads.json"}, want: 401, problem: probMissingKey},
		{name: "tilejson keyed", req: req{path: "/v1/tiles/roads.json", key: roleGood}, want: 200},
		{name: "tilejson public", req: req{path: "/v1/tiles/pub.json"}, want: 200},
		{name: "tilejson unknown with key", req: req{path: "/v1/tiles/nope.json", key: roleGood}, want: 404, problem: probNotFound},
		{name: "tilejson bad name", req: req{path: "/v1/tiles/..json"}, want: 400, problem: probBadRequest},
		{name: "tilesets anonymous", req: req{path: "/v1/tilesets"}, want: 200},
		{name: "tilesets revoked key", req: req{path: "/v1/tilesets", key: roleRevoked}, want: 403, problem: probKeyRevoked},
		{name: "root", req: req{path: "/"}, want: 404, problem: probNotFound},
		{name: "tiles root", req: req{path: "/v1/tiles"}, want: 404, problem: probNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			w := f.do(tt.req)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.want, w.Body.String())
			}
			if tt.problem != "" {
				if p := problemOf(t, w); p.Type != ProblemTypePrefix+tt.problem {
					t.Errorf("problem type %q, want %q", p.Type, ProblemTypePrefix+tt.problem)
				}
			}
			for k, v := range tt.wantHeader {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", got)
			}
			if tt.problem != "" {
				for _, role := range []string{tt.req.key, tt.req.bearer} {
					if tok := f.tok[role]; tok != "" && strings.Contains(w.Body.String(), tok) {
						t.Errorf("problem echoes the full key: %s", w.Body.String())
					}
				}
			}
		})
	}
}

func TestTileResponse(t *testing.T) {
	f := newFixture(t, nil)
	w := f.do(req{path: "/v1/tiles/roads/3/4/2.mvt", key: roleGood})
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body.String())
	}
	h := w.Header()
	want := map[string]string{
		"Content-Type":     "application/vnd.mapbox-vector-tile",
		"Cache-Control":    DefaultKeyedCacheControl,
		"Vary":             "Origin, Accept-Encoding",
		"Content-Encoding": "",
	}
	want["Content-Length"] = itoa(len(mvtTile))
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if !bytes.Equal(w.Body.Bytes(), mvtTile) {
		t.Errorf("body %q, want the stored tile", w.Body.Bytes())
	}
	if etag := h.Get("ETag"); len(etag) != 18 || etag[0] != '"' || etag[17] != '"' {
		t.Errorf("ETag %q is not a quoted 16-digit hash", etag)
	}

	pw := f.do(req{path: "/v1/tiles/sat/0/0/0.png", key: roleGood})
	if ct := pw.Header().Get("Content-Type"); ct != "image/png" {
		t.Errorf("png Content-Type %q", ct)
	}
	pub := f.do(req{path: "/v1/tiles/pub/0/0/0.mvt", header: map[string]string{"Accept-Encoding": "gzip"}})
	if cc := pub.Header().Get("Cache-Control"); cc != DefaultCacheControl {
		t.Errorf("public Cache-Control %q, want %q", cc, DefaultCacheControl)
	}
	if pub.Header().Get("RateLimit") != "" {
		t.Errorf("anonymous public tile carries RateLimit %q", pub.Header().Get("RateLimit"))
	}
}

func TestCacheControlOptions(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.CacheControl = "public, max-age=60"
		o.KeyedCacheControl = "private, max-age=10"
	})
	if cc := f.do(req{path: "/v1/tiles/pub/0/0/0.mvt"}).Header().Get("Cache-Control"); cc != "public, max-age=60" {
		t.Errorf("public Cache-Control %q", cc)
	}
	if cc := f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleGood}).Header().Get("Cache-Control"); cc != "private, max-age=10" {
		t.Errorf("keyed Cache-Control %q", cc)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestHEAD(t *testing.T) {
	f := newFixture(t, nil)
	get := f.do(req{path: "/v1/tiles/pub/0/0/0.mvt"})
	head := f.do(req{method: "HEAD", path: "/v1/tiles/pub/0/0/0.mvt"})
	if head.Code != 200 || head.Body.Len() != 0 {
		t.Fatalf("HEAD: status %d, %d body bytes", head.Code, head.Body.Len())
	}
	for _, k := range []string{"Content-Type", "Content-Length", "ETag", "Cache-Control", "Vary"} {
		if head.Header().Get(k) == "" || head.Header().Get(k) != get.Header().Get(k) {
			t.Errorf("HEAD %s = %q, GET has %q", k, head.Header().Get(k), get.Header().Get(k))
		}
	}
	if get.Header().Get("Content-Length") != itoa(get.Body.Len()) {
		t.Errorf("GET Content-Length %q for %d bytes", get.Header().Get("Content-Length"), get.Body.Len())
	}
	hp := f.do(req{method: "HEAD", path: "/v1/tiles/roads/0/0/0.mvt"})
	if hp.Code != 401 || hp.Body.Len() != 0 {
		t.Errorf("HEAD error: status %d, %d body bytes", hp.Code, hp.Body.Len())
	}
}

func TestETag(t *testing.T) {
	f := newFixture(t, nil)
	first := f.do(req{path: "/v1/tiles/roads/3/4/2.mvt", key: roleGood})
	etag := first.Header().Get("ETag")
	other := f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleGood}).Header().Get("ETag")
	if etag != other {
		t.Errorf("same bytes, different ETags: %s %s", etag, other)
	}
	tests := []struct {
		name        string
		ifNoneMatch string
		want        int
	}{
		{"exact", etag, 304},
		{"weak form", "W/" + etag, 304},
		{"in a list", `"aaaa", ` + etag + `, "bbbb"`, 304},
		{"list with comma inside a tag", `"a,b", ` + etag, 304},
		{"star", "*", 304},
		{"different", `"0000000000000000"`, 200},
		{"unquoted", strings.Trim(etag, `"`), 200},
		{"malformed then match", `"unterminated, ` + etag, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := f.do(req{path: "/v1/tiles/roads/3/4/2.mvt", key: roleGood, header: map[string]string{"If-None-Match": tt.ifNoneMatch}})
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d", w.Code, tt.want)
			}
			if tt.want == 304 {
				if w.Body.Len() != 0 {
					t.Errorf("304 with %d body bytes", w.Body.Len())
				}
				for _, k := range []string{"ETag", "Cache-Control", "Vary", "RateLimit"} {
					if w.Header().Get(k) == "" {
						t.Errorf("304 lacks %s", k)
					}
				}
			}
		})
	}

	gzipTag := f.do(req{path: "/v1/tiles/pub/0/0/0.mvt", header: map[string]string{"Accept-Encoding": "gzip"}}).Header().Get("ETag")
	plainTag := f.do(req{path: "/v1/tiles/pub/0/0/0.mvt"}).Header().Get("ETag")
	if gzipTag == "" || gzipTag == plainTag {
		t.Errorf("gzip and identity representations share ETag %q / %q", gzipTag, plainTag)
	}
	if w := f.do(req{path: "/v1/tiles/pub/0/0/0.mvt", header: map[string]string{"If-None-Match": gzipTag}}); w.Code != 200 {
		t.Errorf("gzip ETag matched the identity representation: %d", w.Code)
	}
}

func TestGzipNegotiation(t *testing.T) {
	tests := []struct {
		name     string
		accept   string // "-" means no header
		wantGzip bool
	}{
		{"no header", "-", false},
		{"gzip", "gzip", true},
		{"browser list", "gzip, deflate, br, zstd", true},
		{"upper case", "GZIP", true},
		{"x-gzip", "x-gzip", true},
		{"q zero", "gzip;q=0", false},
		{"q zero point zero", "gzip; q=0.000, br", false},
		{"q positive", "gzip;q=0.5", true},
		{"star", "*", true},
		{"star refused", "*;q=0", false},
		{"gzip refused star allowed", "gzip;q=0, *", false},
		{"gzip allowed star refused", "gzip;q=0.1, *;q=0", true},
		{"identity only", "identity", false},
		{"br only", "br", false},
		{"bad q ignored", "gzip;q=2", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			r := req{path: "/v1/tiles/pub/0/0/0.mvt"}
			if tt.accept != "-" {
				r.header = map[string]string{"Accept-Encoding": tt.accept}
			}
			w := f.do(r)
			if w.Code != 200 {
				t.Fatalf("status %d", w.Code)
			}
			if got := w.Header().Get("Content-Encoding") == "gzip"; got != tt.wantGzip {
				t.Fatalf("Content-Encoding %q, want gzip=%v", w.Header().Get("Content-Encoding"), tt.wantGzip)
			}
			body := w.Body.Bytes()
			if tt.wantGzip {
				if !bytes.Equal(body, f.gzStored) {
					t.Errorf("gzip body differs from the stored bytes")
				}
				body = readAllGunzip(t, body)
			}
			if !bytes.Equal(body, mvtTile) {
				t.Errorf("decoded body %q, want %q", body, mvtTile)
			}
			if w.Header().Get("Content-Length") != itoa(w.Body.Len()) {
				t.Errorf("Content-Length %q for %d bytes", w.Header().Get("Content-Length"), w.Body.Len())
			}
			if w.Header().Get("Vary") != "Origin, Accept-Encoding" {
				t.Errorf("Vary %q", w.Header().Get("Vary"))
			}
		})
	}
}

func TestIdentityTileNeverCompressed(t *testing.T) {
	f := newFixture(t, nil)
	w := f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleGood, header: map[string]string{"Accept-Encoding": "gzip"}})
	if w.Header().Get("Content-Encoding") != "" || !bytes.Equal(w.Body.Bytes(), mvtTile) {
		t.Errorf("identity tile sent as %q", w.Header().Get("Content-Encoding"))
	}
}

func TestSecurityHeaders(t *testing.T) {
	tests := []struct {
		name      string
		hsts      bool
		tls       bool
		trust     bool
		forwarded string
		want      string
	}{
		{"tls with hsts", true, true, false, "", "max-age=31536000"},
		{"plain http", true, false, false, "", ""},
		{"tls without hsts option", false, true, false, "", ""},
		{"forwarded https from a trusted proxy", true, false, true, "https", "max-age=31536000"},
		{"forwarded https from an untrusted peer", true, false, false, "https", ""},
		{"forwarded http from a trusted proxy over tls", true, true, true, "http", ""},
		{"forwarded garbage from a trusted proxy over tls", true, true, true, "gopher", "max-age=31536000"},
		{"forwarded https from a trusted proxy without hsts option", false, false, true, "https", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) {
				o.HSTS = tt.hsts
				if tt.trust {
					// httptest requests come from 192.0.2.1.
					o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
				}
			})
			r := newRequest("GET", "/livez")
			if tt.tls {
				r = newRequest("GET", "https://tiles.test/livez")
			}
			if tt.forwarded != "" {
				r.Header.Set("X-Forwarded-Proto", tt.forwarded)
			}
			w := serve(f.h, r)
			if got := w.Header().Get("Strict-Transport-Security"); got != tt.want {
				t.Errorf("HSTS %q, want %q", got, tt.want)
			}
			if w.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("nosniff missing")
			}
		})
	}
}

// TestNoAdminSurface walks paths of the admin listener, with every method,
// and requires a 404 from the public handler.
func TestNoAdminSurface(t *testing.T) {
	f := newFixture(t, nil)
	paths := []string{
		"/metrics", "/metrics/", "/readyz", "/admin", "/admin/", "/admin/v1/keys",
		"/admin/v1/keys/key_01", "/admin/v1/audit", "/admin/v1/backups", "/admin/v1/sessions",
		"/admin/v1/tilesets/reload", "/debug/pprof/", "/debug/vars", "/v1/admin/keys", "/v1/metrics",
		"/v1/tiles/../../admin/v1/keys",
	}
	methods := []string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}
	for _, p := range paths {
		for _, m := range methods {
			w := f.do(req{method: m, path: p, bearer: roleSecret})
			if w.Code != 404 && w.Code != 400 {
				t.Errorf("%s %s: status %d, want 404", m, p, w.Code)
			}
			if strings.Contains(w.Body.String(), "mapwright_") {
				t.Errorf("%s %s leaks metrics", m, p)
			}
		}
	}
}

// TestKeyedRoutesGated walks every route that serves tileset data and
// requires that a keyed tileset is never served without a valid key.
func TestKeyedRoutesGated(t *testing.T) {
	f := newFixture(t, nil)
	routes := []string{"/v1/tiles/roads/0/0/0.mvt", "/v1/tiles/roads.json"}
	n := 0
	for _, p := range routes {
		for _, m := range []string{"GET", "HEAD"} {
			for _, cred := range []string{"", roleUnknown, roleRevoked, roleSecret, roleNoScope} {
				// A network per request, so the failure limiter stays out
				// of the way.
				n++
				w := f.do(req{method: m, path: p, key: cred, remote: "198.51." + itoa(n) + ".1:4000"})
				if w.Code != 401 && w.Code != 403 {
					t.Errorf("%s %s with %q: status %d, want 401/403", m, p, cred, w.Code)
				}
			}
		}
	}
	var list TilesetList
	w := f.do(req{path: "/v1/tilesets"})
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	for _, ts := range list.Tilesets {
		if !ts.Public {
			t.Errorf("anonymous list shows keyed tileset %q", ts.Name)
		}
	}
}

func TestTilesetList(t *testing.T) {
	tests := []struct {
		name string
		req  req
		want []string
	}{
		{"anonymous", req{path: "/v1/tilesets"}, []string{"pub"}},
		{"full key", req{path: "/v1/tilesets", bearer: roleGood}, []string{"badgz", "broken", "pub", "roads", "sat"}},
		{"restricted key", req{path: "/v1/tilesets", bearer: roleRoadsOnly}, []string{"pub", "roads"}},
		{"key without scope", req{path: "/v1/tilesets", bearer: roleNoScope}, []string{"pub"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			w := f.do(tt.req)
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body.String())
			}
			var list TilesetList
			if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, ts := range list.Tilesets {
				names = append(names, ts.Name)
				if ts.TileJSON != "http://tiles.test/v1/tiles/"+ts.Name+".json" {
					t.Errorf("tilejson URL %q", ts.TileJSON)
				}
			}
			if !slices.Equal(names, tt.want) {
				t.Errorf("tilesets %v, want %v", names, tt.want)
			}
		})
	}

	f := newFixture(t, nil)
	w := f.do(req{path: "/v1/tilesets", key: roleRoadsOnly})
	var list TilesetList
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	want := TilesetInfo{Name: "roads", Format: "mvt", MinZoom: 0, MaxZoom: 14, Public: false,
		TileJSON: "http://tiles.test/v1/tiles/roads.json?key=" + f.tok[roleRoadsOnly]}
	if len(list.Tilesets) != 2 || list.Tilesets[1] != want {
		t.Errorf("list %+v, want second entry %+v", list.Tilesets, want)
	}
	if w.Header().Get("RateLimit") == "" {
		t.Errorf("keyed list lacks RateLimit")
	}
}

func TestPanicRecovered(t *testing.T) {
	f := newFixture(t, nil)
	secret := f.tok[roleGood]
	f.sets.onEnter = func(name string) {
		if name == "roads" {
			panic("boom while serving " + secret)
		}
	}
	w := f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleGood})
	if w.Code != 500 {
		t.Fatalf("status %d", w.Code)
	}
	problemOf(t, w)
	logs := f.logs.String()
	if !strings.Contains(logs, "panic serving request") || !strings.Contains(logs, `"status":500`) {
		t.Errorf("panic not logged with status 500: %s", logs)
	}
	if strings.Contains(logs, secret) {
		t.Errorf("panic log holds the full key")
	}
	if !strings.Contains(logs, secret[:11]+"…") {
		t.Errorf("panic log lacks the redacted key")
	}
	// The chain still serves afterwards.
	f.sets.onEnter = nil
	if w := f.do(req{path: "/livez"}); w.Code != 200 {
		t.Errorf("after panic: %d", w.Code)
	}
}

func TestStoreDownDoesNotChargeNetwork(t *testing.T) {
	f := newFixture(t, nil)
	for range 20 {
		if w := f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleStoreDown}); w.Code != 503 {
			t.Fatalf("status %d", w.Code)
		}
	}
	if w := f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleGood}); w.Code != 200 {
		t.Errorf("after store outage the network is blocked: %d", w.Code)
	}
	// Twenty refusals in a burst are one error line in the log, not twenty.
	if n := strings.Count(f.logs.String(), `"msg":"verify API key"`); n != 1 {
		t.Errorf("%d error lines for a burst of unavailable-store refusals, want 1", n)
	}
	// Ten seconds later the next one is logged, with the count held back.
	f.advance(11 * time.Second)
	w := f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleStoreDown})
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	if !strings.Contains(f.logs.String(), `"unlogged_since_last":19`) {
		t.Errorf("the next sampled line does not count the 19 held back:\n%s", f.logs.String())
	}
}

func TestKeyNotAPublicKind(t *testing.T) {
	// A token shaped like a public key whose stored record says otherwise
	// is refused as misuse.
	f := newFixture(t, nil)
	k := f.keys.keys[f.tok[roleGood]]
	k.Kind = "secret"
	w := f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleGood})
	if w.Code != 403 || problemOf(t, w).Type != ProblemTypePrefix+probSecretKey {
		t.Errorf("status %d", w.Code)
	}
}
