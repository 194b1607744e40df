package admin

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/sessions"
	"github.com/mapwright/mapwright/pkg/apikey"
	"github.com/mapwright/mapwright/pkg/client"
)

// samplePath fills a route pattern's wildcards with a well-formed key ID.
func samplePath(p string) string {
	return strings.ReplaceAll(p, "{id}", "key_01JQ0000000000000000000000")
}

// publicRoutes are the only routes a caller without credentials may reach
// over TCP: health probes, which reveal nothing. Adding one here is a
// security decision.
var publicRoutes = []string{"GET /livez", "GET /readyz"}

// TestEveryRouteIsGated walks the route table: without credentials every
// route but the probes answers 401, and nothing the router does (an unknown
// path, a wrong method, an unclean path) answers anything else.
func TestEveryRouteIsGated(t *testing.T) {
	e := newEnv(t)
	var open []string
	for _, rt := range routeTable() {
		t.Run(rt.label(), func(t *testing.T) {
			if rt.auth == authNone {
				open = append(open, rt.label())
				w := e.tcp(t, rt.method, samplePath(rt.path), nil)
				if w.Code != http.StatusOK {
					t.Errorf("probe answered %d", w.Code)
				}
				return
			}
			w := e.tcp(t, rt.method, samplePath(rt.path), nil)
			problem(t, w, http.StatusUnauthorized, "")
			if w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	slices.Sort(open)
	if !slices.Equal(open, publicRoutes) {
		t.Errorf("routes open without credentials: %v, want exactly %v", open, publicRoutes)
	}
	for _, tc := range []struct{ name, method, path string }{
		{"unknown path", http.MethodGet, "/admin/v1/nothing"},
		{"wrong method", http.MethodPut, "/admin/v1/keys"},
		{"options preflight", http.MethodOptions, "/admin/v1/keys"},
		{"unclean path", http.MethodGet, "/admin/v1//keys"},
		{"dot segments", http.MethodGet, "/admin/v1/tilesets/../keys"},
		{"trailing slash", http.MethodGet, "/admin/v1/keys/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problem(t, e.tcp(t, tc.method, tc.path, nil), http.StatusUnauthorized, probMissingAuth)
		})
	}
}

// TestGateRefusesBeforeAuthentication checks the TCP gate on every route:
// even with a valid admin key, a wrong host, a client outside the allowed
// networks, or a cross-site browser request is refused.
func TestGateRefusesBeforeAuthentication(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name   string
		opts   []reqOpt
		status int
		code   string
	}{
		{"host not allowed (DNS rebinding)", []reqOpt{host("evil.example:9443")}, http.StatusMisdirectedRequest, probHost},
		{"allowed name on another port", []reqOpt{host("localhost:9444")}, http.StatusMisdirectedRequest, probHost},
		{"no host", []reqOpt{host("")}, http.StatusMisdirectedRequest, probHost},
		{"client outside the allowed networks", []reqOpt{from(outsideAddr)}, http.StatusForbidden, probClient},
		{"unparsable client address", []reqOpt{from("somewhere")}, http.StatusForbidden, probClient},
		{"Origin null", []reqOpt{header("Origin", "null")}, http.StatusForbidden, probCrossOrigin},
		{"foreign Origin", []reqOpt{header("Origin", "https://evil.example")}, http.StatusForbidden, probCrossOrigin},
		{"Origin of another port", []reqOpt{header("Origin", "http://localhost:9444")}, http.StatusForbidden, probCrossOrigin},
		{"cross-site fetch", []reqOpt{header("Sec-Fetch-Site", "cross-site")}, http.StatusForbidden, probCrossOrigin},
		{"same-site fetch", []reqOpt{header("Sec-Fetch-Site", "same-site")}, http.StatusForbidden, probCrossOrigin},
		{"no-cors fetch", []reqOpt{header("Sec-Fetch-Mode", "no-cors")}, http.StatusForbidden, probCrossOrigin},
	}
	for _, rt := range routeTable() {
		for _, tc := range cases {
			t.Run(rt.label()+"/"+tc.name, func(t *testing.T) {
				opts := append([]reqOpt{bearer(e.root.Token)}, tc.opts...)
				problem(t, e.tcp(t, rt.method, samplePath(rt.path), nil, opts...), tc.status, tc.code)
			})
		}
	}
	// The same-origin browser request and plain clients pass.
	for _, tc := range []struct {
		name string
		opts []reqOpt
	}{
		{"own origin", []reqOpt{header("Origin", "http://"+testHost), header("Sec-Fetch-Site", "same-origin")}},
		{"user-typed navigation", []reqOpt{header("Sec-Fetch-Site", "none")}},
		{"IPv6 loopback", []reqOpt{host("[::1]:9443"), from("[::1]:5000")}},
		{"IPv4-mapped loopback", []reqOpt{from("[::ffff:127.0.0.1]:5000")}},
		{"host in upper case", []reqOpt{host("LOCALHOST:9443")}},
	} {
		t.Run("allowed/"+tc.name, func(t *testing.T) {
			w := e.tcp(t, http.MethodGet, "/admin/v1/status", nil, append([]reqOpt{bearer(e.root.Token)}, tc.opts...)...)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body.String())
			}
		})
	}
}

