package admin

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/netip"
	"strings"

	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/logging"
	"github.com/mapwright/mapwright/internal/sessions"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/pkg/apikey"
)

// tcpGate refuses, before any route is chosen, requests whose Host is not
// allowed, whose client is outside the allowed networks, or that a browser
// sends on behalf of another site.
func (a *Admin) tcpGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := strings.ToLower(r.Host)
		if !a.hosts[host] {
			// A name this listener was not configured for: most likely DNS
			// rebinding, where a web page's own name resolves here.
			a.authFailure("host")
			writeProblem(w, http.StatusMisdirectedRequest, probHost,
				fmt.Sprintf("host %q is not an admin host of this server (admin.allowed_hosts)", r.Host))
			return
		}
		if !a.clientAllowed(r.RemoteAddr) {
			a.authFailure("client")
			writeProblem(w, http.StatusForbidden, probClient,
				"your address is outside the networks allowed to use the admin API (admin.allowed_cidrs)")
			return
		}
		if msg := crossSite(r); msg != "" {
			a.authFailure("origin")
			writeProblem(w, http.StatusForbidden, probCrossOrigin, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *Admin) clientAllowed(remote string) bool {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap().WithZone("")
	for _, p := range a.cidrs {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// crossSite says why a browser request must be refused, or "" when it is
// not a cross-site browser request. Non-browser clients send none of these
// headers and pass.
func crossSite(r *http.Request) string {
	if origin, ok := r.Header["Origin"]; ok {
		o := ""
		if len(origin) > 0 {
			o = origin[0]
		}
		if o == "null" {
			return `requests with "Origin: null" (sandboxed pages, local files) are refused`
		}
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		if !strings.EqualFold(o, scheme+"://"+r.Host) || len(origin) > 1 {
			return "cross-origin requests are refused: the admin API serves only its own origin"
		}
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return "cross-site requests are refused"
	}
	if r.Header.Get("Sec-Fetch-Mode") == "no-cors" {
		return "no-cors requests are refused"
	}
	return ""
}

// bodyGate caps request bodies and insists that a body sent to change state
// is JSON: an HTML form or a text/plain body, which a browser may send to
// any site without asking, never reaches a handler.
func bodyGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			if r.ContentLength != 0 {
				mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
				if err != nil || mt != "application/json" {
					writeProblem(w, http.StatusUnsupportedMediaType, probMediaType,
						"a request body must be sent as Content-Type: application/json")
					return
				}
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next.ServeHTTP(w, r)
	})
}

// Who may call a route.
type authMode int

const (
	// authKey: a secret key or session holding the route's scope (any
	// secret key or session when the scope is empty). Over the unix
	// socket, the peer.
	authKey authMode = iota
	// authNone: anyone past the listener's gate (health probes).
	authNone
	// authLogin: anyone past the gate; the handler checks the credentials
	// in the body (opening a session).
	authLogin
)

// principal is who makes a request.
type principal struct {
	// Actor is the audit actor: "unix:UID(name)" or "key:ID".
	Actor string
	// ClientIP is the client's address, empty over the unix socket.
	ClientIP string
	// Key is the key the request authenticated with; nil over the unix
	// socket.
	Key *store.Key
	// Session is set when the request came with a valid session cookie.
	Session *store.Session
}

func (p *principal) actor() keys.Actor { return keys.Actor{Name: p.Actor, ClientIP: p.ClientIP} }

// handlerFunc is a route's handler.
type handlerFunc func(a *Admin, w http.ResponseWriter, r *http.Request, p *principal)

// guard wraps a route's handler in its authentication and scope check for
// one kind of listener. It is the only way a handler is registered; label
// names the route in logs and metrics.
func (a *Admin) guard(kind listenerKind, rt route, label string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := stateOf(w)
		st.route = label
		p, ok := a.authorize(kind, rt, w, r)
		if !ok {
			return
		}
		st.actor = p.Actor
		rt.handle(a, w, r, p)
	})
}

// authorize identifies the caller of rt and checks its scope. It writes the
// refusal itself and returns false when the request must stop.
func (a *Admin) authorize(kind listenerKind, rt route, w http.ResponseWriter, r *http.Request) (*principal, bool) {
	if kind == listenerUnix {
		peer, err := peerFrom(r.Context())
		if err != nil {
			a.log.Error("admin socket request refused", logging.KeyErr, err.Error())
			writeProblem(w, http.StatusInternalServerError, probInternal, err.Error())
			return nil, false
		}
		return &principal{Actor: peer.Actor}, true
	}
	if rt.auth != authKey {
		return &principal{ClientIP: r.RemoteAddr}, true
	}
	p, fail := a.authenticate(r)
	if fail != nil {
		a.authFailure(fail.reason)
		if fail.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mapwright-admin"`)
		}
		writeProblem(w, fail.status, fail.code, fail.detail)
		return nil, false
	}
	if rt.scope != "" && !keys.HasScope(p.Key.Scopes, rt.scope) {
		a.authFailure("scope")
		writeProblem(w, http.StatusForbidden, probScope,
			fmt.Sprintf("key %s lacks the scope %q that %s needs", p.Key.ID, rt.scope, rt.label()))
		return nil, false
	}
	return p, true
}

