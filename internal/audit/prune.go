package audit

import (
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"time"

	"github.com/mapwright/mapwright/internal/logging"
	"github.com/mapwright/mapwright/internal/store"
)

// PruneResult is the outcome of [Log.Prune].
type PruneResult struct {
	// Deleted counts the events removed; 0 when none was old enough, in
	// which case nothing was written either.
	Deleted int64
	// CutSeq and CutHash name the last event removed: the first event
	// kept chains to CutHash.
	CutSeq  int64
	CutHash []byte
	// Event is the audit.prune event recording the cut.
	Event store.AuditEvent
}

// Prune deletes, in one transaction of st, the oldest events of the log up
// to the last one that is older than before, and appends an audit.prune
// event (actor, client address and extra details from by) recording the
// cut: details "cut_seq" and "cut_hash" (hex) name the last event deleted,
// "deleted" counts them and "before" is the cut-off time (RFC 3339).
// [Verify] then anchors the rest of the chain on that event, so the
// retained log still verifies, while old events deleted without such an
// event are reported.
//
// Only a prefix of the log is ever deleted: the cut stops before the first
// event at or after before, even if later events are older (a clock that
// went back). Before deleting, the events to delete are verified; if they
// do not verify, nothing is deleted and the error wraps [ErrPruneRefused],
// because pruning would destroy the evidence. When no event is old enough
// nothing is written and the result is zero.
func (l *Log) Prune(ctx context.Context, st store.Store, before time.Time, by Event) (PruneResult, error) {
	if len(l.key) != KeySize {
		return PruneResult{}, fmt.Errorf("prune audit log: %w", ErrKeySize)
	}
	before = store.Micro(before)
	var out PruneResult
	err := st.Update(ctx, func(tx store.Tx) error {
		out = PruneResult{}
		head, err := tx.LockAuditHead(ctx)
		if err != nil {
			return fmt.Errorf("lock head: %w", err)
		}
		first, err := firstStored(ctx, tx)
		if err != nil || first == 0 {
			return err
		}
		keep, _, err := tx.QueryAudit(ctx, store.AuditFilter{Since: before, Limit: 1})
		if err != nil {
			return fmt.Errorf("find the cut: %w", err)
		}
		cut := head.Seq
		if len(keep) > 0 {
			cut = keep[0].Seq - 1
		}
		if cut < first {
			return nil
		}
		res, err := Verify(ctx, tx, l.key, VerifyOptions{To: cut})
		if err != nil {
			return err
		}
		if !res.OK {
			return fmt.Errorf("events %d to %d: %s: %w", first, cut, res.Reason, ErrPruneRefused)
		}
		cutHash := res.Head.Hash
		want := cut - first + 1

		ev := by
		ev.Action = ActionAuditPrune
		ev.Outcome = OutcomeSuccess
		ev.Details = maps.Clone(by.Details)
		if ev.Details == nil {
			ev.Details = map[string]string{}
		}
		ev.Details[pruneCutSeq] = strconv.FormatInt(cut, 10)
		ev.Details[pruneCutHash] = hex.EncodeToString(cutHash)
		ev.Details[pruneDeleted] = strconv.FormatInt(want, 10)
		ev.Details[pruneBefore] = before.Format(time.RFC3339Nano)
		rec, err := l.Append(ctx, tx, ev)
		if err != nil {
			return err
		}
		// The prune event is appended first so that the head event may be
		// deleted too: the chain's head is then the prune event itself.
		n, err := tx.DeleteAuditBefore(ctx, cut+1)
		if err != nil {
			return err
		}
		if n != want {
			return fmt.Errorf("deleted %d events, expected %d from %d to %d: %w", n, want, first, cut, ErrPruneRefused)
		}
		out = PruneResult{Deleted: n, CutSeq: cut, CutHash: cutHash, Event: rec}
		return nil
	})
	if err != nil {
		return PruneResult{}, fmt.Errorf("prune audit log before %s: %w", before.Format(time.RFC3339), err)
	}
	return out, nil
}

// DefaultRetention is how long audit events are kept unless configured
// otherwise.
const DefaultRetention = 90 * 24 * time.Hour

// DefaultPruneInterval is how often [Pruner.Run] prunes.
const DefaultPruneInterval = 24 * time.Hour

// Pruner applies the audit retention period: it deletes events older than
// Retention, keeping the chain verifiable (see [Log.Prune]). Replicas may
// each run one; their prunes serialise on the chain's head and the later
// one finds nothing left to delete.
type Pruner struct {
	// Log hashes the audit.prune event; Store holds the log.
	Log   *Log
	Store store.Store
	// Retention is how long events are kept; 0 (or less) keeps them
	// forever and Prune does nothing.
	Retention time.Duration
	// Interval is the time between prunes in Run; 0 means
	// DefaultPruneInterval.
	Interval time.Duration
	// Logger receives the outcome of each prune; nothing when nil.
	Logger *slog.Logger
	// Now is the clock of Run; time.Now when nil.
	Now func() time.Time
}

// Prune deletes the events older than now minus the retention period,
// recording the cut as an audit.prune event by the actor "system".
func (p *Pruner) Prune(ctx context.Context, now time.Time) (PruneResult, error) {
	if p.Retention <= 0 {
		return PruneResult{}, nil
	}
	return p.Log.Prune(ctx, p.Store, now.Add(-p.Retention), Event{
		Actor:   "system",
		Details: map[string]string{"retention": p.Retention.String()},
	})
}

// Run prunes at once and then every Interval until ctx ends. Failures are
// logged and retried at the next interval; a log that does not verify is
// never pruned.
func (p *Pruner) Run(ctx context.Context) {
	if p.Retention <= 0 {
		return
	}
	logger := p.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := p.Now
	if now == nil {
		now = time.Now
	}
	interval := p.Interval
	if interval <= 0 {
		interval = DefaultPruneInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		res, err := p.Prune(ctx, now())
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Error("prune audit log", logging.KeyErr, err.Error())
		case res.Deleted > 0:
			logger.Info("pruned audit log", logging.KeyCount, res.Deleted)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
