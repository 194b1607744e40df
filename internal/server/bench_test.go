package server

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/metrics"
	"github.com/mapwright/mapwright/internal/store/sqlite"
	"github.com/mapwright/mapwright/internal/tiles"
	"github.com/mapwright/mapwright/pkg/apikey"
)

// benchSets serves the same in-memory source under two names; Acquire hands
// out the shared source, whose Close does nothing.
type benchSets struct{ src tiles.Source }

func (b benchSets) Acquire(name string) (tiles.Source, bool) {
	if name == "pub" || name == "keyed" {
		return b.src, true
	}
	return nil, false
}

func (b benchSets) Names() []string { return []string{"keyed", "pub"} }

// discardWriter is a minimal ResponseWriter, so the benchmark measures the
// handler rather than a recorder. It keeps the start of an error body for
// the failure message.
type discardWriter struct {
	h      http.Header
	status int
	errMsg []byte
}

func (d *discardWriter) Header() http.Header  { return d.h }
func (d *discardWriter) WriteHeader(code int) { d.status = code }
func (d *discardWriter) Write(p []byte) (int, error) {
	if d.status >= 400 && len(d.errMsg) == 0 {
		d.errMsg = append(d.errMsg, p[:min(len(p), 300)]...)
	}
	return len(p), nil
}

// benchTileSize is the stored size of the benchmark tile: small, so that
// the fixed per-request costs (auth above all) weigh as much as they can.
const benchTileSize = 4 << 10

// benchHandler is the full chain (recover, JSON request log, metrics,
// security headers, auth, origin, rate limit) over one gzip tile of size
// bytes, with the real key service on SQLite and its verify cache warm.
func benchHandler(b *testing.B, size int) (http.Handler, string) {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "mapwright.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	akey, err := audit.OpenKey(ctx, dir, st)
	if err != nil {
		b.Fatal(err)
	}
	m := metrics.New(prometheus.NewRegistry())
	svc := keys.New(st, audit.New(akey, nil), keys.Options{CacheRecorder: m.KeyCache()})
	iss, err := svc.Issue(ctx, keys.IssueRequest{
		Kind: apikey.Public, Name: "bench", Origins: []string{"https://maps.example.com"},
		// A burst of the usual size refilled faster than the benchmark
		// drains it (2 million a second): the allowed path is measured.
		Rate: 2e6, Burst: 400,
	}, keys.Actor{Name: "unix:1000(bench)"})
	if err != nil {
		b.Fatal(err)
	}
	// Random bytes do not compress, so the stored tile has about size
	// bytes.
	raw := make([]byte, size)
	_, _ = rand.Read(raw)
	src := &memSource{
		meta:  tiles.Metadata{Format: tiles.FormatMVT, MinZoom: 0, MaxZoom: 14},
		enc:   tiles.EncodingGzip,
		tiles: map[[3]int][]byte{{12, 2200, 1343}: gz(b, raw)},
	}
	h := New(Options{
		Tilesets:       benchSets{src},
		Keys:           svc,
		PublicTilesets: []string{"pub"},
		Logger:         slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Metrics:        m,
	})
	return h, iss.Token
}

// benchRequest is a browser's tile request on a keep-alive connection of
// the public listener (so with the connection's key memo, see ConnContext).
func benchRequest(target string) *http.Request {
	r := newRequest("GET", target)
	r = r.WithContext(ConnContext(r.Context(), nil))
	r.RemoteAddr = "203.0.113.9:50000"
	r.Header.Set("Origin", "https://maps.example.com")
	r.Header.Set("Accept-Encoding", "gzip, deflate, br")
	return r
}

func benchTile(b *testing.B, h http.Handler, target string, parallel bool) {
	newReq := func() *http.Request { return benchRequest(target) }
	once := &discardWriter{h: http.Header{}}
	h.ServeHTTP(once, newReq())
	if once.status != http.StatusOK {
		b.Fatalf("status %d", once.status)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if !parallel {
		r := newReq()
		w := &discardWriter{h: make(http.Header, 16)}
		for b.Loop() {
			clear(w.h)
			w.status = 0
			h.ServeHTTP(w, r)
		}
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		r := newReq()
		w := &discardWriter{h: make(http.Header, 16)}
		for pb.Next() {
			clear(w.h)
			w.status = 0
			h.ServeHTTP(w, r)
			if w.status != http.StatusOK {
				b.Errorf("status %d: %s (%s)", w.status, w.errMsg, w.h.Get("RateLimit"))
				return
			}
		}
	})
}

func BenchmarkTilePublic(b *testing.B) {
	h, _ := benchHandler(b, benchTileSize)
	benchTile(b, h, "/v1/tiles/pub/12/2200/1343.mvt", false)
}

func BenchmarkTileKeyed(b *testing.B) {
	h, tok := benchHandler(b, benchTileSize)
	benchTile(b, h, "/v1/tiles/keyed/12/2200/1343.mvt?key="+tok, false)
}

func BenchmarkTilePublicParallel(b *testing.B) {
	h, _ := benchHandler(b, benchTileSize)
	benchTile(b, h, "/v1/tiles/pub/12/2200/1343.mvt", true)
}

func BenchmarkTileKeyedParallel(b *testing.B) {
	h, tok := benchHandler(b, benchTileSize)
	benchTile(b, h, "/v1/tiles/keyed/12/2200/1343.mvt?key="+tok, true)
}

// BenchmarkTileKeyedVsPublic alternates batches of public and keyed requests
// on one handler and reports the keyed path's throughput as a share of the
// public path's ("keyed/public"; 1.0 would mean auth, origin and rate
// limiting cost nothing). Each batch is timed in process CPU time, so other
// load on the machine does not blur the comparison; run it with -cpu 1 so
// the handler is the only busy goroutine.
func BenchmarkTileKeyedVsPublic(b *testing.B) {
	for _, size := range []int{1 << 10, 4 << 10, 32 << 10} {
		b.Run(strconv.Itoa(size>>10)+"KiB", func(b *testing.B) { benchKeyedVsPublic(b, size) })
	}
}

func benchKeyedVsPublic(b *testing.B, size int) {
	h, tok := benchHandler(b, size)
	pub, keyed := benchRequest("/v1/tiles/pub/12/2200/1343.mvt"), benchRequest("/v1/tiles/keyed/12/2200/1343.mvt?key="+tok)
	w := &discardWriter{h: make(http.Header, 16)}
	run := func(r *http.Request, n int) time.Duration {
		start := processCPU()
		for range n {
			clear(w.h)
			h.ServeHTTP(w, r)
		}
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
		return processCPU() - start
	}
	const batch = 2000
	var tPub, tKeyed time.Duration
	for i := 0; b.Loop(); i++ {
		// The order alternates so neither path always follows the other.
		if i%2 == 0 {
			tPub += run(pub, batch)
			tKeyed += run(keyed, batch)
		} else {
			tKeyed += run(keyed, batch)
			tPub += run(pub, batch)
		}
	}
	n := float64(b.N * batch)
	b.ReportMetric(float64(tPub)/float64(tKeyed), "keyed/public")
	b.ReportMetric(float64(tPub.Nanoseconds())/n, "public-cpu-ns/req")
	b.ReportMetric(float64(tKeyed.Nanoseconds())/n, "keyed-cpu-ns/req")
}
