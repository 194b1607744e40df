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
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/metrics"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/sqlite"
	"github.com/mapwright/mapwright/internal/testutil/testenv"
	"github.com/mapwright/mapwright/internal/tiles/pmtiles"
	"github.com/mapwright/mapwright/pkg/client"
)

// sample returns the value of the counter, or the sample count of the
// histogram, called name whose labels include want; 0 when there is none.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return 0
	}
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		if h := m.GetHistogram(); h != nil {
			return float64(h.GetSampleCount())
		}
		if g := m.GetGauge(); g != nil {
			return g.GetValue()
		}
		return m.GetCounter().GetValue()
	}
	return 0
}

func gather(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	list, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	fams := map[string]*dto.MetricFamily{}
	for _, f := range list {
		fams[f.GetName()] = f
	}
	return fams
}

var errRollback = errors.New("roll back")

func TestMeteredStore(t *testing.T) {
	ctx := context.Background()
	ev := func(action string) audit.Event { return audit.Event{Actor: actorSystem, Action: action} }
	tests := []struct {
		name      string
		run       func(st store.Store, log *audit.Log) error
		wantErr   error
		wantAudit map[string]float64
		wantOps   map[string]float64
	}{
		{
			name: "an event committed alone counts",
			run: func(st store.Store, log *audit.Log) error {
				_, err := log.AppendStandalone(ctx, st, ev(audit.ActionServerStart))
				return err
			},
			wantAudit: map[string]float64{audit.ActionServerStart: 1},
			wantOps:   map[string]float64{metrics.StoreOpUpdate: 1},
		},
		{
			name: "every event of a committed transaction counts",
			run: func(st store.Store, log *audit.Log) error {
				return st.Update(ctx, func(tx store.Tx) error {
					for _, a := range []string{audit.ActionKeyExpire, audit.ActionKeyExpire, audit.ActionKeyRevoke} {
						if _, err := log.Append(ctx, tx, ev(a)); err != nil {
							return err
						}
					}
					return nil
				})
			},
			wantAudit: map[string]float64{audit.ActionKeyExpire: 2, audit.ActionKeyRevoke: 1},
			wantOps:   map[string]float64{metrics.StoreOpUpdate: 1},
		},
		{
			name: "events of a rolled-back transaction do not count",
			run: func(st store.Store, log *audit.Log) error {
				return st.Update(ctx, func(tx store.Tx) error {
					if _, err := log.Append(ctx, tx, ev(audit.ActionKeyCreate)); err != nil {
						return err
					}
					return errRollback
				})
			},
			wantErr:   errRollback,
			wantAudit: map[string]float64{audit.ActionKeyCreate: 0},
			// The failed transaction's time is still observed.
			wantOps: map[string]float64{metrics.StoreOpUpdate: 1},
		},
		{
			name: "a key lookup is timed, found or not",
			run: func(st store.Store, _ *audit.Log) error {
				_, err := st.GetKeyByHash(ctx, [32]byte{1})
				if errors.Is(err, store.ErrNotFound) {
					return nil
				}
				return fmt.Errorf("lookup of an unknown hash: %v", err)
			},
			wantOps: map[string]float64{metrics.StoreOpGetKeyByHash: 1, metrics.StoreOpUpdate: 0},
		},
		{
			name: "a last-used batch is timed",
			run: func(st store.Store, _ *audit.Log) error {
				return st.TouchKeys(ctx, map[string]time.Time{"key_unknown": time.Now()})
			},
			wantOps: map[string]float64{metrics.StoreOpTouchKeys: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "mapwright.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = raw.Close() })
			reg := prometheus.NewRegistry()
			st := meterStore(raw, metrics.New(reg))
			log := audit.New(bytes.Repeat([]byte{3}, audit.KeySize), nil)
			if err := tt.run(st, log); !errors.Is(err, tt.wantErr) {
				t.Fatalf("run: %v, want %v", err, tt.wantErr)
			}
			fams := gather(t, reg)
			for action, want := range tt.wantAudit {
				if got := sample(fams, "mapwright_audit_events_total", map[string]string{"action": action}); got != want {
					t.Errorf("audit_events_total{action=%q} = %v, want %v", action, got, want)
				}
			}
			for op, want := range tt.wantOps {
				if got := sample(fams, "mapwright_store_latency_seconds", map[string]string{"op": op}); got != want {
					t.Errorf("store_latency_seconds{op=%q} count = %v, want %v", op, got, want)
				}
			}
		})
	}
}

