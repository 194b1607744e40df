package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/store"
)

var auditQueryTests = []test{
	{"Filters", testAuditQueryFilters},
	{"Pagination", testAuditQueryPagination},
	{"DefaultLimit", testAuditQueryDefaultLimit},
	{"BadFilters", testAuditQueryBad},
	{"RoundTrip", testAuditQueryRoundTrip},
	{"InsideTransaction", testAuditQueryInTx},
	{"DeleteBefore", testAuditDeleteBefore},
	{"DeleteBeforeKeepsHead", testAuditDeleteKeepsHead},
	{"DeleteBeforeRollsBack", testAuditDeleteRollsBack},
}

// reviewEvent is one row of the review fixture, by its fields that
// filters look at.
type reviewEvent struct {
	minute                         int
	actor, action, target, outcome string
}

// reviewFixture is a small log with every filter's corner: actions that
// share a prefix, an underscore that LIKE would treat as a wildcard, an
// upper-case look-alike, empty targets, and equal times.
var reviewFixture = []reviewEvent{
	{0, "system", "server.start", "", "success"},                    // 1
	{1, "unix:1000(alice)", "key.create", "key_A", "success"},       // 2
	{2, "unix:1000(alice)", "key.create", "key_B", "success"},       // 3
	{3, "anonymous", "auth.failure", "", "failure"},                 // 4
	{3, "key:key_B", "auth.failure", "key_B", "failure"},            // 5
	{4, "unix:1000(alice)", "key.revoke", "key_A", "success"},       // 6
	{5, "unix:1001(bob)", "key.leak_revoked", "key_B", "success"},   // 7
	{6, "unix:1001(bob)", "keyXleak.revoked", "key_B", "success"},   // 8
	{7, "unix:1001(bob)", "admin.login_failure", "", "failure"},     // 9
	{8, "system", "KEY.CREATE", "key_C", "success"},                 // 10
	{9, "unix:1000(alice)", "audit.export", "", "success"},          // 11
	{10, "unix:1000(alice)", "audit.export_summary", "", "success"}, // 12
	{11, "key:key_B", "auth.failure", "key_B", "failure"},           // 13
	{12, "unix:1000(alice)", "tileset.reload", "", "failure"},       // 14
	{13, "unix:1000(alice)", "key.rotate", "key_A", "success"},      // 15
	{14, "unix:1001(bob)", "server.stop", "", "success"},            // 16
	{15, "system", "key.expire", "key_C", "success"},                // 17
	{16, "unix:1000(alice)", "key.create", "key_D", "success"},      // 18
	{17, "unix:1000(alice)", "key.create", "key_E", "success"},      // 19
	{18, "unix:1000(alice)", "key.create", "key_F", "success"},      // 20
}

// appendReviewFixture writes reviewFixture, one event per transaction.
func appendReviewFixture(t *testing.T, s store.Store) []store.AuditEvent {
	t.Helper()
	var out []store.AuditEvent
	for i, r := range reviewFixture {
		err := s.Update(t.Context(), func(tx store.Tx) error {
			ev, err := appendEvent(t.Context(), tx, store.AuditEvent{
				Time: t0.Add(time.Duration(r.minute) * time.Minute), Actor: r.actor, Action: r.action,
				Target: r.target, Outcome: r.outcome, Details: map[string]string{"n": fmt.Sprint(i + 1)},
				ClientIP: "198.51.100.0",
			})
			out = append(out, ev)
			return err
		})
		if err != nil {
			t.Fatalf("append review event %d: %v", i+1, err)
		}
	}
	return out
}

func seqs(evs []store.AuditEvent) []int64 {
	out := []int64{}
	for _, ev := range evs {
		out = append(out, ev.Seq)
	}
	return out
}

