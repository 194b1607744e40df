package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"

	"github.com/mapwright/mapwright/internal/store"
)

// VerifyOptions narrows and strengthens [Verify].
type VerifyOptions struct {
	// From is the first sequence to check; 0 or 1 means the whole log, whose
	// first event must then carry 32 zero bytes as its previous hash. When
	// From > 1 (a log pruned up to a checkpoint, or a partial check) event
	// From must exist and its stored previous hash is the anchor of the
	// check, unless Anchor pins it.
	From int64
	// To is the last sequence to check; 0 means up to the stored head,
	// which is then also checked against the last event.
	To int64
	// Anchor, when set and From > 1, is the hash event From-1 had (from a
	// checkpoint kept elsewhere); event From's previous hash must equal it.
	Anchor []byte
	// ExpectHead is a head remembered earlier (by a monitor, a backup, an
	// exported checkpoint). When its Seq is not zero, the log must still
	// contain that event with that hash; otherwise the log was truncated or
	// rewritten and the result names that sequence.
	ExpectHead store.AuditHead
}

// Result is the outcome of [Verify].
type Result struct {
	// OK is true when every check passed.
	OK bool
	// Checked counts the events that verified before the first failure.
	Checked int64
	// FirstBad is the sequence of the first event found edited, missing,
	// out of place or not matching the head; 0 when OK.
	FirstBad int64
	// Reason explains the first failure in one sentence; empty when OK.
	Reason string
	// Head is the last event that verified (sequence and hash): remember it
	// and pass it as ExpectHead next time to detect later truncation.
	Head store.AuditHead
}

// errStopScan ends a scan at the first failure; it never leaves Verify.
var errStopScan = errors.New("stop scan")

// Verify checks the audit chain in r between opts.From and opts.To,
// streaming events rather than loading them. It checks that every event's
// hash recomputes with key, that every event's previous hash is its
// predecessor's hash, that sequences have no gaps, that the stored head
// agrees with the last event (so a tail deleted without moving the head is
// found) and, when given, that opts.ExpectHead is still present.
//
// A broken chain is reported in the Result (OK false, FirstBad, Reason),
// not as an error; errors are for I/O failures and invalid options. When r
// is a [store.Store] rather than a transaction, events appended while
// Verify runs are simply not covered: the range ends at the head read when
// Verify starts.
func Verify(ctx context.Context, r store.Reader, key []byte, opts VerifyOptions) (Result, error) {
	if len(key) != KeySize {
		return Result{}, fmt.Errorf("verify audit log: %w", ErrKeySize)
	}
	from := max(opts.From, 1)
	if opts.To > 0 && opts.To < from {
		return Result{}, fmt.Errorf("verify audit log: to %d is before from %d: %w", opts.To, from, ErrInvalidOptions)
	}
	if want := opts.ExpectHead.Seq; want != 0 && (want < from || (opts.To > 0 && want > opts.To)) {
		return Result{}, fmt.Errorf("verify audit log: expected head %d lies outside [%d, %d]: %w",
			want, from, opts.To, ErrInvalidOptions)
	}
	if opts.Anchor != nil && len(opts.Anchor) != sha256.Size {
		return Result{}, fmt.Errorf("verify audit log: anchor is %d bytes, want %d: %w",
			len(opts.Anchor), sha256.Size, ErrInvalidOptions)
	}

	head, err := r.AuditHead(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("verify audit log: read head: %w", err)
	}
	checkHead := opts.To <= 0 || opts.To >= head.Seq
	end := head.Seq
	if !checkHead {
		end = opts.To
	}

	v := verifier{
		key:    key,
		mac:    hmac.New(sha256.New, key),
		from:   from,
		anchor: opts.Anchor,
		expect: opts.ExpectHead,
		last:   from - 1,
	}
	if end >= from {
		err := r.ScanAudit(ctx, from, end, v.check)
		if err != nil && !errors.Is(err, errStopScan) {
			return Result{}, fmt.Errorf("verify audit log: %w", err)
		}
	}
	if v.res.FirstBad == 0 {
		v.finish(head, end, checkHead)
	}
	v.res.OK = v.res.FirstBad == 0
	return v.res, nil
}

