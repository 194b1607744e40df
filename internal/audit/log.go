package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"maps"
	"sync/atomic"
	"time"

	"github.com/mapwright/mapwright/internal/store"
)

// Event is what a caller records; [Log.Append] adds the sequence, time,
// truncated client address and hashes.
type Event struct {
	// Actor who did it: "unix:1000(alice)", "key:key_...", "system".
	Actor string
	// Action is one of the Action constants.
	Action string
	// Target is what it was done to, such as a key ID; may be empty.
	Target string
	// Outcome is OutcomeSuccess or OutcomeFailure; empty means success.
	Outcome string
	// Details are extra facts; never put a secret here.
	Details map[string]string
	// ClientIP is the client's address, bare or as host:port; it is
	// truncated with [TruncateIP] before anything is hashed or stored.
	ClientIP string
}

// Log appends events to the hash chain. Its first append onto a non-empty
// chain checks that its key signed the chain's head; besides that it holds
// no state but the key and clock, so one Log may serve any number of
// goroutines.
type Log struct {
	key []byte
	now func() time.Time
	// headChecked is set once this Log has seen that its key signed the
	// head of the chain it appends to (see Append).
	headChecked atomic.Bool
}

// New returns a Log that hashes with key (the [KeySize] bytes from
// [LoadOrCreateKey]) and timestamps events with now (time.Now when nil).
// A key of the wrong size makes every Append fail with [ErrKeySize].
func New(key []byte, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{key: append([]byte(nil), key...), now: now}
}

// Append records ev inside tx: it truncates the client address, stamps the
// time, locks the chain head, computes the hash and inserts the event. The
// event commits or rolls back with everything else in tx, which is what
// makes key changes fail closed. It returns the event as stored.
func (l *Log) Append(ctx context.Context, tx store.Tx, ev Event) (store.AuditEvent, error) {
	if len(l.key) != KeySize {
		return store.AuditEvent{}, fmt.Errorf("append audit event: %w", ErrKeySize)
	}
	rec, err := l.record(ev)
	if err != nil {
		return store.AuditEvent{}, err
	}
	head, err := tx.LockAuditHead(ctx)
	if err != nil {
		return store.AuditEvent{}, fmt.Errorf("append audit event %s: lock head: %w", ev.Action, err)
	}
	if head.Seq > 0 && !l.headChecked.Load() {
		// Once per process: an event signed with another key (a replica
		// that started with a key of its own) must not be chained onto,
		// or the chain would break for good.
		if err := checkHead(ctx, tx, l.key, head); err != nil {
			return store.AuditEvent{}, fmt.Errorf("append audit event %s: %w", ev.Action, err)
		}
		l.headChecked.Store(true)
	}
	rec.Seq = head.Seq + 1
	switch {
	case head.Seq == 0:
		rec.PrevHash = make([]byte, sha256.Size)
	case len(head.Hash) != sha256.Size:
		return store.AuditEvent{}, fmt.Errorf("append audit event %s: head %d has a %d-byte hash: %w",
			ev.Action, head.Seq, len(head.Hash), ErrCorruptHead)
	default:
		rec.PrevHash = append([]byte(nil), head.Hash...)
	}
	rec.Hash = chainHash(l.key, rec.PrevHash, Canonical(rec))
	if err := tx.AppendAudit(ctx, rec); err != nil {
		return store.AuditEvent{}, fmt.Errorf("append audit event %s: %w", ev.Action, err)
	}
	return rec, nil
}

// AppendStandalone records ev in a transaction of its own, for events that
// accompany no other change (server start and stop, logins, reloads).
func (l *Log) AppendStandalone(ctx context.Context, st store.Store, ev Event) (store.AuditEvent, error) {
	var out store.AuditEvent
	err := st.Update(ctx, func(tx store.Tx) error {
		var err error
		out, err = l.Append(ctx, tx, ev)
		return err
	})
	if err != nil {
		return store.AuditEvent{}, err
	}
	return out, nil
}

func (l *Log) record(ev Event) (store.AuditEvent, error) {
	if !validAction(ev.Action) {
		return store.AuditEvent{}, fmt.Errorf("action %q is not a dotted lower-case name: %w", ev.Action, ErrInvalidEvent)
	}
	outcome := ev.Outcome
	if outcome == "" {
		outcome = OutcomeSuccess
	}
	if outcome != OutcomeSuccess && outcome != OutcomeFailure {
		return store.AuditEvent{}, fmt.Errorf("event %s: outcome %q is neither %q nor %q: %w",
			ev.Action, outcome, OutcomeSuccess, OutcomeFailure, ErrInvalidEvent)
	}
	if ev.Actor == "" {
		return store.AuditEvent{}, fmt.Errorf("event %s: no actor: %w", ev.Action, ErrInvalidEvent)
	}
	return store.AuditEvent{
		Time:     store.Micro(l.now()),
		Actor:    ev.Actor,
		Action:   ev.Action,
		Target:   ev.Target,
		Outcome:  outcome,
		Details:  maps.Clone(ev.Details),
		ClientIP: TruncateIP(ev.ClientIP),
	}, nil
}

// validAction accepts names such as "key.create" or "admin.login_failure":
// lower-case words of letters, digits and underscores joined by dots.
func validAction(a string) bool {
	if a == "" || len(a) > 64 || a[0] == '.' || a[len(a)-1] == '.' {
		return false
	}
	dot := false
	for i := 0; i < len(a); i++ {
		c := a[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_':
		case c == '.':
			if a[i-1] == '.' {
				return false
			}
			dot = true
		default:
			return false
		}
	}
	return dot
}

// chainHash is HMAC-SHA256(key, prev || canonical).
func chainHash(key, prev, canonical []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(prev)
	m.Write(canonical)
	return m.Sum(nil)
}