// TestStateChangingBodiesMustBeJSON sends a form and a text body to every
// route that changes state, on both listeners.
func TestStateChangingBodiesMustBeJSON(t *testing.T) {
	e := newEnv(t)
	bodies := []struct{ name, contentType, body string }{
		{"form", "application/x-www-form-urlencoded", "name=x"},
		{"text", "text/plain", `{"name":"x"}`},
		{"no content type", "", `{"name":"x"}`},
		{"malformed content type", "application/json;;", `{}`},
	}
	for _, rt := range routeTable() {
		if rt.method == http.MethodGet {
			continue
		}
		for _, b := range bodies {
			t.Run(rt.label()+"/"+b.name, func(t *testing.T) {
				problem(t, e.tcp(t, rt.method, samplePath(rt.path), nil, rawBody(b.contentType, b.body)),
					http.StatusUnsupportedMediaType, probMediaType)
				problem(t, e.unix(t, rt.method, samplePath(rt.path), nil, rawBody(b.contentType, b.body)),
					http.StatusUnsupportedMediaType, probMediaType)
			})
		}
	}
	// A charset parameter is fine.
	w := e.unix(t, http.MethodPost, "/admin/v1/keys", nil, rawBody("application/json; charset=utf-8", `{"name":"web"}`))
	if w.Code != http.StatusCreated {
		t.Errorf("JSON with a charset: status %d: %s", w.Code, w.Body.String())
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	public := e.issue(t, client.CreateKeyRequest{Name: "web"})
	reader := e.issue(t, client.CreateKeyRequest{Name: "auditor", Kind: "secret", Scopes: []string{keys.ScopeKeysRead}})
	revoked := e.issue(t, client.CreateKeyRequest{Name: "old", Kind: "secret", Scopes: []string{keys.ScopeAdmin}})
	if _, _, err := e.keys.Revoke(t.Context(), revoked.Key.ID, "test", keys.Actor{Name: testActor}); err != nil {
		t.Fatal(err)
	}
	unknown, _ := apikey.Generate(apikey.Secret)
	cases := []struct {
		name   string
		opts   []reqOpt
		status int
		code   string
	}{
		{"malformed token", []reqOpt{bearer("mpw_sk_notakey")}, http.StatusUnauthorized, probInvalidKey},
		{"token with a bad checksum", []reqOpt{bearer(e.root.Token[:len(e.root.Token)-1] + "x")}, http.StatusUnauthorized, probInvalidKey},
		{"unknown key", []reqOpt{bearer(unknown)}, http.StatusUnauthorized, probInvalidKey},
		{"basic auth", []reqOpt{header("Authorization", "Basic dXNlcjpwYXNz")}, http.StatusUnauthorized, probMissingAuth},
		{"public key", []reqOpt{bearer(public.Token)}, http.StatusForbidden, probPublicKey},
		{"revoked key", []reqOpt{bearer(revoked.Token)}, http.StatusForbidden, probKeyRevoked},
		{"garbage session cookie", []reqOpt{cookie("abc")}, http.StatusUnauthorized, probInvalidSession},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := problem(t, e.tcp(t, http.MethodGet, "/admin/v1/keys", nil, tc.opts...), tc.status, tc.code)
			if tc.code == probPublicKey && !strings.Contains(p.Detail, "public keys cannot use the admin API") {
				t.Errorf("detail %q", p.Detail)
			}
		})
	}

	// Scopes: a keys:read key lists and looks up, but cannot change keys.
	scoped := []struct {
		method, path string
		body         any
		status       int
	}{
		{http.MethodGet, "/admin/v1/keys", nil, http.StatusOK},
		{http.MethodGet, "/admin/v1/keys/" + public.Key.ID, nil, http.StatusOK},
		{http.MethodPost, "/admin/v1/keys/lookup", client.LookupRequest{Hashes: []string{}}, http.StatusOK},
		{http.MethodGet, "/admin/v1/status", nil, http.StatusOK},
		{http.MethodPost, "/admin/v1/keys", client.CreateKeyRequest{Name: "x"}, http.StatusForbidden},
		{http.MethodPost, "/admin/v1/keys/" + public.Key.ID + "/revoke", client.RevokeKeyRequest{}, http.StatusForbidden},
		{http.MethodPost, "/admin/v1/keys/" + public.Key.ID + "/rotate", client.RotateKeyRequest{}, http.StatusForbidden},
		{http.MethodPost, "/admin/v1/keys/" + reader.Key.ID + "/totp", nil, http.StatusForbidden},
		{http.MethodGet, "/admin/v1/tilesets", nil, http.StatusForbidden},
		{http.MethodGet, "/metrics", nil, http.StatusForbidden},
	}
	for _, sc := range scoped {
		t.Run("keys:read/"+sc.method+" "+sc.path, func(t *testing.T) {
			w := e.tcp(t, sc.method, sc.path, sc.body, bearer(reader.Token))
			if w.Code != sc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, sc.status, w.Body.String())
			}
			if sc.status == http.StatusForbidden {
				problem(t, w, http.StatusForbidden, probScope)
			}
		})
	}
	if k, err := e.keys.Get(t.Context(), public.Key.ID); err != nil || k.RevokedAt != nil || k.ReplacedBy != "" {
		t.Errorf("a keys:read key changed a key: %+v, %v", k, err)
	}
}

