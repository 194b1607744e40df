package audit

import (
	"encoding/binary"
	"slices"

	"github.com/mapwright/mapwright/internal/store"
)

// canonicalTag opens every canonical encoding; a future format changes it.
const canonicalTag = "mwaudit1"

// Canonical returns the canonical encoding of ev that the chain hash covers,
// as specified in the package documentation. Seq, Time, Actor, Action,
// Target, Outcome, Details and ClientIP are encoded; PrevHash and Hash are
// not (the previous hash is prepended separately when hashing).
func Canonical(ev store.AuditEvent) []byte {
	return AppendCanonical(make([]byte, 0, canonicalSize(&ev)), ev)
}

// AppendCanonical appends the canonical encoding of ev to dst and returns
// the extended slice, so a verifier can reuse one buffer for many events.
func AppendCanonical(dst []byte, ev store.AuditEvent) []byte {
	dst = append(dst, canonicalTag...)
	dst = binary.BigEndian.AppendUint64(dst, uint64(ev.Seq))
	dst = binary.BigEndian.AppendUint64(dst, uint64(ev.Time.UnixMicro()))
	dst = appendString(dst, ev.Actor)
	dst = appendString(dst, ev.Action)
	dst = appendString(dst, ev.Target)
	dst = appendString(dst, ev.Outcome)
	dst = binary.BigEndian.AppendUint64(dst, uint64(len(ev.Details)))
	if len(ev.Details) > 0 {
		keys := make([]string, 0, len(ev.Details))
		for k := range ev.Details {
			keys = append(keys, k)
		}
		// Go compares strings byte-wise, which is the documented order.
		slices.Sort(keys)
		for _, k := range keys {
			dst = appendString(dst, k)
			dst = appendString(dst, ev.Details[k])
		}
	}
	dst = appendString(dst, ev.ClientIP)
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(len(s)))
	return append(dst, s...)
}

func canonicalSize(ev *store.AuditEvent) int {
	n := len(canonicalTag) + 8 + 8 + 8 + 5*8 +
		len(ev.Actor) + len(ev.Action) + len(ev.Target) + len(ev.Outcome) + len(ev.ClientIP)
	for k, v := range ev.Details {
		n += 16 + len(k) + len(v)
	}
	return n
}
