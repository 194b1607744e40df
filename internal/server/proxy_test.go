package server

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// balancerNet is the network of the load balancers in the tests below.
const balancerNet = "10.0.0.0/24"

// trustTestPeer trusts the network httptest requests come from
// (192.0.2.1).
func trustTestPeer(o *Options) {
	o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
}

func prefixes(t testing.TB, cidrs ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// TestClientAddressBehindProxies sends a refused key through various
// chains of proxies and checks the client network the audit event and the
// request log record.
func TestClientAddressBehindProxies(t *testing.T) {
	tests := []struct {
		name    string
		trusted []string
		remote  string
		xff     []string // header lines of X-Forwarded-For
		want    string   // truncated client network
	}{
		{name: "no proxy trusted: the peer, header ignored", remote: "203.0.113.9:5000",
			xff: []string{"198.51.100.7"}, want: "203.0.113.0/24"},
		{name: "spoofed header from an untrusted peer is ignored", trusted: []string{balancerNet}, remote: "203.0.113.9:5000",
			xff: []string{"10.0.0.8, 198.51.100.7"}, want: "203.0.113.0/24"},
		{name: "trusted balancer: its appended client", trusted: []string{balancerNet}, remote: "10.0.0.2:40000",
			xff: []string{"198.51.100.7"}, want: "198.51.100.0/24"},
		{name: "trusted balancer: the client's own claims to the left are skipped", trusted: []string{balancerNet}, remote: "10.0.0.2:40000",
			xff: []string{"1.2.3.4, 10.0.0.99, 198.51.100.7"}, want: "198.51.100.0/24"},
		{name: "trusted balancer without the header: the balancer", trusted: []string{balancerNet}, remote: "10.0.0.2:40000",
			want: "10.0.0.0/24"},
		{name: "chain of two trusted proxies", trusted: []string{balancerNet, "172.16.0.0/12"}, remote: "10.0.0.2:40000",
			xff: []string{"1.2.3.4, 198.51.100.7, 172.16.5.5"}, want: "198.51.100.0/24"},
		{name: "chain over several header lines", trusted: []string{balancerNet, "172.16.0.0/12"}, remote: "10.0.0.2:40000",
			xff: []string{"1.2.3.4, 198.51.100.7", "172.16.5.5"}, want: "198.51.100.0/24"},
		{name: "untrusted proxy in the chain is the client", trusted: []string{balancerNet}, remote: "10.0.0.2:40000",
			xff: []string{"198.51.100.7, 172.16.5.5"}, want: "172.16.5.0/24"},
		{name: "every entry a trusted proxy: the left-most", trusted: []string{balancerNet}, remote: "10.0.0.2:40000",
			xff: []string{"10.0.0.50, 10.0.0.60"}, want: "10.0.0.0/24"},
		{name: "ipv6 balancer and client", trusted: []string{"2001:db8:ffff::/48"}, remote: "[2001:db8:ffff::2]:443",
			xff: []string{"2001:db8:aaaa:bbbb::1"}, want: "2001:db8:aaaa::/48"},
		{name: "ipv6 client with port in brackets", trusted: []string{balancerNet}, remote: "10.0.0.2:40000",
			xff: []string{"[2001:db8:aaaa::7]:4711"}, want: "2001:db8:aaaa::/48"},
		{name: "ipv4 client with port", trusted: []string{balancerNet}, remote: "10.0.0.2:40000",
			xff: []string{"198.51.100.7:4711"}, want: "198.51.100.0/24"},
		{name: "ipv4-mapped client is unmapped", trusted: []string{balancerNet}, remote: "10.0.0.2:40000",
			xff: []string{"::ffff:198.51.100.7"}, want: "198.51.100.0/24"},
		{name: "ipv4-mapped peer matches an ipv4 prefix", trusted: []string{balancerNet}, remote: "[::ffff:10.0.0.2]:40000",
			xff: []string{"198.51.100.7"}, want: "198.51.100.0/24"},
		{name: "ipv4-mapped prefix matches an ipv4 peer", trusted: []string{"::ffff:10.0.0.0/120"}, remote: "10.0.0.2:40000",
			xff: []string{"198.51.100.7"}, want: "198.51.100.0/24"},
		{name: "zoned client address", trusted: []string{balancerNet}, remote: "10.0.0.2:40000",
			xff: []string{"fe80::1%eth0"}, want: "fe80::/48"},
		{name: "garbage from a trusted proxy: the peer", trusted: []string{balancerNet}, remote: "10.0.0.2:40000",
			xff: []string{"not-an-address"}, want: "10.0.0.0/24"},
		{name: "unknown from a trusted proxy: the peer", trusted: []string{balancerNet}, remote: "10.0.0.2:40000",
			xff: []string{"unknown"}, want: "10.0.0.0/24"},
		{name: "empty entry on the walk: the peer", trusted: []string{balancerNet}, remote: "10.0.0.2:40000",
			xff: []string{"198.51.100.7,"}, want: "10.0.0.0/24"},
		{name: "empty header: the peer", trusted: []string{balancerNet}, remote: "10.0.0.2:40000",
			xff: []string{""}, want: "10.0.0.0/24"},
		{name: "leading zeros are garbage: the peer", trusted: []string{balancerNet}, remote: "10.0.0.2:40000",
			xff: []string{"198.051.100.7"}, want: "10.0.0.0/24"},
		{name: "garbage behind a trusted hop: the peer", trusted: []string{balancerNet}, remote: "10.0.0.2:40000",
			xff: []string{"198.51.100.7, bogus, 10.0.0.9"}, want: "10.0.0.0/24"},
		{name: "garbage left of the client is never read", trusted: []string{balancerNet}, remote: "10.0.0.2:40000",
			xff: []string{"<script>, ;;, 198.51.100.7"}, want: "198.51.100.0/24"},
		{name: "prefix given unmasked", trusted: []string{"10.0.0.77/24"}, remote: "10.0.0.2:40000",
			xff: []string{"198.51.100.7"}, want: "198.51.100.0/24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.TrustedProxies = prefixes(t, tt.trusted...) })
			r := newRequest("GET", "/v1/tiles/roads/0/0/0.mvt?key="+f.tok[roleUnknown])
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if w := serve(f.h, r); w.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", w.Code)
			}
			if len(f.rec.failures) != 1 || f.rec.failures[0].ClientIP != tt.want {
				t.Errorf("audited client %+v, want %s", f.rec.failures, tt.want)
			}
			var line struct {
				Client string `json:"client"`
			}
			logs := strings.TrimSpace(f.logs.String())
			if err := json.Unmarshal([]byte(logs[strings.LastIndexByte(logs, '\n')+1:]), &line); err != nil {
				t.Fatal(err)
			}
			if line.Client != tt.want {
				t.Errorf("logged client %q, want %s", line.Client, tt.want)
			}
		})
	}
}

