package keys

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/pkg/apikey"
)

// revokeBehindBack revokes a key in the database without telling the
// service, as another replica would.
func revokeBehindBack(t *testing.T, e *env, id string) {
	t.Helper()
	err := e.st.Store.Update(context.Background(), func(tx store.Tx) error {
		k, err := tx.GetKey(context.Background(), id)
		if err != nil {
			return err
		}
		now := store.Micro(e.clock.Now())
		k.RevokedAt = &now
		return tx.UpdateKey(context.Background(), k)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOutageGraceKeepsVerifiedKeysServing(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, openSQLite(t), Options{CacheTTL: 30 * time.Second, OutageGrace: 5 * time.Minute})
	good := e.issue(t, IssueRequest{Name: "good"})
	revoked := e.issue(t, IssueRequest{Name: "revoked"})
	if _, _, err := e.svc.Revoke(ctx, revoked.Key.ID, "test", alice); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{good.Token, revoked.Token} {
		_, _ = e.svc.Verify(ctx, tok) // now cached
	}
	unknown, err := apikey.Generate(apikey.Public)
	if err != nil {
		t.Fatal(err)
	}

	e.st.failLookup.Store(true)
	e.clock.Advance(31 * time.Second) // past the cache TTL
	if _, err := e.svc.Verify(ctx, good.Token); err != nil {
		t.Fatalf("verified key during the outage: %v, want it served", err)
	}
	if _, err := e.svc.Verify(ctx, revoked.Token); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked key during the outage: %v, want ErrRevoked", err)
	}
	if _, err := e.svc.Verify(ctx, unknown); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("never-verified key during the outage: %v, want ErrStoreUnavailable", err)
	}
	if n := e.svc.StaleServed(); n != 2 {
		t.Errorf("StaleServed = %d, want 2", n)
	}
	// Right after a failed lookup, lookups fail without asking the store.
	lookups := e.st.byHash.Load()
	for range 20 {
		_, _ = e.svc.Verify(ctx, unknown)
	}
	if n := e.st.byHash.Load() - lookups; n != 0 {
		t.Errorf("%d store lookups right after one failed, want 0", n)
	}

	e.clock.Advance(5 * time.Minute) // past the grace
	if _, err := e.svc.Verify(ctx, good.Token); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("after the outage grace: %v, want ErrStoreUnavailable", err)
	}

	e.st.failLookup.Store(false)
	e.clock.Advance(time.Second)
	if _, err := e.svc.Verify(ctx, good.Token); err != nil {
		t.Fatalf("after the store came back: %v", err)
	}
	if _, err := e.svc.Verify(ctx, unknown); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key after the store came back: %v, want ErrUnknownKey", err)
	}
}

func TestOutageWithoutGraceFailsClosed(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, openSQLite(t), Options{CacheTTL: 30 * time.Second})
	good := e.issue(t, IssueRequest{})
	if _, err := e.svc.Verify(ctx, good.Token); err != nil {
		t.Fatal(err)
	}
	e.st.failLookup.Store(true)
	if _, err := e.svc.Verify(ctx, good.Token); err != nil {
		t.Fatalf("within the TTL the cache answers: %v", err)
	}
	e.clock.Advance(31 * time.Second)
	if _, err := e.svc.Verify(ctx, good.Token); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("past the TTL with no grace: %v, want ErrStoreUnavailable", err)
	}
}

