package server

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestKeyRateLimit(t *testing.T) {
	f := newFixture(t, nil)
	path := "/v1/tiles/roads/0/0/0.mvt"
	steps := []struct {
		name       string
		advance    time.Duration
		want       int
		wantRate   string
		wantRetry  string
		wantPolicy string
	}{
		// Key rate 1/s, burst 2: q=2, w=ceil(2/1)=2.
		{name: "first", want: 200, wantRate: `"default";r=1;t=1`, wantPolicy: `"default";q=2;w=2`},
		{name: "second empties the bucket", want: 200, wantRate: `"default";r=0;t=2`, wantPolicy: `"default";q=2;w=2`},
		{name: "third is limited", want: 429, wantRate: `"default";r=0;t=1`, wantRetry: "1", wantPolicy: `"default";q=2;w=2`},
		{name: "after half a second still limited", advance: 500 * time.Millisecond, want: 429, wantRate: `"default";r=0;t=1`, wantRetry: "1", wantPolicy: `"default";q=2;w=2`},
		{name: "after a second one token", advance: 600 * time.Millisecond, want: 200, wantRate: `"default";r=0;t=2`, wantPolicy: `"default";q=2;w=2`},
		{name: "after the window the bucket is full", advance: 3 * time.Second, want: 200, wantRate: `"default";r=1;t=1`, wantPolicy: `"default";q=2;w=2`},
	}
	for _, s := range steps {
		f.advance(s.advance)
		w := f.do(req{path: path, key: roleLimited})
		if w.Code != s.want {
			t.Fatalf("%s: status %d, want %d", s.name, w.Code, s.want)
		}
		if got := w.Header().Get("RateLimit"); got != s.wantRate {
			t.Errorf("%s: RateLimit %q, want %q", s.name, got, s.wantRate)
		}
		if got := w.Header().Get("RateLimit-Policy"); got != s.wantPolicy {
			t.Errorf("%s: RateLimit-Policy %q, want %q", s.name, got, s.wantPolicy)
		}
		if got := w.Header().Get("Retry-After"); got != s.wantRetry {
			t.Errorf("%s: Retry-After %q, want %q", s.name, got, s.wantRetry)
		}
		if s.want == 429 {
			if p := problemOf(t, w); p.Type != ProblemTypePrefix+probRateLimited {
				t.Errorf("%s: problem %q", s.name, p.Type)
			}
		}
	}
}

func TestDefaultRatePolicy(t *testing.T) {
	f := newFixture(t, nil)
	w := f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleNoOrigins})
	if got := w.Header().Get("RateLimit-Policy"); got != `"default";q=400;w=4` {
		t.Errorf("RateLimit-Policy %q", got)
	}
	if got := w.Header().Get("RateLimit"); got != `"default";r=399;t=1` {
		t.Errorf("RateLimit %q", got)
	}
	f2 := newFixture(t, func(o *Options) { o.DefaultRate = 10; o.DefaultBurst = 25 })
	w = f2.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleNoOrigins})
	if got := w.Header().Get("RateLimit-Policy"); got != `"default";q=25;w=3` {
		t.Errorf("configured RateLimit-Policy %q", got)
	}
}

func TestRateLimitedKeyKeepsCORS(t *testing.T) {
	f := newFixture(t, nil)
	k := f.keys.keys[f.tok[roleLimited]]
	k.Origins = []string{"https://maps.example.com"}
	h := map[string]string{"Origin": "https://maps.example.com"}
	var last int
	for range 3 {
		last = f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleLimited, header: h}).Code
	}
	w := f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleLimited, header: h})
	if last != 429 || w.Code != 429 {
		t.Fatalf("statuses %d %d", last, w.Code)
	}
	if w.Header().Get("Access-Control-Allow-Origin") != "https://maps.example.com" {
		t.Errorf("429 to an allowed origin lacks CORS, so the page cannot read Retry-After")
	}
}

func TestKeyRateChangeTakesEffect(t *testing.T) {
	f := newFixture(t, nil)
	k := f.keys.keys[f.tok[roleLimited]]
	for range 3 {
		f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleLimited})
	}
	k.Rate, k.Burst = 50, 100
	w := f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleLimited})
	if w.Code != 200 || w.Header().Get("RateLimit-Policy") != `"default";q=100;w=2` {
		t.Errorf("after a rate change: %d %q", w.Code, w.Header().Get("RateLimit-Policy"))
	}
}