// TestFailureLimitBehindBalancer: many clients behind one balancer each
// have their own budget of failed keys; a client cannot move its failures
// onto someone else's network by forging X-Forwarded-For.
func TestFailureLimitBehindBalancer(t *testing.T) {
	const balancer = "10.0.0.2:40000"
	tests := []struct {
		name     string
		trusted  bool
		attacker string // X-Forwarded-For of the failing requests
		victim   string // X-Forwarded-For of a later request with a good key
		want     int
	}{
		{name: "the failing client's network is blocked", trusted: true, attacker: "198.51.100.7", victim: "198.51.100.200", want: 429},
		{name: "another client behind the balancer is not", trusted: true, attacker: "198.51.100.7", victim: "203.0.113.5", want: 200},
		{name: "a forged left-most entry does not charge its owner", trusted: true, attacker: "203.0.113.5, 198.51.100.7", victim: "203.0.113.5", want: 200},
		{name: "the forger is still charged", trusted: true, attacker: "203.0.113.5, 198.51.100.7", victim: "198.51.100.9", want: 429},
		{name: "without trust everyone behind the balancer is blocked", trusted: false, attacker: "198.51.100.7", victim: "203.0.113.5", want: 429},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(o *Options) {
				if tt.trusted {
					o.TrustedProxies = prefixes(t, balancerNet)
				}
			})
			send := func(role, xff string) int {
				r := newRequest("GET", "/v1/tiles/roads/0/0/0.mvt?key="+f.tok[role])
				r.RemoteAddr = balancer
				r.Header.Set("X-Forwarded-For", xff)
				return serve(f.h, r).Code
			}
			// The fixture allows a burst of 5 failures per network.
			for i := range 6 {
				if code := send(roleUnknown, tt.attacker); i < 5 && code != http.StatusUnauthorized {
					t.Fatalf("failure %d: status %d, want 401", i, code)
				}
			}
			if got := send(roleGood, tt.victim); got != tt.want {
				t.Errorf("good key from %s after failures from %s: %d, want %d", tt.victim, tt.attacker, got, tt.want)
			}
		})
	}
}

