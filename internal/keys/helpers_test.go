package keys

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/sqlite"
	"github.com/mapwright/mapwright/pkg/apikey"
)

var (
	testAuditKey = bytes.Repeat([]byte{7}, audit.KeySize)
	errInjected  = errors.New("injected fault")
	alice        = Actor{Name: "unix:1000(alice)", ClientIP: "192.0.2.77:50000"}
)

// faultStore wraps a real store to count lookups and inject failures.
type faultStore struct {
	store.Store
	byHash     atomic.Int64
	failLookup atomic.Bool
	failAppend atomic.Bool
	failTouch  atomic.Bool
	// onLoad, when set, runs after GetKeyByHash read the row and before it
	// returns it.
	onLoad  atomic.Pointer[func()]
	mu      sync.Mutex
	touches []map[string]time.Time
}

func (f *faultStore) GetKeyByHash(ctx context.Context, h [32]byte) (store.Key, error) {
	f.byHash.Add(1)
	if f.failLookup.Load() {
		return store.Key{}, fmt.Errorf("get key by hash: %w: injected outage", store.ErrUnavailable)
	}
	k, err := f.Store.GetKeyByHash(ctx, h)
	if hook := f.onLoad.Load(); hook != nil {
		(*hook)()
	}
	return k, err
}

func (f *faultStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return f.Store.Update(ctx, func(tx store.Tx) error {
		if f.failAppend.Load() {
			tx = faultTx{tx}
		}
		return fn(tx)
	})
}

func (f *faultStore) TouchKeys(ctx context.Context, m map[string]time.Time) error {
	if f.failTouch.Load() {
		return errInjected
	}
	f.mu.Lock()
	cp := make(map[string]time.Time, len(m))
	for k, v := range m {
		cp[k] = v
	}
	f.touches = append(f.touches, cp)
	f.mu.Unlock()
	return f.Store.TouchKeys(ctx, m)
}

func (f *faultStore) touchCalls() []map[string]time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]time.Time(nil), f.touches...)
}

// faultTx fails every audit append, as a full disk or a broken audit table
// would.
type faultTx struct{ store.Tx }

func (faultTx) AppendAudit(context.Context, store.AuditEvent) error { return errInjected }

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// opener opens a fresh, empty store, or two independent handles on one
// fresh database (two replicas, or two processes).
type opener struct {
	name string
	open func(t testing.TB) store.Store
	pair func(t testing.TB) (store.Store, store.Store)
}

func openSQLite(t testing.TB) store.Store {
	t.Helper()
	return openSQLitePath(t, filepath.Join(t.TempDir(), "mapwright.db"))
}

func openSQLitePath(t testing.TB, path string) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func openSQLitePair(t testing.TB) (store.Store, store.Store) {
	path := filepath.Join(t.TempDir(), "mapwright.db")
	return openSQLitePath(t, path), openSQLitePath(t, path)
}

// stores lists the backends the key tests run on; PostgreSQL joins when a
// test database is available (see postgres_test.go).
func stores() []opener {
	return append([]opener{{"sqlite", openSQLite, openSQLitePair}}, extraStores...)
}

type env struct {
	svc   *Service
	st    *faultStore
	clock *fakeClock
}

func newEnv(t testing.TB, st store.Store, opts Options) *env {
	t.Helper()
	return newEnvClock(t, st, opts, &fakeClock{t: time.Date(2025, 6, 1, 9, 30, 15, 0, time.UTC)})
}

func newEnvClock(t testing.TB, st store.Store, opts Options, clock *fakeClock) *env {
	t.Helper()
	fs := &faultStore{Store: st}
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	return &env{svc: New(fs, audit.New(testAuditKey, clock.Now), opts), st: fs, clock: clock}
}

func (e *env) issue(t testing.TB, req IssueRequest) Issued {
	t.Helper()
	if req.Name == "" {
		req.Name = "test key"
	}
	if req.Kind == 0 {
		req.Kind = apikey.Public
	}
	iss, err := e.svc.Issue(context.Background(), req, alice)
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func (e *env) head(t testing.TB) int64 {
	t.Helper()
	h, err := e.st.AuditHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h.Seq
}

func (e *env) events(t testing.TB) []store.AuditEvent {
	t.Helper()
	var evs []store.AuditEvent
	if err := e.st.ScanAudit(context.Background(), 1, 0, func(ev store.AuditEvent) error {
		evs = append(evs, ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return evs
}

func (e *env) verifyChain(t testing.TB) {
	t.Helper()
	res, err := audit.Verify(context.Background(), e.st, testAuditKey, audit.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Fatalf("audit chain broken: %+v", res)
	}
}

func tp(t time.Time) *time.Time { return &t }
