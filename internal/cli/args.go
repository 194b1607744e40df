package cli

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mapwright/mapwright/pkg/apikey"
)

// Values accepted by --kind and --state.
var (
	keyKinds  = []string{"public", "secret"}
	keyStates = []string{"active", "revoked", "expired", "expiring", "pending"}
)

// checkChoice refuses a flag value outside choices.
func checkChoice(flag, value string, choices []string) error {
	if value != "" && !slices.Contains(choices, value) {
		return usageErrorf("--%s %q: want one of %s", flag, value, strings.Join(choices, ", "))
	}
	return nil
}

// checkKeyID refuses an empty id, or a key given where its id belongs: the
// key would travel in a URL and be echoed in messages.
func checkKeyID(id string) error {
	if strings.TrimSpace(id) == "" {
		return usageErrorf("empty key id")
	}
	if strings.Contains(id, "mpw_") {
		return usageErrorf("%s looks like a key, not a key id: key commands take the id shown by `mwctl keys list`", apikey.Redact(id[strings.Index(id, "mpw_"):]))
	}
	return nil
}

// parseLabels parses repeated --label k=v values.
func parseLabels(flag string, values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(values))
	for _, kv := range values {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usageErrorf("--%s %q: want key=value", flag, kv)
		}
		if _, dup := m[k]; dup {
			return nil, usageErrorf("--%s: label %q given twice", flag, k)
		}
		m[k] = v
	}
	return m, nil
}

// parseDuration parses a Go duration ("36h", "90m") or a whole number of
// days ("30d"). It refuses negative values.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 100*365 {
			return 0, fmt.Errorf("bad number of days %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: want e.g. 24h, 90m or 30d", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return d, nil
}

// durationValue is a pflag.Value for durations that also accept days.
type durationValue struct{ p *time.Duration }

// String returns the shortest form: "0" (which help omits as the zero
// value), "7d" for whole days from two days up, else "24h", "90m", "1h30m".
func (v durationValue) String() string {
	d := *v.p
	const day = 24 * time.Hour
	switch {
	case d == 0:
		return "0"
	case d >= 2*day && d%day == 0:
		return strconv.Itoa(int(d/day)) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
func (v durationValue) Type() string { return "duration" }
func (v durationValue) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*v.p = d
	return nil
}

// parseWhen parses --expires and --not-before: a duration from now ("720h",
// "30d"), an RFC 3339 time, or a date (midnight UTC). Empty gives nil. The
// time must be in the future.
func parseWhen(flag, s string, now time.Time) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var t time.Time
	if d, err := parseDuration(s); err == nil {
		if d == 0 {
			return nil, usageErrorf("--%s %q: give a positive duration", flag, s)
		}
		t = now.Add(d)
	} else if tt, err := time.Parse(time.RFC3339, s); err == nil {
		t = tt
	} else if tt, err := time.Parse(time.DateOnly, s); err == nil {
		t = tt
	} else {
		return nil, usageErrorf("--%s %q: want a duration (720h, 30d), an RFC 3339 time (2030-12-31T23:59:59Z) or a date (2030-12-31)", flag, s)
	}
	if !t.After(now) {
		return nil, usageErrorf("--%s %q is in the past", flag, s)
	}
	t = t.UTC().Truncate(time.Second)
	return &t, nil
}