// TestMisuseEventBehindBalancer: the secret-key misuse audit event names the
// client's network, not the balancer's.
func TestMisuseEventBehindBalancer(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.TrustedProxies = prefixes(t, balancerNet) })
	r := newRequest("GET", "/v1/tiles/roads/0/0/0.mvt")
	r.RemoteAddr = "10.0.0.2:40000"
	r.Header.Set("Authorization", "Bearer "+f.tok[roleSecret])
	r.Header.Set("X-Forwarded-For", "198.51.100.7")
	serve(f.h, r)
	if len(f.rec.misuse) != 1 || f.rec.misuse[0].ClientIP != "198.51.100.0/24" {
		t.Errorf("misuse events %+v, want one from 198.51.100.0/24", f.rec.misuse)
	}
}

// TestForwardedValue covers which X-Forwarded-Proto or -Host entry is
// believed for a given client position.
func TestForwardedValue(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		fw    forwarding
		want  string
	}{
		{name: "absent", fw: forwarding{proxied: true, hop: 0, entries: 1}, want: ""},
		{name: "single value", lines: []string{"https"}, fw: forwarding{proxied: true, hop: -1}, want: "https"},
		{name: "set by the last proxy, client claims ignored", lines: []string{"https, http"}, fw: forwarding{proxied: true, hop: 0, entries: 1}, want: "http"},
		{name: "appended alongside X-Forwarded-For", lines: []string{"https, http"}, fw: forwarding{proxied: true, hop: 1, entries: 2}, want: "https"},
		{name: "appended over two lines", lines: []string{"https", " http "}, fw: forwarding{proxied: true, hop: 1, entries: 2}, want: "https"},
		{name: "counts differ: the right-most", lines: []string{"gopher, https, http"}, fw: forwarding{proxied: true, hop: 1, entries: 2}, want: "http"},
		{name: "client fell back to the peer: the right-most", lines: []string{"https, http"}, fw: forwarding{proxied: true, hop: -1}, want: "http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := forwardedValue(tt.lines, tt.fw); got != tt.want {
				t.Errorf("forwardedValue(%q) = %q, want %q", tt.lines, got, tt.want)
			}
		})
	}
}

