package server

import (
	"testing"
)

func TestOrigins(t *testing.T) {
	tests := []struct {
		name       string
		role       string
		origin     string
		referer    string
		want       int
		wantEcho   string // expected Access-Control-Allow-Origin, "" for none
		wantDetail string
	}{
		{name: "no browser headers", role: roleGood, want: 200},
		{name: "exact", role: roleGood, origin: "https://maps.example.com", want: 200, wantEcho: "https://maps.example.com"},
		{name: "exact upper-case host", role: roleGood, origin: "https://MAPS.Example.com", want: 200, wantEcho: "https://MAPS.Example.com"},
		{name: "exact with default port", role: roleGood, origin: "https://maps.example.com:443", want: 200, wantEcho: "https://maps.example.com:443"},
		{name: "exact wrong port", role: roleGood, origin: "https://maps.example.com:8443", want: 403},
		{name: "scheme mismatch", role: roleGood, origin: "http://maps.example.com", want: 403},
		{name: "other host", role: roleGood, origin: "https://evil.test", want: 403},
		{name: "suffix trick", role: roleGood, origin: "https://maps.example.com.evil.test", want: 403},
		{name: "wildcard subdomain", role: roleGood, origin: "https://a.example.org", want: 200, wantEcho: "https://a.example.org"},
		{name: "wildcard deep subdomain", role: roleGood, origin: "https://a.b.example.org", want: 200, wantEcho: "https://a.b.example.org"},
		{name: "wildcard apex not matched", role: roleGood, origin: "https://example.org", want: 403},
		{name: "wildcard lookalike", role: roleGood, origin: "https://badexample.org", want: 403},
		{name: "wildcard scheme mismatch", role: roleGood, origin: "http://a.example.org", want: 403},
		{name: "localhost any port", role: roleGood, origin: "http://localhost:5173", want: 200, wantEcho: "http://localhost:5173"},
		{name: "localhost no port", role: roleGood, origin: "http://localhost", want: 200, wantEcho: "http://localhost"},
		{name: "localhost https not allowed", role: roleGood, origin: "https://localhost:5173", want: 403},
		{name: "ip with port", role: roleGood, origin: "http://192.0.2.7:8080", want: 200, wantEcho: "http://192.0.2.7:8080"},
		{name: "ip other port", role: roleGood, origin: "http://192.0.2.7:8081", want: 403},
		{name: "null origin", role: roleGood, origin: "null", want: 403},
		{name: "origin with path", role: roleGood, origin: "https://maps.example.com/", want: 403},
		{name: "origin with userinfo", role: roleGood, origin: "https://user@maps.example.com", want: 403},
		{name: "referer fallback allowed", role: roleGood, referer: "https://maps.example.com/app/index.html?x=1", want: 200},
		{name: "referer fallback refused", role: roleGood, referer: "https://evil.test/page", want: 403},
		{name: "referer with userinfo refused", role: roleGood, referer: "https://maps.example.com@evil.test/", want: 403},
		{name: "referer non-web scheme", role: roleGood, referer: "file:///home/me/map.html", want: 403},
		{name: "origin wins over referer", role: roleGood, origin: "https://evil.test", referer: "https://maps.example.com/", want: 403},
		{name: "key without origins and no headers", role: roleNoOrigins, want: 200},
		{name: "key without origins and Origin", role: roleNoOrigins, origin: "https://maps.example.com", want: 403,
			wantDetail: "this key has no allowed origins, so it may not be used from a browser page"},
		{name: "key without origins and Referer", role: roleNoOrigins, referer: "https://maps.example.com/", want: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			h := map[string]string{}
			if tt.origin != "" {
				h["Origin"] = tt.origin
			}
			if tt.referer != "" {
				h["Referer"] = tt.referer
			}
			w := f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: tt.role, header: h})
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body.String())
			}
			if got := w.Header().Get("Access-Control-Allow-Origin"); got != tt.wantEcho {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, tt.wantEcho)
			}
			if tt.want == 403 {
				p := problemOf(t, w)
				if p.Type != ProblemTypePrefix+probOrigin {
					t.Errorf("problem %q", p.Type)
				}
				if tt.wantDetail != "" && p.Detail != tt.wantDetail {
					t.Errorf("detail %q, want %q", p.Detail, tt.wantDetail)
				}
			}
			if tt.wantEcho != "" {
				if got := w.Header().Get("Access-Control-Expose-Headers"); got != "ETag, RateLimit, RateLimit-Policy, Retry-After" {
					t.Errorf("Expose-Headers %q", got)
				}
				if got := w.Header().Get("Vary"); got != "Origin, Accept-Encoding" {
					t.Errorf("Vary %q", got)
				}
			}
			if got := w.Header().Get("Access-Control-Allow-Origin"); got == "*" {
				t.Errorf("keyed tileset answered with *")
			}
		})
	}
}

