package keys

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mapwright/mapwright/internal/metrics"
	"github.com/mapwright/mapwright/pkg/apikey"
)

// BenchmarkVerifyCached measures the request path for a known key: parse,
// hash, cache hit, state check, and the hit counted in the daemon's
// cache_lookups_total metric. The target is well under a microsecond and
// zero allocations.
func BenchmarkVerifyCached(b *testing.B) {
	m := metrics.New(prometheus.NewRegistry())
	e := newEnv(b, openSQLite(b), Options{Now: time.Now, CacheRecorder: m.KeyCache()})
	iss := e.issue(b, IssueRequest{})
	ctx := context.Background()
	if _, err := e.svc.Verify(ctx, iss.Token); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.Verify(ctx, iss.Token); err != nil {
			b.Fatal(err)
		}
	}
	if n := e.st.byHash.Load(); n != 1 {
		b.Fatalf("%d store lookups, want 1", n)
	}
}

// BenchmarkVerifyCachedParallel is the same under contention from all CPUs.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	m := metrics.New(prometheus.NewRegistry())
	e := newEnv(b, openSQLite(b), Options{Now: time.Now, CacheRecorder: m.KeyCache()})
	var toks []string
	for range 64 {
		toks = append(toks, e.issue(b, IssueRequest{}).Token)
	}
	ctx := context.Background()
	for _, tok := range toks {
		if _, err := e.svc.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := e.svc.Verify(ctx, toks[i%len(toks)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkVerifyMalformed measures rejecting a token with a bad checksum,
// the most expensive malformed case (every other check passes first).
func BenchmarkVerifyMalformed(b *testing.B) {
	e := newEnv(b, openSQLite(b), Options{Now: time.Now})
	tok, err := apikey.Generate(apikey.Public)
	if err != nil {
		b.Fatal(err)
	}
	bad := []byte(tok)
	bad[10] ^= 'A' ^ 'B'
	if bad[10] == tok[10] {
		bad[10] = 'C'
	}
	badTok := string(bad)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.Verify(ctx, badTok); !errors.Is(err, ErrMalformed) {
			b.Fatal(err)
		}
	}
}

// BenchmarkIssue measures creating a key with its audit event on SQLite.
func BenchmarkIssue(b *testing.B) {
	e := newEnv(b, openSQLite(b), Options{})
	ctx := context.Background()
	req := IssueRequest{Kind: apikey.Public, Name: "bench", Origins: []string{"https://*.example.com"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.Issue(ctx, req, alice); err != nil {
			b.Fatal(err)
		}
	}
}
