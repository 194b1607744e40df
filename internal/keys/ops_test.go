package keys

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/pkg/apikey"
)

func TestRotateWithGrace(t *testing.T) {
	for _, o := range stores() {
		t.Run(o.name, func(t *testing.T) {
			e := newEnv(t, o.open(t), Options{})
			ctx := context.Background()
			exp := store.Micro(e.clock.Now().Add(30 * 24 * time.Hour))
			old := e.issue(t, IssueRequest{
				Name: "web", Origins: []string{"https://maps.example.com"}, Tilesets: []string{"osm"},
				Rate: 10, Burst: 20, Labels: map[string]string{"team": "maps"}, ExpiresAt: &exp,
			})
			if _, err := e.svc.Verify(ctx, old.Token); err != nil { // cache it
				t.Fatal(err)
			}
			e.clock.Advance(time.Minute)
			rotAt := store.Micro(e.clock.Now())
			bob := Actor{Name: "key:key_ci", ClientIP: "2001:db8:aa:bb::1"}
			nw, upd, err := e.svc.Rotate(ctx, old.Key.ID, time.Hour, bob)
			if err != nil {
				t.Fatal(err)
			}
			n := nw.Key
			if n.Kind != "public" || n.Name != "web" || !slices.Equal(n.Scopes, old.Key.Scopes) ||
				!slices.Equal(n.Origins, old.Key.Origins) || !slices.Equal(n.Tilesets, old.Key.Tilesets) ||
				n.Rate != 10 || n.Burst != 20 || n.Labels["team"] != "maps" {
				t.Fatalf("new key does not inherit settings: %+v", n)
			}
			if n.ExpiresAt == nil || !n.ExpiresAt.Equal(exp) {
				t.Fatalf("new key expires %v, want the original %v", n.ExpiresAt, exp)
			}
			if n.Replaces != old.Key.ID || upd.ReplacedBy != n.ID || n.CreatedBy != bob.Name {
				t.Fatalf("rotation links: new.Replaces %q old.ReplacedBy %q", n.Replaces, upd.ReplacedBy)
			}
			if upd.ExpiresAt == nil || !upd.ExpiresAt.Equal(rotAt.Add(time.Hour)) {
				t.Fatalf("old key expires %v, want %v", upd.ExpiresAt, rotAt.Add(time.Hour))
			}
			stored, err := e.svc.Get(ctx, old.Key.ID)
			if err != nil || !reflect.DeepEqual(stored.ExpiresAt, upd.ExpiresAt) || stored.ReplacedBy != n.ID {
				t.Fatalf("stored old key %+v, %v", stored, err)
			}

			for _, tok := range []string{old.Token, nw.Token} {
				if _, err := e.svc.Verify(ctx, tok); err != nil {
					t.Fatalf("during the grace period: %v", err)
				}
			}
			e.clock.Advance(time.Hour - time.Microsecond)
			if _, err := e.svc.Verify(ctx, old.Token); err != nil {
				t.Fatalf("just before the grace ends: %v", err)
			}
			e.clock.Advance(time.Microsecond)
			if _, err := e.svc.Verify(ctx, old.Token); !errors.Is(err, ErrExpired) {
				t.Fatalf("after the grace: %v, want ErrExpired", err)
			}
			if _, err := e.svc.Verify(ctx, nw.Token); err != nil {
				t.Fatalf("new key after the grace: %v", err)
			}

			evs := e.events(t)
			ev := evs[len(evs)-1]
			if ev.Action != audit.ActionKeyRotate || ev.Target != old.Key.ID || ev.Actor != bob.Name ||
				ev.Details["new_id"] != n.ID || ev.Details["grace"] != "1h0m0s" || ev.ClientIP != "2001:db8:aa::" {
				t.Fatalf("rotate event %+v", ev)
			}
			e.verifyChain(t)
		})
	}
}

