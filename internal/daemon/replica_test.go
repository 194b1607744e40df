package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/demo"
	"github.com/mapwright/mapwright/internal/sessions"
	"github.com/mapwright/mapwright/internal/testutil/pgtest"
	"github.com/mapwright/mapwright/internal/testutil/testenv"
	"github.com/mapwright/mapwright/pkg/apikey"
	"github.com/mapwright/mapwright/pkg/client"
)

// replica is one mapwrightd running in-process: serve with its own data
// directory on a shared database.
type replica struct {
	name  string
	data  string
	admin *client.Client
	// base is the plain HTTP listener's base URL.
	base string
	logs *testenv.Buffer
}

// replicaConfig is the YAML config every test replica reads: loopback
// listeners, and failure limits high enough that the tests' own refused
// requests do not get the loopback network blocked.
const replicaConfig = `
rate_limit:
  auth_fail_rps: 10000
  auth_fail_burst: 100000
keys:
  cache_ttl: %s
  outage_grace: 5m
`

// startReplica starts serve on dbURL with the demo tileset, copying the
// shared key files from the data directory of from (when not nil), and
// waits until its admin API says ready.
func startReplica(t *testing.T, name, dbURL string, from *replica, cacheTTL string) *replica {
	t.Helper()
	dir := t.TempDir()
	r := &replica{name: name, data: filepath.Join(dir, "data"), logs: &testenv.Buffer{}}
	tiles := filepath.Join(dir, "tiles")
	for _, d := range []string{r.data, tiles} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := demo.WriteTileset(tiles); err != nil {
		t.Fatal(err)
	}
	if from != nil {
		// Every replica of one database shares its audit and session keys.
		for _, f := range []string{audit.KeyFileName, sessions.KeyFileName} {
			b, err := os.ReadFile(filepath.Join(from.data, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(r.data, f), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfgPath := filepath.Join(dir, "mapwrightd.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(replicaConfig, cacheTTL)), 0o600); err != nil {
		t.Fatal(err)
	}
	httpAddr := freeAddr(t)
	sock := filepath.Join(dir, "admin.sock")
	done := startServe(t, r.logs, false, "--config", cfgPath, "--data-dir", r.data, "--tiles", tiles,
		"--database-url", dbURL, "--addr", freeAddr(t), "--http-addr", httpAddr, "--admin-socket", sock)
	c, err := client.New(client.Options{Server: "unix://" + sock})
	if err != nil {
		t.Fatal(err)
	}
	r.admin = c
	r.base = "http://" + httpAddr
	waitReady(t, c, done, r.logs)
	return r
}

var tileClient = &http.Client{Timeout: 10 * time.Second}

// demoTilePath is a tile of the demo tileset.
var demoTilePath = "/v1/tiles/" + strings.TrimSuffix(demo.FileName, ".pmtiles") + "/0/0/0.mvt"

// newUnknownToken returns a well-formed public key that was never issued.
func newUnknownToken(t *testing.T) string {
	tok, err := apikey.Generate(apikey.Public)
	if err != nil {
		t.Error(err)
	}
	return tok
}

// tileStatus fetches one tile from r with token and returns the status (0
// when the request failed).
func (r *replica) tileStatus(token string) int {
	req, _ := http.NewRequest("GET", r.base+demoTilePath, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := tileClient.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestReplicasSeeRevocationsWithinOneSecond runs two daemons on one
// PostgreSQL database, revokes keys through one and measures how long the
// other keeps accepting them. The design promises under a second.
func TestReplicasSeeRevocationsWithinOneSecond(t *testing.T) {
	url := pgtest.URL(t)
	a := startReplica(t, "a", url, nil, "1h")
	b := startReplica(t, "b", url, a, "1h")
	ctx := context.Background()

	const n = 200
	var lags []time.Duration
	for i := range n {
		k, err := a.admin.CreateKey(ctx, client.CreateKeyRequest{Name: fmt.Sprintf("replica key %d", i), Kind: "public"})
		if err != nil {
			t.Fatal(err)
		}
		// A key created on one replica works on the other at once, and is
		// then in that replica's cache (an hour-long TTL: only the notice
		// can end it).
		if got := b.tileStatus(k.Token); got != http.StatusOK {
			t.Fatalf("key %d created on a: status %d on b", i, got)
		}
		if _, err := a.admin.RevokeKey(ctx, k.ID, "replica test"); err != nil {
			t.Fatal(err)
		}
		revoked := time.Now()
		for {
			got := b.tileStatus(k.Token)
			if got == http.StatusForbidden {
				break
			}
			if got != http.StatusOK {
				t.Fatalf("key %d while its revocation travels: status %d on b", i, got)
			}
			if time.Since(revoked) > 5*time.Second {
				t.Fatalf("key %d revoked on a still serves on b after 5 s:\n%s", i, b.logs.String())
			}
			time.Sleep(2 * time.Millisecond)
		}
		lags = append(lags, time.Since(revoked))
	}
	slices.Sort(lags)
	p50, p99, worst := lags[len(lags)/2], lags[len(lags)*99/100], lags[len(lags)-1]
	t.Logf("revocation reached the other replica over %d revocations: p50 %v, p99 %v, max %v", n, p50, p99, worst)
	if p99 > time.Second {
		t.Errorf("p99 revocation lag %v, want under 1 s", p99)
	}

	// Both replicas appended to one audit chain, which verifies.
	res, err := b.admin.AuditVerify(ctx, client.AuditVerifyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK {
		t.Fatalf("audit chain after two replicas: %+v", res)
	}
}

// TestDatabaseOutageUnderLoad stops PostgreSQL under a daemon serving
// tiles and starts it again. Keys verified before the outage keep being
// served, unknown keys get 503 with Retry-After, readiness reports the
// outage, admin writes fail with a clear error, and everything recovers
// without a restart.
func TestDatabaseOutageUnderLoad(t *testing.T) {
	cluster := pgtest.NewCluster(t)
	// A short cache TTL, so the outage outlives it and the grace answers.
	r := startReplica(t, "solo", cluster.URL, nil, "1s")
	ctx := context.Background()
	good, err := r.admin.CreateKey(ctx, client.CreateKeyRequest{Name: "verified before", Kind: "public", Rate: 1e6, Burst: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.tileStatus(good.Token); got != http.StatusOK {
		t.Fatalf("before the outage: %d", got)
	}

	type tally struct {
		mu     sync.Mutex
		counts map[string]map[int]int // phase -> status -> count
	}
	seen := &tally{counts: map[string]map[int]int{}}
	var phase sync.Map
	phase.Store("p", "before")
	count := func(kind string, status int) {
		p, _ := phase.Load("p")
		key := kind + "/" + p.(string)
		seen.mu.Lock()
		defer seen.mu.Unlock()
		if seen.counts[key] == nil {
			seen.counts[key] = map[int]int{}
		}
		seen.counts[key][status]++
	}
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for loadCtx.Err() == nil {
				count("good", r.tileStatus(good.Token))
			}
		})
	}
	wg.Go(func() {
		for loadCtx.Err() == nil {
			tok := newUnknownToken(t)
			count("unknown", r.tileStatus(tok))
			time.Sleep(10 * time.Millisecond)
		}
	})

	time.Sleep(300 * time.Millisecond)
	phase.Store("p", "outage")
	cluster.Stop(t)
	time.Sleep(1500 * time.Millisecond) // past the cache TTL: the grace answers now
	if err := r.admin.Ready(ctx); err == nil {
		t.Error("/readyz says ready with the database down")
	}
	if b, err := r.admin.Metrics(ctx); err != nil {
		t.Errorf("metrics during the outage: %v", err)
	} else if !bytes.Contains(b, []byte("\nmapwright_database_up 0\n")) {
		t.Error("metrics during the outage do not say mapwright_database_up 0")
	}
	_, err = r.admin.CreateKey(ctx, client.CreateKeyRequest{Name: "during outage", Kind: "public"})
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusServiceUnavailable {
		t.Errorf("creating a key during the outage: %v, want a 503", err)
	}
	// An unknown key is refused with 503 and Retry-After, never 401.
	req, _ := http.NewRequest("GET", r.base+demoTilePath, nil)
	req.Header.Set("Authorization", "Bearer "+newUnknownToken(t))
	if resp, err := tileClient.Do(req); err != nil {
		t.Error(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("unknown key during the outage: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	time.Sleep(500 * time.Millisecond)

	phase.Store("p", "recovering")
	cluster.Start(t)
	deadline := time.Now().Add(30 * time.Second)
	for r.admin.Ready(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("not ready 30 s after the database came back:\n%s", r.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Unknown keys are refused as unknown again once the database answers
	// (the first lookups after it returns may still fail fast briefly).
	deadline = time.Now().Add(10 * time.Second)
	for r.tileStatus(newUnknownToken(t)) != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatal("unknown keys still not answered 401 10 s after recovery")
		}
		time.Sleep(50 * time.Millisecond)
	}
	phase.Store("p", "after")
	fresh, err := r.admin.CreateKey(ctx, client.CreateKeyRequest{Name: "after the outage", Kind: "public"})
	if err != nil {
		t.Fatalf("creating a key after recovery: %v", err)
	}
	if got := r.tileStatus(fresh.Token); got != http.StatusOK {
		t.Errorf("key created after recovery: %d", got)
	}
	time.Sleep(300 * time.Millisecond)
	stopLoad()
	wg.Wait()

	seen.mu.Lock()
	defer seen.mu.Unlock()
	t.Logf("statuses by key and phase: %v", seen.counts)
	for key, statuses := range seen.counts {
		for status, n := range statuses {
			switch {
			case strings.HasPrefix(key, "good/") && status != http.StatusOK:
				t.Errorf("%s: %d × status %d; a verified key must be served throughout", key, n, status)
			case key == "unknown/before" || key == "unknown/after":
				if status != http.StatusUnauthorized {
					t.Errorf("%s: %d × status %d, want 401", key, n, status)
				}
			case strings.HasPrefix(key, "unknown/") && status != http.StatusUnauthorized && status != http.StatusServiceUnavailable:
				t.Errorf("%s: %d × status %d, want 503 (or 401 once the database answers)", key, n, status)
			}
		}
	}
	if seen.counts["good/outage"][http.StatusOK] == 0 {
		t.Error("no verified-key request was served during the outage")
	}
	if seen.counts["unknown/outage"][http.StatusServiceUnavailable] == 0 {
		t.Error("no unknown key was refused with 503 during the outage")
	}
}
