package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/store"
)

var testKey = bytes.Repeat([]byte{0x42}, KeySize)

// clock is a deterministic time source that advances by a millisecond and
// a fraction of a microsecond per call, so Micro truncation is exercised.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond + 333)
	return c.t
}

// appendN writes n standalone events and returns them as stored.
func appendN(t *testing.T, l *Log, st store.Store, n int) []store.AuditEvent {
	t.Helper()
	var out []store.AuditEvent
	for i := range n {
		ev, err := l.AppendStandalone(context.Background(), st, Event{
			Actor:    "unix:1000(alice)",
			Action:   ActionKeyCreate,
			Target:   fmt.Sprintf("key_%02d", i),
			Details:  map[string]string{"name": fmt.Sprintf("key %d", i), "kind": "public"},
			ClientIP: "203.0.113.9:40000",
		})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

func scanAll(t *testing.T, r store.Reader) []store.AuditEvent {
	t.Helper()
	var evs []store.AuditEvent
	if err := r.ScanAudit(context.Background(), 1, 0, func(ev store.AuditEvent) error {
		evs = append(evs, ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return evs
}

func mustVerify(t *testing.T, r store.Reader, key []byte, opts VerifyOptions) Result {
	t.Helper()
	res, err := Verify(context.Background(), r, key, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestAppendBuildsVerifiableChain(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			st, _ := b.open(t)
			l := New(testKey, newClock().Now)
			written := appendN(t, l, st, 20)

			stored := scanAll(t, st)
			if len(stored) != 20 {
				t.Fatalf("%d events stored, want 20", len(stored))
			}
			if !bytes.Equal(stored[0].PrevHash, make([]byte, 32)) {
				t.Fatal("first event's previous hash is not 32 zero bytes")
			}
			for i, ev := range stored {
				if ev.Seq != int64(i+1) {
					t.Fatalf("event %d has seq %d", i+1, ev.Seq)
				}
				if ev.ClientIP != "203.0.113.0" {
					t.Fatalf("client IP stored as %q, want the /24 network", ev.ClientIP)
				}
				if ev.Outcome != OutcomeSuccess {
					t.Fatalf("empty outcome stored as %q, want success", ev.Outcome)
				}
				if !ev.Time.Equal(written[i].Time) || ev.Time.Nanosecond()%1000 != 0 {
					t.Fatalf("time %v stored as %v", written[i].Time, ev.Time)
				}
				if !bytes.Equal(ev.Hash, written[i].Hash) {
					t.Fatalf("event %d: stored hash differs from the one Append returned", ev.Seq)
				}
				if i > 0 && !bytes.Equal(ev.PrevHash, stored[i-1].Hash) {
					t.Fatalf("event %d does not chain to its predecessor", ev.Seq)
				}
			}

			res := mustVerify(t, st, testKey, VerifyOptions{})
			if !res.OK || res.Checked != 20 || res.FirstBad != 0 || res.Reason != "" {
				t.Fatalf("clean chain: %+v", res)
			}
			if res.Head.Seq != 20 || !bytes.Equal(res.Head.Hash, stored[19].Hash) {
				t.Fatalf("result head %d, want 20 with the last hash", res.Head.Seq)
			}
			res = mustVerify(t, st, testKey, VerifyOptions{ExpectHead: res.Head})
			if !res.OK {
				t.Fatalf("remembered head of a clean chain: %+v", res)
			}
		})
	}
}

func TestVerifyEmptyLog(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			st, _ := b.open(t)
			res := mustVerify(t, st, testKey, VerifyOptions{})
			if !res.OK || res.Checked != 0 {
				t.Fatalf("empty log: %+v", res)
			}
		})
	}
}

func TestVerifyRanges(t *testing.T) {
	st, _ := openSQLite(t)
	evs := appendN(t, New(testKey, newClock().Now), st, 10)
	cases := []struct {
		name        string
		opts        VerifyOptions
		ok          bool
		checked     int64
		firstBad    int64
		wantOptsErr bool
	}{
		{name: "from 4", opts: VerifyOptions{From: 4}, ok: true, checked: 7},
		{name: "from 4 anchored", opts: VerifyOptions{From: 4, Anchor: evs[2].Hash}, ok: true, checked: 7},
		{name: "from 4 wrong anchor", opts: VerifyOptions{From: 4, Anchor: evs[1].Hash}, firstBad: 4},
		{name: "4 to 6", opts: VerifyOptions{From: 4, To: 6}, ok: true, checked: 3},
		{name: "to beyond the end", opts: VerifyOptions{To: 99}, ok: true, checked: 10},
		{name: "from beyond the end", opts: VerifyOptions{From: 50}, ok: true, checked: 0},
		{name: "remembered head inside range", opts: VerifyOptions{To: 6, ExpectHead: store.AuditHead{Seq: 5, Hash: evs[4].Hash}}, ok: true, checked: 6},
		{name: "remembered head with another hash", opts: VerifyOptions{ExpectHead: store.AuditHead{Seq: 5, Hash: evs[3].Hash}}, firstBad: 5},
		{name: "to before from", opts: VerifyOptions{From: 5, To: 4}, wantOptsErr: true},
		{name: "remembered head before from", opts: VerifyOptions{From: 5, ExpectHead: store.AuditHead{Seq: 2, Hash: evs[1].Hash}}, wantOptsErr: true},
		{name: "short anchor", opts: VerifyOptions{From: 5, Anchor: []byte{1}}, wantOptsErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Verify(context.Background(), st, testKey, tc.opts)
			if tc.wantOptsErr {
				if !errors.Is(err, ErrInvalidOptions) {
					t.Fatalf("error %v, want ErrInvalidOptions", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.OK != tc.ok || res.FirstBad != tc.firstBad || (tc.ok && res.Checked != tc.checked) {
				t.Fatalf("result %+v, want ok=%v checked=%d firstBad=%d", res, tc.ok, tc.checked, tc.firstBad)
			}
		})
	}
}

func TestVerifyWithWrongKeyFailsAtFirstEvent(t *testing.T) {
	st, _ := openSQLite(t)
	appendN(t, New(testKey, newClock().Now), st, 3)
	other := bytes.Repeat([]byte{0x43}, KeySize)
	res := mustVerify(t, st, other, VerifyOptions{})
	if res.OK || res.FirstBad != 1 {
		t.Fatalf("verifying with another key: %+v", res)
	}
	if _, err := Verify(context.Background(), st, testKey[:16], VerifyOptions{}); !errors.Is(err, ErrKeySize) {
		t.Fatalf("short key: error %v, want ErrKeySize", err)
	}
}

// TestVerifyDetectsTampering plays an attacker with write access to the
// database but not to the audit key.
func TestVerifyDetectsTampering(t *testing.T) {
	const cols = "seq, time, actor, action, target, outcome, details, client_ip, prev_hash, hash"
	cases := []struct {
		name     string
		stmts    []string
		remember bool // verify against the head seen before tampering
		firstBad int64
		reason   string
	}{
		{name: "edited actor", firstBad: 5, reason: "does not match its hash",
			stmts: []string{"UPDATE audit_events SET actor = 'unix:0(root)' WHERE seq = 5"}},
		{name: "edited details", firstBad: 3, reason: "does not match its hash",
			stmts: []string{`UPDATE audit_events SET details = '{"kind":"secret","name":"key 2"}' WHERE seq = 3`}},
		{name: "edited time", firstBad: 7, reason: "does not match its hash",
			stmts: []string{"UPDATE audit_events SET time = time + 1 WHERE seq = 7"}},
		{name: "edited client ip", firstBad: 2, reason: "does not match its hash",
			stmts: []string{"UPDATE audit_events SET client_ip = '198.51.100.0' WHERE seq = 2"}},
		{name: "edited outcome in the last event", firstBad: 10, reason: "does not match its hash",
			stmts: []string{"UPDATE audit_events SET outcome = 'failure' WHERE seq = 10"}},
		{name: "edited previous hash", firstBad: 6, reason: "does not chain",
			stmts: []string{"UPDATE audit_events SET prev_hash = (SELECT hash FROM audit_events WHERE seq = 3) WHERE seq = 6"}},
		{name: "deleted row", firstBad: 4, reason: "missing",
			stmts: []string{"DELETE FROM audit_events WHERE seq = 4"}},
		{name: "deleted first row", firstBad: 1, reason: "missing",
			stmts: []string{"DELETE FROM audit_events WHERE seq = 1"}},
		{name: "reordered pair", firstBad: 6, reason: "does not chain",
			stmts: []string{
				"UPDATE audit_events SET seq = 1000 WHERE seq = 6",
				"UPDATE audit_events SET seq = 6 WHERE seq = 7",
				"UPDATE audit_events SET seq = 7 WHERE seq = 1000",
			}},
		{name: "inserted row with renumbering", firstBad: 5, reason: "does not match its hash",
			stmts: []string{
				"UPDATE audit_events SET seq = seq + 1000 WHERE seq >= 5",
				"UPDATE audit_events SET seq = seq - 999 WHERE seq >= 1000",
				"INSERT INTO audit_events (" + cols + ") SELECT 5, time, 'unix:0(root)', action, target, outcome, details, client_ip, prev_hash, hash FROM audit_events WHERE seq = 6",
				"UPDATE audit_head SET seq = 11, hash = (SELECT hash FROM audit_events WHERE seq = 11)",
			}},
		{name: "truncated tail with head moved back", remember: true, firstBad: 10, reason: "truncated",
			stmts: []string{
				"DELETE FROM audit_events WHERE seq > 7",
				"UPDATE audit_head SET seq = 7, hash = (SELECT hash FROM audit_events WHERE seq = 7)",
			}},
		{name: "truncated tail with head left", firstBad: 8, reason: "deleted from the tail",
			stmts: []string{"DELETE FROM audit_events WHERE seq > 7"}},
		{name: "everything deleted", firstBad: 1, reason: "deleted from the tail",
			stmts: []string{"DELETE FROM audit_events"}},
		{name: "head hash replaced", firstBad: 10, reason: "head's hash",
			stmts: []string{"UPDATE audit_head SET hash = (SELECT hash FROM audit_events WHERE seq = 9)"}},
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			// One database for all cases, emptied between them: creating a
			// PostgreSQL database per case would dominate the run time.
			st, raw := b.open(t)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					exec(t, raw, "DELETE FROM audit_events", "UPDATE audit_head SET seq = 0")
					appendN(t, New(testKey, newClock().Now), st, 10)
					before := mustVerify(t, st, testKey, VerifyOptions{})
					if !before.OK {
						t.Fatalf("clean chain failed: %+v", before)
					}
					exec(t, raw, tc.stmts...)
					var opts VerifyOptions
					if tc.remember {
						opts.ExpectHead = before.Head
					}
					res := mustVerify(t, st, testKey, opts)
					if res.OK || res.FirstBad != tc.firstBad {
						t.Fatalf("got %+v, want first bad event %d", res, tc.firstBad)
					}
					if !strings.Contains(res.Reason, tc.reason) {
						t.Fatalf("reason %q does not say %q", res.Reason, tc.reason)
					}
				})
			}
		})
	}
}

