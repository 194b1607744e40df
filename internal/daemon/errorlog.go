package daemon

import (
	"context"
	"log/slog"
	"net/netip"
	"regexp"
	"strings"

	"github.com/mapwright/mapwright/internal/audit"
)

// addrInMessage matches an IPv4 address or a bracketed IPv6 address, each
// with an optional port, the way net.Addr prints them.
var addrInMessage = regexp.MustCompile(`\[[0-9A-Fa-f:.]+(?:%[0-9A-Za-z._-]+)?\](?::[0-9]+)?|\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?::[0-9]+)?\b`)

// scrubAddrs replaces every client address in an error message of the
// HTTP server by its network (/24 or /48, see audit.TruncateIP), port
// dropped. The HTTP server writes the peer's full address into some of its
// messages ("TLS handshake error from 203.0.113.7:5123: ..."), and
// Mapwright logs networks, never hosts. A match that continues a dotted
// number or is already a network ("203.0.113.0/24") is left alone, which
// also makes scrubbing idempotent.
func scrubAddrs(msg string) string {
	if !strings.ContainsAny(msg, ".:") {
		return msg
	}
	spans := addrInMessage.FindAllStringIndex(msg, -1)
	if spans == nil {
		return msg
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		start, end := sp[0], sp[1]
		if start > 0 && msg[start-1] == '.' || end < len(msg) && (msg[end] == '/' || msg[end] == '.' && end+1 < len(msg) && isDigit(msg[end+1])) {
			continue
		}
		network, ok := networkOf(msg[start:end])
		if !ok {
			continue
		}
		b.WriteString(msg[last:start])
		b.WriteString(network)
		last = end
	}
	if last == 0 {
		return msg
	}
	b.WriteString(msg[last:])
	return b.String()
}

// networkOf returns the network of an address printed as "a.b.c.d",
// "a.b.c.d:port", "[v6]" or "[v6]:port".
func networkOf(m string) (string, bool) {
	host := m
	if ap, err := netip.ParseAddrPort(m); err == nil {
		host = ap.Addr().WithZone("").String()
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return "", false
	}
	network := audit.TruncateIP(host)
	if strings.Contains(network, ":") {
		return network + "/48", true
	}
	return network + "/24", true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scrubbingHandler is the slog handler behind the http.Servers' error log:
// it passes records on with client addresses truncated by scrubAddrs.
type scrubbingHandler struct{ slog.Handler }

func (h scrubbingHandler) Handle(ctx context.Context, r slog.Record) error {
	msg := scrubAddrs(r.Message)
	if msg == r.Message {
		return h.Handler.Handle(ctx, r)
	}
	nr := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		nr.AddAttrs(a)
		return true
	})
	return h.Handler.Handle(ctx, nr)
}

func (h scrubbingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return scrubbingHandler{h.Handler.WithAttrs(as)}
}

func (h scrubbingHandler) WithGroup(name string) slog.Handler {
	return scrubbingHandler{h.Handler.WithGroup(name)}
}
