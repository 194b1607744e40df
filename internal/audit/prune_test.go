package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/store"
)

// dayClock is a clock a test sets by hand.
type dayClock struct {
	mu sync.Mutex
	t  time.Time
}

var day0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func (c *dayClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *dayClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// appendDays writes one event a day, at noon of days from..to-1.
func appendDays(t *testing.T, l *Log, c *dayClock, st store.Store, from, to int) {
	t.Helper()
	for d := from; d < to; d++ {
		c.set(day0.AddDate(0, 0, d).Add(12 * time.Hour))
		if _, err := l.AppendStandalone(context.Background(), st, Event{
			Actor: "unix:1000(alice)", Action: ActionKeyCreate, Target: fmt.Sprintf("key_day%02d", d),
		}); err != nil {
			t.Fatal(err)
		}
	}
}

func prune(t *testing.T, l *Log, st store.Store, beforeDay int) PruneResult {
	t.Helper()
	res, err := l.Prune(context.Background(), st, day0.AddDate(0, 0, beforeDay), Event{Actor: "system"})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestPruneKeepsTheChainVerifiable(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			st, _ := b.open(t)
			c := &dayClock{}
			l := New(testKey, c.Now)
			appendDays(t, l, c, st, 0, 30)
			before := scanAll(t, st)

			res := prune(t, l, st, 10)
			if res.Deleted != 10 || res.CutSeq != 10 || !bytes.Equal(res.CutHash, before[9].Hash) {
				t.Fatalf("prune: deleted %d, cut %d; want 10 events cut at 10 with its hash", res.Deleted, res.CutSeq)
			}
			ev := res.Event
			if ev.Seq != 31 || ev.Action != ActionAuditPrune || ev.Actor != "system" ||
				ev.Details["cut_seq"] != "10" || ev.Details["deleted"] != "10" ||
				ev.Details["cut_hash"] != fmt.Sprintf("%x", before[9].Hash) {
				t.Fatalf("prune event %+v", ev)
			}
			stored := scanAll(t, st)
			if len(stored) != 21 || stored[0].Seq != 11 {
				t.Fatalf("after the prune the log holds %d events from %d, want 21 from 11", len(stored), stored[0].Seq)
			}
			v := mustVerify(t, st, testKey, VerifyOptions{})
			if !v.OK || v.Start != 11 || v.Anchor != AnchorPrune || v.Checked != 21 || v.Head.Seq != 31 {
				t.Fatalf("verify after prune: %+v", v)
			}

			// Nothing older is left: a second prune at the same cut-off
			// writes nothing.
			if again := prune(t, l, st, 10); again.Deleted != 0 || again.Event.Seq != 0 {
				t.Fatalf("second prune: %+v", again)
			}

			// A later prune cuts through the first prune's event's era and
			// anchors on its own event.
			appendDays(t, l, c, st, 30, 35)
			res = prune(t, l, st, 20)
			if res.Deleted != 10 || res.CutSeq != 20 {
				t.Fatalf("second cut: %+v", res)
			}
			v = mustVerify(t, st, testKey, VerifyOptions{})
			if !v.OK || v.Start != 21 || v.Anchor != AnchorPrune {
				t.Fatalf("verify after the second prune: %+v", v)
			}
			// The chain goes on.
			appendDays(t, l, c, st, 35, 37)
			if v := mustVerify(t, st, testKey, VerifyOptions{}); !v.OK {
				t.Fatalf("verify after appending: %+v", v)
			}
		})
	}
}

func TestPruneEverythingLeavesThePruneEvent(t *testing.T) {
	st, _ := openSQLite(t)
	c := &dayClock{}
	l := New(testKey, c.Now)
	appendDays(t, l, c, st, 0, 5)
	res := prune(t, l, st, 100)
	if res.Deleted != 5 || res.CutSeq != 5 {
		t.Fatalf("prune of a wholly old log: %+v", res)
	}
	stored := scanAll(t, st)
	if len(stored) != 1 || stored[0].Action != ActionAuditPrune {
		t.Fatalf("the log holds %d events, want only the prune event", len(stored))
	}
	if v := mustVerify(t, st, testKey, VerifyOptions{}); !v.OK || v.Start != 6 {
		t.Fatalf("verify: %+v", v)
	}
}

func TestPruneOnlyCutsAPrefix(t *testing.T) {
	st, _ := openSQLite(t)
	c := &dayClock{}
	l := New(testKey, c.Now)
	appendDays(t, l, c, st, 0, 5)
	// A clock that went back: event 6 is older than event 5.
	appendDays(t, l, c, st, 1, 2)
	appendDays(t, l, c, st, 6, 8)
	res := prune(t, l, st, 3)
	if res.CutSeq != 3 || res.Deleted != 3 {
		t.Fatalf("prune cut at %d (%d deleted), want 3", res.CutSeq, res.Deleted)
	}
	if v := mustVerify(t, st, testKey, VerifyOptions{}); !v.OK {
		t.Fatalf("verify: %+v", v)
	}
}

func TestPruneRefusesALogThatDoesNotVerify(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			st, raw := b.open(t)
			c := &dayClock{}
			l := New(testKey, c.Now)
			appendDays(t, l, c, st, 0, 10)
			exec(t, raw, "UPDATE audit_events SET actor = 'unix:0(root)' WHERE seq = 3")
			_, err := l.Prune(context.Background(), st, day0.AddDate(0, 0, 5), Event{Actor: "system"})
			if !errors.Is(err, ErrPruneRefused) {
				t.Fatalf("prune of a tampered log: %v, want ErrPruneRefused", err)
			}
			if n := len(scanAll(t, st)); n != 10 {
				t.Fatalf("the refused prune left %d events, want all 10", n)
			}
			if v := mustVerify(t, st, testKey, VerifyOptions{}); v.OK || v.FirstBad != 3 {
				t.Fatalf("the evidence is gone: %+v", v)
			}
		})
	}
}

