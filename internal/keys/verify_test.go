package keys

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/pkg/apikey"
)

func TestVerifyDistinctErrors(t *testing.T) {
	e := newEnv(t, openSQLite(t), Options{})
	ctx := context.Background()
	now := e.clock.Now()

	good := e.issue(t, IssueRequest{Name: "good"})
	revoked := e.issue(t, IssueRequest{Name: "revoked"})
	if _, _, err := e.svc.Revoke(ctx, revoked.Key.ID, "test", alice); err != nil {
		t.Fatal(err)
	}
	expiring := e.issue(t, IssueRequest{Name: "expiring", ExpiresAt: tp(now.Add(time.Minute))})
	pending := e.issue(t, IssueRequest{Name: "pending", NotBefore: tp(now.Add(48 * time.Hour))})
	e.clock.Advance(2 * time.Minute)
	unknown, err := apikey.Generate(apikey.Public)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	all := []error{ErrMalformed, ErrUnknownKey, ErrRevoked, ErrExpired, ErrNotYetValid}
	cases := []struct {
		name   string
		token  string
		want   error
		cause  error
		lookup bool // whether the store may be asked
	}{
		{"good", good.Token, nil, nil, true},
		{"empty", "", ErrMalformed, apikey.ErrPrefix, false},
		{"wrong prefix", "mpw_xk_" + good.Token[7:], ErrMalformed, apikey.ErrPrefix, false},
		{"truncated", good.Token[:len(good.Token)-1], ErrMalformed, apikey.ErrLength, false},
		{"trailing newline", good.Token + "\n", ErrMalformed, apikey.ErrLength, false},
		{"bad character", good.Token[:10] + "-" + good.Token[11:], ErrMalformed, apikey.ErrAlphabet, false},
		{"typo", flip(good.Token, 12), ErrMalformed, apikey.ErrChecksum, false},
		{"unknown", unknown, ErrUnknownKey, nil, true},
		{"revoked", revoked.Token, ErrRevoked, nil, true},
		{"expired", expiring.Token, ErrExpired, nil, true},
		{"not yet valid", pending.Token, ErrNotYetValid, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.st.byHash.Load()
			k, err := e.svc.Verify(ctx, tc.token)
			if tc.want == nil {
				if err != nil || k == nil || k.ID != good.Key.ID {
					t.Fatalf("verify: %v", err)
				}
				return
			}
			for _, other := range all {
				if errors.Is(err, other) != (other == tc.want) {
					t.Fatalf("error %v: errors.Is(%v) = %v", err, other, !(other == tc.want))
				}
			}
			if tc.cause != nil && !errors.Is(err, tc.cause) {
				t.Fatalf("error %v does not carry %v", err, tc.cause)
			}
			if !tc.lookup && e.st.byHash.Load() != before {
				t.Fatal("a malformed token reached the store")
			}
			if strings.Contains(err.Error(), tc.token) && tc.token != "" {
				t.Fatal("the error message contains the token")
			}
			switch tc.want {
			case ErrRevoked, ErrExpired, ErrNotYetValid:
				if k == nil {
					t.Fatal("state errors must come with the key for attribution")
				}
			default:
				if k != nil {
					t.Fatal("a key was returned for an unknown or malformed token")
				}
			}
		})
	}
}

func TestMalformedTokensNeverReachTheStore(t *testing.T) {
	e := newEnv(t, openSQLite(t), Options{})
	good := e.issue(t, IssueRequest{})
	bad := []string{"", "x", "Bearer " + good.Token, good.Token[:42], good.Token + good.Token,
		strings.ToUpper(good.Token), "mpw_pk_" + strings.Repeat("0", 36), "mpw_sk_" + good.Token[7:]}
	for _, tok := range bad {
		if _, err := e.svc.Verify(context.Background(), tok); !errors.Is(err, ErrMalformed) {
			t.Fatalf("Verify(%s) = %v, want ErrMalformed", apikey.Redact(tok), err)
		}
	}
	if n := e.st.byHash.Load(); n != 0 {
		t.Fatalf("%d store lookups for malformed tokens, want 0", n)
	}
}

