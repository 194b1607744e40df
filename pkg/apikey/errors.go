package apikey

import "errors"

// Errors returned by this package. Parse returns exactly one of ErrPrefix,
// ErrLength, ErrAlphabet or ErrChecksum, unwrapped, so comparing with
// errors.Is or == both work and rejecting a token costs no allocation. None of
// them contains any part of the token; wrap them with [Redact] for context:
//
//	fmt.Errorf("verify key %s: %w", apikey.Redact(token), err)
var (
	// ErrPrefix means the token does not start with "mpw_pk_" or "mpw_sk_".
	ErrPrefix = errors.New("apikey: token does not start with mpw_pk_ or mpw_sk_")
	// ErrLength means the token has a valid prefix but is not TokenLen bytes long.
	ErrLength = errors.New("apikey: token is not 43 characters long")
	// ErrAlphabet means a character after the prefix is outside 0-9A-Za-z.
	ErrAlphabet = errors.New("apikey: token has a character outside 0-9A-Za-z")
	// ErrChecksum means the token is well formed but its last six characters
	// are not the checksum of the rest: a typo or a look-alike.
	ErrChecksum = errors.New("apikey: token checksum does not match")
	// ErrKind means a Kind is neither Public nor Secret, or a kind name is
	// not recognised by ParseKind.
	ErrKind = errors.New("apikey: unknown key kind (want public or secret)")
)
