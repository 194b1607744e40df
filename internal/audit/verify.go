package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"

	"github.com/mapwright/mapwright/internal/store"
)

// VerifyOptions narrows and strengthens [Verify].
type VerifyOptions struct {
	// From is the first sequence to check; 0 or 1 means the whole
	// retained log. The whole log starts at event 1, whose previous hash
	// must be 32 zero bytes, or, once retention pruning has run, at the
	// event after the last cut, which must chain to the hash the newest
	// audit.prune event recorded (see [Log.Prune]). When From > 1 (a
	// partial check) event From must exist and its stored previous hash
	// is the anchor of the check, unless Anchor pins it.
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
	// rewritten and the result names that sequence. A remembered event
	// that retention pruning has since removed can only be compared with
	// the cut the prune recorded; when it lies before the cut the result
	// says so in Note.
	ExpectHead store.AuditHead
}

// Anchors: what the first event checked is chained to ([Result.Anchor]).
const (
	// AnchorGenesis: event 1, whose previous hash is 32 zero bytes.
	AnchorGenesis = "genesis"
	// AnchorPrune: the hash the newest audit.prune event recorded.
	AnchorPrune = "prune"
	// AnchorGiven: VerifyOptions.Anchor.
	AnchorGiven = "given"
	// AnchorStored: the first event's own previous hash, for a check
	// that starts at a given sequence.
	AnchorStored = "stored"
)