// TestVerifyCatchesDeletedHeadOfLog plays an attacker who deletes old
// events to hide them, hoping they pass for pruned ones.
func TestVerifyCatchesDeletedHeadOfLog(t *testing.T) {
	cases := []struct {
		name     string
		pruneAt  int // prune events before this day first; 0: no prune
		stmts    []string
		firstBad int64
		reason   string
	}{
		{name: "oldest events deleted, never pruned", firstBad: 1, reason: "no audit.prune event",
			stmts: []string{"DELETE FROM audit_events WHERE seq <= 5"}},
		{name: "more deleted after a prune", pruneAt: 10, firstBad: 11, reason: "cut the log at 10 only",
			stmts: []string{"DELETE FROM audit_events WHERE seq <= 15"}},
		{name: "prune event deleted with what followed the cut", pruneAt: 10, firstBad: 1, reason: "no audit.prune event",
			stmts: []string{"DELETE FROM audit_events WHERE seq <= 31"}},
		{name: "prune event's cut edited", pruneAt: 10, firstBad: 31, reason: "does not match its hash",
			stmts: []string{
				"DELETE FROM audit_events WHERE seq <= 15",
				`UPDATE audit_events SET details = replace(details, '"cut_seq":"10"', '"cut_seq":"15"') WHERE seq = 31`,
			}},
		{name: "pruned events put back", pruneAt: 10, firstBad: 10, reason: "put back",
			stmts: []string{"INSERT INTO audit_events SELECT * FROM saved_event"}},
		{name: "untouched after a prune", pruneAt: 10},
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			st, raw := b.open(t)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					exec(t, raw, "DELETE FROM audit_events", "UPDATE audit_head SET seq = 0", "DROP TABLE IF EXISTS saved_event")
					c := &dayClock{}
					l := New(testKey, c.Now)
					appendDays(t, l, c, st, 0, 30)
					exec(t, raw, "CREATE TABLE saved_event AS SELECT * FROM audit_events WHERE seq = 10")
					if tc.pruneAt > 0 {
						prune(t, l, st, tc.pruneAt)
					}
					appendDays(t, l, c, st, 30, 32)
					if v := mustVerify(t, st, testKey, VerifyOptions{}); !v.OK {
						t.Fatalf("clean log after prune: %+v", v)
					}
					exec(t, raw, tc.stmts...)
					v := mustVerify(t, st, testKey, VerifyOptions{})
					if tc.firstBad == 0 {
						if !v.OK {
							t.Fatalf("got %+v, want ok", v)
						}
						return
					}
					if v.OK || v.FirstBad != tc.firstBad || !strings.Contains(v.Reason, tc.reason) {
						t.Fatalf("got %+v, want first bad %d with %q", v, tc.firstBad, tc.reason)
					}
				})
			}
		})
	}
}

func TestVerifyRememberedHeadAcrossAPrune(t *testing.T) {
	st, _ := openSQLite(t)
	c := &dayClock{}
	l := New(testKey, c.Now)
	appendDays(t, l, c, st, 0, 30)
	evs := scanAll(t, st)
	prune(t, l, st, 10)
	cases := []struct {
		name     string
		head     store.AuditHead
		ok       bool
		firstBad int64
		note     string
	}{
		{"pruned long ago", store.AuditHead{Seq: 5, Hash: evs[4].Hash}, true, 0, "can no longer be checked"},
		{"the cut itself", store.AuditHead{Seq: 10, Hash: evs[9].Hash}, true, 0, "matches the hash"},
		{"the cut with another hash", store.AuditHead{Seq: 10, Hash: evs[8].Hash}, false, 10, ""},
		{"retained", store.AuditHead{Seq: 20, Hash: evs[19].Hash}, true, 0, ""},
		{"retained with another hash", store.AuditHead{Seq: 20, Hash: evs[18].Hash}, false, 20, ""},
		{"beyond the head", store.AuditHead{Seq: 40, Hash: evs[18].Hash}, false, 40, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := mustVerify(t, st, testKey, VerifyOptions{ExpectHead: tc.head})
			if v.OK != tc.ok || v.FirstBad != tc.firstBad || !strings.Contains(v.Note, tc.note) {
				t.Fatalf("got %+v, want ok=%v first bad %d note %q", v, tc.ok, tc.firstBad, tc.note)
			}
		})
	}
}

func TestPrunerAppliesRetention(t *testing.T) {
	st, _ := openSQLite(t)
	c := &dayClock{}
	l := New(testKey, c.Now)
	appendDays(t, l, c, st, 0, 20)
	now := day0.AddDate(0, 0, 20)

	forever := &Pruner{Log: l, Store: st}
	if res, err := forever.Prune(context.Background(), now); err != nil || res.Deleted != 0 {
		t.Fatalf("retention 0 pruned: %+v, %v", res, err)
	}
	p := &Pruner{Log: l, Store: st, Retention: 7 * 24 * time.Hour}
	res, err := p.Prune(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	// Events of days 0..12 are older than 7 days before day 20.
	if res.Deleted != 13 || res.Event.Details["retention"] != "168h0m0s" {
		t.Fatalf("pruner: %+v", res)
	}
	if v := mustVerify(t, st, testKey, VerifyOptions{}); !v.OK {
		t.Fatalf("verify: %+v", v)
	}
}
