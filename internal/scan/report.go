package scan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
)

// TextOptions configure WriteText.
type TextOptions struct {
	// Color adds ANSI colours: live keys red, dead ones green, unchecked
	// ones yellow.
	Color bool
	// Suppressed also prints suppressed locations, marked as such.
	Suppressed bool
}

// WriteText writes one line per reported location:
//
//	path:line:col: KIND key REDACTED STATUS [(ID "NAME")]
//
// In git history mode the line starts with the commit's first 12
// characters and ends with the author date:
//
//	0123456789ab:config/.env:3:12: secret key mpw_sk_AbCd… active (key_0042 "ci") 2024-05-01
//
// Look-alikes (with Options.IncludeInvalid) print "KIND look-alike
// REDACTED invalid checksum". Keys revoked by this run print "revoked now".
func WriteText(w io.Writer, r *Result, opts TextOptions) error {
	var buf bytes.Buffer
	for _, k := range r.Keys {
		for _, l := range k.Locations {
			if l.Suppressed != NotSuppressed && !opts.Suppressed {
				continue
			}
			buf.WriteString(paint(opts.Color, "1", l.String()))
			buf.WriteString(": ")
			if k.Valid {
				fmt.Fprintf(&buf, "%s key %s %s", k.Kind, k.Redacted, paint(opts.Color, statusColor(k.Status), statusText(k)))
				if k.ID != "" {
					fmt.Fprintf(&buf, " (%s %q)", k.ID, k.Name)
				}
			} else {
				fmt.Fprintf(&buf, "%s look-alike %s %s", k.Kind, k.Redacted, paint(opts.Color, "90", "invalid checksum"))
			}
			if l.AuthorDate != nil {
				buf.WriteString(" " + l.AuthorDate.Format("2006-01-02"))
			}
			if l.Staged {
				buf.WriteString(" (staged)")
			}
			if l.Suppressed != NotSuppressed {
				buf.WriteString(paint(opts.Color, "90", " [suppressed: "+string(l.Suppressed)+"]"))
			}
			buf.WriteByte('\n')
		}
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func statusText(k *Key) string {
	if k.RevokedByScan {
		return "revoked now"
	}
	return string(k.Status)
}

func statusColor(s Status) string {
	switch {
	case s == StatusUnchecked:
		return "33"
	case s.Live():
		return "31"
	}
	return "32"
}

func paint(on bool, code, s string) string {
	if !on || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// Summary returns one line describing r: keys by status, locations,
// look-alikes, suppressed findings, warnings and what was scanned.
func Summary(r *Result) string {
	var parts []string
	counts := r.Counts()
	keys, locs := 0, 0
	for _, k := range r.Keys {
		if !k.Valid || !k.Reported() {
			continue
		}
		keys++
		for _, l := range k.Locations {
			if l.Suppressed == NotSuppressed {
				locs++
			}
		}
	}
	if keys == 0 {
		parts = append(parts, "no keys found")
	} else {
		statuses := make([]string, 0, len(counts))
		for s := range counts {
			statuses = append(statuses, string(s))
		}
		slices.Sort(statuses)
		for i, s := range statuses {
			statuses[i] = fmt.Sprintf("%d %s", counts[Status(s)], s)
		}
		parts = append(parts, fmt.Sprintf("%s found (%s) at %s", plural(keys, "key"), strings.Join(statuses, ", "), plural(locs, "location")))
	}
	if r.InvalidCount > 0 {
		parts = append(parts, fmt.Sprintf("%s with a bad checksum ignored", plural(int(r.InvalidCount), "look-alike")))
	}
	if r.SuppressedCount > 0 {
		parts = append(parts, fmt.Sprintf("%d suppressed", r.SuppressedCount))
	}
	if n := len(r.Warnings); n > 0 {
		parts = append(parts, plural(n, "warning"))
	}
	parts = append(parts, fmt.Sprintf("scanned %s, %s in %.2fs", plural(int(r.Stats.Files), "file"), humanBytes(r.Stats.Bytes), r.Stats.DurationSeconds))
	return strings.Join(parts, "; ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGT"[i])
}

// jsonVersion is the version of the JSON report's shape.
const jsonVersion = 1

// jsonReport is the JSON document: Result with a version and the tool.
type jsonReport struct {
	Version int    `json:"version"`
	Tool    string `json:"tool"`
	*Result
}

// WriteJSON writes r as one indented JSON document. Field names are stable
// (see the package documentation); no field holds a token.
func WriteJSON(w io.Writer, r *Result) error {
	return writeIndented(w, jsonReport{Version: jsonVersion, Tool: "mwctl", Result: r})
}

func writeIndented(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
