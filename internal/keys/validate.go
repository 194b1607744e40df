package keys

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mapwright/mapwright/pkg/apikey"
)

// Limits on request fields; generous for real use, small enough that a key
// row stays small.
const (
	MaxNameLen     = 200 // characters
	MaxReasonLen   = 500 // characters
	MaxOrigins     = 100
	MaxTilesets    = 1000
	MaxLabels      = 64
	MaxLabelKeyLen = 63
	MaxLabelValLen = 255
	maxTilesetLen  = 128
	maxActorLen    = 200
)

// validText checks a free-text field: valid UTF-8, no control characters,
// at most max characters; required fields must not be blank.
func validText(field, s string, max int, required bool) error {
	if required && strings.TrimSpace(s) == "" {
		return fmt.Errorf("%s is required: %w", field, ErrInvalidRequest)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8: %w", field, ErrInvalidRequest)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Errorf("%s is %d characters, at most %d allowed: %w", field, n, max, ErrInvalidRequest)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return fmt.Errorf("%s contains a control character: %w", field, ErrInvalidRequest)
	}
	return nil
}

func validateActor(a Actor) error {
	return validText("actor", a.Name, maxActorLen, true)
}

// validateTilesets returns a sorted copy without duplicates.
func validateTilesets(kind apikey.Kind, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	if kind != apikey.Public {
		return nil, fmt.Errorf("tilesets restrict tile access, which only public keys have: %w", ErrInvalidRequest)
	}
	if len(names) > MaxTilesets {
		return nil, fmt.Errorf("%d tilesets, at most %d allowed: %w", len(names), MaxTilesets, ErrInvalidRequest)
	}
	for _, n := range names {
		if !validTilesetName(n) {
			return nil, fmt.Errorf("tileset %q: use 1 to %d characters of A-Z a-z 0-9 . _ -, not starting with . or -: %w",
				n, maxTilesetLen, ErrInvalidRequest)
		}
	}
	out := slices.Clone(names)
	slices.Sort(out)
	return slices.Compact(out), nil
}

func validTilesetName(n string) bool {
	if n == "" || len(n) > maxTilesetLen || n[0] == '.' || n[0] == '-' {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validateOrigins returns the normalised origins, sorted, without
// duplicates.
func validateOrigins(kind apikey.Kind, origins []string) ([]string, error) {
	if len(origins) == 0 {
		return nil, nil
	}
	if kind != apikey.Public {
		return nil, fmt.Errorf("secret keys are never used from a browser, so they take no origins: %w", ErrInvalidOrigin)
	}
	if len(origins) > MaxOrigins {
		return nil, fmt.Errorf("%d origins, at most %d allowed: %w", len(origins), MaxOrigins, ErrInvalidOrigin)
	}
	out := make([]string, 0, len(origins))
	for _, o := range origins {
		n, err := NormalizeOrigin(o)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// ValidateLabels checks operator labels: keys of 1 to 63 characters from
// a-z A-Z 0-9 . _ / - starting with a letter or digit, values of up to 255
// characters from the same set plus : @ +, at most 64 labels.
func ValidateLabels(labels map[string]string) error {
	if len(labels) > MaxLabels {
		return fmt.Errorf("%d labels, at most %d allowed: %w", len(labels), MaxLabels, ErrInvalidRequest)
	}
	for k, v := range labels {
		if k == "" || len(k) > MaxLabelKeyLen || !isAlnum(k[0]) || !labelChars(k, "._/-") {
			return fmt.Errorf("label key %q: use 1 to %d characters of a-z A-Z 0-9 . _ / -, starting with a letter or digit: %w",
				k, MaxLabelKeyLen, ErrInvalidRequest)
		}
		if len(v) > MaxLabelValLen || !labelChars(v, "._/-:@+") {
			return fmt.Errorf("label %s: value %q: use up to %d characters of a-z A-Z 0-9 . _ / - : @ +: %w",
				k, v, MaxLabelValLen, ErrInvalidRequest)
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func labelChars(s, extra string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && strings.IndexByte(extra, s[i]) < 0 {
			return false
		}
	}
	return true
}

func validateLimits(rate float64, burst int) error {
	if math.IsNaN(rate) || math.IsInf(rate, 0) || rate < 0 {
		return fmt.Errorf("rate %v must be a finite number of requests per second, 0 or more: %w", rate, ErrInvalidRequest)
	}
	if burst < 0 {
		return fmt.Errorf("burst %d must be 0 or more: %w", burst, ErrInvalidRequest)
	}
	return nil
}

// validateWindow checks and normalises the validity window at time now.
func validateWindow(notBefore, expiresAt *time.Time, now time.Time) (nb, exp *time.Time, err error) {
	if notBefore != nil {
		t := micro(*notBefore)
		nb = &t
	}
	if expiresAt != nil {
		t := micro(*expiresAt)
		exp = &t
		if !t.After(now) {
			return nil, nil, fmt.Errorf("expiry %s is not in the future: %w", t.Format(time.RFC3339), ErrInvalidRequest)
		}
		if nb != nil && !t.After(*nb) {
			return nil, nil, fmt.Errorf("expiry %s is not after not-before %s: %w",
				t.Format(time.RFC3339), nb.Format(time.RFC3339), ErrInvalidRequest)
		}
	}
	return nb, exp, nil
}
