package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// Login opens an admin session with a secret key and, when that key has TOTP
// enrolled, a current TOTP code (POST /admin/v1/sessions). It returns the
// session and its cookie as "name=value", ready for Options.SessionCookie.
// The cookie is a credential: store it like a key.
func (c *Client) Login(ctx context.Context, key, totp string) (Session, string, error) {
	r := request{
		method: http.MethodPost, path: "/admin/v1/sessions",
		body:   LoginRequest{Key: key, TOTP: totp},
		accept: []int{http.StatusCreated, http.StatusOK},
		noAuth: true,
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return Session{}, "", fmt.Errorf("log in: %w", err)
	}
	defer resp.Body.Close()
	var s Session
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJSONBody)).Decode(&s); err != nil {
		return Session{}, "", fmt.Errorf("log in: decode answer: %w", err)
	}
	cookie := sessionCookie(resp.Cookies())
	if cookie == nil {
		return Session{}, "", fmt.Errorf("log in: %w", ErrNoSessionCookie)
	}
	return s, cookie.Name + "=" + cookie.Value, nil
}

// sessionCookie picks the session among the cookies of a login answer: the
// first HttpOnly cookie with a value, else the first cookie with a value.
func sessionCookie(cookies []*http.Cookie) *http.Cookie {
	var first *http.Cookie
	for _, ck := range cookies {
		if ck.Value == "" || ck.MaxAge < 0 {
			continue
		}
		if ck.HttpOnly {
			return ck
		}
		if first == nil {
			first = ck
		}
	}
	return first
}

// Logout ends the client's session (DELETE /admin/v1/sessions), so its
// cookie stops working at once.
func (c *Client) Logout(ctx context.Context) error {
	r := request{method: http.MethodDelete, path: "/admin/v1/sessions", accept: []int{http.StatusNoContent, http.StatusOK}}
	if err := c.call(ctx, r, nil); err != nil {
		return fmt.Errorf("log out: %w", err)
	}
	return nil
}
