package common

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/mapwright/mapwright/pkg/client"
)

// Truncate cuts s to at most width cells, ending with "…" when cut.
func Truncate(s string, width int) string {
	if width <= 0 {
		return ""
	}
	if ansi.StringWidth(s) <= width {
		return s
	}
	return ansi.Truncate(s, width, "…")
}

// Pad truncates s to width cells and pads it with spaces to exactly width.
func Pad(s string, width int) string {
	s = Truncate(s, width)
	if w := ansi.StringWidth(s); w < width {
		s += strings.Repeat(" ", width-w)
	}
	return s
}

// PadLeft is Pad with the padding on the left (numbers).
func PadLeft(s string, width int) string {
	s = Truncate(s, width)
	if w := ansi.StringWidth(s); w < width {
		s = strings.Repeat(" ", width-w) + s
	}
	return s
}

// Duration prints d compactly: "45s", "12m", "3h20m", "5d4h", "400d".
func Duration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 24*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return strconv.Itoa(h) + "h"
		}
		return fmt.Sprintf("%dh%dm", h, m)
	case d < 30*24*time.Hour:
		days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
		if h == 0 {
			return strconv.Itoa(days) + "d"
		}
		return fmt.Sprintf("%dd%dh", days, h)
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d"
}

// Relative prints t relative to now: "in 3d", "5m ago", or "-" for nil.
func Relative(t *time.Time, now time.Time) string {
	if t == nil {
		return "-"
	}
	d := t.Sub(now)
	switch {
	case d > -time.Second && d < time.Second:
		return "now"
	case d > 0:
		return "in " + Duration(d)
	}
	return Duration(-d) + " ago"
}

// Timestamp prints t in UTC to the second, or "-" for nil or zero.
func Timestamp(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// Rate prints a per-second rate with a precision that suits its size.
func Rate(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v == 0:
		return "0"
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// Seconds prints a latency given in seconds: "850µs", "3.2ms", "1.25s".
func Seconds(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "-"
	case v < 0.001:
		return strconv.FormatFloat(v*1e6, 'f', 0, 64) + "µs"
	case v < 1:
		return strconv.FormatFloat(v*1e3, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(v, 'f', 2, 64) + "s"
}

// OrDash returns s, or "-" when s is empty.
func OrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// IsDisconnected reports whether err means the admin API could not be
// reached at all, as opposed to an answer refusing the request.
func IsDisconnected(err error) bool { return errors.Is(err, client.ErrConnect) }

// ErrorText is a one-line description of err for the screen: control
// characters become spaces, so a server's message cannot drive the
// terminal. A failure to connect is told by its cause and hint only
// ("connection refused (is mapwrightd running?)"): the status bar already
// names the server.
func ErrorText(err error) string {
	if err == nil {
		return ""
	}
	var ce *client.ConnectError
	if errors.As(err, &ce) && ce.Err != nil {
		cause := ce.Err
		for {
			next := errors.Unwrap(cause)
			if next == nil {
				break
			}
			cause = next
		}
		s := "cannot connect: " + cause.Error()
		if ce.Hint != "" {
			s += " (" + ce.Hint + ")"
		}
		return Sanitize(s)
	}
	// An answer of the server is told by its status and detail; the
	// request it answered is clear from where the text is shown.
	var ae *client.APIError
	if errors.As(err, &ae) {
		return Sanitize(ae.Error())
	}
	return Sanitize(err.Error())
}

// Rule is a horizontal line of width cells that starts with title.
func Rule(title string, width int) string {
	head := "── " + title + " "
	if w := ansi.StringWidth(head); w < width {
		return head + strings.Repeat("─", width-w)
	}
	return Truncate(head, width)
}

// Sanitize replaces control characters (escape sequences, line breaks) by
// spaces: text from the server is shown, never interpreted.
func Sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

// Short prints d in its largest whole unit: "45s", "12m", "5h", "29d".
func Short(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 24*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d"
}

// ShortRelative is Relative in one unit: "in 29d", "3h ago"; empty for nil.
func ShortRelative(t *time.Time, now time.Time) string {
	if t == nil {
		return ""
	}
	d := t.Sub(now)
	switch {
	case d > -time.Second && d < time.Second:
		return "now"
	case d > 0:
		return "in " + Short(d)
	}
	return Short(-d) + " ago"
}
