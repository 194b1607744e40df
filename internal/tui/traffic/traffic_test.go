package traffic

import (
	"math"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)

const sample = `# HELP mapwright_http_requests_total HTTP requests answered.
# TYPE mapwright_http_requests_total counter
mapwright_http_requests_total{code="200",listener="public",route="GET /v1/tiles/{tileset}/{z}/{x}/{y}"} 90
mapwright_http_requests_total{code="304",listener="public",route="GET /v1/tiles/{tileset}/{z}/{x}/{y}"} 10
mapwright_http_requests_total{code="404",listener="public",route="GET /v1/tiles/{tileset}.json"} 5
mapwright_http_requests_total{code="429",listener="public",route="GET /v1/tiles/{tileset}/{z}/{x}/{y}"} 3
mapwright_http_requests_total{code="503",listener="public",route="GET /v1/tiles/{tileset}/{z}/{x}/{y}"} 2
mapwright_http_requests_total{code="200",listener="admin",route="GET /metrics"} 1000
# HELP mapwright_http_request_duration_seconds Time to answer.
# TYPE mapwright_http_request_duration_seconds histogram
mapwright_http_request_duration_seconds_bucket{listener="public",route="a",le="0.001"} 10
mapwright_http_request_duration_seconds_bucket{listener="public",route="a",le="0.01"} 60
mapwright_http_request_duration_seconds_bucket{listener="public",route="a",le="0.1"} 70
mapwright_http_request_duration_seconds_bucket{listener="public",route="a",le="+Inf"} 80
mapwright_http_request_duration_seconds_sum{listener="public",route="a"} 3
mapwright_http_request_duration_seconds_count{listener="public",route="a"} 80
mapwright_http_request_duration_seconds_bucket{listener="public",route="b",le="0.001"} 0
mapwright_http_request_duration_seconds_bucket{listener="public",route="b",le="0.01"} 10
mapwright_http_request_duration_seconds_bucket{listener="public",route="b",le="0.1"} 20
mapwright_http_request_duration_seconds_bucket{listener="public",route="b",le="+Inf"} 20
mapwright_http_request_duration_seconds_sum{listener="public",route="b"} 1
mapwright_http_request_duration_seconds_count{listener="public",route="b"} 20
mapwright_http_request_duration_seconds_bucket{listener="admin",route="c",le="0.001"} 500
mapwright_http_request_duration_seconds_bucket{listener="admin",route="c",le="0.01"} 500
mapwright_http_request_duration_seconds_bucket{listener="admin",route="c",le="0.1"} 500
mapwright_http_request_duration_seconds_bucket{listener="admin",route="c",le="+Inf"} 500
mapwright_http_request_duration_seconds_sum{listener="admin",route="c"} 0.1
mapwright_http_request_duration_seconds_count{listener="admin",route="c"} 500
`

