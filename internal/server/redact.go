package server

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/mapwright/mapwright/pkg/apikey"
)

// maxLoggedTarget caps the request target written to the log.
const maxLoggedTarget = 512

// redactTarget renders a request path and query for the log: the key query
// parameter is redacted whatever its content, percent-encoding is undone so
// that an encoded key cannot slip past, and anything else shaped like a key
// (anywhere in path or query) is redacted as well. It builds the result in
// one pass and returns path itself when there is nothing to change.
func redactTarget(path, rawQuery string) string {
	p := unescapeForLog(path, url.PathUnescape)
	if rawQuery == "" && !strings.Contains(p, "mpw_") && len(p) <= maxLoggedTarget {
		return p
	}
	var b strings.Builder
	b.Grow(len(p) + len(rawQuery) + 8)
	writeScrubbed(&b, p)
	if rawQuery != "" {
		b.WriteByte('?')
		for first := true; rawQuery != ""; first = false {
			var pair string
			pair, rawQuery, _ = strings.Cut(rawQuery, "&")
			if !first {
				b.WriteByte('&')
			}
			name, value, hasValue := strings.Cut(pair, "=")
			name = unescapeForLog(name, url.QueryUnescape)
			writeScrubbed(&b, name)
			if !hasValue {
				continue
			}
			b.WriteByte('=')
			value = unescapeForLog(value, url.QueryUnescape)
			if name == "key" {
				writeRedacted(&b, value)
			} else {
				writeScrubbed(&b, value)
			}
		}
	}
	out := b.String()
	if len(out) > maxLoggedTarget {
		out = out[:maxLoggedTarget] + "…"
	}
	return out
}

// logTarget is redactTarget for the request log. The usual keyed request,
// a plain path and "?key=" followed by the key that authenticated it, is
// logged as the path alone: the log line's key attribute already shows that
// key, redacted, and nothing needs rescanning or copying.
func (st *reqState) logTarget(r *http.Request) string {
	path, q := r.URL.EscapedPath(), r.URL.RawQuery
	if st.keyStart != "" && len(q) == len("key=")+len(st.token) && strings.HasPrefix(q, "key=") && q[len("key="):] == st.token &&
		len(path) <= maxLoggedTarget && strings.IndexByte(path, '%') < 0 && !strings.Contains(path, "mpw_") {
		return path
	}
	return redactTarget(path, q)
}

func unescapeForLog(s string, unescape func(string) (string, error)) string {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s
	}
	if u, err := unescape(s); err == nil {
		return u
	}
	return s
}

// writeRedacted writes apikey.Redact(tok) without building it first.
func writeRedacted(b *strings.Builder, tok string) {
	start := apikey.Start(tok)
	if len(start) < apikey.StartLen {
		b.WriteString(apikey.Redacted)
		return
	}
	b.WriteString(start)
	b.WriteString("…")
}

// scrubKeys replaces every key-shaped token in s (mpw_pk_ or mpw_sk_
// followed by base62 characters) by its redacted form.
func scrubKeys(s string) string {
	if !strings.Contains(s, "mpw_") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	writeScrubbed(&b, s)
	return b.String()
}

// writeScrubbed writes s with every key-shaped token redacted.
func writeScrubbed(b *strings.Builder, s string) {
	for {
		i := strings.Index(s, "mpw_")
		if i < 0 {
			b.WriteString(s)
			return
		}
		b.WriteString(s[:i])
		rest := s[i:]
		if !strings.HasPrefix(rest, "mpw_pk_") && !strings.HasPrefix(rest, "mpw_sk_") {
			b.WriteString("mpw_")
			s = rest[4:]
			continue
		}
		end := 7
		for end < len(rest) && isBase62(rest[end]) {
			end++
		}
		// Up to four characters is at most a display start (perhaps one
		// already redacted): nothing to hide.
		if end-7 <= 4 {
			b.WriteString(rest[:end])
		} else {
			writeRedacted(b, rest[:end])
		}
		s = rest[end:]
	}
}

func isBase62(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
}
