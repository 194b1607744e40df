package postgres

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mapwright/mapwright/internal/store"
)

// keyChannel is the notification channel of key changes. A payload is the
// hex SHA-256 token hash of the key that changed, or allKeys.
const (
	keyChannel = "mapwright_keys"
	allKeys    = "*"
)

// Watch timing: how long a listening connection may stay silent before it
// is probed, how long the probe may take, and the bounds of the delay
// between reconnection attempts.
const (
	watchIdle     = 15 * time.Second
	watchProbe    = 5 * time.Second
	watchRetryMin = 100 * time.Millisecond
	watchRetryMax = 5 * time.Second
)

var _ store.KeyWatcher = (*Store)(nil)

// notifyKey queues a change notice for the key with token hash hash. The
// server delivers it when the transaction commits, and not at all when it
// rolls back, so listeners never hear of a change that did not happen.
func notifyKey(ctx context.Context, q querier, hash []byte) error {
	if _, err := q.Exec(ctx, "SELECT pg_notify($1, $2)", keyChannel, hex.EncodeToString(hash)); err != nil {
		return fmt.Errorf("notify key change: %w", mapErr(err))
	}
	return nil
}

// WatchKeys listens for key changes on a connection of its own, taken out
// of the pool, until ctx ends. See store.KeyWatcher.
//
// A silent connection is probed every watchIdle, so a server that vanished
// without closing the connection is noticed within watchIdle+watchProbe.
// Reconnection attempts back off from watchRetryMin to watchRetryMax.
func (s *Store) WatchKeys(ctx context.Context, w store.KeyWatch) error {
	delay := watchRetryMin
	for {
		listening, err := s.watchOnce(ctx, w)
		if ctx.Err() != nil {
			return nil
		}
		w.Watching(false, err)
		if listening {
			delay = watchRetryMin
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		delay = min(delay*2, watchRetryMax)
	}
}

// watchOnce listens on one connection until it fails or ctx ends. listening
// reports whether LISTEN succeeded first.
func (s *Store) watchOnce(ctx context.Context, w store.KeyWatch) (listening bool, err error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("watch keys: connect: %w", mapErr(err))
	}
	// The connection leaves the pool for good: it spends its life waiting,
	// and closing it is how the session's LISTEN ends.
	conn := pc.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+keyChannel); err != nil {
		return false, fmt.Errorf("watch keys: listen: %w", mapErr(err))
	}
	w.Watching(true, nil)
	for {
		n, err := waitNotice(ctx, conn)
		switch {
		case ctx.Err() != nil:
			return true, nil
		case err != nil:
			return true, fmt.Errorf("watch keys: %w", mapErr(err))
		case n == nil: // idle: make sure the server is still there
			probeCtx, cancel := context.WithTimeout(ctx, watchProbe)
			_, err := conn.Exec(probeCtx, "SELECT 1")
			cancel()
			if err != nil && ctx.Err() == nil {
				return true, fmt.Errorf("watch keys: probe: %w", mapErr(err))
			}
		default:
			deliver(w, n.Payload)
		}
	}
}

// waitNotice waits up to watchIdle for a notification. It returns nil and
// no error when none came: a timed-out wait leaves the connection usable.
func waitNotice(ctx context.Context, conn *pgx.Conn) (*pgconn.Notification, error) {
	waitCtx, cancel := context.WithTimeout(ctx, watchIdle)
	defer cancel()
	n, err := conn.WaitForNotification(waitCtx)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, nil
	}
	return n, err
}

// deliver passes one notice on. A payload that is not a hash (which
// Mapwright never sends) is treated as a change to every key.
func deliver(w store.KeyWatch, payload string) {
	var h [32]byte
	if payload == allKeys || hex.DecodedLen(len(payload)) != len(h) {
		w.AllKeysChanged()
		return
	}
	if _, err := hex.Decode(h[:], []byte(payload)); err != nil {
		w.AllKeysChanged()
		return
	}
	w.KeyChanged(h)
}