func TestRotateWithoutGraceRefusesOldKeyAtOnce(t *testing.T) {
	e := newEnv(t, openSQLite(t), Options{})
	ctx := context.Background()
	old := e.issue(t, IssueRequest{Kind: apikey.Secret, Scopes: []string{ScopeAdmin}})
	if _, err := e.svc.Verify(ctx, old.Token); err != nil {
		t.Fatal(err)
	}
	nw, upd, err := e.svc.Rotate(ctx, old.Key.ID, 0, alice)
	if err != nil {
		t.Fatal(err)
	}
	if !upd.ExpiresAt.Equal(store.Micro(e.clock.Now())) || nw.Key.ExpiresAt != nil {
		t.Fatalf("old expires %v, new expires %v", upd.ExpiresAt, nw.Key.ExpiresAt)
	}
	if _, err := e.svc.Verify(ctx, old.Token); !errors.Is(err, ErrExpired) {
		t.Fatalf("old key right after rotation: %v, want ErrExpired", err)
	}
	if k, err := e.svc.Verify(ctx, nw.Token); err != nil || !strings0(k.Scopes, ScopeAdmin) {
		t.Fatalf("new key: %v", err)
	}
}

func strings0(list []string, s string) bool { return slices.Contains(list, s) }

func TestRotateKeepsAnEarlierExpiry(t *testing.T) {
	e := newEnv(t, openSQLite(t), Options{})
	exp := store.Micro(e.clock.Now().Add(10 * time.Minute))
	old := e.issue(t, IssueRequest{ExpiresAt: &exp})
	nw, upd, err := e.svc.Rotate(context.Background(), old.Key.ID, 24*time.Hour, alice)
	if err != nil {
		t.Fatal(err)
	}
	if !upd.ExpiresAt.Equal(exp) {
		t.Fatalf("rotation extended the old key from %v to %v", exp, upd.ExpiresAt)
	}
	if !nw.Key.ExpiresAt.Equal(exp) {
		t.Fatalf("new key expires %v, want %v", nw.Key.ExpiresAt, exp)
	}
}

func TestRotateRefusals(t *testing.T) {
	e := newEnv(t, openSQLite(t), Options{})
	ctx := context.Background()
	revoked := e.issue(t, IssueRequest{Name: "revoked"})
	if _, _, err := e.svc.Revoke(ctx, revoked.Key.ID, "", alice); err != nil {
		t.Fatal(err)
	}
	expired := e.issue(t, IssueRequest{Name: "expired", ExpiresAt: tp(e.clock.Now().Add(time.Second))})
	rotated := e.issue(t, IssueRequest{Name: "rotated"})
	if _, _, err := e.svc.Rotate(ctx, rotated.Key.ID, time.Hour, alice); err != nil {
		t.Fatal(err)
	}
	active := e.issue(t, IssueRequest{Name: "active"})
	e.clock.Advance(time.Minute)
	cases := []struct {
		name  string
		id    string
		grace time.Duration
		actor Actor
		want  error
	}{
		{"revoked", revoked.Key.ID, time.Hour, alice, ErrNotActive},
		{"expired", expired.Key.ID, time.Hour, alice, ErrNotActive},
		{"already rotated", rotated.Key.ID, time.Hour, alice, ErrAlreadyRotated},
		{"unknown", "key_01ARYZ6S41TSV4RRFFQ69G5FAV", time.Hour, alice, ErrNotFound},
		{"not an ID", "my-key", time.Hour, alice, ErrNotFound},
		{"negative grace", active.Key.ID, -time.Second, alice, ErrInvalidRequest},
		{"no actor", active.Key.ID, time.Hour, Actor{}, ErrInvalidRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			head := e.head(t)
			_, _, err := e.svc.Rotate(ctx, tc.id, tc.grace, tc.actor)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if e.head(t) != head {
				t.Fatal("a refused rotation wrote an audit event")
			}
		})
	}
	if !errors.Is(ErrNotFound, store.ErrNotFound) {
		t.Fatal("ErrNotFound must also match store.ErrNotFound")
	}
}

func TestRotateErrorDoesNotEchoTokens(t *testing.T) {
	e := newEnv(t, openSQLite(t), Options{})
	iss := e.issue(t, IssueRequest{})
	_, _, err := e.svc.Rotate(context.Background(), iss.Token, time.Hour, alice)
	if !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if got := err.Error(); contains(got, iss.Token[apikey.StartLen:]) {
		t.Fatalf("error %q echoes a token passed as an ID", got)
	}
}