func TestNegativeCache(t *testing.T) {
	e := newEnv(t, openSQLite(t), Options{CacheTTL: 10 * time.Second})
	unknown, _ := apikey.Generate(apikey.Secret)
	for range 5 {
		if _, err := e.svc.Verify(context.Background(), unknown); !errors.Is(err, ErrUnknownKey) {
			t.Fatal(err)
		}
	}
	if n := e.st.byHash.Load(); n != 1 {
		t.Fatalf("%d lookups for one repeated unknown key, want 1", n)
	}
	e.clock.Advance(10 * time.Second)
	if _, err := e.svc.Verify(context.Background(), unknown); !errors.Is(err, ErrUnknownKey) {
		t.Fatal(err)
	}
	if n := e.st.byHash.Load(); n != 2 {
		t.Fatalf("%d lookups after the TTL, want 2 (the answer must be reread)", n)
	}
}

func TestPositiveCacheAndTTL(t *testing.T) {
	e := newEnv(t, openSQLite(t), Options{CacheTTL: 30 * time.Second})
	iss := e.issue(t, IssueRequest{})
	for range 10 {
		if _, err := e.svc.Verify(context.Background(), iss.Token); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.st.byHash.Load(); n != 1 {
		t.Fatalf("%d lookups for a cached key, want 1", n)
	}
	// A change made behind the service's back (another replica) shows after
	// the TTL even without an invalidation.
	err := e.st.Store.Update(context.Background(), func(tx store.Tx) error {
		k, err := tx.GetKey(context.Background(), iss.Key.ID)
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
	if _, err := e.svc.Verify(context.Background(), iss.Token); err != nil {
		t.Fatalf("within the TTL the cached answer stands: %v", err)
	}
	e.clock.Advance(30 * time.Second)
	if _, err := e.svc.Verify(context.Background(), iss.Token); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after the TTL: %v, want ErrRevoked", err)
	}
	// Invalidate makes such a change visible at once.
	other := e.issue(t, IssueRequest{Name: "other"})
	if _, err := e.svc.Verify(context.Background(), other.Token); err != nil {
		t.Fatal(err)
	}
	_ = e.st.Store.Update(context.Background(), func(tx store.Tx) error {
		k, _ := tx.GetKey(context.Background(), other.Key.ID)
		now := store.Micro(e.clock.Now())
		k.RevokedAt = &now
		return tx.UpdateKey(context.Background(), k)
	})
	e.svc.Invalidate(other.Key.Hash)
	if _, err := e.svc.Verify(context.Background(), other.Token); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after Invalidate: %v, want ErrRevoked", err)
	}
	e.svc.InvalidateAll()
	before := e.st.byHash.Load()
	e.svc.Verify(context.Background(), other.Token)
	if e.st.byHash.Load() != before+1 {
		t.Fatal("InvalidateAll did not empty the cache")
	}
}

func TestCacheIsBounded(t *testing.T) {
	e := newEnv(t, openSQLite(t), Options{CacheSize: 32, NegativeCacheSize: 16})
	var toks []string
	for range 100 {
		toks = append(toks, e.issue(t, IssueRequest{}).Token)
	}
	for round := range 2 {
		for i, tok := range toks {
			k, err := e.svc.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("round %d key %d: %v", round, i, err)
			}
			if k.Hash != apikey.Hash(tok) {
				t.Fatal("verify returned another key's entry")
			}
		}
	}
	if n := e.svc.pos.len(); n > 32 {
		t.Fatalf("positive cache holds %d entries, limit 32", n)
	}
	for range 100 {
		u, _ := apikey.Generate(apikey.Public)
		e.svc.Verify(context.Background(), u)
	}
	if n := e.svc.neg.len(); n > 16 {
		t.Fatalf("negative cache holds %d entries, limit 16", n)
	}
	// A hot key survives a flood of cold ones: CLOCK gives a recently used
	// entry a second chance.
	e.svc.InvalidateAll()
	hot := toks[0]
	before := e.st.byHash.Load()
	for i := 1; i < 100; i++ {
		e.svc.Verify(context.Background(), hot)
		e.svc.Verify(context.Background(), toks[i])
	}
	if got := e.st.byHash.Load() - before; got != 100 {
		t.Fatalf("%d lookups, want 100 (the hot key once, each cold key once); the hot key was evicted", got)
	}
}

