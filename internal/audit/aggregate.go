package audit

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/mapwright/mapwright/internal/store"
)

// Aggregator turns a flood of refused requests into a bounded number of
// audit events: one event per subject, reason and minute, carrying a count.
// The subject is the key's ID when the token was authentic (revoked,
// expired, wrong scope, tileset or origin), else the client's truncated
// network, so random unknown keys from one network make one event, not one
// per key. At most MaxBuckets subjects are kept per minute; the rest of
// that minute is counted in one overflow event per reason.
//
// Record is cheap and never blocks on the database: events are written by
// Flush, which Run calls once a minute, and by Close.
type Aggregator struct {
	log        *Log
	st         store.Store
	logger     *slog.Logger
	now        func() time.Time
	maxBuckets int

	mu      sync.Mutex
	buckets map[bucketKey]*bucket
	// perMinute counts the non-overflow buckets of each minute.
	perMinute map[int64]int
}

// DefaultMaxBuckets bounds the distinct subjects kept per minute.
const DefaultMaxBuckets = 1000

// Failure is one refused request as the aggregator sees it.
type Failure struct {
	// Action is ActionAuthFailure or ActionKeyMisuse.
	Action string
	// Reason is a short stable word: "unknown", "revoked", "origin", ...
	Reason string
	// KeyID is set when the token was authentic.
	KeyID string
	// KeyStart is the redacted token ("mpw_pk_AbCd…"), kept as a sample.
	KeyStart string
	// ClientIP is the client's address or network; it is truncated.
	ClientIP string
	// Time of the request; zero means now.
	Time time.Time
}

type bucketKey struct {
	minute  int64
	action  string
	reason  string
	subject string // "key:<id>", "ip:<network>" or "overflow"
}

type bucket struct {
	count    int64
	keyID    string
	clientIP string
	sample   string
}

// NewAggregator returns an Aggregator writing through log into st.
// maxBuckets <= 0 means DefaultMaxBuckets.
func NewAggregator(log *Log, st store.Store, logger *slog.Logger, maxBuckets int) *Aggregator {
	if maxBuckets <= 0 {
		maxBuckets = DefaultMaxBuckets
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Aggregator{
		log: log, st: st, logger: logger, now: log.now, maxBuckets: maxBuckets,
		buckets: map[bucketKey]*bucket{}, perMinute: map[int64]int{},
	}
}

// Record counts one refused request.
func (a *Aggregator) Record(f Failure) {
	t := f.Time
	if t.IsZero() {
		t = a.now()
	}
	k := bucketKey{minute: t.Unix() / 60, action: f.Action, reason: f.Reason}
	ip := TruncateIP(f.ClientIP)
	if f.KeyID != "" {
		k.subject = "key:" + f.KeyID
	} else {
		k.subject = "ip:" + ip
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	b, ok := a.buckets[k]
	if !ok {
		if a.perMinute[k.minute] >= a.maxBuckets {
			k.subject = "overflow"
			ip = ""
			if b, ok = a.buckets[k]; !ok {
				b = &bucket{}
				a.buckets[k] = b
			}
		} else {
			a.perMinute[k.minute]++
			b = &bucket{keyID: f.KeyID, clientIP: ip, sample: f.KeyStart}
			a.buckets[k] = b
		}
	}
	b.count++
}

// Flush writes an event for every bucket of a minute that has ended (all
// buckets when all is true) and forgets them. Buckets whose write fails
// are kept for the next Flush.
func (a *Aggregator) Flush(ctx context.Context, all bool) error {
	current := a.now().Unix() / 60
	a.mu.Lock()
	due := map[bucketKey]*bucket{}
	for k, b := range a.buckets {
		if all || k.minute < current {
			due[k] = b
			delete(a.buckets, k)
		}
	}
	for m := range a.perMinute {
		if all || m < current {
			delete(a.perMinute, m)
		}
	}
	a.mu.Unlock()

	var firstErr error
	for k, b := range due {
		ev := Event{
			Actor:    "anonymous",
			Action:   k.action,
			Target:   b.keyID,
			Outcome:  OutcomeFailure,
			ClientIP: b.clientIP,
			Details: map[string]string{
				"reason": k.reason,
				"count":  strconv.FormatInt(b.count, 10),
				"minute": time.Unix(k.minute*60, 0).UTC().Format(time.RFC3339),
			},
		}
		if b.keyID != "" {
			ev.Actor = "key:" + b.keyID
		}
		if b.sample != "" {
			ev.Details["key_sample"] = b.sample
		}
		if k.subject == "overflow" {
			ev.Details["overflow"] = "true"
		}
		if _, err := a.log.AppendStandalone(ctx, a.st, ev); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			a.mu.Lock()
			if cur, ok := a.buckets[k]; ok {
				cur.count += b.count
			} else {
				a.buckets[k] = b
			}
			a.mu.Unlock()
		}
	}
	return firstErr
}

// Run flushes once a minute until ctx ends, then flushes everything with a
// fresh context so the last minute is not lost.
func (a *Aggregator) Run(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := a.Flush(ctx, false); err != nil {
				a.logger.Error("write aggregated audit events", "err", err)
			}
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := a.Flush(fctx, true); err != nil {
				a.logger.Error("write aggregated audit events", "err", err)
			}
			cancel()
			return
		}
	}
}