func contains(s, sub string) bool { return len(sub) > 0 && len(s) >= len(sub) && indexOf(s, sub) >= 0 }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestRevoke(t *testing.T) {
	for _, o := range stores() {
		t.Run(o.name, func(t *testing.T) {
			e := newEnv(t, o.open(t), Options{})
			ctx := context.Background()
			iss := e.issue(t, IssueRequest{})
			if _, err := e.svc.Verify(ctx, iss.Token); err != nil { // now cached
				t.Fatal(err)
			}
			k, already, err := e.svc.Revoke(ctx, iss.Key.ID, "laptop stolen", alice)
			if err != nil || already {
				t.Fatalf("revoke: %v, already %v", err, already)
			}
			if k.RevokedAt == nil || k.RevokedBy != alice.Name || k.RevokeReason != "laptop stolen" {
				t.Fatalf("revoked key %+v", k)
			}
			if _, err := e.svc.Verify(ctx, iss.Token); !errors.Is(err, ErrRevoked) {
				t.Fatalf("right after revoking a cached key: %v, want ErrRevoked", err)
			}
			ev := e.events(t)[e.head(t)-1]
			if ev.Action != audit.ActionKeyRevoke || ev.Target != iss.Key.ID || ev.Details["reason"] != "laptop stolen" {
				t.Fatalf("revoke event %+v", ev)
			}

			head := e.head(t)
			again, already, err := e.svc.Revoke(ctx, iss.Key.ID, "other reason", Actor{Name: "unix:0(root)"})
			if err != nil || !already || again.RevokeReason != "laptop stolen" || again.RevokedBy != alice.Name {
				t.Fatalf("second revoke: %+v, already %v, %v", again, already, err)
			}
			if e.head(t) != head {
				t.Fatal("revoking a revoked key wrote an audit event")
			}

			leaked := e.issue(t, IssueRequest{Name: "leaked"})
			k, already, err = e.svc.RevokeLeaked(ctx, leaked.Key.ID, "github.com/acme/site/blob/main/app.js:12", alice)
			if err != nil || already || k.RevokeReason != "leaked: github.com/acme/site/blob/main/app.js:12" {
				t.Fatalf("revoke leaked: %+v, %v", k, err)
			}
			evs := e.events(t)
			ev = evs[len(evs)-1]
			if ev.Action != audit.ActionKeyLeakRevoked || ev.Details["location"] != "github.com/acme/site/blob/main/app.js:12" {
				t.Fatalf("leak event %+v", ev)
			}
			if _, _, err := e.svc.Revoke(ctx, "key_01ARYZ6S41TSV4RRFFQ69G5FAV", "", alice); !errors.Is(err, ErrNotFound) {
				t.Fatalf("unknown key: %v", err)
			}
			if _, _, err := e.svc.Revoke(ctx, leaked.Key.ID, "bad\x00reason", alice); !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("control character in reason: %v", err)
			}
			e.verifyChain(t)
		})
	}
}