func TestUnwatchedShortensTheCacheTTL(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, openSQLite(t), Options{CacheTTL: time.Hour, UnwatchedTTL: 2 * time.Second})
	a := e.issue(t, IssueRequest{Name: "a"})
	b := e.issue(t, IssueRequest{Name: "b"})
	for _, tok := range []string{a.Token, b.Token} {
		if _, err := e.svc.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if !e.svc.ReceivingNotices() {
		t.Fatal("a new service should assume it receives notices")
	}

	// Notices lost: a revocation made elsewhere shows within UnwatchedTTL,
	// not the hour-long TTL.
	e.svc.Watching(false, errors.New("connection lost"))
	revokeBehindBack(t, e, a.Key.ID)
	if _, err := e.svc.Verify(ctx, a.Token); err != nil {
		t.Fatalf("within the short TTL: %v", err)
	}
	e.clock.Advance(3 * time.Second)
	if _, err := e.svc.Verify(ctx, a.Token); !errors.Is(err, ErrRevoked) {
		t.Fatalf("past the short TTL: %v, want ErrRevoked", err)
	}

	// Notices back: everything cached is rechecked, since some were missed.
	if _, err := e.svc.Verify(ctx, b.Token); err != nil {
		t.Fatal(err)
	}
	e.svc.Watching(true, nil)
	if !e.svc.ReceivingNotices() {
		t.Fatal("ReceivingNotices after Watching(true)")
	}
	revokeBehindBack(t, e, b.Key.ID)
	if _, err := e.svc.Verify(ctx, b.Token); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after notices resumed: %v, want ErrRevoked (cache rechecked)", err)
	}

	// A notice drops one key at once, and AllKeysChanged every key.
	c := e.issue(t, IssueRequest{Name: "c"})
	if _, err := e.svc.Verify(ctx, c.Token); err != nil {
		t.Fatal(err)
	}
	revokeBehindBack(t, e, c.Key.ID)
	e.svc.KeyChanged(c.Key.Hash)
	if _, err := e.svc.Verify(ctx, c.Token); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after KeyChanged: %v, want ErrRevoked", err)
	}
	lookups := e.st.byHash.Load()
	e.svc.AllKeysChanged()
	_, _ = e.svc.Verify(ctx, c.Token)
	if e.st.byHash.Load() != lookups+1 {
		t.Error("AllKeysChanged left the cache in place")
	}
}

// TestLockedSQLiteFile holds the SQLite write lock from another
// connection, as another process would: verification keeps working (reads
// do not wait for the writer in WAL mode), key changes fail with a clear
// unavailable-database error and leave nothing behind, and all recovers
// when the lock goes.
func TestLockedSQLiteFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mapwright.db")
	e := newEnv(t, openSQLitePath(t, path), Options{CacheTTL: time.Second, OutageGrace: time.Minute})
	good := e.issue(t, IssueRequest{Name: "good"})
	if _, err := e.svc.Verify(ctx, good.Token); err != nil {
		t.Fatal(err)
	}
	head := e.head(t)

	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	locked := true
	unlock := func() {
		if locked {
			locked = false
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		}
	}
	defer unlock()

	e.clock.Advance(2 * time.Second) // past the cache TTL: the database is asked
	if _, err := e.svc.Verify(ctx, good.Token); err != nil {
		t.Fatalf("verified key while the file is locked: %v", err)
	}
	unknown, _ := apikey.Generate(apikey.Public)
	if _, err := e.svc.Verify(ctx, unknown); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key while the file is locked: %v, want ErrUnknownKey", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, _, err = e.svc.Revoke(wctx, good.Key.ID, "blocked", alice)
	cancel()
	if !errors.Is(err, store.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("revoke while the file is locked: %v, want an unavailable database", err)
	}
	if _, err := e.svc.Verify(ctx, good.Token); err != nil {
		t.Fatalf("the failed revocation took effect: %v", err)
	}
	if got := e.head(t); got != head {
		t.Fatalf("audit head moved from %d to %d by a failed write", head, got)
	}

	unlock()
	if _, _, err := e.svc.Revoke(ctx, good.Key.ID, "after", alice); err != nil {
		t.Fatalf("revoke after the lock went: %v", err)
	}
	if _, err := e.svc.Verify(ctx, good.Token); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after revocation: %v, want ErrRevoked", err)
	}
	e.verifyChain(t)
}

// TestNoticesResumingKeepsOutageFallback: when notices resume (as they do
// when the database comes back), cached keys are rechecked, yet remain the
// fallback should the database fail again before the recheck.
func TestNoticesResumingKeepsOutageFallback(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, openSQLite(t), Options{CacheTTL: time.Hour, OutageGrace: 5 * time.Minute})
	good := e.issue(t, IssueRequest{})
	if _, err := e.svc.Verify(ctx, good.Token); err != nil {
		t.Fatal(err)
	}
	e.svc.Watching(false, errors.New("connection lost"))
	e.svc.Watching(true, nil)
	e.st.failLookup.Store(true)
	if _, err := e.svc.Verify(ctx, good.Token); err != nil {
		t.Fatalf("database failing right after notices resumed: %v, want the key served", err)
	}
	e.st.failLookup.Store(false)
	e.clock.Advance(time.Second)
	lookups := e.st.byHash.Load()
	if _, err := e.svc.Verify(ctx, good.Token); err != nil {
		t.Fatal(err)
	}
	if e.st.byHash.Load() != lookups+1 {
		t.Error("the key was not rechecked in the database after notices resumed")
	}
}
