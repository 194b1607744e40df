package client

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors of this package, for errors.Is.
var (
	// ErrServer means a server address is not one New accepts: it must be
	// unix:///absolute/path.sock, an absolute socket path, or
	// https://host[:port].
	ErrServer = errors.New("invalid admin server address")
	// ErrFingerprint means a pinned fingerprint is not a SHA-256 digest
	// written as 64 hexadecimal digits (colons and a "sha256:" prefix are
	// allowed).
	ErrFingerprint = errors.New("invalid certificate fingerprint")
	// ErrPinMismatch means the server's certificate chain does not contain
	// the pinned certificate, or its leaf is not signed by it.
	ErrPinMismatch = errors.New("server certificate does not match the pinned fingerprint")
	// ErrConnect is wrapped by every failure to reach the admin API: the
	// socket is missing, the connection was refused, the TLS handshake
	// failed. A ConnectError carries the details.
	ErrConnect = errors.New("cannot connect to the admin API")
	// ErrNoSessionCookie means the server answered a login without setting
	// a session cookie.
	ErrNoSessionCookie = errors.New("login response carries no session cookie")
	// ErrPaging means the server repeated a pagination cursor, which would
	// make ListAllKeys loop forever.
	ErrPaging = errors.New("admin API repeated a pagination cursor")
)

// APIError is an error answer of the admin API: its HTTP status and the
// problem details it sent (RFC 9457). A body that is not problem details
// yields a Problem built from the status line.
type APIError struct {
	// Status is the HTTP status code, e.g. 404.
	Status int
	// Problem is the decoded problem details.
	Problem Problem
}

// Error returns the problem's title and detail, e.g. "Not Found: no key
// with id k_123".
func (e *APIError) Error() string {
	title := strings.TrimSpace(e.Problem.Title)
	if title == "" {
		title = http.StatusText(e.Status)
	}
	if title == "" {
		title = fmt.Sprintf("HTTP status %d", e.Status)
	}
	if d := strings.TrimSpace(e.Problem.Detail); d != "" {
		return title + ": " + d
	}
	return title
}

// statusOf returns the HTTP status of an *APIError in err's chain, or 0.
func statusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// IsNotFound reports whether err is an admin API answer 404 Not Found.
func IsNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }

// IsForbidden reports whether err is an admin API answer 403 Forbidden: the
// credentials are valid but lack the route's scope.
func IsForbidden(err error) bool { return statusOf(err) == http.StatusForbidden }

// IsUnauthorized reports whether err is an admin API answer 401
// Unauthorized: no credentials, or a bad, expired or revoked key or session.
func IsUnauthorized(err error) bool { return statusOf(err) == http.StatusUnauthorized }

// IsConflict reports whether err is an admin API answer 409 Conflict.
func IsConflict(err error) bool { return statusOf(err) == http.StatusConflict }

// IsInvalid reports whether err is an admin API answer 400 Bad Request or
// 422 Unprocessable Content: the server refused the request's content
// (an unknown scope, a malformed duration) and changed nothing.
func IsInvalid(err error) bool {
	s := statusOf(err)
	return s == http.StatusBadRequest || s == http.StatusUnprocessableEntity
}

// ConnectError is a failure to reach the admin API at all. Its message names
// the server and suggests the likely cause.
type ConnectError struct {
	// Server is the address as given to New.
	Server string
	// Err is the underlying network or TLS error.
	Err error
	// Hint is a short suggestion ("is mapwrightd running?"), may be empty.
	Hint string
}

// Error returns "connect to admin API at SERVER: CAUSE: HINT".
func (e *ConnectError) Error() string {
	msg := fmt.Sprintf("connect to admin API at %s: %v", e.Server, e.Err)
	if e.Hint != "" {
		msg += ": " + e.Hint
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *ConnectError) Unwrap() []error { return []error{ErrConnect, e.Err} }
