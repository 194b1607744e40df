package output

import (
	"fmt"
	"time"
)

// Time formats t for the table format: relative to now on a terminal
// ("in 29 days", "3 hours ago"), RFC 3339 in UTC in the plain form, and
// empty (printed "-") when t is nil or zero.
func (p *Printer) Time(t *time.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	if !p.ios.IsStdoutTTY {
		return t.UTC().Format(time.RFC3339)
	}
	return Relative(*t, now)
}

// Relative describes t relative to now in words, rounded down: "just now",
// "5 minutes ago", "in 3 days".
func Relative(t, now time.Time) string {
	d := t.Sub(now)
	future := d > 0
	if !future {
		d = -d
	}
	if d < time.Minute {
		return "just now"
	}
	s := Duration(d)
	if future {
		return "in " + s
	}
	return s + " ago"
}

// Duration describes d in its largest whole unit: "1 minute", "5 hours",
// "29 days", "3 months", "2 years".
func Duration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	const day = 24 * time.Hour
	switch {
	case d < time.Minute:
		return plural(int(d/time.Second), "second")
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 2*day:
		return plural(int(d/time.Hour), "hour")
	case d < 60*day:
		return plural(int(d/day), "day")
	case d < 730*day:
		return plural(int(d/(30*day)), "month")
	}
	return plural(int(d/(365*day)), "year")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
