package audit

import (
	"net"
	"net/netip"
	"strings"
)

// TruncateIP reduces a client address to its network so that audit records
// do not identify a single host: IPv4 to /24, IPv6 to /48, and an
// IPv4-mapped IPv6 address is treated as the IPv4 address it carries. The
// input may be a bare address ("203.0.113.7", "2001:db8::1", with or
// without an IPv6 zone) or a host:port pair as found in an HTTP request's
// RemoteAddr ("203.0.113.7:5123", "[2001:db8::1]:443"), or a network in
// CIDR form ("203.0.113.0/24"). The result is the
// network's first address ("203.0.113.0", "2001:db8::"). Anything that is
// not an IP address, including the empty string, yields "" so that no
// unparsed client-supplied text reaches the log.
func TruncateIP(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		if ap, perr := netip.ParseAddrPort(s); perr == nil {
			addr = ap.Addr()
		} else if p, perr := netip.ParsePrefix(s); perr == nil {
			// An already truncated network such as "203.0.113.0/24".
			addr = p.Masked().Addr()
		} else {
			return ""
		}
	}
	return truncateAddr(addr)
}

// TruncateNetIP is [TruncateIP] for a net.IP; nil or invalid yields "".
func TruncateNetIP(ip net.IP) string {
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return ""
	}
	return truncateAddr(addr)
}

func truncateAddr(addr netip.Addr) string {
	addr = addr.WithZone("").Unmap()
	bits := 48
	if addr.Is4() {
		bits = 24
	}
	p, err := addr.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.Addr().String()
}
