package audit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/store"
)

// events returns every audit event in st.
func allEvents(t *testing.T, st store.Store) []store.AuditEvent {
	t.Helper()
	var out []store.AuditEvent
	if err := st.ScanAudit(context.Background(), 1, 0, func(ev store.AuditEvent) error {
		out = append(out, ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAggregatorBoundsAFlood(t *testing.T) {
	st, _ := openSQLite(t)
	now := time.Date(2026, 5, 1, 12, 0, 5, 0, time.UTC)
	key := make([]byte, KeySize)
	log := New(key, func() time.Time { return now })
	agg := NewAggregator(log, st, nil, 100)

	// 100,000 refused requests in one minute: random unknown keys from 40
	// networks, a revoked key from many addresses, and a flood from 1,000
	// more networks than the bucket bound allows.
	for i := range 100_000 {
		switch {
		case i%4 == 0:
			agg.Record(Failure{Action: ActionAuthFailure, Reason: "revoked", KeyID: "key_REVOKED",
				KeyStart: "mpw_pk_AbCd…", ClientIP: fmt.Sprintf("198.51.%d.%d", i%200, i%250), Time: now})
		case i%4 == 1:
			agg.Record(Failure{Action: ActionAuthFailure, Reason: "unknown",
				KeyStart: fmt.Sprintf("mpw_pk_%04d…", i%10000), ClientIP: fmt.Sprintf("203.0.%d.7", i%40), Time: now})
		default:
			agg.Record(Failure{Action: ActionAuthFailure, Reason: "malformed",
				ClientIP: fmt.Sprintf("10.%d.%d.1", i%250, (i/250)%8), Time: now})
		}
	}
	// The minute is not over yet: nothing is written.
	if err := agg.Flush(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if got := len(allEvents(t, st)); got != 0 {
		t.Fatalf("%d events written before the minute ended", got)
	}
	now = now.Add(time.Minute)
	if err := agg.Flush(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	evs := allEvents(t, st)
	// 1 revoked-key bucket + 40 unknown-key networks + 59 malformed
	// networks fill the 100 buckets; the remaining malformed networks go to
	// one overflow event.
	if len(evs) != 101 {
		t.Fatalf("got %d events for 100,000 failures, want 101", len(evs))
	}
	var total int64
	overflow := 0
	for _, ev := range evs {
		if ev.Action != ActionAuthFailure || ev.Outcome != OutcomeFailure {
			t.Errorf("event %d: %s/%s", ev.Seq, ev.Action, ev.Outcome)
		}
		var n int64
		fmt.Sscan(ev.Details["count"], &n)
		total += n
		if ev.Details["overflow"] == "true" {
			overflow++
		}
		if ev.Details["reason"] == "revoked" && (ev.Actor != "key:key_REVOKED" || ev.Target != "key_REVOKED") {
			t.Errorf("revoked-key event attributed to %q / %q", ev.Actor, ev.Target)
		}
		if ev.Details["reason"] == "unknown" && ev.ClientIP == "" {
			t.Errorf("unknown-key event %d has no network", ev.Seq)
		}
	}
	if total != 100_000 {
		t.Errorf("counts add up to %d, want 100000", total)
	}
	if overflow != 1 {
		t.Errorf("%d overflow events, want 1", overflow)
	}
	res, err := Verify(context.Background(), st, key, VerifyOptions{})
	if err != nil || !res.OK {
		t.Fatalf("chain after aggregation: %+v, %v", res, err)
	}
}

func TestAggregatorKeepsCountsWhenAWriteFails(t *testing.T) {
	st, _ := openSQLite(t)
	now := time.Date(2026, 5, 1, 12, 0, 5, 0, time.UTC)
	log := New(make([]byte, KeySize), func() time.Time { return now })
	agg := NewAggregator(log, st, nil, 0)
	for range 3 {
		agg.Record(Failure{Action: ActionKeyMisuse, Reason: "secret_key", ClientIP: "192.0.2.9", Time: now})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := agg.Flush(ctx, true); err == nil {
		t.Fatal("flush with a cancelled context succeeded")
	}
	if err := agg.Flush(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	evs := allEvents(t, st)
	if len(evs) != 1 || evs[0].Details["count"] != "3" || evs[0].ClientIP != "192.0.2.0" {
		t.Fatalf("events after a failed then good flush: %+v", evs)
	}
}
