package tui

import (
	"sync"
	"testing"
	"time"

	"github.com/mapwright/mapwright/pkg/client"
	"github.com/mapwright/mapwright/pkg/client/clienttest"
)

func at(d time.Duration) *time.Time {
	t := testNow.Add(d)
	return &t
}

const day = 24 * time.Hour

// seedKeys stores keys in every state on the fake.
func seedKeys(f *clienttest.Fake) {
	f.AddKey(client.Key{
		ID: "key_0101", Name: "web", Kind: "public", Start: "mpw_pk_Web1",
		Scopes: []string{"tiles:read"}, Tilesets: []string{"osm"}, Origins: []string{"https://maps.example.com"},
		Labels: map[string]string{"env": "prod"}, CreatedAt: testNow.Add(-40 * day), CreatedBy: "unix:1000(alice)",
		ExpiresAt: at(30 * day), LastUsedAt: at(-3 * time.Hour),
	})
	f.AddKey(client.Key{
		ID: "key_0102", Name: "mobile", Kind: "public", Start: "mpw_pk_Mob2",
		Scopes: []string{"tiles:read"}, Tilesets: []string{}, Origins: []string{},
		CreatedAt: testNow.Add(-10 * day), CreatedBy: "unix:1000(alice)",
	})
	f.AddKey(client.Key{
		ID: "key_0103", Name: "ci-rotate", Kind: "secret", Start: "mpw_sk_Ci03",
		Scopes: []string{"keys:read", "keys:rotate"}, CreatedAt: testNow.Add(-5 * day), CreatedBy: "unix:1000(alice)",
		ExpiresAt: at(2 * day), LastUsedAt: at(-20 * time.Minute),
	})
	f.AddKey(client.Key{
		ID: "key_0104", Name: "leaked", Kind: "public", Start: "mpw_pk_Lea4",
		Scopes: []string{"tiles:read"}, CreatedAt: testNow.Add(-90 * day), CreatedBy: "unix:1000(alice)",
		RevokedAt: at(-2 * day), RevokedBy: "unix:1000(bob)", RevokeReason: "found in a public repository",
	})
	f.AddKey(client.Key{
		ID: "key_0105", Name: "trial", Kind: "public", Start: "mpw_pk_Tri5",
		Scopes: []string{"tiles:read"}, CreatedAt: testNow.Add(-60 * day), CreatedBy: "unix:1000(alice)",
		ExpiresAt: at(-30 * day), LastUsedAt: at(-31 * day),
	})
}

// seedTilesets stores one good and one broken tileset on the fake.
func seedTilesets(f *clienttest.Fake) {
	f.SetTilesets(
		client.Tileset{Name: "osm", Path: "tiles/osm.pmtiles", Format: "pmtiles", MinZoom: 0, MaxZoom: 14, Public: false, Status: "ok"},
		client.Tileset{Name: "countries", Path: "tiles/countries.mbtiles", Format: "mbtiles", MinZoom: 0, MaxZoom: 6, Public: true, Status: "ok"},
		client.Tileset{Name: "broken", Path: "tiles/broken.mbtiles", Status: "failed",
			Error: "open tiles/broken.mbtiles: file is not a database: the header is damaged, the file may have been cut short while it was copied"},
	)
}

// seedAudit appends a few events.
func seedAudit(a *auditLog) {
	a.Append("system", "server.start", "", "success", map[string]string{"version": "1.4.0"})
	a.Append("unix:1000(alice)", "key.create", "key_0101", "success", map[string]string{"name": "web", "kind": "public"})
	a.Append("key:key_0103", "key.rotate", "key_0099", "success", map[string]string{"new": "key_0103", "grace": "24h0m0s"})
	a.Append("system", "auth.failure", "key_0104", "failure", map[string]string{"reason": "revoked", "count": "17"})
	a.Append("unix:1000(bob)", "key.revoke", "key_0104", "success", map[string]string{"reason": "found in a public repository"})
}

// trafficSource serves metrics that grow by one interval's traffic at each
// step: the counts and latencies of intervals[step-1] added to the
// previous totals.
type trafficSource struct {
	t         testing.TB
	mu        sync.Mutex
	step      int
	intervals []interval
}

type interval struct {
	counts    map[string]int
	latencies []float64
}

func (s *trafficSource) next() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.step++
}

func (s *trafficSource) metrics() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := map[string]int{}
	var lat []float64
	for _, iv := range s.intervals[:min(s.step, len(s.intervals))] {
		for c, n := range iv.counts {
			counts[c] += n
		}
		lat = append(lat, iv.latencies...)
	}
	return exposition(s.t, counts, lat)
}

// repeat returns n copies of v.
func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// fakeKey is a plain active public key.
func (h *harness) fakeKey(id, name string) client.Key {
	return client.Key{ID: id, Name: name, Kind: "public", Start: "mpw_pk_New0", Scopes: []string{"tiles:read"}, CreatedAt: testNow}
}
