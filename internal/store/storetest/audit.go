package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mapwright/mapwright/internal/store"
)

var auditTests = []test{
	{"EmptyLog", testAuditEmpty},
	{"AppendAndScan", testAuditAppendScan},
	{"SeveralEventsInOneTransaction", testAuditSeveralInOneTx},
	{"OutOfOrderAppends", testAuditOutOfOrder},
	{"ConcurrentAppenders", testAuditConcurrent},
	{"ScanStopsOnError", testAuditScanStops},
	{"ScanLongLog", testAuditScanLong},
	{"RollbackDropsKeyAndEvent", testRollback},
	{"PanicRollsBack", testPanicRollsBack},
	{"UncommittedInvisible", testUncommittedInvisible},
}

// event returns a sample event, without its chain fields.
func event(i int) store.AuditEvent {
	ev := store.AuditEvent{
		Time:    t0.Add(time.Duration(i) * time.Second),
		Actor:   "unix:1000(alice)",
		Action:  "key.create",
		Target:  keyID(i),
		Outcome: "success",
	}
	switch i % 3 {
	case 1:
		ev.Details = map[string]string{"kind": "public", "name": `deploy "bot" ✓`, "scopes": "tiles:read"}
		ev.ClientIP = "192.0.2.0"
	case 2:
		ev.Action = "auth.failure"
		ev.Actor = "system"
		ev.Target = ""
		ev.Outcome = "failure"
		ev.ClientIP = "2001:db8:1::"
		ev.Details = map[string]string{}
	}
	return ev
}

// appendEvents appends events 1..n, one transaction each, and returns them
// as written (empty Details normalised to nil).
func appendEvents(t *testing.T, s store.Store, n int) []store.AuditEvent {
	t.Helper()
	var out []store.AuditEvent
	for i := 1; i <= n; i++ {
		err := s.Update(t.Context(), func(tx store.Tx) error {
			ev, err := appendEvent(t.Context(), tx, event(i))
			if len(ev.Details) == 0 {
				ev.Details = nil
			}
			out = append(out, ev)
			return err
		})
		if err != nil {
			t.Fatalf("append event %d: %v", i, err)
		}
	}
	return out
}