// Result is the outcome of [Verify].
type Result struct {
	// OK is true when every check passed.
	OK bool
	// Checked counts the events that verified before the first failure.
	Checked int64
	// Start is the first sequence checked.
	Start int64
	// Anchor is what the event at Start was checked to chain to: one of
	// the Anchor constants.
	Anchor string
	// FirstBad is the sequence of the first event found edited, missing,
	// out of place or not matching the head; 0 when OK.
	FirstBad int64
	// Reason explains the first failure in one sentence; empty when OK.
	Reason string
	// Note says what could not be checked although nothing failed; may be
	// empty.
	Note string
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
// A log whose first events are gone passes only when an authentic
// audit.prune event accounts for exactly those events: deleting old
// events without the audit key (which a prune event needs) is reported
// as a failure naming the first missing sequence. Deleting the newest
// events and moving the stored head back cannot be told from a shorter
// log by the chain alone; a head remembered elsewhere (a checkpoint, as
// ExpectHead) catches it.
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
	if want := opts.ExpectHead.Seq; want != 0 && opts.To > 0 && want > opts.To {
		return Result{}, fmt.Errorf("verify audit log: expected head %d lies after to %d: %w", want, opts.To, ErrInvalidOptions)
	}
	if opts.Anchor != nil && len(opts.Anchor) != sha256.Size {
		return Result{}, fmt.Errorf("verify audit log: anchor is %d bytes, want %d: %w",
			len(opts.Anchor), sha256.Size, ErrInvalidOptions)
	}

	head, err := r.AuditHead(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("verify audit log: read head: %w", err)
	}

	anchor, anchorKind := opts.Anchor, AnchorGenesis
	switch {
	case from > 1 && anchor != nil:
		anchorKind = AnchorGiven
	case from > 1:
		anchorKind = AnchorStored
	}
	var cut *pruneCut
	if opts.From <= 1 {
		first, err := firstStored(ctx, r)
		if err != nil {
			return Result{}, fmt.Errorf("verify audit log: %w", err)
		}
		if first > 1 {
			pc, bad, err := findPruneCut(ctx, r, key, first)
			if err != nil {
				return Result{}, fmt.Errorf("verify audit log: %w", err)
			}
			if bad != nil {
				// The anchor is named only when a prune event was found.
				bad.Start = first
				if bad.FirstBad >= first {
					bad.Anchor = AnchorPrune
				}
				return *bad, nil
			}
			cut, from, anchor, anchorKind = &pc, first, pc.hash, AnchorPrune
			if opts.To > 0 && opts.To < from {
				return Result{}, fmt.Errorf("verify audit log: to %d lies before the first retained event %d: %w", opts.To, from, ErrInvalidOptions)
			}
		}
	}

	expect := opts.ExpectHead
	var note string
	if expect.Seq != 0 && expect.Seq < from {
		if cut == nil || expect.Seq > cut.seq {
			return Result{}, fmt.Errorf("verify audit log: expected head %d lies before from %d: %w", expect.Seq, from, ErrInvalidOptions)
		}
		if expect.Seq == cut.seq {
			if !hmac.Equal(expect.Hash, cut.hash) {
				return Result{Start: from, Anchor: anchorKind, FirstBad: cut.seq, Reason: fmt.Sprintf(
					"remembered head %d has a different hash than the prune (event %d) recorded for it: the log was rewritten", cut.seq, cut.event)}, nil
			}
			note = fmt.Sprintf("remembered head %d was pruned by event %d; it matches the hash that prune recorded", expect.Seq, cut.event)
		} else {
			note = fmt.Sprintf("remembered head %d was pruned by event %d (cut at %d) and can no longer be checked", expect.Seq, cut.event, cut.seq)
		}
		expect = store.AuditHead{}
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
		anchor: anchor,
		expect: expect,
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
	v.res.Start, v.res.Anchor = from, anchorKind
	if v.res.OK {
		v.res.Note = note
	}
	return v.res, nil
}

// pruneCut is the cut the newest audit.prune event recorded.
type pruneCut struct {
	// event is the prune event's sequence.
	event int64
	// seq and hash name the last event the prune deleted.
	seq  int64
	hash []byte
}

// Detail keys of an audit.prune event.
const (
	pruneCutSeq  = "cut_seq"
	pruneCutHash = "cut_hash"
	pruneDeleted = "deleted"
	pruneBefore  = "before"
)

// firstStored returns the sequence of the oldest stored event, 0 when the
// log is empty.
func firstStored(ctx context.Context, r store.Reader) (int64, error) {
	evs, _, err := r.QueryAudit(ctx, store.AuditFilter{Limit: 1})
	if err != nil {
		return 0, fmt.Errorf("find the first event: %w", err)
	}
	if len(evs) == 0 {
		return 0, nil
	}
	return evs[0].Seq, nil
}

// findPruneCut finds the newest audit.prune event and checks that its cut
// accounts for exactly the events before first. A failed check comes back
// as a Result.
func findPruneCut(ctx context.Context, r store.Reader, key []byte, first int64) (pruneCut, *Result, error) {
	f := store.AuditFilter{ActionPrefix: ActionAuditPrune, Descending: true, Limit: 100}
	var ev *store.AuditEvent
	for ev == nil {
		evs, next, err := r.QueryAudit(ctx, f)
		if err != nil {
			return pruneCut{}, nil, fmt.Errorf("find the last prune: %w", err)
		}
		for i := range evs {
			if evs[i].Action == ActionAuditPrune {
				ev = &evs[i]
				break
			}
		}
		if next == 0 {
			break
		}
		f.AfterSeq = next
	}
	missing := func(from int64, why string) *Result {
		return &Result{FirstBad: from, Reason: fmt.Sprintf("events %d to %d are missing: %s", from, first-1, why)}
	}
	if ev == nil {
		return pruneCut{}, missing(1, "no audit.prune event accounts for them (deleted without the audit key)"), nil
	}
	// The prune event may lie outside the range being checked, so its own
	// hash is checked here before anything it says is believed.
	if !hmac.Equal(chainHash(key, ev.PrevHash, Canonical(*ev)), ev.Hash) {
		return pruneCut{}, &Result{FirstBad: ev.Seq, Reason: fmt.Sprintf(
			"event %d (audit.prune) does not match its hash: edited, or written without the audit key", ev.Seq)}, nil
	}
	seq, err1 := strconv.ParseInt(ev.Details[pruneCutSeq], 10, 64)
	hash, err2 := hex.DecodeString(ev.Details[pruneCutHash])
	if err1 != nil || err2 != nil || len(hash) != sha256.Size || seq < 1 || seq >= ev.Seq {
		return pruneCut{}, &Result{FirstBad: ev.Seq, Reason: fmt.Sprintf(
			"event %d (audit.prune) does not record a valid cut", ev.Seq)}, nil
	}
	switch {
	case seq < first-1:
		return pruneCut{}, missing(seq+1, fmt.Sprintf("the last prune (event %d) cut the log at %d only", ev.Seq, seq)), nil
	case seq > first-1:
		return pruneCut{}, &Result{FirstBad: first, Reason: fmt.Sprintf(
			"event %d is stored although the last prune (event %d) deleted everything up to %d: events were put back", first, ev.Seq, seq)}, nil
	}
	return pruneCut{event: ev.Seq, seq: seq, hash: hash}, nil, nil
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

// Verify is [Verify] with the log's own key.
func (l *Log) Verify(ctx context.Context, r store.Reader, opts VerifyOptions) (Result, error) {
	return Verify(ctx, r, l.key, opts)
}