func TestParse(t *testing.T) {
	cases := []struct {
		name    string
		text    string
		want    Sample
		wantErr bool
	}{
		{
			name: "public listener only, summed over routes",
			text: sample,
			want: Sample{
				Total: 110, Class2xx: 90, Class4xx: 8, Class429: 3, Class5xx: 2,
				Bounds: []float64{0.001, 0.01, 0.1}, Counts: []float64{10, 70, 90}, Count: 100,
			},
		},
		{name: "no traffic yet", text: "# nothing here\n", want: Sample{Counts: []float64{}}},
		{name: "empty", text: "", want: Sample{Counts: []float64{}}},
		{name: "not the exposition format", text: "<html>oops</html>\n", wantErr: true},
		{
			name: "other metrics ignored",
			text: "mapwright_tilesets_loaded 3\ngo_goroutines 12\n",
			want: Sample{Counts: []float64{}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.text), t0)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if got.Total != tc.want.Total || got.Class2xx != tc.want.Class2xx || got.Class4xx != tc.want.Class4xx ||
				got.Class429 != tc.want.Class429 || got.Class5xx != tc.want.Class5xx || got.Count != tc.want.Count {
				t.Errorf("counts = %+v, want %+v", got, tc.want)
			}
			if !equal(got.Bounds, tc.want.Bounds) || !equal(got.Counts, tc.want.Counts) {
				t.Errorf("buckets = %v %v, want %v %v", got.Bounds, got.Counts, tc.want.Bounds, tc.want.Counts)
			}
			if !got.At.Equal(t0) {
				t.Errorf("at = %v", got.At)
			}
		})
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestQuantile(t *testing.T) {
	bounds := []float64{0.001, 0.01, 0.1}
	cases := []struct {
		name   string
		q      float64
		counts []float64
		total  float64
		want   float64
	}{
		{"median inside the second bucket", 0.5, []float64{10, 70, 90}, 100, 0.001 + 0.009*(50-10)/60},
		{"first bucket starts at zero", 0.05, []float64{10, 70, 90}, 100, 0.0005},
		{"rank in +Inf: highest finite bound", 0.99, []float64{10, 70, 90}, 100, 0.1},
		{"no observations", 0.5, []float64{0, 0, 0}, 0, math.NaN()},
		{"exact bucket edge", 0.7, []float64{10, 70, 90}, 100, 0.01},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Quantile(tc.q, bounds, tc.counts, tc.total)
			if math.IsNaN(tc.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-tc.want) > 1e-12) {
				t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestDelta(t *testing.T) {
	base := Sample{At: t0, Total: 100, Class2xx: 90, Class4xx: 10, Class429: 4, Bounds: []float64{0.01, 0.1}, Counts: []float64{50, 90}, Count: 100}
	cases := []struct {
		name   string
		cur    Sample
		ok     bool
		rps    float64
		limits float64
		p50    float64
	}{
		{
			name: "two seconds later",
			cur:  Sample{At: t0.Add(2 * time.Second), Total: 140, Class2xx: 120, Class4xx: 20, Class429: 8, Bounds: []float64{0.01, 0.1}, Counts: []float64{90, 130}, Count: 140},
			ok:   true, rps: 20, limits: 2, p50: 0.005,
		},
		{
			name: "server restarted: counts from zero",
			cur:  Sample{At: t0.Add(2 * time.Second), Total: 10, Class2xx: 10, Bounds: []float64{0.01, 0.1}, Counts: []float64{10, 10}, Count: 10},
			ok:   true, rps: 5, limits: 0, p50: 0.005,
		},
		{
			name: "no traffic: latency unknown",
			cur:  Sample{At: t0.Add(2 * time.Second), Total: 100, Class2xx: 90, Class4xx: 10, Class429: 4, Bounds: []float64{0.01, 0.1}, Counts: []float64{50, 90}, Count: 100},
			ok:   true, rps: 0, p50: math.NaN(),
		},
		{name: "same instant", cur: Sample{At: t0}, ok: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := Delta(base, tc.cur)
			if ok != tc.ok {
				t.Fatalf("ok = %v", ok)
			}
			if !ok {
				return
			}
			if p.Requests != tc.rps || p.Limited != tc.limits {
				t.Errorf("point = %+v", p)
			}
			if math.IsNaN(tc.p50) != math.IsNaN(p.P50) || (!math.IsNaN(p.P50) && math.Abs(p.P50-tc.p50) > 1e-12) {
				t.Errorf("p50 = %v, want %v", p.P50, tc.p50)
			}
		})
	}
}

func TestHistoryRing(t *testing.T) {
	h := NewHistory(3)
	if _, ok := h.Add(Sample{At: t0}); ok {
		t.Fatal("the first sample made a point")
	}
	for i := 1; i <= 5; i++ {
		p, ok := h.Add(Sample{At: t0.Add(time.Duration(i) * time.Second), Total: float64(i * i)})
		if !ok || p.Requests != float64(2*i-1) {
			t.Fatalf("point %d = %+v %v", i, p, ok)
		}
	}
	if h.Len() != 3 || h.Cap() != 3 {
		t.Fatalf("len %d cap %d", h.Len(), h.Cap())
	}
	got := Series(h.Last(10), func(p Point) float64 { return p.Requests })
	if !equal(got, []float64{5, 7, 9}) {
		t.Errorf("last = %v, want the newest three, oldest first", got)
	}
	if got := Series(h.Last(2), func(p Point) float64 { return p.Requests }); !equal(got, []float64{7, 9}) {
		t.Errorf("last 2 = %v", got)
	}
}

// FuzzParse: any bytes from a server either parse or fail cleanly, and a
// parsed sample's counts are finite and not negative.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte(""))
	f.Add([]byte("mapwright_http_requests_total{listener=\"public\",code=\"200\"} NaN\n"))
	f.Add([]byte("mapwright_http_requests_total{listener=\"public\",code=\"500\"} -3\n"))
	f.Add([]byte("# TYPE mapwright_http_request_duration_seconds histogram\nmapwright_http_request_duration_seconds_bucket{listener=\"public\",le=\"+Inf\"} 1e308\n"))
	f.Add([]byte("mapwright_http_requests_total{listener=\"public\",code=\"200\"} 1e308\nmapwright_http_requests_total{listener=\"public\",code=\"201\"} 1e308\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b, t0)
		if err != nil {
			return
		}
		for _, v := range append([]float64{s.Total, s.Class2xx, s.Class4xx, s.Class429, s.Class5xx, s.Count}, s.Counts...) {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				t.Fatalf("bad count %v in %+v", v, s)
			}
		}
		if len(s.Bounds) != len(s.Counts) {
			t.Fatalf("%d bounds, %d counts", len(s.Bounds), len(s.Counts))
		}
		if !strings.Contains(string(b), "mapwright_") && s.Total != 0 {
			t.Fatalf("traffic from nothing: %+v", s)
		}
		p, ok := Delta(Sample{At: t0.Add(-time.Second)}, s)
		if !ok || math.IsNaN(p.Requests) || math.IsInf(p.Requests, 0) {
			t.Fatalf("delta from zero = %+v %v", p, ok)
		}
	})
}
