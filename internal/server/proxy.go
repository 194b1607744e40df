package server

import (
	"net/http"
	"net/netip"
	"strings"
)

// forwarding is what the request's forwarding headers may be believed to
// say. It is filled once per request by resolveClient and kept in the
// request state, so later layers (HSTS, TileJSON URLs) read the headers by
// the same rule as the client address.
type forwarding struct {
	// proxied is true when the immediate peer is a trusted proxy: only
	// then do X-Forwarded-* headers count at all.
	proxied bool
	// hop is the position, counted from the right (0 is the last), of the
	// X-Forwarded-For entry taken as the client; -1 when none was (no
	// header, or a malformed entry on the walk).
	hop int
	// entries is the number of X-Forwarded-For entries when hop >= 0.
	entries int
}

// Canonical header keys, read straight from the header map so that a
// lookup costs no canonicalisation.
const (
	hdrForwardedFor   = "X-Forwarded-For"
	hdrForwardedProto = "X-Forwarded-Proto"
	hdrForwardedHost  = "X-Forwarded-Host"
)

// normalizeProxies masks the trusted networks and turns IPv4-mapped IPv6
// prefixes into IPv4 ones, since peer and forwarded addresses are unmapped
// before they are compared. Invalid prefixes are dropped.
func normalizeProxies(in []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range in {
		if !p.IsValid() {
			continue
		}
		a := p.Addr()
		if a.Is4In6() {
			if p.Bits() < 96 {
				// Wider than the mapped range: it covers every IPv4
				// address as well as the IPv6 addresses around them.
				out = append(out, netip.PrefixFrom(netip.IPv4Unspecified(), 0))
				out = append(out, p.Masked())
				continue
			}
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}

// isTrustedProxy reports whether a is inside one of the trusted networks.
// a must be unmapped and without zone.
func (s *server) isTrustedProxy(a netip.Addr) bool {
	for _, p := range s.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// resolveClient returns the client's address and what the forwarding
// headers may be believed to say.
//
// The peer is the client unless it is a trusted proxy. Then X-Forwarded-For
// is walked from the right: each proxy appends the address it received the
// request from, so the entries on the right were written by our own
// proxies and the first entry (from the right) that is not a trusted proxy
// is the client. Whatever lies further left came from the client and is
// never looked at. When every entry is a trusted proxy, the left-most is
// as far back as the chain goes. A malformed entry met on the walk means
// the chain cannot be followed: the peer is taken as the client rather
// than a guess.
//
// When the peer is not trusted, nothing is allocated and no header is read.
func (s *server) resolveClient(r *http.Request) (netip.Addr, forwarding) {
	peer := peerAddr(r.RemoteAddr)
	fw := forwarding{hop: -1}
	if len(s.trusted) == 0 || !peer.IsValid() || !s.isTrustedProxy(peer) {
		return peer, fw
	}
	fw.proxied = true
	lines := r.Header[hdrForwardedFor]
	if len(lines) == 0 {
		return peer, fw
	}
	it := entriesFromRight{lines: lines, line: len(lines)}
	var leftmost netip.Addr
	for hop := 0; ; hop++ {
		v, ok := it.next()
		if !ok {
			fw.hop, fw.entries = hop-1, hop
			return leftmost, fw
		}
		a, ok := parseForwardedAddr(v)
		if !ok {
			return peer, fw
		}
		if !s.isTrustedProxy(a) {
			fw.hop, fw.entries = hop, countEntries(lines)
			return a, fw
		}
		leftmost = a
	}
}

// peerAddr parses a RemoteAddr ("ip:port", or a bare IP), unmapped and
// without zone; invalid when it is neither.
func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if a, err := netip.ParseAddr(remote); err == nil {
		return a.Unmap().WithZone("")
	}
	return netip.Addr{}
}

// parseForwardedAddr parses one X-Forwarded-For entry: an IP address, or
// one with a port ("192.0.2.1:4711", "[2001:db8::1]:4711"), which some
// proxies write. Anything else ("unknown", names, garbage) is not ok.
func parseForwardedAddr(v string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(v)
	if err != nil {
		ap, err := netip.ParseAddrPort(v)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

// entriesFromRight yields the comma-separated entries of a header's lines
// from the last to the first, trimmed, without allocating. Several lines
// of one header are one list in order (RFC 9110, section 5.3). An empty
// entry is yielded as "".
type entriesFromRight struct {
	lines []string
	line  int    // lines[line:] are consumed
	cur   string // the unconsumed part of lines[line]
	open  bool   // cur still holds an entry
}

func (e *entriesFromRight) next() (string, bool) {
	if !e.open {
		if e.line == 0 {
			return "", false
		}
		e.line--
		e.cur, e.open = e.lines[e.line], true
	}
	if i := strings.LastIndexByte(e.cur, ','); i >= 0 {
		v := e.cur[i+1:]
		e.cur = e.cur[:i]
		return strings.TrimSpace(v), true
	}
	e.open = false
	return strings.TrimSpace(e.cur), true
}

// countEntries counts the comma-separated entries of a header's lines.
func countEntries(lines []string) int {
	n := 0
	for _, l := range lines {
		n += strings.Count(l, ",") + 1
	}
	return n
}

// forwardedValue picks the entry of X-Forwarded-Proto or X-Forwarded-Host
// that describes the client's side of the chain. When the header has one
// entry per X-Forwarded-For entry, every proxy appended to both, and the
// entry at the client's position is the one. Otherwise the proxies set the
// header rather than appending to it, and the right-most entry, written by
// the proxy that connected to us, is the one to believe. "" when the
// header is absent.
func forwardedValue(lines []string, fw forwarding) string {
	if len(lines) == 0 {
		return ""
	}
	want := 0
	if fw.hop > 0 && countEntries(lines) == fw.entries {
		want = fw.hop
	}
	it := entriesFromRight{lines: lines, line: len(lines)}
	for i := 0; ; i++ {
		v, ok := it.next()
		if !ok || i == want {
			return v
		}
	}
}

// isTLS reports whether the client reached us over TLS. Through a trusted
// proxy that says "https" or "http" in X-Forwarded-Proto, the proxy knows
// best (it may itself have connected to us over TLS for a client that used
// plain HTTP, or the other way round); otherwise it is whether this
// connection is TLS.
func (s *server) isTLS(r *http.Request, st *reqState) bool {
	if st.fwd.proxied {
		switch v := forwardedValue(r.Header[hdrForwardedProto], st.fwd); {
		case strings.EqualFold(v, "https"):
			return true
		case strings.EqualFold(v, "http"):
			return false
		}
	}
	return r.TLS != nil
}