// TestSecondFactorCannotBeSkipped: once a key has TOTP enrolled, it works
// over TCP only through a session opened with a code.
func TestSecondFactorCannotBeSkipped(t *testing.T) {
	e := newEnv(t)
	ops := e.issue(t, client.CreateKeyRequest{Name: "ops", Kind: "secret", Scopes: []string{keys.ScopeAdmin}})
	if w := e.tcp(t, http.MethodGet, "/admin/v1/keys", nil, bearer(ops.Token)); w.Code != http.StatusOK {
		t.Fatalf("before enrolment: %d", w.Code)
	}
	decode[client.TOTPEnrollment](t, e.unix(t, http.MethodPost, "/admin/v1/keys/"+ops.Key.ID+"/totp", nil), http.StatusCreated)
	problem(t, e.tcp(t, http.MethodGet, "/admin/v1/keys", nil, bearer(ops.Token)), http.StatusForbidden, probSecondFactor)
}

func TestCookieNameIsStable(t *testing.T) {
	if sessions.CookieName != "mapwright_session" {
		t.Fatalf("cookie name %q: clients and docs rely on mapwright_session", sessions.CookieName)
	}
}

// TestRouterAnswers checks what an authenticated caller gets for requests
// outside the table: 405 with Allow for a known path, 404 otherwise.
func TestRouterAnswers(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, method, path string
		status             int
		allow              string
	}{
		{"wrong method", http.MethodPut, "/admin/v1/keys", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{"wrong method on a wildcard path", http.MethodDelete, "/admin/v1/keys/key_01JQ0000000000000000000000", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"unknown path", http.MethodGet, "/admin/v2/keys", http.StatusNotFound, ""},
		{"escaped slash in an ID", http.MethodGet, "/admin/v1/keys/..%2F..%2Fmetrics", http.StatusNotFound, ""},
		{"dot segments", http.MethodGet, "/admin/v1/tilesets/../keys", http.StatusNotFound, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := e.tcp(t, tc.method, tc.path, nil, bearer(e.root.Token))
			code := probNotFound
			if tc.status == http.StatusMethodNotAllowed {
				code = probMethod
			}
			problem(t, w, tc.status, code)
			if got := w.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
			problem(t, e.unix(t, tc.method, tc.path, nil), tc.status, code)
		})
	}
}