func TestAuthFailureLimit(t *testing.T) {
	f := newFixture(t, nil) // AuthFailBurst 5, 1/s
	attacker := "203.0.113.50:5555"
	neighbour := "203.0.113.99:6666" // same /24
	elsewhere := "198.51.100.7:7777"
	for i := range 5 {
		w := f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleUnknown, remote: attacker})
		if w.Code != 401 {
			t.Fatalf("failure %d: status %d", i, w.Code)
		}
	}
	calls := f.keys.callCount()
	w := f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleUnknown, remote: attacker})
	if w.Code != 429 || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("6th failure: status %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	if p := problemOf(t, w); p.Type != ProblemTypePrefix+probAuthFailures {
		t.Errorf("problem %q", p.Type)
	}
	if f.keys.callCount() != calls {
		t.Errorf("a blocked network still reached the key store")
	}
	if w := f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleGood, remote: neighbour}); w.Code != 429 {
		t.Errorf("same /24 not blocked: %d", w.Code)
	}
	if w := f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleGood, remote: elsewhere}); w.Code != 200 {
		t.Errorf("another network blocked: %d", w.Code)
	}
	if w := f.do(req{path: "/v1/tiles/pub/0/0/0.mvt", remote: attacker}); w.Code != 200 {
		t.Errorf("anonymous public tile blocked: %d", w.Code)
	}
	f.advance(2 * time.Second)
	if w := f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleGood, remote: attacker}); w.Code != 200 {
		t.Errorf("after the refill the network is still blocked: %d", w.Code)
	}
	if n := f.server().blocked.len(); n != 0 {
		t.Errorf("%d networks still listed as blocked after expiry", n)
	}
	// Missing keys and origin refusals are no guessing: they never block.
	f2 := newFixture(t, nil)
	for range 20 {
		f2.do(req{path: "/v1/tiles/roads/0/0/0.mvt", remote: attacker})
		f2.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleNoOrigins, remote: attacker, header: map[string]string{"Origin": "https://x.test"}})
	}
	if w := f2.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleGood, remote: attacker}); w.Code != 200 {
		t.Errorf("missing keys blocked the network: %d", w.Code)
	}
}

func TestAuthFailureIPv6Network(t *testing.T) {
	f := newFixture(t, nil)
	for range 5 {
		f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleUnknown, remote: "[2001:db8:1:2::1]:443"})
	}
	if w := f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleGood, remote: "[2001:db8:1:ffff::9]:443"}); w.Code != 429 {
		t.Errorf("same /48 not blocked: %d", w.Code)
	}
	if w := f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleGood, remote: "[2001:db8:2::1]:443"}); w.Code != 200 {
		t.Errorf("other /48 blocked: %d", w.Code)
	}
}

