package keys

import (
	"errors"
	"testing"
)

func TestNormalizeOrigin(t *testing.T) {
	cases := []struct {
		name, in, want string // want "" means invalid
	}{
		{"https host", "https://maps.example.com", "https://maps.example.com"},
		{"http with port", "http://192.0.2.10:8080", "http://192.0.2.10:8080"},
		{"upper case folded", "HTTPS://Maps.Example.COM", "https://maps.example.com"},
		{"default https port dropped", "https://example.com:443", "https://example.com"},
		{"default http port dropped", "http://example.com:80", "http://example.com"},
		{"trailing slash dropped", "https://example.com/", "https://example.com"},
		{"ipv6", "https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"},
		{"punycode", "https://xn--bcher-kva.example", "https://xn--bcher-kva.example"},
		{"subdomain wildcard", "https://*.example.com", "https://*.example.com"},
		{"subdomain wildcard with port", "https://*.example.com:8443", "https://*.example.com:8443"},
		{"localhost any port", "http://localhost:*", "http://localhost:*"},
		{"loopback v4 any port", "http://127.0.0.1:*", "http://127.0.0.1:*"},
		{"loopback v6 any port", "https://[::1]:*", "https://[::1]:*"},

		{"no scheme", "example.com", ""},
		{"other scheme", "ftp://example.com", ""},
		{"file scheme", "file://", ""},
		{"null origin", "null", ""},
		{"bare wildcard", "*", ""},
		{"path", "https://example.com/maps", ""},
		{"query", "https://example.com?x=1", ""},
		{"fragment", "https://example.com#x", ""},
		{"user info", "https://user@example.com", ""},
		{"empty host", "https://", ""},
		{"empty port", "https://example.com:", ""},
		{"port zero", "https://example.com:0", ""},
		{"port too big", "https://example.com:65536", ""},
		{"port leading zero", "https://example.com:0443", ""},
		{"port not a number", "https://example.com:https", ""},
		{"wildcard over http", "http://*.example.com", ""},
		{"wildcard of a top-level domain", "https://*.com", ""},
		{"wildcard in the middle", "https://maps.*.example.com", ""},
		{"partial wildcard label", "https://a*.example.com", ""},
		{"double wildcard", "https://*.*.example.com", ""},
		{"port wildcard on public host", "https://example.com:*", ""},
		{"both wildcards", "https://*.example.com:*", ""},
		{"unbracketed ipv6", "https://2001:db8::1", ""},
		{"bad ipv6", "https://[2001:db8::zz]", ""},
		{"ipv6 zone", "https://[fe80::1%25eth0]", ""},
		{"underscore in host", "https://my_host.example.com", ""},
		{"label starts with dash", "https://-a.example.com", ""},
		{"empty label", "https://a..example.com", ""},
		{"unicode host", "https://bücher.example", ""},
		{"space", "https://exa mple.com", ""},
		{"label too long", "https://" + string(make([]byte, 64)) + ".com", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeOrigin(tc.in)
			if tc.want == "" {
				if !errors.Is(err, ErrInvalidOrigin) {
					t.Fatalf("NormalizeOrigin(%q) = %q, %v; want ErrInvalidOrigin", tc.in, got, err)
				}
				if ValidateOrigin(tc.in) == nil {
					t.Fatal("ValidateOrigin disagrees")
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("NormalizeOrigin(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			if ValidateOrigin(tc.in) != nil {
				t.Fatal("ValidateOrigin disagrees")
			}
		})
	}
}

func TestMatchOrigin(t *testing.T) {
	cases := []struct {
		name, pattern, origin string
		want                  bool
	}{
		{"exact", "https://maps.example.com", "https://maps.example.com", true},
		{"exact other host", "https://maps.example.com", "https://evil.example.com", false},
		{"exact other scheme", "https://maps.example.com", "http://maps.example.com", false},
		{"exact other port", "https://maps.example.com", "https://maps.example.com:8443", false},
		{"default port in origin", "https://maps.example.com", "https://maps.example.com:443", true},
		{"case ignored", "https://maps.example.com", "HTTPS://MAPS.example.com", true},
		{"suffix is not a match", "https://example.com", "https://evilexample.com", false},
		{"wildcard one label", "https://*.example.com", "https://a.example.com", true},
		{"wildcard two labels", "https://*.example.com", "https://a.b.example.com", true},
		{"wildcard excludes apex", "https://*.example.com", "https://example.com", false},
		{"wildcard lookalike", "https://*.example.com", "https://evilexample.com", false},
		{"wildcard other tld", "https://*.example.com", "https://a.example.com.evil.net", false},
		{"wildcard needs https", "https://*.example.com", "http://a.example.com", false},
		{"wildcard leading dot", "https://*.example.com", "https://.example.com", false},
		{"wildcard with port", "https://*.example.com:8443", "https://a.example.com:8443", true},
		{"wildcard port differs", "https://*.example.com:8443", "https://a.example.com", false},
		{"port wildcard any", "http://localhost:*", "http://localhost:5173", true},
		{"port wildcard none", "http://localhost:*", "http://localhost", true},
		{"port wildcard other host", "http://localhost:*", "http://localhost.evil.com:5173", false},
		{"port wildcard other scheme", "http://localhost:*", "https://localhost:5173", false},
		{"port wildcard junk port", "http://localhost:*", "http://localhost:5x", false},
		{"null origin", "https://example.com", "null", false},
		{"ipv6", "https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := MatchOrigin(tc.pattern, tc.origin); got != tc.want {
				t.Fatalf("MatchOrigin(%q, %q) = %v, want %v", tc.pattern, tc.origin, got, tc.want)
			}
		})
	}
	if !OriginAllowed([]string{"https://a.example", "http://localhost:*"}, "http://localhost:3000") {
		t.Fatal("OriginAllowed misses the second pattern")
	}
	if OriginAllowed(nil, "https://a.example") {
		t.Fatal("no allowed origins must allow nothing")
	}
}

// FuzzNormalizeOrigin: origins come from API requests and config files.
// Normalising never panics, is idempotent, and a normal form matches
// itself when it has no wildcard.
func FuzzNormalizeOrigin(f *testing.F) {
	for _, s := range []string{
		"https://maps.example.com", "http://localhost:*", "https://*.example.com:8443",
		"https://[::1]:*", "HTTP://A.B:80/", "https://[", "://", "https://a:b:c",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeOrigin(s)
		if err != nil {
			return
		}
		again, err := NormalizeOrigin(n)
		if err != nil || again != n {
			t.Fatalf("normal form %q of %q renormalises to %q, %v", n, s, again, err)
		}
		if !MatchOrigin(n, n) && !containsWildcard(n) {
			t.Fatalf("%q does not match itself", n)
		}
	})
}

func containsWildcard(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '*' {
			return true
		}
	}
	return false
}