// TestFailClosed: when the audit event cannot be written, the key change
// must not happen either.
func TestFailClosed(t *testing.T) {
	for _, o := range stores() {
		t.Run(o.name, func(t *testing.T) {
			e := newEnv(t, o.open(t), Options{})
			ctx := context.Background()
			iss := e.issue(t, IssueRequest{Name: "existing", ExpiresAt: tp(e.clock.Now().Add(time.Hour))})
			before, err := e.svc.Get(ctx, iss.Key.ID)
			if err != nil {
				t.Fatal(err)
			}
			head := e.head(t)
			e.st.failAppend.Store(true)

			if _, err := e.svc.Issue(ctx, IssueRequest{Kind: apikey.Public, Name: "new"}, alice); !errors.Is(err, errInjected) {
				t.Fatalf("issue: %v, want the injected audit failure", err)
			}
			if _, _, err := e.svc.Rotate(ctx, iss.Key.ID, time.Minute, alice); !errors.Is(err, errInjected) {
				t.Fatalf("rotate: %v, want the injected audit failure", err)
			}
			if _, _, err := e.svc.Revoke(ctx, iss.Key.ID, "x", alice); !errors.Is(err, errInjected) {
				t.Fatalf("revoke: %v, want the injected audit failure", err)
			}
			if _, _, err := e.svc.RevokeLeaked(ctx, iss.Key.ID, "paste", alice); !errors.Is(err, errInjected) {
				t.Fatalf("revoke leaked: %v, want the injected audit failure", err)
			}
			e.clock.Advance(2 * time.Hour)
			if n, err := e.svc.SweepExpired(ctx); !errors.Is(err, errInjected) || n != 0 {
				t.Fatalf("sweep: %d, %v; want 0 and the injected audit failure", n, err)
			}

			all, _, err := e.svc.List(ctx, store.KeyFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 1 {
				t.Fatalf("%d keys in the store, want only the original", len(all))
			}
			after, err := e.svc.Get(ctx, iss.Key.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("the key changed although its audit event failed:\nbefore %+v\nafter  %+v", before, after)
			}
			if e.head(t) != head {
				t.Fatal("the audit log moved")
			}
			e.clock.Advance(-2 * time.Hour)
			if _, err := e.svc.Verify(ctx, iss.Token); err != nil {
				t.Fatalf("the key must still work: %v", err)
			}
			e.verifyChain(t)
		})
	}
}

func TestLastUsedFlush(t *testing.T) {
	e := newEnv(t, openSQLite(t), Options{})
	ctx := context.Background()
	a := e.issue(t, IssueRequest{Name: "a"})
	b := e.issue(t, IssueRequest{Name: "b"})
	// Truncate to a minute boundary so the steps below stay within it.
	e.clock.Advance(e.clock.Now().Truncate(time.Minute).Add(time.Minute).Sub(e.clock.Now()))
	firstUse := store.Micro(e.clock.Now())
	for range 50 {
		if _, err := e.svc.Verify(ctx, a.Token); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Advance(10 * time.Second)
	e.svc.Verify(ctx, b.Token)
	if err := e.svc.FlushLastUsed(ctx); err != nil {
		t.Fatal(err)
	}
	calls := e.st.touchCalls()
	if len(calls) != 1 || len(calls[0]) != 2 {
		t.Fatalf("touch calls %v, want one batch with both keys", calls)
	}
	ka, _ := e.svc.Get(ctx, a.Key.ID)
	if ka.LastUsedAt == nil || !ka.LastUsedAt.Equal(firstUse) {
		t.Fatalf("last used %v, want %v", ka.LastUsedAt, firstUse)
	}

	// Same minute: more uses, nothing more to write.
	e.clock.Advance(20 * time.Second)
	e.svc.Verify(ctx, a.Token)
	e.svc.InvalidateAll() // even a reloaded cache entry remembers the minute
	e.svc.Verify(ctx, a.Token)
	if err := e.svc.FlushLastUsed(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(e.st.touchCalls()); n != 1 {
		t.Fatalf("%d touch calls within one minute, want 1", n)
	}

	// Next minute: written again; a failed write is retried.
	e.clock.Advance(time.Minute)
	e.svc.Verify(ctx, a.Token)
	e.st.failTouch.Store(true)
	if err := e.svc.FlushLastUsed(ctx); !errors.Is(err, errInjected) {
		t.Fatalf("flush: %v, want injected failure", err)
	}
	e.st.failTouch.Store(false)
	if err := e.svc.FlushLastUsed(ctx); err != nil {
		t.Fatal(err)
	}
	calls = e.st.touchCalls()
	if len(calls) != 2 || len(calls[1]) != 1 {
		t.Fatalf("touch calls %v, want a second batch with key a only", calls)
	}
	ka, _ = e.svc.Get(ctx, a.Key.ID)
	if !ka.LastUsedAt.Equal(store.Micro(e.clock.Now())) {
		t.Fatalf("last used %v, want %v", ka.LastUsedAt, e.clock.Now())
	}
}

func TestSweepExpired(t *testing.T) {
	for _, o := range stores() {
		t.Run(o.name, func(t *testing.T) {
			e := newEnv(t, o.open(t), Options{})
			ctx := context.Background()
			now := e.clock.Now()
			soon := e.issue(t, IssueRequest{Name: "soon", ExpiresAt: tp(now.Add(time.Minute))})
			later := e.issue(t, IssueRequest{Name: "later", ExpiresAt: tp(now.Add(2 * time.Minute))})
			never := e.issue(t, IssueRequest{Name: "never"})
			gone := e.issue(t, IssueRequest{Name: "revoked first", ExpiresAt: tp(now.Add(time.Minute))})
			if _, _, err := e.svc.Revoke(ctx, gone.Key.ID, "", alice); err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.Verify(ctx, soon.Token); err != nil {
				t.Fatal(err)
			}
			if n, err := e.svc.SweepExpired(ctx); err != nil || n != 0 {
				t.Fatalf("sweep before any expiry: %d, %v", n, err)
			}
			e.clock.Advance(3 * time.Minute)
			n, err := e.svc.SweepExpired(ctx)
			if err != nil || n != 2 {
				t.Fatalf("sweep: %d, %v; want 2", n, err)
			}
			for _, id := range []string{soon.Key.ID, later.Key.ID} {
				k, _ := e.svc.Get(ctx, id)
				if k.ExpiredAt == nil || !k.ExpiredAt.Equal(store.Micro(e.clock.Now())) {
					t.Fatalf("key %s expired at %v", k.Name, k.ExpiredAt)
				}
			}
			if k, _ := e.svc.Get(ctx, never.Key.ID); k.ExpiredAt != nil {
				t.Fatal("a key without expiry was marked expired")
			}
			var expired []string
			for _, ev := range e.events(t) {
				if ev.Action == audit.ActionKeyExpire {
					if ev.Actor != ActorSystem {
						t.Fatalf("expire event by %q", ev.Actor)
					}
					expired = append(expired, ev.Target)
				}
			}
			slices.Sort(expired)
			want := []string{soon.Key.ID, later.Key.ID}
			slices.Sort(want)
			if !slices.Equal(expired, want) {
				t.Fatalf("key.expire events for %v, want %v", expired, want)
			}
			if n, err := e.svc.SweepExpired(ctx); err != nil || n != 0 {
				t.Fatalf("second sweep: %d, %v; want nothing more", n, err)
			}
			if _, err := e.svc.Verify(ctx, soon.Token); !errors.Is(err, ErrExpired) {
				t.Fatalf("verify swept key: %v", err)
			}
			e.verifyChain(t)
		})
	}
}

func TestSweepManyKeysInBatches(t *testing.T) {
	e := newEnv(t, openSQLite(t), Options{})
	exp := e.clock.Now().Add(time.Minute)
	for range sweepBatch + 30 {
		e.issue(t, IssueRequest{ExpiresAt: &exp})
	}
	e.clock.Advance(time.Hour)
	n, err := e.svc.SweepExpired(context.Background())
	if err != nil || n != sweepBatch+30 {
		t.Fatalf("sweep: %d, %v; want %d", n, err, sweepBatch+30)
	}
	e.verifyChain(t)
}

func TestRunFlushesAndSweeps(t *testing.T) {
	e := newEnv(t, openSQLite(t), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	used := e.issue(t, IssueRequest{Name: "used"})
	expiring := e.issue(t, IssueRequest{Name: "expiring", ExpiresAt: tp(e.clock.Now().Add(time.Second))})
	e.clock.Advance(time.Minute)
	done := make(chan error)
	go func() { done <- e.svc.Run(ctx) }()

	// Run's first round records the expiry without waiting for a tick.
	deadline := time.Now().Add(10 * time.Second)
	for {
		k, err := e.svc.Get(context.Background(), expiring.Key.ID)
		if err != nil {
			t.Fatal(err)
		}
		if k.ExpiredAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run did not record the expiry")
		}
		time.Sleep(5 * time.Millisecond)
	}

	// A use noted now is written by the final flush when Run stops.
	if _, err := e.svc.Verify(ctx, used.Token); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	k, _ := e.svc.Get(context.Background(), used.Key.ID)
	if k.LastUsedAt == nil {
		t.Fatal("Run did not flush last-used times when stopping")
	}
}

func TestListFillsNow(t *testing.T) {
	e := newEnv(t, openSQLite(t), Options{})
	e.issue(t, IssueRequest{Name: "active"})
	e.issue(t, IssueRequest{Name: "expiring", ExpiresAt: tp(e.clock.Now().Add(time.Minute))})
	e.clock.Advance(time.Hour)
	ks, _, err := e.svc.List(context.Background(), store.KeyFilter{State: store.StateActive})
	if err != nil || len(ks) != 1 || ks[0].Name != "active" {
		t.Fatalf("active keys at the service's time: %v, %v", ks, err)
	}
}