func testAuditEmpty(t *testing.T, s store.Store) {
	ctx := t.Context()
	h, err := s.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Seq != 0 || h.Hash != nil {
		t.Errorf("AuditHead of an empty log = {%d, %x}, want the zero head", h.Seq, h.Hash)
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		h, err := tx.LockAuditHead(ctx)
		if err != nil {
			return err
		}
		if h.Seq != 0 || h.Hash != nil {
			t.Errorf("LockAuditHead of an empty log = {%d, %x}, want the zero head", h.Seq, h.Hash)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if evs := scanAll(t, s); len(evs) != 0 {
		t.Errorf("ScanAudit returned %d events from an empty log", len(evs))
	}
}

func testAuditAppendScan(t *testing.T, s store.Store) {
	ctx := t.Context()
	written := appendEvents(t, s, 6)
	h, err := s.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Seq != 6 || !bytes.Equal(h.Hash, written[5].Hash) {
		t.Errorf("AuditHead = {%d, %x}, want {6, %x}", h.Seq, h.Hash, written[5].Hash)
	}
	checkChain(t, scanAll(t, s), 6)

	cases := []struct {
		name     string
		from, to int64
		want     []int64
	}{
		{"everything", 1, 0, []int64{1, 2, 3, 4, 5, 6}},
		{"from zero", 0, 0, []int64{1, 2, 3, 4, 5, 6}},
		{"closed range", 2, 4, []int64{2, 3, 4}},
		{"one event", 3, 3, []int64{3}},
		{"to the end", 5, -1, []int64{5, 6}},
		{"to past the end", 5, 100, []int64{5, 6}},
		{"after the end", 7, 0, nil},
		{"empty range", 4, 2, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []int64
			err := s.ScanAudit(ctx, tc.from, tc.to, func(ev store.AuditEvent) error {
				got = append(got, ev.Seq)
				if d := diffEvents(written[ev.Seq-1], ev); d != "" {
					t.Errorf("event %d: %s", ev.Seq, d)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("ScanAudit(%d, %d) = %v, want %v", tc.from, tc.to, got, tc.want)
			}
		})
	}
}

func testAuditSeveralInOneTx(t *testing.T, s store.Store) {
	ctx := t.Context()
	appendEvents(t, s, 2)
	err := s.Update(ctx, func(tx store.Tx) error {
		for i := 3; i <= 5; i++ {
			if _, err := appendEvent(ctx, tx, event(i)); err != nil {
				return err
			}
		}
		// The transaction sees its own appends.
		h, err := tx.AuditHead(ctx)
		if err != nil {
			return err
		}
		if h.Seq != 5 {
			t.Errorf("AuditHead inside the transaction = %d, want 5", h.Seq)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkChain(t, scanAll(t, s), 5)
}

func testAuditOutOfOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	written := appendEvents(t, s, 3)
	head := written[2]
	cases := []struct {
		name     string
		lock     bool
		seq      int64
		prev     []byte
		conflict bool
	}{
		{"sequence skips one", true, head.Seq + 2, head.Hash, true},
		{"sequence repeats the head", true, head.Seq, head.Hash, true},
		{"sequence goes back", true, 1, genesis, true},
		{"previous hash is not the head's", true, head.Seq + 1, written[1].Hash, true},
		{"previous hash missing", true, head.Seq + 1, nil, true},
		{"head not locked first", false, head.Seq + 1, head.Hash, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(ctx, func(tx store.Tx) error {
				if tc.lock {
					if _, err := tx.LockAuditHead(ctx); err != nil {
						return err
					}
				}
				ev := event(9)
				ev.Seq, ev.PrevHash, ev.Hash = tc.seq, tc.prev, chainHash(tc.prev, tc.seq)
				return tx.AppendAudit(ctx, ev)
			})
			if err == nil {
				t.Fatal("AppendAudit succeeded")
			}
			if got := errors.Is(err, store.ErrConflict); got != tc.conflict {
				t.Errorf("errors.Is(%v, ErrConflict) = %v, want %v", err, got, tc.conflict)
			}
			h, err := s.AuditHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if h.Seq != head.Seq || !bytes.Equal(h.Hash, head.Hash) {
				t.Errorf("the head moved to %d", h.Seq)
			}
		})
	}
	checkChain(t, scanAll(t, s), 3)
}

// testAuditConcurrent has many goroutines append at once, each in its own
// transaction: the log must come out as one chain, 1..n, with no fork.
func testAuditConcurrent(t *testing.T, s store.Store) {
	const workers, perWorker = 8, 50
	var g errgroup.Group
	for w := range workers {
		g.Go(func() error {
			for i := range perWorker {
				err := s.Update(t.Context(), func(tx store.Tx) error {
					ev := event(w*perWorker + i)
					ev.Actor = fmt.Sprintf("worker-%d", w)
					_, err := appendEvent(t.Context(), tx, ev)
					return err
				})
				if err != nil {
					return fmt.Errorf("worker %d, append %d: %w", w, i, err)
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	evs := scanAll(t, s)
	checkChain(t, evs, workers*perWorker)
	perActor := map[string]int{}
	for _, ev := range evs {
		perActor[ev.Actor]++
	}
	for w := range workers {
		if n := perActor[fmt.Sprintf("worker-%d", w)]; n != perWorker {
			t.Errorf("worker %d has %d events, want %d", w, n, perWorker)
		}
	}
}

func testAuditScanStops(t *testing.T, s store.Store) {
	appendEvents(t, s, 10)
	errStop := errors.New("stop here")
	calls := 0
	err := s.ScanAudit(t.Context(), 1, 0, func(ev store.AuditEvent) error {
		calls++
		if ev.Seq == 4 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("ScanAudit returned %v, want the callback's error", err)
	}
	if calls != 4 {
		t.Errorf("callback ran %d times, want 4", calls)
	}
	// The store is still usable: the stopped scan released its connection.
	checkChain(t, scanAll(t, s), 10)
}

func testRollback(t *testing.T, s store.Store) {
	ctx := t.Context()
	kept := appendEvents(t, s, 1)
	k := fullKey(1)
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.InsertKey(ctx, k); err != nil {
			return err
		}
		if _, err := appendEvent(ctx, tx, event(2)); err != nil {
			return err
		}
		return fmt.Errorf("audit sink refused: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update returned %v, want the callback's error", err)
	}
	if _, err := s.GetKey(ctx, k.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetKey after rollback: got %v, want ErrNotFound", err)
	}
	if _, err := s.GetKeyByHash(ctx, k.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetKeyByHash after rollback: got %v, want ErrNotFound", err)
	}
	h, err := s.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Seq != 1 || !bytes.Equal(h.Hash, kept[0].Hash) {
		t.Errorf("head after rollback = %d, want 1", h.Seq)
	}
	checkChain(t, scanAll(t, s), 1)
	// The sequence number rolled back with the rest: the next append
	// reuses it.
	appendEventsAfter(t, s)
	checkChain(t, scanAll(t, s), 2)
}

func appendEventsAfter(t *testing.T, s store.Store) {
	t.Helper()
	if err := s.Update(t.Context(), func(tx store.Tx) error {
		_, err := appendEvent(t.Context(), tx, event(5))
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func testPanicRollsBack(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := minimalKey(1)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic did not reach the caller")
			}
		}()
		s.Update(ctx, func(tx store.Tx) error {
			if err := tx.InsertKey(ctx, k); err != nil {
				return err
			}
			panic("callback bug")
		})
	}()
	if _, err := s.GetKey(ctx, k.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetKey after the panic: got %v, want ErrNotFound", err)
	}
	// The store is not left locked.
	insertKeys(t, s, k)
	getKey(t, s, k.ID)
}

func testUncommittedInvisible(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := minimalKey(1)
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.InsertKey(ctx, k); err != nil {
			return err
		}
		if _, err := appendEvent(ctx, tx, event(1)); err != nil {
			return err
		}
		if _, err := s.GetKey(ctx, k.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetKey outside the transaction: got %v, want ErrNotFound before commit", err)
		}
		if h, err := s.AuditHead(ctx); err != nil || h.Seq != 0 {
			t.Errorf("AuditHead outside the transaction = %d, %v; want 0 before commit", h.Seq, err)
		}
		counts, err := tx.CountKeys(ctx, t0)
		if err != nil {
			return err
		}
		if counts[store.StateActive] != 1 {
			t.Errorf("CountKeys inside the transaction = %v, want one active key", counts)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	getKey(t, s, k.ID)
}

// testAuditScanLong scans a log longer than any batch a backend might read
// at once, whole and in ranges across the batch boundaries, and uses the
// store from inside the callback.
func testAuditScanLong(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 1207
	err := s.Update(ctx, func(tx store.Tx) error {
		for i := 1; i <= n; i++ {
			if _, err := appendEvent(ctx, tx, event(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkChain(t, scanAll(t, s), n)
	cases := []struct {
		name     string
		from, to int64
	}{
		{"first 500", 1, 500},
		{"first 501", 1, 501},
		{"around 1000", 999, 1001},
		{"from 499 to the end", 499, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.from
			err := s.ScanAudit(ctx, tc.from, tc.to, func(ev store.AuditEvent) error {
				if ev.Seq != want {
					return fmt.Errorf("got seq %d, want %d", ev.Seq, want)
				}
				want++
				// The callback may use the store while the scan runs.
				if ev.Seq%250 == 0 {
					if _, err := s.AuditHead(ctx); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			last := tc.to
			if last <= 0 {
				last = n
			}
			if want != last+1 {
				t.Errorf("scan ended before %d, want after %d", want, last)
			}
		})
	}
	t.Run("inside a transaction, using it from the callback", func(t *testing.T) {
		err := s.Update(ctx, func(tx store.Tx) error {
			seen := 0
			err := tx.ScanAudit(ctx, n-600, 0, func(ev store.AuditEvent) error {
				seen++
				_, err := tx.GetKey(ctx, keyID(1))
				if !errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("GetKey in the callback: %v", err)
				}
				return nil
			})
			if err == nil && seen != 601 {
				err = fmt.Errorf("saw %d events, want 601", seen)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
