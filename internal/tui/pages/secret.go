package pages

import (
	"log/slog"

	"github.com/mapwright/mapwright/pkg/apikey"
)

// Secret is a key's token on its way to the screen. Printed, formatted or
// logged it shows only its redacted start (mpw_pk_AbCd…); Reveal gives the
// token itself, for the one box that shows it.
type Secret string

// String returns the redacted token.
func (s Secret) String() string { return apikey.Redact(string(s)) }

// GoString returns the redacted token, for %#v.
func (s Secret) GoString() string { return s.String() }

// LogValue returns the redacted token, for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText returns the redacted token, so that no encoder writes it.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the token.
func (s Secret) Reveal() string { return string(s) }
