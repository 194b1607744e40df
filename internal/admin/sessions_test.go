package admin

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/sessions"
	"github.com/mapwright/mapwright/pkg/client"
)

// code computes the RFC 6238 code of an enrolment URI's secret at now plus
// offset steps, independently of the package under test.
func code(t *testing.T, uri string, now time.Time, offset int64) string {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(u.Query().Get("secret"))
	if err != nil {
		t.Fatalf("secret of %q: %v", uri, err)
	}
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(now.Unix()/30+offset))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[19] & 0x0f
	n := binary.BigEndian.Uint32(sum[off:]) & 0x7fffffff
	return fmt.Sprintf("%06d", n%1_000_000)
}

// sessionCookie returns the session cookie a login answer set.
func sessionCookie(t *testing.T, w *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range w.Result().Cookies() {
		if c.Name == sessions.CookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", sessions.CookieName, w.Header()["Set-Cookie"])
	return nil
}

func TestLoginWithTOTP(t *testing.T) {
	e := newEnv(t)
	ops := e.issue(t, client.CreateKeyRequest{Name: "ops", Kind: "secret", Scopes: []string{keys.ScopeKeysRead}})
	enr := decode[client.TOTPEnrollment](t, e.unix(t, http.MethodPost, "/admin/v1/keys/"+ops.Key.ID+"/totp", nil), http.StatusCreated)
	if !strings.HasPrefix(enr.URI, "otpauth://totp/Mapwright:ops?secret=") || !strings.HasSuffix(enr.URI, "&issuer=Mapwright") {
		t.Fatalf("enrolment URI %q", enr.URI)
	}
	ev := e.events(t, sessions.ActionTOTPEnroll)
	if len(ev) != 1 || ev[0].Actor != testActor || ev[0].Target != ops.Key.ID {
		t.Fatalf("enrolment events %+v", ev)
	}
	if k := decode[client.Key](t, e.unix(t, http.MethodGet, "/admin/v1/keys/"+ops.Key.ID, nil), http.StatusOK); !k.TOTP {
		t.Error("the key does not show TOTP enrolled")
	}

	login := func(totp string, addr string) *httptest.ResponseRecorder {
		return e.tcp(t, http.MethodPost, "/admin/v1/sessions", client.LoginRequest{Key: ops.Token, TOTP: totp}, from(addr))
	}
	now := e.clock.Now()
	wrong := code(t, enr.URI, now, 5)
	for _, tc := range []struct{ name, code, detail string }{
		{"no code", "", "TOTP code is required"},
		{"wrong code", wrong, "wrong TOTP code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := problem(t, login(tc.code, "127.0.0.77:1000"), http.StatusUnauthorized, probLoginFailed)
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("detail %q", p.Detail)
			}
		})
	}
	fails := e.events(t, audit.ActionAdminLoginFail)
	if len(fails) != 2 || fails[1].Details["reason"] != sessions.ReasonTOTPInvalid || fails[1].ClientIP != "127.0.0.0" || fails[1].Target != ops.Key.ID {
		t.Fatalf("login failure events %+v", fails)
	}

	good := code(t, enr.URI, now, 0)
	w := login(good, insideAddr)
	s := decode[client.Session](t, w, http.StatusCreated)
	if s.KeyID != ops.Key.ID || !s.ExpiresAt.Equal(now.Add(12*time.Hour)) || !s.IdleExpiresAt.Equal(now.Add(30*time.Minute)) {
		t.Errorf("session %+v", s)
	}
	c := sessionCookie(t, w)
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/admin" || c.MaxAge <= 0 {
		t.Errorf("cookie attributes %+v", c)
	}
	if raw := w.Header().Get("Set-Cookie"); strings.Contains(raw, ops.Token) {
		t.Error("the cookie holds the key")
	}
	if n := len(e.events(t, audit.ActionAdminLogin)); n != 1 {
		t.Errorf("%d admin.login events", n)
	}

	// The session acts with its key's scopes.
	if w := e.tcp(t, http.MethodGet, "/admin/v1/keys", nil, cookie(c.Value)); w.Code != http.StatusOK {
		t.Fatalf("list with the session: %d %s", w.Code, w.Body.String())
	}
	problem(t, e.tcp(t, http.MethodPost, "/admin/v1/keys", client.CreateKeyRequest{Name: "x"}, cookie(c.Value)), http.StatusForbidden, probScope)
	// A client that sends both its key and its session (as mwctl does)
	// works through the session.
	if w := e.tcp(t, http.MethodGet, "/admin/v1/keys", nil, cookie(c.Value), bearer(ops.Token)); w.Code != http.StatusOK {
		t.Fatalf("list with session and key: %d %s", w.Code, w.Body.String())
	}

	t.Run("rotation keeps the second factor", func(t *testing.T) {
		rk := decode[client.RotatedKey](t, e.tcp(t, http.MethodPost, "/admin/v1/keys/"+ops.Key.ID+"/rotate",
			client.RotateKeyRequest{Grace: "1h"}, bearer(e.root.Token)), http.StatusCreated)
		if !rk.TOTP {
			t.Error("the rotated key does not show TOTP enrolled")
		}
		problem(t, e.tcp(t, http.MethodGet, "/admin/v1/keys", nil, bearer(rk.Token)), http.StatusForbidden, probSecondFactor)
	})

	t.Run("replayed code", func(t *testing.T) {
		p := problem(t, login(good, insideAddr), http.StatusUnauthorized, probLoginFailed)
		if !strings.Contains(p.Detail, "already used") {
			t.Errorf("detail %q", p.Detail)
		}
	})

	t.Run("logout", func(t *testing.T) {
		w := e.tcp(t, http.MethodDelete, "/admin/v1/sessions", nil, cookie(c.Value))
		if w.Code != http.StatusNoContent {
			t.Fatalf("logout: %d %s", w.Code, w.Body.String())
		}
		if cleared := sessionCookie(t, w); cleared.MaxAge >= 0 || cleared.Value != "" {
			t.Errorf("logout did not clear the cookie: %+v", cleared)
		}
		end := e.events(t, audit.ActionSessionEnd)
		if len(end) != 1 || end[0].Actor != "key:"+ops.Key.ID || end[0].Target != ops.Key.ID {
			t.Errorf("session.end events %+v", end)
		}
		problem(t, e.tcp(t, http.MethodGet, "/admin/v1/keys", nil, cookie(c.Value)), http.StatusUnauthorized, probInvalidSession)
	})
}

