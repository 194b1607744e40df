package server

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/mapwright/mapwright/internal/keys"
)

// requestOrigin returns the origin a browser request comes from: the Origin
// header, else the origin part ("scheme://host[:port]") of the Referer.
// present is false when the request carries neither header, which is what
// marks a non-browser request. The text is returned unchecked (a slice of
// the header); [originAllowed] checks it.
func requestOrigin(r *http.Request) (o string, present bool) {
	if v := r.Header["Origin"]; len(v) > 0 {
		if len(v) != 1 {
			return "", true
		}
		return v[0], true
	}
	if v := r.Header["Referer"]; len(v) > 0 {
		if len(v) != 1 {
			return "", true
		}
		return refererOrigin(v[0]), true
	}
	return "", false
}

// refererOrigin returns the origin part of a Referer URL, or "" when it has
// none.
func refererOrigin(ref string) string {
	scheme, rest, ok := strings.Cut(ref, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	return ref[:len(scheme)+3+len(rest)]
}

// originAllowed reports whether the browser origin o matches one of a key's
// allowed-origin patterns. "null", anything that is not exactly a web
// origin, and "" never match. Patterns are compared by keys.OriginAllowed,
// under the same rules the key service validated them with; an origin equal
// to a stored (normalised, wildcard-free) pattern is the common case and is
// settled by string comparison first.
func originAllowed(patterns []string, o string) bool {
	if o == "" {
		return false
	}
	for _, p := range patterns {
		if p == o && strings.IndexByte(p, '*') < 0 {
			return true
		}
	}
	return parseOrigin(o) && keys.OriginAllowed(patterns, o)
}

// parseOrigin reports whether s is exactly a web origin,
// "scheme://host[:port]" with scheme http or https, a valid DNS name or IP
// literal as host, a port from 1 to 65535 if any, and nothing else (no
// userinfo, path, query or fragment).
func parseOrigin(s string) bool {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return false
	}
	if !strings.EqualFold(scheme, "https") && !strings.EqualFold(scheme, "http") {
		return false
	}
	_, _, ok = splitHostPort(rest)
	return ok
}

// splitHostPort splits "host[:port]" with a bracketed IPv6 literal allowed.
// port 0 means none was given. Hosts are checked for valid DNS-name or
// IP-literal syntax.
func splitHostPort(s string) (host string, port int, ok bool) {
	if s == "" || strings.ContainsAny(s, "@/?# \t") {
		return "", 0, false
	}
	var portText string
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", 0, false
		}
		host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			if rest[0] != ':' {
				return "", 0, false
			}
			portText = rest[1:]
			if portText == "" {
				return "", 0, false
			}
		}
		if a, err := netip.ParseAddr(host); err != nil || !a.Is6() || a.Zone() != "" {
			return "", 0, false
		}
	} else {
		i := strings.LastIndexByte(s, ':')
		if i >= 0 {
			host, portText = s[:i], s[i+1:]
			if portText == "" {
				return "", 0, false
			}
		} else {
			host = s
		}
		if !validHostname(host) {
			return "", 0, false
		}
	}
	if portText == "" {
		return host, 0, true
	}
	p, ok := parseCoord(portText, 5)
	if !ok || p < 1 || p > 65535 {
		return "", 0, false
	}
	return host, p, true
}

// validHostname reports whether h is a dotted name of letters, digits and
// hyphens with no empty label (an IPv4 literal passes too).
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
			label++
			if label > 63 {
				return false
			}
		default:
			return false
		}
	}
	return label > 0
}
