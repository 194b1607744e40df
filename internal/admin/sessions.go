package admin

import (
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/mapwright/mapwright/internal/sessions"
	"github.com/mapwright/mapwright/pkg/client"
)

// cookiePath scopes the session cookie to the admin API.
const cookiePath = "/admin"

func (a *Admin) login(w http.ResponseWriter, r *http.Request, p *principal) {
	var req client.LoginRequest
	if err := decodeJSON(r, &req, true); err != nil {
		a.fail(w, r, err)
		return
	}
	op, err := a.opts.Sessions.Login(r.Context(), sessions.Credentials{Token: req.Key, Code: req.TOTP, ClientIP: p.ClientIP})
	var le *sessions.LoginError
	var te *sessions.ThrottledError
	switch {
	case errors.As(err, &le):
		a.authFailure("login")
		w.Header().Set("WWW-Authenticate", `Bearer realm="mapwright-admin"`)
		writeProblem(w, http.StatusUnauthorized, probLoginFailed, le.Error())
		return
	case errors.As(err, &te):
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(te.RetryAfter.Seconds()))))
		writeProblem(w, http.StatusTooManyRequests, probTooManyAttempts, te.Error())
		return
	case err != nil:
		a.fail(w, r, err)
		return
	}
	stateOf(w).actor = "key:" + op.Key.ID
	http.SetCookie(w, &http.Cookie{
		Name:     sessions.CookieName,
		Value:    op.Cookie,
		Path:     cookiePath,
		Expires:  op.Session.ExpiresAt,
		MaxAge:   int(op.Session.ExpiresAt.Sub(a.now()).Seconds()),
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteStrictMode,
	})
	writeJSON(w, http.StatusCreated, client.Session{
		ExpiresAt:     op.Session.ExpiresAt,
		IdleExpiresAt: op.Session.IdleExpiresAt,
		KeyID:         op.Key.ID,
	})
}

// logout ends the session whose cookie came with the request, if any, and
// always clears the cookie. Over TCP the guard already checked the caller;
// a caller with a key but no session simply has nothing to end.
func (a *Admin) logout(w http.ResponseWriter, r *http.Request, p *principal) {
	if c, err := r.Cookie(sessions.CookieName); err == nil && c.Value != "" {
		_, err := a.opts.Sessions.Logout(r.Context(), c.Value, p.Actor, p.ClientIP)
		if err != nil && !errors.Is(err, sessions.ErrInvalidSession) {
			a.fail(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{
		Name:     sessions.CookieName,
		Value:    "",
		Path:     cookiePath,
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteStrictMode,
	})
	w.WriteHeader(http.StatusNoContent)
}