type verifier struct {
	key      []byte
	mac      hash.Hash
	from     int64
	anchor   []byte
	expect   store.AuditHead
	sawHead  bool
	last     int64
	lastHash []byte
	buf      []byte
	sum      []byte
	res      Result
}

func (v *verifier) fail(seq int64, format string, args ...any) error {
	v.res.FirstBad = seq
	v.res.Reason = fmt.Sprintf(format, args...)
	return errStopScan
}

func (v *verifier) check(ev store.AuditEvent) error {
	want := v.last + 1
	switch {
	case ev.Seq > want:
		return v.fail(want, "event %d is missing: the log jumps from %d to %d (deleted or renumbered)", want, v.last, ev.Seq)
	case ev.Seq < want:
		return v.fail(ev.Seq, "event %d appears again after event %d", ev.Seq, v.last)
	}

	switch {
	case ev.Seq == 1:
		if !bytes.Equal(ev.PrevHash, make([]byte, sha256.Size)) {
			return v.fail(ev.Seq, "event 1 does not start the chain: its previous hash is not zero")
		}
	case ev.Seq == v.from:
		if v.anchor != nil && !hmac.Equal(ev.PrevHash, v.anchor) {
			return v.fail(ev.Seq, "event %d does not chain to the anchor hash of event %d", ev.Seq, ev.Seq-1)
		}
		if len(ev.PrevHash) != sha256.Size {
			return v.fail(ev.Seq, "event %d has a %d-byte previous hash", ev.Seq, len(ev.PrevHash))
		}
	default:
		if !hmac.Equal(ev.PrevHash, v.lastHash) {
			return v.fail(ev.Seq, "event %d does not chain to event %d: events reordered, inserted or replaced", ev.Seq, v.last)
		}
	}

	v.buf = AppendCanonical(v.buf[:0], ev)
	v.mac.Reset()
	v.mac.Write(ev.PrevHash)
	v.mac.Write(v.buf)
	v.sum = v.mac.Sum(v.sum[:0])
	if !hmac.Equal(v.sum, ev.Hash) {
		return v.fail(ev.Seq, "event %d does not match its hash: edited, or written without the audit key", ev.Seq)
	}
	if v.expect.Seq == ev.Seq {
		if !hmac.Equal(ev.Hash, v.expect.Hash) {
			return v.fail(ev.Seq, "remembered head %d has a different hash now: the log was rewritten", ev.Seq)
		}
		v.sawHead = true
	}

	v.last = ev.Seq
	v.lastHash = append(v.lastHash[:0], ev.Hash...)
	v.res.Checked++
	v.res.Head = store.AuditHead{Seq: ev.Seq, Hash: append([]byte(nil), ev.Hash...)}
	return nil
}

// finish runs the checks that need the whole range: a missing tail, a head
// that disagrees with the last event, and a remembered head that vanished.
func (v *verifier) finish(head store.AuditHead, end int64, checkHead bool) {
	if v.last < end {
		if checkHead {
			v.fail(v.last+1, "the audit head is at %d but the log ends at %d: events deleted from the tail", head.Seq, v.last)
		} else {
			v.fail(v.last+1, "event %d is missing: the log ends at %d", v.last+1, v.last)
		}
		return
	}
	if checkHead && head.Seq >= v.from && !hmac.Equal(head.Hash, v.lastHash) {
		v.fail(head.Seq, "the audit head's hash does not match event %d", head.Seq)
		return
	}
	if v.expect.Seq != 0 && !v.sawHead {
		v.fail(v.expect.Seq, "remembered head %d is not in the log, which ends at %d: the log was truncated", v.expect.Seq, v.last)
	}
}