// authFail is a refused authentication.
type authFail struct {
	status int
	code   string
	reason string // metrics label
	detail string
}

// authenticate identifies a TCP caller by session cookie or bearer key. A
// valid session wins, so that a client holding both a session and the key
// of a TOTP-protected account works; a bad cookie falls back to the bearer
// key when there is one.
func (a *Admin) authenticate(r *http.Request) (*principal, *authFail) {
	ctx := r.Context()
	authz := r.Header.Get("Authorization")
	var sessionFail *authFail
	if c, err := r.Cookie(sessions.CookieName); err == nil && c.Value != "" {
		sess, k, err := a.opts.Sessions.Authenticate(ctx, c.Value)
		if err == nil {
			return &principal{Actor: "key:" + k.ID, ClientIP: r.RemoteAddr, Key: &k, Session: &sess}, nil
		}
		sessionFail = sessionFailure(err)
		if authz == "" {
			return nil, sessionFail
		}
	}
	if authz == "" {
		return nil, &authFail{http.StatusUnauthorized, probMissingAuth, "missing",
			"send a secret key as Authorization: Bearer mpw_sk_..., or log in for a session cookie"}
	}
	scheme, token, _ := strings.Cut(authz, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return nil, &authFail{http.StatusUnauthorized, probMissingAuth, "malformed",
			"the Authorization header must be: Bearer mpw_sk_..."}
	}
	token = strings.TrimSpace(token)
	k, err := a.opts.Keys.Verify(ctx, token)
	switch {
	case err == nil:
	case errors.Is(err, keys.ErrMalformed):
		return nil, &authFail{http.StatusUnauthorized, probInvalidKey, "malformed", "malformed API key: " + apikey.Redact(token)}
	case errors.Is(err, keys.ErrUnknownKey):
		return nil, &authFail{http.StatusUnauthorized, probInvalidKey, "unknown", "unknown API key " + apikey.Redact(token)}
	case errors.Is(err, keys.ErrRevoked):
		return nil, &authFail{http.StatusForbidden, probKeyRevoked, "revoked", "API key " + k.ID + " is revoked"}
	case errors.Is(err, keys.ErrExpired):
		return nil, &authFail{http.StatusForbidden, probKeyExpired, "expired", "API key " + k.ID + " has expired"}
	case errors.Is(err, keys.ErrNotYetValid):
		return nil, &authFail{http.StatusForbidden, probKeyNotYetValid, "not_yet_valid", "API key " + k.ID + " is not valid yet"}
	default:
		a.log.Error("verify admin key", logging.KeyErr, scrubKeys(err.Error()))
		return nil, &authFail{http.StatusServiceUnavailable, probUnavailable, "unavailable", "the key database is unavailable"}
	}
	if k.Kind != apikey.Secret.String() {
		return nil, &authFail{http.StatusForbidden, probPublicKey, "public_key",
			"public keys cannot use the admin API; use a secret key (mpw_sk_...)"}
	}
	totp, err := a.opts.Sessions.TOTPEnrolled(ctx, []string{k.ID})
	if err != nil {
		a.log.Error("check TOTP enrolment", logging.KeyErr, err.Error())
		return nil, &authFail{http.StatusServiceUnavailable, probUnavailable, "unavailable", "the key database is unavailable"}
	}
	if totp[k.ID] {
		if sessionFail != nil {
			return nil, sessionFail
		}
		return nil, &authFail{http.StatusForbidden, probSecondFactor, "second_factor",
			"key " + k.ID + " has TOTP enrolled: over the network it is accepted only through a session (log in with a current code)"}
	}
	kc := *k
	return &principal{Actor: "key:" + kc.ID, ClientIP: r.RemoteAddr, Key: &kc}, nil
}

func sessionFailure(err error) *authFail {
	switch {
	case errors.Is(err, sessions.ErrSessionExpired):
		return &authFail{http.StatusUnauthorized, probInvalidSession, "session", "the session has expired; log in again"}
	case errors.Is(err, sessions.ErrKeyInactive):
		return &authFail{http.StatusUnauthorized, probInvalidSession, "session", "the session's key is no longer active; log in again"}
	case errors.Is(err, sessions.ErrInvalidSession):
		return &authFail{http.StatusUnauthorized, probInvalidSession, "session", "invalid or ended session; log in again"}
	}
	return &authFail{http.StatusServiceUnavailable, probUnavailable, "unavailable", "the session database is unavailable"}
}
