package sessions

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrKeyMissing: the session key file is absent although TOTP secrets
	// sealed with it exist, so it must be restored.
	ErrKeyMissing = errors.New("session key is missing")
	// ErrKeyInvalid: the session key file exists but is not a valid key,
	// or a key of the wrong size was given to New.
	ErrKeyInvalid = errors.New("session key is invalid")
	// ErrKeyPermissions: the session key file is accessible by group or
	// others.
	ErrKeyPermissions = errors.New("session key file permissions are too open")

	// ErrLoginFailed: a login was refused; a *LoginError says why.
	ErrLoginFailed = errors.New("login failed")
	// ErrTooManyAttempts: too many failed logins from this client network,
	// or failed TOTP codes for this key, in a short time; a
	// *ThrottledError says when to retry.
	ErrTooManyAttempts = errors.New("too many failed login attempts")

	// ErrInvalidSession: a cookie that is malformed, altered, forged, or
	// names no session (ended or never opened).
	ErrInvalidSession = errors.New("invalid session")
	// ErrSessionExpired: the session passed its idle or absolute expiry.
	ErrSessionExpired = errors.New("session expired")
	// ErrKeyInactive: the session's key is no longer active (revoked,
	// expired or not yet valid), so the session no longer works.
	ErrKeyInactive = errors.New("the session's key is no longer active")

	// ErrNotSecretKey: TOTP enrolment asked for a public key; only secret
	// keys log in.
	ErrNotSecretKey = errors.New("only secret keys can enrol TOTP")
	// ErrSealed: a stored TOTP secret does not open with this session key
	// (a different session.key, or a damaged row).
	ErrSealed = errors.New("stored TOTP secret cannot be opened")
)

// Login failure reasons, as recorded in the admin.login_failure audit
// event's "reason" detail and carried by a *LoginError.
const (
	ReasonMalformedKey = "malformed_key"
	ReasonUnknownKey   = "unknown_key"
	ReasonRevoked      = "revoked"
	ReasonExpired      = "expired"
	ReasonNotYetValid  = "not_yet_valid"
	ReasonPublicKey    = "public_key"
	ReasonTOTPRequired = "totp_required"
	ReasonTOTPInvalid  = "totp_invalid"
	ReasonTOTPReplayed = "totp_replayed"
)

// LoginError is a refused login. It matches ErrLoginFailed.
type LoginError struct {
	// Reason is one of the Reason constants.
	Reason string
	// KeyID is the key that tried, when the token named a known key.
	KeyID string
}

// Error implements error. It says why in words a client may be shown; it
// never contains the token.
func (e *LoginError) Error() string {
	switch e.Reason {
	case ReasonMalformedKey:
		return "login failed: the key is not a well-formed Mapwright key"
	case ReasonUnknownKey:
		return "login failed: unknown key"
	case ReasonRevoked:
		return "login failed: the key is revoked"
	case ReasonExpired:
		return "login failed: the key has expired"
	case ReasonNotYetValid:
		return "login failed: the key is not valid yet"
	case ReasonPublicKey:
		return "login failed: public keys cannot log in; use a secret key"
	case ReasonTOTPRequired:
		return "login failed: this key has TOTP enrolled; a current TOTP code is required"
	case ReasonTOTPInvalid:
		return "login failed: wrong TOTP code"
	case ReasonTOTPReplayed:
		return "login failed: this TOTP code was already used; wait for the next one"
	}
	return "login failed: " + e.Reason
}

// Is reports whether target is ErrLoginFailed.
func (e *LoginError) Is(target error) bool { return target == ErrLoginFailed }

// ThrottledError is a login refused before it was checked because too many
// failed before it. It matches ErrTooManyAttempts.
type ThrottledError struct {
	// RetryAfter is how long to wait before the next attempt can be
	// checked.
	RetryAfter time.Duration
}

// Error implements error.
func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed login attempts; retry in %s", e.RetryAfter.Round(time.Second))
}

// Is reports whether target is ErrTooManyAttempts.
func (e *ThrottledError) Is(target error) bool { return target == ErrTooManyAttempts }