func TestCacheDisabled(t *testing.T) {
	e := newEnv(t, openSQLite(t), Options{CacheSize: -1, NegativeCacheSize: -1})
	iss := e.issue(t, IssueRequest{})
	for range 3 {
		if _, err := e.svc.Verify(context.Background(), iss.Token); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.st.byHash.Load(); n != 3 {
		t.Fatalf("%d lookups with the cache disabled, want 3", n)
	}
}

// TestRevokeDuringLoadIsNotCachedStale: a Verify that read the key before a
// revocation committed must not put its stale copy into the cache after the
// revocation invalidated it.
func TestRevokeDuringLoadIsNotCachedStale(t *testing.T) {
	e := newEnv(t, openSQLite(t), Options{})
	iss := e.issue(t, IssueRequest{})
	loaded, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hook := func() { once.Do(func() { close(loaded); <-release }) }
	e.st.onLoad.Store(&hook)
	done := make(chan error, 1)
	go func() {
		_, err := e.svc.Verify(context.Background(), iss.Token)
		done <- err
	}()
	<-loaded // the loader holds the pre-revocation row
	if _, _, err := e.svc.Revoke(context.Background(), iss.Key.ID, "compromised", alice); err != nil {
		t.Fatal(err)
	}
	e.st.onLoad.Store(nil)
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("the racing Verify saw the pre-revocation state, as expected, but failed: %v", err)
	}
	if _, err := e.svc.Verify(context.Background(), iss.Token); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after revocation: %v, want ErrRevoked (a stale entry was cached)", err)
	}
}

func TestVerifyConcurrentWithRevoke(t *testing.T) {
	e := newEnv(t, openSQLite(t), Options{})
	iss := e.issue(t, IssueRequest{})
	ctx, cancel := context.WithCancel(context.Background())
	var wg, started sync.WaitGroup
	for range 8 {
		started.Add(1)
		wg.Go(func() {
			first := true
			for ctx.Err() == nil {
				k, err := e.svc.Verify(context.Background(), iss.Token)
				if err != nil && !errors.Is(err, ErrRevoked) {
					t.Error(err)
					return
				}
				if k == nil || k.ID != iss.Key.ID {
					t.Error("wrong key")
					return
				}
				if first {
					started.Done()
					first = false
				}
			}
		})
	}
	started.Wait()
	if _, _, err := e.svc.Revoke(context.Background(), iss.Key.ID, "", alice); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if _, err := e.svc.Verify(context.Background(), iss.Token); !errors.Is(err, ErrRevoked) {
			t.Fatalf("after Revoke returned: %v", err)
		}
	}
	cancel()
	wg.Wait()
}

func TestVerifyCachedDoesNotAllocate(t *testing.T) {
	// A fixed clock keeps a minute boundary (one last-used note) out of the
	// measurement.
	e := newEnv(t, openSQLite(t), Options{})
	iss := e.issue(t, IssueRequest{})
	ctx := context.Background()
	if _, err := e.svc.Verify(ctx, iss.Token); err != nil {
		t.Fatal(err)
	}
	bad := iss.Token[:len(iss.Token)-1] + "!"
	if n := testing.AllocsPerRun(200, func() { e.svc.Verify(ctx, iss.Token) }); n != 0 {
		t.Fatalf("cached Verify allocates %v times per call, want 0", n)
	}
	if n := testing.AllocsPerRun(200, func() { e.svc.Verify(ctx, bad) }); n != 0 {
		t.Fatalf("malformed Verify allocates %v times per call, want 0", n)
	}
}