// TestResolveClientUntrustedAllocatesNothing keeps the hot path of a direct
// client free of allocations, with and without trusted proxies configured.
func TestResolveClientUntrustedAllocatesNothing(t *testing.T) {
	tests := []struct {
		name    string
		trusted []string
		remote  string
		xff     string
	}{
		{name: "nothing trusted", remote: "203.0.113.9:5000", xff: "198.51.100.7"},
		{name: "peer outside the trusted networks", trusted: []string{balancerNet, "2001:db8:ffff::/48"}, remote: "203.0.113.9:5000", xff: "198.51.100.7"},
		{name: "trusted peer with a plain chain", trusted: []string{balancerNet, "172.16.0.0/12"}, remote: "10.0.0.2:40000", xff: "1.2.3.4, 198.51.100.7, 172.16.5.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(Options{TrustedProxies: prefixes(t, tt.trusted...)})
			r := newRequest("GET", "/livez")
			r.RemoteAddr = tt.remote
			r.Header.Set("X-Forwarded-For", tt.xff)
			if n := testing.AllocsPerRun(100, func() { s.resolveClient(r) }); n != 0 {
				t.Errorf("%v allocations per request", n)
			}
		})
	}
}

// FuzzForwardedFor feeds arbitrary X-Forwarded-For values from a trusted
// proxy: the client is always the peer or an entry of the header, and
// never a trusted proxy unless every entry is one.
func FuzzForwardedFor(f *testing.F) {
	for _, seed := range []string{
		"198.51.100.7",
		"1.2.3.4, 10.0.0.9, 198.51.100.7",
		"10.0.0.50, 10.0.0.60",
		"[2001:db8::1]:80, 10.0.0.3",
		"fe80::1%eth0",
		"unknown",
		",,,",
		"198.51.100.7,\t10.0.0.1 ,",
		"::ffff:10.0.0.7, ::ffff:198.51.100.7",
		"\xff\x00, 10.0.0.1",
	} {
		f.Add(seed)
	}
	s := newServer(Options{TrustedProxies: prefixes(f, balancerNet, "2001:db8:ffff::/48")})
	peer := netip.MustParseAddr("10.0.0.2")
	f.Fuzz(func(t *testing.T, xff string) {
		r := newRequest("GET", "/livez")
		r.RemoteAddr = "10.0.0.2:40000"
		r.Header["X-Forwarded-For"] = []string{xff}
		got, fw := s.resolveClient(r)
		if !got.IsValid() || !fw.proxied {
			t.Fatalf("client %v, forwarding %+v", got, fw)
		}
		if got == peer && fw.hop < 0 {
			return
		}
		var entries []netip.Addr
		for _, e := range strings.Split(xff, ",") {
			if a, ok := parseForwardedAddr(strings.TrimSpace(e)); ok {
				entries = append(entries, a)
			}
		}
		if !slices.Contains(entries, got) {
			t.Fatalf("client %v is neither the peer nor in %q", got, xff)
		}
		if fw.hop < 0 || fw.hop >= fw.entries || fw.entries != strings.Count(xff, ",")+1 {
			t.Fatalf("forwarding %+v for %q", fw, xff)
		}
		if s.isTrustedProxy(got) {
			for _, a := range entries {
				if !s.isTrustedProxy(a) {
					t.Fatalf("trusted %v chosen over untrusted %v in %q", got, a, xff)
				}
			}
		}
	})
}

// BenchmarkResolveClient measures finding the client of a direct request
// and of one through a chain of trusted proxies.
func BenchmarkResolveClient(b *testing.B) {
	s := newServer(Options{TrustedProxies: prefixes(b, balancerNet, "172.16.0.0/12")})
	for _, bc := range []struct{ name, remote, xff string }{
		{"direct", "203.0.113.9:5000", ""},
		{"balancer", "10.0.0.2:40000", "198.51.100.7"},
		{"two proxies", "10.0.0.2:40000", "1.2.3.4, 198.51.100.7, 172.16.5.5"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := newRequest("GET", "/livez")
			r.RemoteAddr = bc.remote
			if bc.xff != "" {
				r.Header.Set("X-Forwarded-For", bc.xff)
			}
			b.ReportAllocs()
			for b.Loop() {
				s.resolveClient(r)
			}
		})
	}
}