func reversed(s []int64) []int64 {
	out := make([]int64, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func at(minute int) time.Time { return t0.Add(time.Duration(minute) * time.Minute) }

func testAuditQueryFilters(t *testing.T, s store.Store) {
	appendReviewFixture(t, s)
	cases := []struct {
		name string
		f    store.AuditFilter
		want []int64
	}{
		{"no filter", store.AuditFilter{}, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}},
		{"actor", store.AuditFilter{Actor: "unix:1001(bob)"}, []int64{7, 8, 9, 16}},
		{"actor is exact", store.AuditFilter{Actor: "unix:1001"}, []int64{}},
		{"action exact", store.AuditFilter{Action: "key.create"}, []int64{2, 3, 18, 19, 20}},
		{"action prefix", store.AuditFilter{ActionPrefix: "key."}, []int64{2, 3, 6, 7, 15, 17, 18, 19, 20}},
		{"prefix underscore is literal", store.AuditFilter{ActionPrefix: "key.leak_"}, []int64{7}},
		{"prefix is case-sensitive", store.AuditFilter{ActionPrefix: "KEY."}, []int64{10}},
		{"prefix of a whole action", store.AuditFilter{ActionPrefix: "audit.export"}, []int64{11, 12}},
		{"prefix matches nothing", store.AuditFilter{ActionPrefix: "nothing."}, []int64{}},
		{"target", store.AuditFilter{Target: "key_B"}, []int64{3, 5, 7, 8, 13}},
		{"outcome failure", store.AuditFilter{Outcome: "failure"}, []int64{4, 5, 9, 13, 14}},
		{"since is inclusive", store.AuditFilter{Since: at(15)}, []int64{17, 18, 19, 20}},
		{"until is exclusive", store.AuditFilter{Until: at(3)}, []int64{1, 2, 3}},
		{"time window", store.AuditFilter{Since: at(3), Until: at(5)}, []int64{4, 5, 6}},
		{"empty window", store.AuditFilter{Since: at(3), Until: at(3)}, []int64{}},
		{"combined", store.AuditFilter{ActionPrefix: "auth.", Target: "key_B", Since: at(5)}, []int64{13}},
		{"actor and outcome", store.AuditFilter{Actor: "unix:1000(alice)", Outcome: "failure"}, []int64{14}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := s.QueryAudit(t.Context(), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(seqs(got), tc.want) || next != 0 {
				t.Errorf("QueryAudit ascending = %v (next %d), want %v (next 0)", seqs(got), next, tc.want)
			}
			f := tc.f
			f.Descending = true
			got, next, err = s.QueryAudit(t.Context(), f)
			if err != nil {
				t.Fatal(err)
			}
			if want := reversed(tc.want); !reflect.DeepEqual(seqs(got), want) || next != 0 {
				t.Errorf("QueryAudit descending = %v (next %d), want %v (next 0)", seqs(got), next, want)
			}
		})
	}
}

func testAuditQueryPagination(t *testing.T, s store.Store) {
	appendReviewFixture(t, s)
	cases := []struct {
		name  string
		f     store.AuditFilter
		limit int
		want  []int64
	}{
		{"ascending by 3", store.AuditFilter{}, 3, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}},
		{"descending by 6", store.AuditFilter{Descending: true}, 6, reversed([]int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20})},
		{"filtered, one per page", store.AuditFilter{Action: "key.create"}, 1, []int64{2, 3, 18, 19, 20}},
		{"filtered descending by 2", store.AuditFilter{Target: "key_B", Descending: true}, 2, []int64{13, 8, 7, 5, 3}},
		{"page as large as the result", store.AuditFilter{Outcome: "failure"}, 5, []int64{4, 5, 9, 13, 14}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			f.Limit = tc.limit
			var all []int64
			for page := 0; ; page++ {
				if page > 30 {
					t.Fatal("pagination does not end")
				}
				evs, next, err := s.QueryAudit(t.Context(), f)
				if err != nil {
					t.Fatal(err)
				}
				if len(evs) > tc.limit {
					t.Fatalf("page of %d events, limit %d", len(evs), tc.limit)
				}
				all = append(all, seqs(evs)...)
				if next == 0 {
					break
				}
				if next != evs[len(evs)-1].Seq {
					t.Fatalf("next cursor %d is not the page's last sequence %d", next, evs[len(evs)-1].Seq)
				}
				f.AfterSeq = next
			}
			if !reflect.DeepEqual(all, tc.want) {
				t.Errorf("pages gave %v, want %v", all, tc.want)
			}
		})
	}

}