func TestAppendConcurrentFormsOneChain(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			st, _ := b.open(t)
			l := New(testKey, time.Now)
			const workers, each = 16, 25
			var wg sync.WaitGroup
			errs := make(chan error, workers*each)
			for w := range workers {
				wg.Go(func() {
					for i := range each {
						_, err := l.AppendStandalone(context.Background(), st, Event{
							Actor: fmt.Sprintf("worker:%d", w), Action: ActionAuthFailure,
							Outcome: OutcomeFailure, Details: map[string]string{"i": fmt.Sprint(i)},
						})
						if err != nil {
							errs <- err
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			res := mustVerify(t, st, testKey, VerifyOptions{})
			if !res.OK || res.Checked != workers*each || res.Head.Seq != workers*each {
				t.Fatalf("concurrent appends: %+v", res)
			}
		})
	}
}

func TestAppendIsPartOfTheTransaction(t *testing.T) {
	st, _ := openSQLite(t)
	l := New(testKey, newClock().Now)
	appendN(t, l, st, 2)
	boom := errors.New("boom")
	err := st.Update(context.Background(), func(tx store.Tx) error {
		if _, err := l.Append(context.Background(), tx, Event{Actor: "system", Action: ActionConfigReload}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v", err)
	}
	head, err := st.AuditHead(context.Background())
	if err != nil || head.Seq != 2 {
		t.Fatalf("head %d after a rolled back append, want 2 (%v)", head.Seq, err)
	}
	// Two appends in one transaction chain onto each other.
	err = st.Update(context.Background(), func(tx store.Tx) error {
		for range 2 {
			if _, err := l.Append(context.Background(), tx, Event{Actor: "system", Action: ActionServerStart}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if res := mustVerify(t, st, testKey, VerifyOptions{}); !res.OK || res.Checked != 4 {
		t.Fatalf("after a two-event transaction: %+v", res)
	}
}

func TestAppendRejectsInvalidEvents(t *testing.T) {
	cases := []struct {
		name string
		key  []byte
		ev   Event
		want error
	}{
		{"no action", testKey, Event{Actor: "system"}, ErrInvalidEvent},
		{"action without dot", testKey, Event{Actor: "system", Action: "start"}, ErrInvalidEvent},
		{"action with capitals", testKey, Event{Actor: "system", Action: "Key.Create"}, ErrInvalidEvent},
		{"action with empty word", testKey, Event{Actor: "system", Action: "key..create"}, ErrInvalidEvent},
		{"unknown outcome", testKey, Event{Actor: "system", Action: ActionServerStart, Outcome: "maybe"}, ErrInvalidEvent},
		{"no actor", testKey, Event{Action: ActionServerStart}, ErrInvalidEvent},
		{"short key", testKey[:31], Event{Actor: "system", Action: ActionServerStart}, ErrKeySize},
		{"no key", nil, Event{Actor: "system", Action: ActionServerStart}, ErrKeySize},
	}
	st, _ := openSQLite(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.key, nil).AppendStandalone(context.Background(), st, tc.ev)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
	if head, _ := st.AuditHead(context.Background()); head.Seq != 0 {
		t.Fatalf("invalid events were written: head %d", head.Seq)
	}
	for _, a := range Actions() {
		if !validAction(a) {
			t.Errorf("defined action %q is rejected", a)
		}
	}
}

func TestOpenKey(t *testing.T) {
	st, _ := openSQLite(t)
	dir := t.TempDir()
	key, err := OpenKey(context.Background(), dir, st)
	if err != nil {
		t.Fatalf("fresh database: %v", err)
	}
	appendN(t, New(key, nil), st, 3)
	again, err := OpenKey(context.Background(), dir, st)
	if err != nil || !bytes.Equal(key, again) {
		t.Fatalf("reopen: %v", err)
	}
	if err := os.Remove(filepath.Join(dir, KeyFileName)); err != nil {
		t.Fatal(err)
	}
	_, err = OpenKey(context.Background(), dir, st)
	if !errors.Is(err, ErrKeyMissing) {
		t.Fatalf("missing key with 3 events: %v", err)
	}
	for _, want := range []string{filepath.Join(dir, KeyFileName), "already has 3 audit events", "restore it from backup; refusing to start"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, statErr := os.Stat(filepath.Join(dir, KeyFileName)); statErr == nil {
		t.Fatal("a replacement key was created for a database with events")
	}
}

// TestOpenKeyRefusesAnotherKey gives a second data directory (a replica, or
// a restored installation) a key of its own for a database whose chain the
// first key signed: it must refuse to start rather than break the chain.
func TestOpenKeyRefusesAnotherKey(t *testing.T) {
	st, _ := openSQLite(t)
	first := t.TempDir()
	key, err := OpenKey(context.Background(), first, st)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, New(key, nil), st, 3)

	replica := t.TempDir()
	if _, err := LoadOrCreateKey(replica, false); err != nil { // a key of its own
		t.Fatal(err)
	}
	_, err = OpenKey(context.Background(), replica, st)
	if !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("another key for a signed chain: %v, want ErrKeyMismatch", err)
	}
	if !strings.Contains(err.Error(), "event 3") || !strings.Contains(err.Error(), KeyFileName) {
		t.Errorf("error %q should name the head event and the key file", err)
	}

	// The same key copied over is accepted.
	b, err := os.ReadFile(filepath.Join(first, KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(replica, KeyFileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenKey(context.Background(), replica, st); err != nil {
		t.Fatalf("the first key copied to the replica: %v", err)
	}
}

// TestAppendRefusesAChainSignedWithAnotherKey: two replicas that started on
// an empty database at once may each have created a key of its own. The
// first to append wins; the other's appends fail closed, leaving the chain
// whole.
func TestAppendRefusesAChainSignedWithAnotherKey(t *testing.T) {
	st, _ := openSQLite(t)
	first := New(bytes.Repeat([]byte{1}, KeySize), nil)
	second := New(bytes.Repeat([]byte{2}, KeySize), nil)
	appendN(t, first, st, 2)
	_, err := second.AppendStandalone(context.Background(), st, Event{Actor: "system", Action: ActionServerStart})
	if !errors.Is(err, ErrKeyMismatch) {
		t.Fatalf("append with another key: %v, want ErrKeyMismatch", err)
	}
	head, err := st.AuditHead(context.Background())
	if err != nil || head.Seq != 2 {
		t.Fatalf("head after the refused append: %+v, %v", head, err)
	}
	res, err := Verify(context.Background(), st, bytes.Repeat([]byte{1}, KeySize), VerifyOptions{})
	if err != nil || !res.OK {
		t.Fatalf("chain after the refused append: %+v, %v", res, err)
	}
	// The right key goes on appending.
	appendN(t, first, st, 1)
}