// watchingStore is a store that reports key changes, as PostgreSQL does.
type watchingStore struct {
	store.Store
	watched int
}

func (w *watchingStore) WatchKeys(context.Context, store.KeyWatch) error {
	w.watched++
	return nil
}

func TestMeteredStoreKeepsKeyWatcher(t *testing.T) {
	ctx := context.Background()
	raw, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "mapwright.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	m := metrics.New(prometheus.NewRegistry())
	if _, ok := meterStore(raw, m).(store.KeyWatcher); ok {
		t.Error("a store without key notices gained a KeyWatcher once wrapped")
	}
	ws := &watchingStore{Store: raw}
	w, ok := meterStore(ws, m).(store.KeyWatcher)
	if !ok {
		t.Fatal("a store with key notices lost its KeyWatcher once wrapped: replicas would miss revocations")
	}
	if err := w.WatchKeys(ctx, nil); err != nil || ws.watched != 1 {
		t.Errorf("WatchKeys reached the store %d times (%v), want once", ws.watched, err)
	}
}

// writeLeafyArchive writes a PNG tileset whose root directory is so small
// that every tile entry lives in a leaf directory.
func writeLeafyArchive(t *testing.T, path string) {
	t.Helper()
	var ts []pmtiles.Tile
	for z := 0; z <= 3; z++ {
		for x := 0; x < 1<<z; x++ {
			for y := 0; y < 1<<z; y++ {
				ts = append(ts, pmtiles.Tile{Z: z, X: x, Y: y, Data: fmt.Appendf([]byte("\x89PNG\r\n\x1a\n"), "%d/%d/%d", z, x, y)})
			}
		}
	}
	var buf bytes.Buffer
	if err := pmtiles.Write(&buf, ts, pmtiles.WriterOptions{
		TileType: pmtiles.TileTypePNG, TileCompression: pmtiles.CompressionNone,
		// The header takes 127 bytes: the root directory gets a few more.
		MaxRootBytes: pmtiles.HeaderLen + 8, LeafSize: 8,
		Metadata: map[string]any{"name": "leafy"},
	}); err != nil {
		t.Fatal(err)
	}
	r, err := pmtiles.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if r.Header().LeafDirectoryLength == 0 {
		t.Fatal("the test archive has no leaf directories")
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestServeMetricsMove runs serve in-process and checks that what an
// operator does moves the metrics a dashboard would show: issuing a key
// counts its committed audit event and the transaction's latency; fetching
// a tile twice with it misses, then hits, the verify cache (one database
// lookup, timed) and the tileset's leaf directory cache.
func TestServeMetricsMove(t *testing.T) {
	dir := t.TempDir()
	data, tilesDir := filepath.Join(dir, "data"), filepath.Join(dir, "tiles")
	for _, d := range []string{data, tilesDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	writeLeafyArchive(t, filepath.Join(tilesDir, "leafy.pmtiles"))
	httpAddr, sock := freeAddr(t), filepath.Join(dir, "admin.sock")
	logs := &testenv.Buffer{}
	done := startServe(t, logs, true, "--data-dir", data, "--tiles", tilesDir, "--addr", freeAddr(t),
		"--http-addr", httpAddr, "--admin-socket", sock)
	admin, err := client.New(client.Options{Server: "unix://" + sock})
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, admin, done, logs)
	ctx := context.Background()
	scrape := func() map[string]*dto.MetricFamily {
		t.Helper()
		b, err := admin.Metrics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("parse metrics: %v", err)
		}
		return fams
	}
	type probe struct {
		name   string
		labels map[string]string
	}
	var (
		keyCreate   = probe{"mapwright_audit_events_total", map[string]string{"action": audit.ActionKeyCreate}}
		serverStart = probe{"mapwright_audit_events_total", map[string]string{"action": audit.ActionServerStart}}
		updates     = probe{"mapwright_store_latency_seconds", map[string]string{"op": metrics.StoreOpUpdate}}
		lookups     = probe{"mapwright_store_latency_seconds", map[string]string{"op": metrics.StoreOpGetKeyByHash}}
		keyHit      = probe{"mapwright_cache_lookups_total", map[string]string{"cache": metrics.CacheKeyVerify, "result": "hit"}}
		keyMiss     = probe{"mapwright_cache_lookups_total", map[string]string{"cache": metrics.CacheKeyVerify, "result": "miss"}}
		dirHit      = probe{"mapwright_cache_lookups_total", map[string]string{"cache": metrics.CacheTileDirectory, "result": "hit"}}
		dirMiss     = probe{"mapwright_cache_lookups_total", map[string]string{"cache": metrics.CacheTileDirectory, "result": "miss"}}
	)
	val := func(fams map[string]*dto.MetricFamily, p probe) float64 { return sample(fams, p.name, p.labels) }

	before := scrape()
	if got := sample(before, "mapwright_database_up", nil); got != 1 {
		t.Errorf("database_up = %v with the database answering, want 1", got)
	}
	// The local CA's server certificate is valid for a while yet.
	if got := sample(before, "mapwright_tls_certificate_not_after_timestamp_seconds", nil); got < float64(time.Now().Add(30*24*time.Hour).Unix()) {
		t.Errorf("tls_certificate_not_after_timestamp_seconds = %v, want a time more than 30 days ahead", got)
	}
	if got := val(before, serverStart); got != 1 {
		t.Errorf("audit_events_total{action=%q} = %v after start, want 1", audit.ActionServerStart, got)
	}
	for _, p := range []probe{keyCreate, lookups, keyHit, keyMiss, dirHit, dirMiss} {
		if _, ok := before[p.name]; !ok {
			t.Errorf("%s is not exposed before its first event", p.name)
		}
		if got := val(before, p); got != 0 {
			t.Errorf("%s%v = %v before any key or tile request, want 0", p.name, p.labels, got)
		}
	}

	key, err := admin.CreateKey(ctx, client.CreateKeyRequest{Name: "metrics test", Kind: "public"})
	if err != nil {
		t.Fatal(err)
	}
	afterIssue := scrape()
	if got := val(afterIssue, keyCreate); got != 1 {
		t.Errorf("audit_events_total{action=%q} = %v after issuing a key, want 1", audit.ActionKeyCreate, got)
	}
	if got, was := val(afterIssue, updates), val(before, updates); got <= was {
		t.Errorf("store_latency_seconds{op=%q} count %v after issuing a key, was %v", metrics.StoreOpUpdate, got, was)
	}

	for i := range 2 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+"/v1/tiles/leafy/3/2/5.png", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "\x89PNG\r\n\x1a\n3/2/5" {
			t.Fatalf("tile request %d: status %d, body %q\n%s", i+1, resp.StatusCode, body, logs.String())
		}
	}
	after := scrape()
	want := []struct {
		p    probe
		want float64
	}{
		{keyMiss, 1},
		{keyHit, 1},
		{lookups, 1},
		// The tileset needs one leaf directory per read: the first read
		// decodes it, the second finds it cached.
		{dirMiss, 1},
		{dirHit, 1},
		{keyCreate, 1},
	}
	for _, w := range want {
		if got := val(after, w.p); got != w.want {
			t.Errorf("%s%v = %v after two tile requests, want %v", w.p.name, w.p.labels, got, w.want)
		}
	}
}
