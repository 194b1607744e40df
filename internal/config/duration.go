package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
)

const day = 24 * time.Hour

// ParseDuration parses a Go duration ("30s", "1h30m", "2160h") or one that
// starts with a number of days ("90d", "1.5d", "1d12h"). A day is exactly
// 24 hours. "0" is zero.
func ParseDuration(s string) (time.Duration, error) {
	in := s
	s = strings.TrimSpace(s)
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	i := strings.IndexByte(s, 'd')
	if i < 0 {
		d, err := time.ParseDuration(s)
		if err != nil || s == "" {
			return 0, badDuration(in)
		}
		if neg {
			d = -d
		}
		return d, nil
	}
	days, rest := s[:i], s[i+1:]
	if !isDecimal(days) {
		return 0, badDuration(in)
	}
	n, err := strconv.ParseFloat(days, 64)
	if err != nil || n*float64(day) >= math.MaxInt64 {
		return 0, badDuration(in)
	}
	d := time.Duration(n * float64(day))
	if rest != "" {
		// The remainder is a plain Go duration with no sign of its own.
		if rest[0] == '-' || rest[0] == '+' {
			return 0, badDuration(in)
		}
		r, err := time.ParseDuration(rest)
		if err != nil || d > math.MaxInt64-r {
			return 0, badDuration(in)
		}
		d += r
	}
	if neg {
		d = -d
	}
	return d, nil
}

func isDecimal(s string) bool {
	digits, dots := 0, 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

func badDuration(s string) error {
	return fmt.Errorf("invalid duration %q: use a Go duration such as \"30s\", \"5m\", \"2160h\" or days such as \"90d\"", s)
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	errNoUnit    = errors.New("a duration needs a unit, such as \"30s\" or \"90d\"")
	errFraction  = errors.New("must be a whole number")
	errRange     = errors.New("number out of range")
)

// decodeHook converts the loosely typed values that come from YAML,
// environment variables and flags into the config's field types:
// durations with days, comma-separated lists, and whole numbers that must
// not be silently truncated.
func decodeHook() mapstructure.DecodeHookFunc {
	return func(from, to reflect.Type, data any) (any, error) {
		if to == durationType {
			return toDuration(from, data)
		}
		switch to.Kind() {
		case reflect.Slice:
			if s, ok := data.(string); ok {
				return splitList(s), nil
			}
		case reflect.Int, reflect.Int64:
			if f, ok := data.(float64); ok {
				if f != math.Trunc(f) {
					return nil, errFraction
				}
				if f >= math.MaxInt64 || f <= math.MinInt64 {
					return nil, errRange
				}
				return int64(f), nil
			}
		}
		return data, nil
	}
}

func toDuration(from reflect.Type, data any) (any, error) {
	if from == durationType {
		return data, nil
	}
	switch v := data.(type) {
	case string:
		return ParseDuration(v)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		// A bare number would be read as nanoseconds, which is never what
		// an operator writing "cache_ttl: 30" means; only 0 is unambiguous.
		if reflect.ValueOf(v).IsZero() {
			return time.Duration(0), nil
		}
		return nil, errNoUnit
	}
	return data, nil
}

// splitList splits a comma-separated value (from the environment or a
// YAML scalar where a list was expected) into trimmed, non-empty entries.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