func TestRecorders(t *testing.T) {
	f := newFixture(t, nil)
	for _, r := range []req{
		{path: "/v1/tiles/roads/0/0/0.mvt"},                                                                            // missing: not reported
		{path: "/v1/tiles/roads/0/0/0.mvt", key: "mpw_pk_garbage"},                                                     // malformed
		{path: "/v1/tiles/roads/0/0/0.mvt", key: roleUnknown},                                                          // unknown
		{path: "/v1/tiles/roads/0/0/0.mvt", key: roleRevoked},                                                          // revoked
		{path: "/v1/tiles/roads/0/0/0.mvt", key: roleNoScope},                                                          // scope
		{path: "/v1/tiles/sat/0/0/0.png", key: roleRoadsOnly},                                                          // tileset
		{path: "/v1/tiles/roads/0/0/0.mvt", key: roleNoOrigins, header: map[string]string{"Origin": "https://x.test"}}, // origin
		{path: "/v1/tiles/roads/0/0/0.mvt", bearer: roleSecret, remote: "192.0.2.200:1"},                               // misuse
	} {
		f.do(r)
	}
	want := []string{ReasonMalformed, ReasonUnknown, ReasonRevoked, ReasonScope, ReasonTileset, ReasonOrigin}
	if got := f.rec.reasons(); !slices.Equal(got, want) {
		t.Errorf("reported reasons %v, want %v", got, want)
	}
	for _, fl := range f.rec.failures {
		if fl.ClientIP != "192.0.2.0/24" {
			t.Errorf("failure client %q, want the truncated network", fl.ClientIP)
		}
		for _, tok := range f.tok {
			if fl.KeyStart == tok {
				t.Errorf("failure carries the full key")
			}
		}
	}
	if f.rec.failures[4].KeyID != "key_ROADSONLY" || f.rec.failures[1].KeyID != "" {
		t.Errorf("key IDs %q %q", f.rec.failures[4].KeyID, f.rec.failures[1].KeyID)
	}
	if len(f.rec.misuse) != 1 {
		t.Fatalf("misuse events %d", len(f.rec.misuse))
	}
	ev := f.rec.misuse[0]
	if ev.KeyStart != f.tok[roleSecret][:11]+"…" || ev.ClientIP != "192.0.2.0/24" || ev.Path != "/v1/tiles/roads/0/0/0.mvt" {
		t.Errorf("misuse event %+v", ev)
	}
}

func TestMisuseNeverLooksUp(t *testing.T) {
	f := newFixture(t, nil)
	for _, r := range []req{
		{path: "/v1/tiles/roads/0/0/0.mvt", key: roleSecret},
		{path: "/v1/tiles/pub/0/0/0.mvt", bearer: roleSecret},
		{path: "/v1/tiles/roads.json", key: roleSecret},
		{path: "/v1/tilesets", bearer: roleSecret},
	} {
		if w := f.do(r); w.Code != 403 {
			t.Errorf("%s: status %d", r.path, w.Code)
		}
	}
	if f.keys.callCount() != 0 {
		t.Errorf("secret keys were looked up %d times", f.keys.callCount())
	}
	if len(f.rec.misuse) != 4 {
		t.Errorf("misuse events %d, want 4", len(f.rec.misuse))
	}
}

func TestLimiterSetBounded(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	ls := newLimiterSet(64, hashString)
	for i := range 10_000 {
		ls.get(fmt.Sprintf("key_%d", i), 100, 400, now)
	}
	if n := ls.len(); n > 64 {
		t.Fatalf("%d buckets held, bound is 64", n)
	}
	// A busy bucket keeps its state while idle full ones are evicted
	// around it.
	busy := ls.get("busy", 1, 3, now)
	busy.take(now)
	busy.take(now)
	later := now + int64(time.Hour)
	for i := range 200 {
		ls.get(fmt.Sprintf("late_%d", i), 100, 400, later)
		if i%10 == 0 {
			ls.get("busy", 1, 3, later)
		}
	}
	if n := ls.len(); n > 64 {
		t.Fatalf("%d buckets held after churn", n)
	}
}

func TestTruncatedClient(t *testing.T) {
	tests := []struct{ in, want string }{
		{"203.0.113.77", "203.0.113.0/24"},
		{"::ffff:203.0.113.77", "203.0.113.0/24"},
		{"2001:db8:aaaa:bbbb::1", "2001:db8:aaaa::/48"},
		{"fe80::1%eth0", "fe80::/48"},
	}
	for _, tt := range tests {
		a := netip.MustParseAddr(tt.in).Unmap()
		if got := truncatedClient(a).String(); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestBucketConcurrent spends one bucket from many goroutines with the clock
// stopped: exactly burst requests may pass, however they interleave.
func TestBucketConcurrent(t *testing.T) {
	bk := newBucket(10, 250)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if ok, _, _ := bk.take(now); ok {
					allowed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := allowed.Load(); n != 250 {
		t.Errorf("%d requests allowed, want the burst of 250", n)
	}
	// A tenth of a second later exactly one more token is back.
	later := now + int64(100*time.Millisecond)
	if ok, _, _ := bk.take(later); !ok {
		t.Error("no token after one interval")
	}
	if ok, _, retry := bk.take(later); ok || retry != 1 {
		t.Errorf("second request after one interval: allowed %v, retry %d", ok, retry)
	}
}
