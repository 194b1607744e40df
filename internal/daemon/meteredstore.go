package daemon

import (
	"context"
	"time"

	"github.com/mapwright/mapwright/internal/metrics"
	"github.com/mapwright/mapwright/internal/store"
)

// meterStore wraps st so that the daemon's metrics see its database work:
// the latency of the operations metrics.StoreOps names, and every audit
// event of a transaction that commits, by action. Every part of the daemon
// (key service, sessions, admin API, aggregator, pruner, backups) writes
// through the returned store, and while serving the daemon commits only in
// Update (restores are an offline mwctl command), so this is the one place
// where an audit event is known to be durable.
//
// A store that reports other processes' key changes (store.KeyWatcher)
// still does once wrapped.
func meterStore(st store.Store, m *metrics.Metrics) store.Store {
	ms := &meteredStore{Store: st, m: m}
	if w, ok := st.(store.KeyWatcher); ok {
		return &watchingMeteredStore{meteredStore: ms, watcher: w}
	}
	return ms
}

// meteredStore is the Store meterStore returns; the methods it does not
// override pass straight through.
type meteredStore struct {
	store.Store
	m *metrics.Metrics
}

// watchingMeteredStore is a meteredStore over a store.KeyWatcher.
type watchingMeteredStore struct {
	*meteredStore
	watcher store.KeyWatcher
}

// WatchKeys implements store.KeyWatcher.
func (s *watchingMeteredStore) WatchKeys(ctx context.Context, w store.KeyWatch) error {
	return s.watcher.WatchKeys(ctx, w)
}

// GetKeyByHash implements store.Reader, timed as
// metrics.StoreOpGetKeyByHash.
func (s *meteredStore) GetKeyByHash(ctx context.Context, hash [32]byte) (store.Key, error) {
	start := time.Now()
	k, err := s.Store.GetKeyByHash(ctx, hash)
	s.m.ObserveStore(metrics.StoreOpGetKeyByHash, start)
	return k, err
}

// TouchKeys implements store.Store, timed as metrics.StoreOpTouchKeys.
func (s *meteredStore) TouchKeys(ctx context.Context, lastUsed map[string]time.Time) error {
	start := time.Now()
	err := s.Store.TouchKeys(ctx, lastUsed)
	s.m.ObserveStore(metrics.StoreOpTouchKeys, start)
	return err
}

// Update implements store.Store, timed as metrics.StoreOpUpdate. The audit
// events appended inside are counted once Update reports the commit; a
// rolled-back transaction counts none. A commit whose outcome the database
// never confirmed (a connection lost during COMMIT) is not counted either:
// the metric may undercount then, never overcount.
func (s *meteredStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	start := time.Now()
	var last *auditCountingTx
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		// Each run of fn gets its own record, so that only the run that
		// commits is counted should a backend ever retry fn.
		last = &auditCountingTx{Tx: tx}
		return fn(last)
	})
	s.m.ObserveStore(metrics.StoreOpUpdate, start)
	if err == nil && last != nil {
		for _, action := range last.actions {
			s.m.AuditEvent(action)
		}
	}
	return err
}

// auditCountingTx notes the action of every audit event appended through
// it. A transaction is used by one goroutine, so it needs no lock.
type auditCountingTx struct {
	store.Tx
	actions []string
}

// AppendAudit implements store.Tx.
func (t *auditCountingTx) AppendAudit(ctx context.Context, ev store.AuditEvent) error {
	if err := t.Tx.AppendAudit(ctx, ev); err != nil {
		return err
	}
	t.actions = append(t.actions, ev.Action)
	return nil
}
