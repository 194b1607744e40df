package keys

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Allowed origins of a public key take one of three forms:
//
//   - exact: "https://maps.example.com", "http://192.0.2.10:8080",
//     "https://[2001:db8::1]": a scheme (http or https), a host (DNS name,
//     IPv4 or bracketed IPv6) and an optional port, nothing else;
//   - subdomain wildcard: "https://*.example.com" matches any origin with a
//     host of one or more labels in front of example.com (not example.com
//     itself), over https only, with the same port;
//   - port wildcard, for local development: "http://localhost:*" matches
//     that scheme and host on any port or none; allowed only for the
//     loopback hosts localhost, 127.0.0.1 and [::1].
//
// Origins are normalised: scheme and host in lower case, a default port
// (80 for http, 443 for https) and one trailing slash removed.

// NormalizeOrigin validates an allowed-origin pattern and returns its
// normal form (see above). Errors wrap [ErrInvalidOrigin].
func NormalizeOrigin(s string) (string, error) {
	out, err := normalizeOrigin(s)
	if err != nil {
		return "", fmt.Errorf("origin %q: %s: %w", s, err.Error(), ErrInvalidOrigin)
	}
	return out, nil
}

// ValidateOrigin reports whether s is an acceptable allowed-origin pattern;
// errors wrap [ErrInvalidOrigin].
func ValidateOrigin(s string) error {
	_, err := NormalizeOrigin(s)
	return err
}

type originError string

func (e originError) Error() string { return string(e) }

func normalizeOrigin(s string) (string, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return "", originError(`want scheme://host[:port], such as "https://maps.example.com"`)
	}
	scheme = strings.ToLower(scheme)
	if scheme != "http" && scheme != "https" {
		return "", originError("scheme must be http or https")
	}
	rest = strings.TrimSuffix(rest, "/")
	if i := strings.IndexAny(rest, "/?#@\\ \t"); i >= 0 {
		return "", originError("an origin has no path, query, fragment, user or spaces")
	}
	host, port, err := splitHostPort(rest)
	if err != nil {
		return "", err
	}
	host = strings.ToLower(host)

	wildHost := strings.HasPrefix(host, "*.")
	if wildHost {
		if scheme != "https" {
			return "", originError("a subdomain wildcard needs https")
		}
		if port == "*" {
			return "", originError("a subdomain wildcard cannot also have a port wildcard")
		}
		domain := host[2:]
		if err := checkDNSName(domain); err != nil {
			return "", err
		}
		if !strings.Contains(domain, ".") {
			return "", originError("a subdomain wildcard needs a domain of at least two labels, such as *.example.com")
		}
	} else if err := checkHost(host); err != nil {
		return "", err
	}

	switch {
	case port == "*":
		if !isLoopbackHost(host) {
			return "", originError("a port wildcard is allowed only for localhost, 127.0.0.1 and [::1]")
		}
	case port != "":
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return "", originError("port must be a number from 1 to 65535 or *")
		}
		if (scheme == "http" && n == 80) || (scheme == "https" && n == 443) {
			port = ""
		}
	}
	out := scheme + "://" + host
	if port != "" {
		out += ":" + port
	}
	return out, nil
}

// splitHostPort splits "host", "host:port", "[v6]" or "[v6]:port".
func splitHostPort(s string) (host, port string, err error) {
	if s == "" {
		return "", "", originError("missing host")
	}
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", originError("unclosed [ in IPv6 address")
		}
		host, rest := s[:end+1], s[end+1:]
		if rest == "" {
			return host, "", nil
		}
		if rest[0] != ':' || len(rest) == 1 {
			return "", "", originError("unexpected text after IPv6 address")
		}
		return host, rest[1:], nil
	}
	if strings.Count(s, ":") > 1 {
		return "", "", originError("an IPv6 address must be in brackets")
	}
	host, port, found := strings.Cut(s, ":")
	if found && port == "" {
		return "", "", originError("empty port")
	}
	return host, port, nil
}

func checkHost(host string) error {
	if host == "" {
		return originError("missing host")
	}
	if host[0] == '[' {
		addr, err := netip.ParseAddr(host[1 : len(host)-1])
		if err != nil || !addr.Is6() || addr.Zone() != "" {
			return originError("invalid IPv6 address")
		}
		return nil
	}
	if strings.Contains(host, "*") {
		return originError(`a wildcard is allowed only as a whole first label, as in "https://*.example.com"`)
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if !addr.Is4() {
			return originError("invalid IP address")
		}
		return nil
	}
	return checkDNSName(host)
}

// checkDNSName accepts lower-case ASCII host names (internationalised names
// in their xn-- form).
func checkDNSName(name string) error {
	if name == "" || len(name) > 253 {
		return originError("host name must be 1 to 253 characters")
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 {
			return originError("each host name label must be 1 to 63 characters")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return originError("a host name label cannot start or end with -")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return originError("host names use only a-z, 0-9 and - (write international names in their xn-- form)")
			}
		}
	}
	return nil
}

func isLoopbackHost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "[::1]"
}

// MatchOrigin reports whether origin, as a browser sends it in an Origin
// header ("https://maps.example.com", "http://localhost:5173"), is allowed
// by pattern, a normalised allowed origin (see [NormalizeOrigin]). The
// comparison ignores letter case and a default port in origin. It does not
// allocate.
func MatchOrigin(pattern, origin string) bool {
	pScheme, pRest, ok := strings.Cut(pattern, "://")
	if !ok {
		return false
	}
	oScheme, oRest, ok := strings.Cut(origin, "://")
	if !ok || !strings.EqualFold(pScheme, oScheme) {
		return false
	}
	pHost, pPort, err := splitHostPort(pRest)
	if err != nil {
		return false
	}
	oHost, oPort, err := splitHostPort(oRest)
	if err != nil {
		return false
	}
	if (oPort == "80" && strings.EqualFold(oScheme, "http")) || (oPort == "443" && strings.EqualFold(oScheme, "https")) {
		oPort = ""
	}
	if pPort == "*" {
		if oPort != "" {
			for i := 0; i < len(oPort); i++ {
				if oPort[i] < '0' || oPort[i] > '9' {
					return false
				}
			}
		}
	} else if pPort != oPort {
		return false
	}
	if suffix, wild := strings.CutPrefix(pHost, "*"); wild {
		// suffix is ".example.com"; at least one label must precede it.
		return len(oHost) > len(suffix) && oHost[0] != '.' &&
			strings.EqualFold(oHost[len(oHost)-len(suffix):], suffix)
	}
	return strings.EqualFold(pHost, oHost)
}

// OriginAllowed reports whether origin matches any of the allowed patterns.
func OriginAllowed(allowed []string, origin string) bool {
	for _, p := range allowed {
		if MatchOrigin(p, origin) {
			return true
		}
	}
	return false
}