func TestCORSPublic(t *testing.T) {
	f := newFixture(t, nil)
	w := f.do(req{path: "/v1/tiles/pub/0/0/0.mvt", header: map[string]string{"Origin": "https://anyone.test"}})
	if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("public tile: status %d, ACAO %q", w.Code, w.Header().Get("Access-Control-Allow-Origin"))
	}
	w = f.do(req{path: "/v1/tilesets", header: map[string]string{"Origin": "https://anyone.test"}})
	if w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("anonymous list ACAO %q", w.Header().Get("Access-Control-Allow-Origin"))
	}
	w = f.do(req{path: "/v1/tilesets", key: roleGood, header: map[string]string{"Origin": "https://maps.example.com"}})
	if w.Header().Get("Access-Control-Allow-Origin") != "https://maps.example.com" {
		t.Errorf("keyed list ACAO %q", w.Header().Get("Access-Control-Allow-Origin"))
	}
	w = f.do(req{path: "/v1/tilesets", key: roleGood, header: map[string]string{"Origin": "https://evil.test"}})
	if w.Code != 403 {
		t.Errorf("keyed list from a foreign origin: %d", w.Code)
	}
}

func TestPreflight(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		key      string
		bearer   string
		origin   string
		method   string // Access-Control-Request-Method; "" for a plain OPTIONS
		wantACAO string
	}{
		{name: "public tileset", path: "/v1/tiles/pub/0/0/0.mvt", origin: "https://anyone.test", method: "GET", wantACAO: "*"},
		{name: "keyed allowed", path: "/v1/tiles/roads/0/0/0.mvt", key: roleGood, origin: "https://maps.example.com", method: "GET", wantACAO: "https://maps.example.com"},
		{name: "keyed HEAD allowed", path: "/v1/tiles/roads/0/0/0.mvt", key: roleGood, origin: "https://a.example.org", method: "HEAD", wantACAO: "https://a.example.org"},
		{name: "keyed tilejson allowed", path: "/v1/tiles/roads.json", key: roleGood, origin: "https://maps.example.com", method: "GET", wantACAO: "https://maps.example.com"},
		{name: "keyed list allowed", path: "/v1/tilesets", key: roleGood, origin: "https://maps.example.com", method: "GET", wantACAO: "https://maps.example.com"},
		{name: "anonymous list", path: "/v1/tilesets", origin: "https://anyone.test", method: "GET", wantACAO: "*"},
		{name: "keyed origin refused", path: "/v1/tiles/roads/0/0/0.mvt", key: roleGood, origin: "https://evil.test", method: "GET"},
		{name: "keyed without key", path: "/v1/tiles/roads/0/0/0.mvt", origin: "https://maps.example.com", method: "GET"},
		{name: "bearer on a preflight counts too", path: "/v1/tiles/roads/0/0/0.mvt", bearer: roleGood, origin: "https://maps.example.com", method: "GET", wantACAO: "https://maps.example.com"},
		{name: "revoked key", path: "/v1/tiles/roads/0/0/0.mvt", key: roleRevoked, origin: "https://maps.example.com", method: "GET"},
		{name: "secret key", path: "/v1/tiles/roads/0/0/0.mvt", key: roleSecret, origin: "https://maps.example.com", method: "GET"},
		{name: "key without origins", path: "/v1/tiles/roads/0/0/0.mvt", key: roleNoOrigins, origin: "https://maps.example.com", method: "GET"},
		{name: "wrong tileset for key", path: "/v1/tiles/sat/0/0/0.png", key: roleRoadsOnly, origin: "https://maps.example.com", method: "GET"},
		{name: "POST requested", path: "/v1/tiles/pub/0/0/0.mvt", origin: "https://anyone.test", method: "POST"},
		{name: "null origin", path: "/v1/tiles/roads/0/0/0.mvt", key: roleGood, origin: "null", method: "GET"},
		{name: "plain OPTIONS", path: "/v1/tiles/roads/0/0/0.mvt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			h := map[string]string{}
			if tt.origin != "" {
				h["Origin"] = tt.origin
			}
			if tt.method != "" {
				h["Access-Control-Request-Method"] = tt.method
				h["Access-Control-Request-Headers"] = "authorization"
			}
			w := f.do(req{method: "OPTIONS", path: tt.path, key: tt.key, bearer: tt.bearer, header: h})
			if w.Code != 204 {
				t.Fatalf("status %d, want 204", w.Code)
			}
			if got := w.Header().Get("Access-Control-Allow-Origin"); got != tt.wantACAO {
				t.Fatalf("Access-Control-Allow-Origin %q, want %q", got, tt.wantACAO)
			}
			if tt.wantACAO != "" {
				for k, v := range map[string]string{
					"Access-Control-Allow-Methods": "GET, HEAD",
					"Access-Control-Allow-Headers": "Authorization",
					"Access-Control-Max-Age":       "600",
				} {
					if got := w.Header().Get(k); got != v {
						t.Errorf("%s %q, want %q", k, got, v)
					}
				}
			} else if w.Header().Get("Access-Control-Allow-Methods") != "" {
				t.Errorf("refused preflight carries Allow-Methods")
			}
			if tt.method == "" && w.Header().Get("Allow") != "GET, HEAD, OPTIONS" {
				t.Errorf("plain OPTIONS Allow %q", w.Header().Get("Allow"))
			}
			if w.Header().Get("RateLimit") != "" {
				t.Errorf("preflight spent a rate-limit token")
			}
		})
	}
}