func testAuditQueryDefaultLimit(t *testing.T, s store.Store) {
	ctx := t.Context()
	err := s.Update(ctx, func(tx store.Tx) error {
		for i := 1; i <= 1001; i++ {
			if _, err := appendEvent(ctx, tx, event(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		limit    int
		wantLen  int
		wantNext int64
	}{
		{"default page", 0, 100, 100},
		{"page capped", 5000, 1000, 1000},
		{"exact", 1000, 1000, 1000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evs, next, err := s.QueryAudit(ctx, store.AuditFilter{Limit: tc.limit})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != tc.wantLen || next != tc.wantNext {
				t.Errorf("Limit %d: %d events, next %d; want %d, next %d", tc.limit, len(evs), next, tc.wantLen, tc.wantNext)
			}
		})
	}
}

func testAuditQueryBad(t *testing.T, s store.Store) {
	appendReviewFixture(t, s)
	cases := []struct {
		name string
		f    store.AuditFilter
	}{
		{"negative cursor", store.AuditFilter{AfterSeq: -1}},
		{"until before since", store.AuditFilter{Since: at(5), Until: at(4)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := s.QueryAudit(t.Context(), tc.f)
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("QueryAudit = %v, want ErrInvalid", err)
			}
		})
	}
}

func testAuditQueryRoundTrip(t *testing.T, s store.Store) {
	written := appendEvents(t, s, 6)
	got, _, err := s.QueryAudit(t.Context(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(written) {
		t.Fatalf("QueryAudit returned %d events, want %d", len(got), len(written))
	}
	for i := range written {
		if d := diffEvents(written[i], got[i]); d != "" {
			t.Errorf("event %d: %s", written[i].Seq, d)
		}
	}
}

func testAuditQueryInTx(t *testing.T, s store.Store) {
	ctx := t.Context()
	appendEvents(t, s, 3)
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := appendEvent(ctx, tx, event(4)); err != nil {
			return err
		}
		evs, _, err := tx.QueryAudit(ctx, store.AuditFilter{Descending: true, Limit: 1})
		if err != nil {
			return err
		}
		if len(evs) != 1 || evs[0].Seq != 4 {
			t.Errorf("QueryAudit inside the transaction = %v, want [4]", seqs(evs))
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatal(err)
	}
	evs, _, err := s.QueryAudit(ctx, store.AuditFilter{Descending: true, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Seq != 3 {
		t.Errorf("after rollback QueryAudit = %v, want [3]", seqs(evs))
	}
}

func testAuditDeleteBefore(t *testing.T, s store.Store) {
	ctx := t.Context()
	written := appendEvents(t, s, 10)
	var deleted int64
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.LockAuditHead(ctx); err != nil {
			return err
		}
		var err error
		deleted, err = tx.DeleteAuditBefore(ctx, 5)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if deleted != 4 {
		t.Errorf("DeleteAuditBefore(5) deleted %d events, want 4", deleted)
	}
	evs := scanAll(t, s)
	if want := []int64{5, 6, 7, 8, 9, 10}; !reflect.DeepEqual(seqs(evs), want) {
		t.Fatalf("after the delete the log holds %v, want %v", seqs(evs), want)
	}
	for i, ev := range evs {
		if d := diffEvents(written[4+i], ev); d != "" {
			t.Errorf("kept event %d changed: %s", ev.Seq, d)
		}
	}
	h, err := s.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Seq != 10 {
		t.Errorf("the head moved to %d", h.Seq)
	}
	// The chain goes on after the head.
	more := appendEventsAfter2(t, s)
	if more.Seq != 11 {
		t.Errorf("next append got seq %d, want 11", more.Seq)
	}
	// Deleting again below the same point deletes nothing.
	err = s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.LockAuditHead(ctx); err != nil {
			return err
		}
		n, err := tx.DeleteAuditBefore(ctx, 3)
		if n != 0 {
			t.Errorf("second DeleteAuditBefore(3) deleted %d", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// appendEventsAfter2 appends one event and returns it.
func appendEventsAfter2(t *testing.T, s store.Store) store.AuditEvent {
	t.Helper()
	var out store.AuditEvent
	err := s.Update(t.Context(), func(tx store.Tx) error {
		var err error
		out, err = appendEvent(t.Context(), tx, event(99))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func testAuditDeleteKeepsHead(t *testing.T, s store.Store) {
	ctx := t.Context()
	appendEvents(t, s, 4)
	cases := []struct {
		name  string
		seq   int64
		valid bool
	}{
		{"up to the head", 4, true},
		{"past the head", 5, false},
		{"far past the head", 100, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(ctx, func(tx store.Tx) error {
				if _, err := tx.LockAuditHead(ctx); err != nil {
					return err
				}
				if _, err := tx.DeleteAuditBefore(ctx, tc.seq); err != nil {
					return err
				}
				return errBoom
			})
			if tc.valid && !errors.Is(err, errBoom) {
				t.Errorf("DeleteAuditBefore(%d): %v", tc.seq, err)
			}
			if !tc.valid && !errors.Is(err, store.ErrInvalid) {
				t.Errorf("DeleteAuditBefore(%d) = %v, want ErrInvalid", tc.seq, err)
			}
		})
	}
	if n := len(scanAll(t, s)); n != 4 {
		t.Errorf("the log holds %d events after rolled back deletes, want 4", n)
	}
}

func testAuditDeleteRollsBack(t *testing.T, s store.Store) {
	ctx := t.Context()
	appendEvents(t, s, 6)
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.LockAuditHead(ctx); err != nil {
			return err
		}
		if _, err := tx.DeleteAuditBefore(ctx, 6); err != nil {
			return err
		}
		evs, _, err := tx.QueryAudit(ctx, store.AuditFilter{})
		if err != nil {
			return err
		}
		if len(evs) != 1 {
			t.Errorf("inside the transaction %d events remain, want 1", len(evs))
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatal(err)
	}
	checkChain(t, scanAll(t, s), 6)
}
