package postgres_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/testutil/pgtest"
)

// watchEvent is one call on a KeyWatch.
type watchEvent struct {
	kind string // "key", "all", "up", "down"
	hash [32]byte
}

// recordingWatch sends every call it gets on a channel.
type recordingWatch chan watchEvent

func (w recordingWatch) KeyChanged(h [32]byte) { w <- watchEvent{kind: "key", hash: h} }
func (w recordingWatch) AllKeysChanged()       { w <- watchEvent{kind: "all"} }
func (w recordingWatch) Watching(ok bool, _ error) {
	if ok {
		w <- watchEvent{kind: "up"}
	} else {
		w <- watchEvent{kind: "down"}
	}
}

// next returns the next event, failing the test when none comes within a
// generous bound (a lost notice, not a slow one).
func (w recordingWatch) next(t *testing.T) watchEvent {
	t.Helper()
	select {
	case ev := <-w:
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("no key watch event")
		return watchEvent{}
	}
}

func (w recordingWatch) want(t *testing.T, kind string, hash [32]byte) {
	t.Helper()
	ev := w.next(t)
	if ev.kind != kind || (kind == "key" && ev.hash != hash) {
		t.Fatalf("watch event %s %x, want %s %x", ev.kind, ev.hash[:4], kind, hash[:4])
	}
}

func watchKey(n int) store.Key {
	return store.Key{
		ID:        fmt.Sprintf("key_01JQWATCH00000000000000%03d", n),
		Kind:      "public",
		Start:     "mpw_pk_W" + fmt.Sprintf("%03d", n),
		Hash:      sha256.Sum256(fmt.Appendf(nil, "watch token %d", n)),
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

// TestWatchKeys runs a watcher on one handle while another, as a second
// replica, changes keys: every committed change arrives, a rolled-back one
// never does, a restore says every key changed, and a killed listening
// connection is reported and replaced.
func TestWatchKeys(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	writer, watcher := openURL(t, url), openURL(t, url)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	w := make(recordingWatch, 16)
	done := make(chan error, 1)
	go func() { done <- watcher.WatchKeys(ctx, w) }()
	w.want(t, "up", [32]byte{})

	k1, k2 := watchKey(1), watchKey(2)
	if err := writer.Update(ctx, func(tx store.Tx) error { return tx.InsertKey(ctx, k1) }); err != nil {
		t.Fatal(err)
	}
	w.want(t, "key", k1.Hash)

	// A change rolled back is never announced: the next notice is k2's.
	errAbort := errors.New("abort")
	err := writer.Update(ctx, func(tx store.Tx) error {
		k := k1
		k.Name = "renamed"
		if err := tx.UpdateKey(ctx, k); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("update: %v", err)
	}
	if err := writer.Update(ctx, func(tx store.Tx) error { return tx.InsertKey(ctx, k2) }); err != nil {
		t.Fatal(err)
	}
	w.want(t, "key", k2.Hash)

	// An update (a revocation, say) is announced.
	err = writer.Update(ctx, func(tx store.Tx) error {
		k := k1
		now := time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)
		k.RevokedAt = &now
		return tx.UpdateKey(ctx, k)
	})
	if err != nil {
		t.Fatal(err)
	}
	w.want(t, "key", k1.Hash)

	// A restore replaces every key.
	if err := writer.Restore(ctx, store.RestoreOptions{Force: true}, func(store.RestoreTx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	w.want(t, "all", [32]byte{})

	// The listening connection dies: the watcher says so, listens again,
	// and announces what follows.
	_, err = writer.Pool().Exec(ctx, `
		SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	if err != nil {
		t.Fatal(err)
	}
	w.want(t, "down", [32]byte{})
	w.want(t, "up", [32]byte{})
	k3 := watchKey(3)
	if err := writer.Update(ctx, func(tx store.Tx) error { return tx.InsertKey(ctx, k3) }); err != nil {
		t.Fatal(err)
	}
	w.want(t, "key", k3.Hash)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("WatchKeys after cancel: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("WatchKeys did not return after its context ended")
	}
}
