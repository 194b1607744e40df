package apikey

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind tells a public key from a secret key. The zero value is not a valid
// kind.
type Kind uint8

const (
	// Public keys ("mpw_pk_") fetch tiles. They may appear in web pages and
	// are usually restricted to allowed origins.
	Public Kind = 1
	// Secret keys ("mpw_sk_") reach the admin API. They belong in CI
	// secrets and operators' configuration, never in a browser.
	Secret Kind = 2
)

const (
	prefixPublic = "mpw_pk_"
	prefixSecret = "mpw_sk_"
)

// String returns "public" or "secret", or "Kind(N)" for an invalid kind.
func (k Kind) String() string {
	switch k {
	case Public:
		return "public"
	case Secret:
		return "secret"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Prefix returns the token prefix of the kind, "mpw_pk_" or "mpw_sk_", or ""
// for an invalid kind.
func (k Kind) Prefix() string {
	switch k {
	case Public:
		return prefixPublic
	case Secret:
		return prefixSecret
	}
	return ""
}

// ParseKind returns the kind named by s: "public" or "pk" for Public,
// "secret" or "sk" for Secret, in any letter case. Any other string yields an
// error wrapping ErrKind.
func ParseKind(s string) (Kind, error) {
	switch {
	case strings.EqualFold(s, "public"), strings.EqualFold(s, "pk"):
		return Public, nil
	case strings.EqualFold(s, "secret"), strings.EqualFold(s, "sk"):
		return Secret, nil
	}
	// A long argument may be a key pasted into the wrong place: do not echo it.
	if len(s) > StartLen {
		return 0, fmt.Errorf("parse kind (%d bytes): %w", len(s), ErrKind)
	}
	return 0, fmt.Errorf("parse kind %q: %w", s, ErrKind)
}

// MarshalText implements encoding.TextMarshaler, so a Kind is written as
// "public" or "secret" in JSON, YAML and similar formats. An invalid kind
// yields ErrKind.
func (k Kind) MarshalText() ([]byte, error) {
	if k != Public && k != Secret {
		return nil, fmt.Errorf("marshal %v: %w", k, ErrKind)
	}
	return []byte(k.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with the names accepted
// by ParseKind.
func (k *Kind) UnmarshalText(text []byte) error {
	v, err := ParseKind(string(text))
	if err != nil {
		return err
	}
	*k = v
	return nil
}
