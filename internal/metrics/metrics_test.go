package metrics

import (
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

// exercised returns a registry with every collector holding a sample.
func exercised(t *testing.T) (*prometheus.Registry, *Metrics) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := New(reg)
	m.HTTPRequests.WithLabelValues("public", "/v1/tiles/{tileset}/{z}/{x}/{y}.{ext}", "200").Inc()
	m.HTTPDuration.WithLabelValues("public", "/livez").Observe(0.002)
	m.AuthFailures.WithLabelValues("unknown").Inc()
	m.RateLimited.WithLabelValues(ScopeKey).Inc()
	m.KeyMisuse.Inc()
	m.KeyCache().Hit()
	m.KeyCache().Miss()
	m.TileCache().Hit()
	m.ObserveStore(StoreOpGetKeyByHash, time.Now().Add(-3*time.Millisecond))
	m.SetTilesets(4, 1)
	m.SetBuildInfo("1.2.3", "sqlite")
	m.AuditEvent("key.create")
	m.BackupRun(true, time.Unix(1_700_000_000, 0))
	m.BackupRun(false, time.Unix(1_700_000_600, 0))
	return reg, m
}

func TestEveryMetricIsExposed(t *testing.T) {
	reg, _ := exercised(t)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range families {
		got[f.GetName()] = true
	}
	for _, name := range []string{
		"mapwright_http_requests_total", "mapwright_http_request_duration_seconds",
		"mapwright_auth_failures_total", "mapwright_rate_limited_total", "mapwright_key_misuse_total",
		"mapwright_cache_lookups_total", "mapwright_store_latency_seconds", "mapwright_tilesets_loaded",
		"mapwright_tilesets_failed", "mapwright_build_info", "mapwright_audit_events_total",
		"mapwright_backups_total", "mapwright_backup_last_success_timestamp_seconds",
	} {
		if !got[name] {
			t.Errorf("%s not exposed", name)
		}
	}
	if n := len(got); n != 13 {
		t.Errorf("%d metric families, want 13", n)
	}
}

func TestValues(t *testing.T) {
	reg, m := exercised(t)
	// A failed run counts but keeps the time of the last success.
	if v := testutil.ToFloat64(m.Backups.WithLabelValues("failure")); v != 1 {
		t.Errorf("failed backups %v", v)
	}
	if v := testutil.ToFloat64(m.BackupLastSuccess); v != 1_700_000_000 {
		t.Errorf("last successful backup %v", v)
	}
	if v := testutil.ToFloat64(m.CacheLookups.WithLabelValues(CacheKeyVerify, "hit")); v != 1 {
		t.Errorf("key cache hits %v", v)
	}
	if v := testutil.ToFloat64(m.CacheLookups.WithLabelValues(CacheTileDirectory, "miss")); v != 0 {
		t.Errorf("tile cache misses %v", v)
	}
	if v := testutil.ToFloat64(m.TilesetsFailed); v != 1 {
		t.Errorf("tilesets_failed %v", v)
	}
	if v := testutil.ToFloat64(m.RateLimited.WithLabelValues(ScopeIP)); v != 0 {
		t.Errorf("ip scope %v", v)
	}
	m.SetBuildInfo("1.2.4", "postgres")
	want := `
# HELP mapwright_build_info Always 1; labels carry the build version, Go version and storage backend.
# TYPE mapwright_build_info gauge
mapwright_build_info{backend="postgres",goversion="` + runtime.Version() + `",version="1.2.4"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "mapwright_build_info"); err != nil {
		t.Error(err)
	}
}

// TestSeriesExistBeforeFirstEvent: a fresh daemon shows 0, not "no data",
// for every cache result and store operation, so rates and alerts work from
// the first scrape.
func TestSeriesExistBeforeFirstEvent(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg)
	want := `
# HELP mapwright_cache_lookups_total Cache lookups by cache and result (hit or miss): key_verify is the key service's cache of verified and unknown keys, tile_directory the PMTiles readers' caches of decoded leaf directories.
# TYPE mapwright_cache_lookups_total counter
mapwright_cache_lookups_total{cache="key_verify",result="hit"} 0
mapwright_cache_lookups_total{cache="key_verify",result="miss"} 0
mapwright_cache_lookups_total{cache="tile_directory",result="hit"} 0
mapwright_cache_lookups_total{cache="tile_directory",result="miss"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "mapwright_cache_lookups_total"); err != nil {
		t.Error(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]bool{}
	for _, f := range families {
		if f.GetName() != "mapwright_store_latency_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "op" && m.GetHistogram().GetSampleCount() == 0 {
					ops[l.GetValue()] = true
				}
			}
		}
	}
	for _, op := range StoreOps() {
		if !ops[op] {
			t.Errorf("store_latency_seconds{op=%q} is not exposed at 0 before the first operation", op)
		}
	}
}

// TestCacheRecordersAreCheapAndBound: the recorders handed to the key
// service and the tile readers count into their own cache's series and
// cost no allocation, as they run on every tile request.
func TestCacheRecordersAreCheapAndBound(t *testing.T) {
	m := New(prometheus.NewRegistry())
	tests := []struct {
		name   string
		rec    CacheRecorder
		record func(CacheRecorder)
		cache  string
		result string
	}{
		{"key verify hit", m.KeyCache(), CacheRecorder.Hit, CacheKeyVerify, "hit"},
		{"key verify miss", m.KeyCache(), CacheRecorder.Miss, CacheKeyVerify, "miss"},
		{"tile directory hit", m.TileCache(), CacheRecorder.Hit, CacheTileDirectory, "hit"},
		{"tile directory miss", m.TileCache(), CacheRecorder.Miss, CacheTileDirectory, "miss"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			type series struct{ cache, result string }
			before := map[series]float64{}
			for _, c := range []string{CacheKeyVerify, CacheTileDirectory} {
				for _, r := range []string{"hit", "miss"} {
					before[series{c, r}] = testutil.ToFloat64(m.CacheLookups.WithLabelValues(c, r))
				}
			}
			allocs := testing.AllocsPerRun(100, func() { tt.record(tt.rec) })
			if allocs != 0 {
				t.Errorf("%v allocations per lookup, want 0", allocs)
			}
			for s, was := range before {
				want := was
				if s == (series{tt.cache, tt.result}) {
					// AllocsPerRun runs the function once more to warm up.
					want += 101
				}
				if got := testutil.ToFloat64(m.CacheLookups.WithLabelValues(s.cache, s.result)); got != want {
					t.Errorf("cache_lookups_total{cache=%q,result=%q} = %v, want %v", s.cache, s.result, got, want)
				}
			}
		})
	}
}

func TestNotOnDefaultRegistry(t *testing.T) {
	New(prometheus.NewRegistry())
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if strings.HasPrefix(f.GetName(), Namespace+"_") {
			t.Errorf("%s registered on the default registry", f.GetName())
		}
	}
	// Two instances on two registries do not collide.
	New(prometheus.NewRegistry())
}

func TestLint(t *testing.T) {
	reg, _ := exercised(t)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestPromtool runs the exposition through promtool check metrics when it is
// installed (Debian package prometheus).
func TestPromtool(t *testing.T) {
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is required in CI (Debian package prometheus; .ci/run installs it)")
		}
		t.Skip("promtool not installed (Debian package prometheus): the exposition format check is skipped")
	}
	reg, _ := exercised(t)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = &buf
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}
