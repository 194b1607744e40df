package audit

import (
	"net"
	"testing"
)

func TestTruncateIP(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"ipv4", "203.0.113.77", "203.0.113.0"},
		{"ipv4 network address stays", "198.51.100.0", "198.51.100.0"},
		{"ipv4 with port", "203.0.113.77:52110", "203.0.113.0"},
		{"ipv4 network in CIDR form", "203.0.113.0/24", "203.0.113.0"},
		{"ipv6 network in CIDR form, truncated further", "2001:db8:abcd:12::/64", "2001:db8:abcd::"},
		{"ipv4 loopback", "127.0.0.1", "127.0.0.0"},
		{"ipv6", "2001:db8:abcd:12:34::1", "2001:db8:abcd::"},
		{"ipv6 short", "2001:db8::1", "2001:db8::"},
		{"ipv6 with port", "[2001:db8:abcd:ffff::1]:443", "2001:db8:abcd::"},
		{"ipv6 with zone", "fe80::1%eth0", "fe80::"},
		{"ipv6 loopback", "::1", "::"},
		{"ipv4-mapped ipv6 is ipv4", "::ffff:192.0.2.200", "192.0.2.0"},
		{"ipv4-mapped with port", "[::ffff:192.0.2.200]:8080", "192.0.2.0"},
		{"surrounding space", " 192.0.2.9 ", "192.0.2.0"},
		{"empty", "", ""},
		{"host name is dropped", "example.com", ""},
		{"host name with port is dropped", "example.com:80", ""},
		{"garbage is dropped", "<script>", ""},
		{"header list is dropped", "192.0.2.1, 198.51.100.1", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := TruncateIP(tc.in); got != tc.want {
				t.Fatalf("TruncateIP(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestTruncateNetIP(t *testing.T) {
	cases := []struct {
		name string
		in   net.IP
		want string
	}{
		{"ipv4 in 16 bytes", net.ParseIP("192.0.2.200"), "192.0.2.0"},
		{"ipv4 in 4 bytes", net.IPv4(192, 0, 2, 200).To4(), "192.0.2.0"},
		{"ipv6", net.ParseIP("2001:db8:1:2::3"), "2001:db8:1::"},
		{"nil", nil, ""},
		{"wrong length", net.IP{1, 2, 3}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := TruncateNetIP(tc.in); got != tc.want {
				t.Fatalf("TruncateNetIP(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// FuzzTruncateIP: client addresses come from the network. Truncation never
// panics, yields "" or an address that is already its own network, and
// never passes input text through unparsed.
func FuzzTruncateIP(f *testing.F) {
	for _, s := range []string{"203.0.113.77", "[2001:db8::1]:443", "::ffff:1.2.3.4", "fe80::1%eth0", "", "x", "1.2.3.4:99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := TruncateIP(s)
		if got == "" {
			return
		}
		if again := TruncateIP(got); again != got {
			t.Fatalf("TruncateIP(%q) = %q, which truncates further to %q", s, got, again)
		}
		if net.ParseIP(got) == nil {
			t.Fatalf("TruncateIP(%q) = %q, not an IP address", s, got)
		}
	})
}
