package keys

import (
	"errors"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/pkg/apikey"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrMalformed: the token is not a well-formed Mapwright key (bad
	// prefix, length, alphabet or checksum); the database was not asked.
	// The error also wraps the apikey sentinel that says why.
	ErrMalformed = errors.New("malformed API key")
	// ErrUnknownKey: a well-formed token that matches no stored key.
	ErrUnknownKey = errors.New("unknown API key")
	// ErrRevoked: the key was revoked.
	ErrRevoked = errors.New("API key revoked")
	// ErrExpired: the key's expiry time has passed.
	ErrExpired = errors.New("API key expired")
	// ErrNotYetValid: the key's not-before time is still in the future.
	ErrNotYetValid = errors.New("API key not yet valid")
	// ErrStoreUnavailable: the key could not be checked because the store
	// did not answer (and no recent answer for it was cached).
	ErrStoreUnavailable = errors.New("key store unavailable")

	// ErrNotFound: no key with that ID. It also matches store.ErrNotFound.
	ErrNotFound error = notFoundError{}
	// ErrNotActive: the key is revoked or expired, so it cannot be rotated.
	ErrNotActive = errors.New("key is not active")
	// ErrAlreadyRotated: the key already has a successor; rotate that one.
	ErrAlreadyRotated = errors.New("key was already rotated")
	// ErrInvalidScope: an unknown scope, or one the key's kind may not hold.
	ErrInvalidScope = errors.New("invalid scope")
	// ErrInvalidOrigin: an allowed origin that is not of an accepted form.
	ErrInvalidOrigin = errors.New("invalid origin")
	// ErrInvalidRequest: any other invalid field of a request (name, kind,
	// tilesets, labels, rate, burst, validity times, actor, reason, grace).
	ErrInvalidRequest = errors.New("invalid request")
)

type notFoundError struct{}

func (notFoundError) Error() string { return "key not found" }

func (notFoundError) Is(target error) bool { return target == store.ErrNotFound }

// MalformedError is returned by [Service.Verify] for a token rejected by
// apikey.Parse. errors.Is matches both [ErrMalformed] and Cause (one of
// apikey.ErrPrefix, ErrLength, ErrAlphabet, ErrChecksum). It never contains
// any part of the token.
type MalformedError struct {
	// Cause is the apikey error that rejected the token.
	Cause error
}

// Error implements error.
func (e *MalformedError) Error() string { return "malformed API key: " + e.Cause.Error() }

// Is reports whether target is ErrMalformed.
func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

// Unwrap returns the apikey error.
func (e *MalformedError) Unwrap() error { return e.Cause }

// The apikey sentinels are fixed values, so their wrappers are built once:
// rejecting garbage then costs no allocation, which matters because
// malformed tokens are what an attacker sends in bulk.
var (
	malformedPrefix   = &MalformedError{Cause: apikey.ErrPrefix}
	malformedLength   = &MalformedError{Cause: apikey.ErrLength}
	malformedAlphabet = &MalformedError{Cause: apikey.ErrAlphabet}
	malformedChecksum = &MalformedError{Cause: apikey.ErrChecksum}
)

func malformed(err error) error {
	switch err {
	case apikey.ErrPrefix:
		return malformedPrefix
	case apikey.ErrLength:
		return malformedLength
	case apikey.ErrAlphabet:
		return malformedAlphabet
	case apikey.ErrChecksum:
		return malformedChecksum
	}
	return &MalformedError{Cause: err}
}