func TestLoginRefusals(t *testing.T) {
	e := newEnv(t)
	public := e.issue(t, client.CreateKeyRequest{Name: "web"})
	cases := []struct {
		name string
		body any
		raw  string
	}{
		{"malformed key", client.LoginRequest{Key: "mpw_sk_short"}, ""},
		{"public key", client.LoginRequest{Key: public.Token}, ""},
		{"no key", client.LoginRequest{}, ""},
		{"empty body", nil, ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var opts []reqOpt
			if tc.body == nil {
				opts = append(opts, rawBody("application/json", tc.raw))
			}
			w := e.tcp(t, http.MethodPost, "/admin/v1/sessions", tc.body, append(opts, from("127.0.0.9:1"))...)
			problem(t, w, http.StatusUnauthorized, probLoginFailed)
			if len(w.Result().Cookies()) != 0 {
				t.Error("a refused login set a cookie")
			}
			if n := len(e.events(t, audit.ActionAdminLoginFail)); n != i+1 {
				t.Errorf("%d login failure events, want %d", n, i+1)
			}
		})
	}
	// Failures are throttled per client network, before any check.
	var last *httptest.ResponseRecorder
	for range 20 {
		last = e.tcp(t, http.MethodPost, "/admin/v1/sessions", client.LoginRequest{Key: "mpw_sk_x"}, from("127.0.0.9:1"))
	}
	problem(t, last, http.StatusTooManyRequests, probTooManyAttempts)
	if last.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

func TestSessionLifetime(t *testing.T) {
	e := newEnv(t)
	login := func() string {
		t.Helper()
		w := e.tcp(t, http.MethodPost, "/admin/v1/sessions", client.LoginRequest{Key: e.root.Token})
		decode[client.Session](t, w, http.StatusCreated)
		return sessionCookie(t, w).Value
	}
	status := func(c string) *httptest.ResponseRecorder {
		return e.tcp(t, http.MethodGet, "/admin/v1/status", nil, cookie(c))
	}

	t.Run("idle expiry", func(t *testing.T) {
		c := login()
		e.clock.Advance(29 * time.Minute)
		if w := status(c); w.Code != http.StatusOK {
			t.Fatalf("after 29 minutes: %d", w.Code)
		}
		e.clock.Advance(31 * time.Minute)
		p := problem(t, status(c), http.StatusUnauthorized, probInvalidSession)
		if !strings.Contains(p.Detail, "expired") {
			t.Errorf("detail %q", p.Detail)
		}
	})
	t.Run("absolute expiry", func(t *testing.T) {
		c := login()
		for range 12*3 - 1 {
			e.clock.Advance(20 * time.Minute)
			if w := status(c); w.Code != http.StatusOK {
				t.Fatalf("an active session ended early: %d", w.Code)
			}
		}
		e.clock.Advance(20 * time.Minute)
		problem(t, status(c), http.StatusUnauthorized, probInvalidSession)
	})
	t.Run("tampered cookie", func(t *testing.T) {
		c := login()
		for _, i := range []int{0, len(c) / 2, len(c) - 1} {
			b := []byte(c)
			b[i] ^= 0x01
			problem(t, status(string(b)), http.StatusUnauthorized, probInvalidSession)
		}
		if w := status(c); w.Code != http.StatusOK {
			t.Errorf("the untouched cookie stopped working: %d", w.Code)
		}
	})
	t.Run("key revoked after login", func(t *testing.T) {
		k := e.issue(t, client.CreateKeyRequest{Name: "temp", Kind: "secret", Scopes: []string{keys.ScopeAdmin}})
		w := e.tcp(t, http.MethodPost, "/admin/v1/sessions", client.LoginRequest{Key: k.Token})
		c := sessionCookie(t, w).Value
		if w := status(c); w.Code != http.StatusOK {
			t.Fatalf("before revocation: %d", w.Code)
		}
		decode[client.RevokeResult](t, e.unix(t, http.MethodPost, "/admin/v1/keys/"+k.Key.ID+"/revoke", nil), http.StatusOK)
		problem(t, status(c), http.StatusUnauthorized, probInvalidSession)
	})
	t.Run("logout without a session", func(t *testing.T) {
		w := e.tcp(t, http.MethodDelete, "/admin/v1/sessions", nil, bearer(e.root.Token))
		if w.Code != http.StatusNoContent {
			t.Fatalf("status %d", w.Code)
		}
	})
}
