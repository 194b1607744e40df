package keys

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mapwright/mapwright/pkg/apikey"
)

// countingRecorder is a CacheRecorder that counts.
type countingRecorder struct{ hits, misses atomic.Int64 }

func (r *countingRecorder) Hit()  { r.hits.Add(1) }
func (r *countingRecorder) Miss() { r.misses.Add(1) }

func TestCacheRecorderCountsVerifyLookups(t *testing.T) {
	unknown, err := apikey.Generate(apikey.Public)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		opts       Options
		verify     func(t *testing.T, e *env) []error
		wantHits   int64
		wantMisses int64
	}{
		{
			name: "known key twice: one miss, then a hit",
			verify: func(t *testing.T, e *env) []error {
				tok := e.issue(t, IssueRequest{}).Token
				return []error{verifyErr(e, tok), verifyErr(e, tok)}
			},
			wantHits: 1, wantMisses: 1,
		},
		{
			name: "unknown key twice: the negative cache answers the second",
			verify: func(t *testing.T, e *env) []error {
				return []error{verifyErr(e, unknown), verifyErr(e, unknown)}
			},
			wantHits: 1, wantMisses: 1,
		},
		{
			name: "malformed token: refused before any lookup",
			verify: func(t *testing.T, e *env) []error {
				return []error{verifyErr(e, "mpw_pk_nope")}
			},
		},
		{
			name: "revocation through the service drops the cached answer",
			verify: func(t *testing.T, e *env) []error {
				iss := e.issue(t, IssueRequest{})
				first := verifyErr(e, iss.Token)
				if _, _, err := e.svc.Revoke(context.Background(), iss.Key.ID, "test", alice); err != nil {
					t.Fatal(err)
				}
				return []error{first, verifyErr(e, iss.Token), verifyErr(e, iss.Token)}
			},
			wantHits: 1, wantMisses: 2,
		},
		{
			name: "expired cache entry is a miss",
			opts: Options{CacheTTL: time.Minute},
			verify: func(t *testing.T, e *env) []error {
				tok := e.issue(t, IssueRequest{}).Token
				first := verifyErr(e, tok)
				e.clock.Advance(2 * time.Minute)
				return []error{first, verifyErr(e, tok)}
			},
			wantMisses: 2,
		},
		{
			name: "cache disabled: every lookup is a miss",
			opts: Options{CacheSize: -1, NegativeCacheSize: -1},
			verify: func(t *testing.T, e *env) []error {
				tok := e.issue(t, IssueRequest{}).Token
				return []error{verifyErr(e, tok), verifyErr(e, tok), verifyErr(e, unknown)}
			},
			wantMisses: 3,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &countingRecorder{}
			tc.opts.CacheRecorder = rec
			e := newEnv(t, openSQLite(t), tc.opts)
			for i, err := range tc.verify(t, e) {
				// Only the outcome of the lookup matters here; refusals
				// (unknown, revoked, malformed) are expected answers.
				if err != nil && !errors.Is(err, ErrUnknownKey) && !errors.Is(err, ErrRevoked) && !errors.Is(err, ErrMalformed) {
					t.Fatalf("verify %d: %v", i, err)
				}
			}
			if h, m := rec.hits.Load(), rec.misses.Load(); h != tc.wantHits || m != tc.wantMisses {
				t.Errorf("hits %d, misses %d; want %d, %d", h, m, tc.wantHits, tc.wantMisses)
			}
			if m, lookups := rec.misses.Load(), e.st.byHash.Load(); m != lookups {
				t.Errorf("%d misses recorded but the store was asked %d times", m, lookups)
			}
		})
	}
}

func verifyErr(e *env, tok string) error {
	_, err := e.svc.Verify(context.Background(), tok)
	return err
}
