package server

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRequestMetrics(t *testing.T) {
	f := newFixture(t, nil)
	for range 3 {
		f.do(req{path: "/v1/tiles/roads/3/4/2.mvt", key: roleGood, remote: "203.0.113.5:1"})
	}
	f.do(req{path: "/v1/tiles/roads/3/4/2.mvt"})
	f.do(req{path: "/v1/tiles/roads/3/4/2.mvt", key: roleUnknown})
	f.do(req{path: "/v1/tiles/roads/3/4/2.mvt", bearer: roleSecret})
	f.do(req{path: "/v1/tiles/roads.json", key: roleGood})
	f.do(req{path: "/admin/v1/keys"})
	f.do(req{path: "/livez"})
	for range 3 {
		f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleLimited})
	}
	f.sets.onEnter = func(string) { panic("boom") }
	f.do(req{path: "/v1/tiles/roads/0/0/0.mvt", key: roleGood})

	want := `
# HELP mapwright_http_requests_total HTTP requests answered, by listener, route pattern and status code.
# TYPE mapwright_http_requests_total counter
mapwright_http_requests_total{code="200",listener="public",route="/livez"} 1
mapwright_http_requests_total{code="200",listener="public",route="/v1/tiles/{tileset}.json"} 1
mapwright_http_requests_total{code="200",listener="public",route="/v1/tiles/{tileset}/{z}/{x}/{y}.{ext}"} 5
mapwright_http_requests_total{code="401",listener="public",route="/v1/tiles/{tileset}/{z}/{x}/{y}.{ext}"} 2
mapwright_http_requests_total{code="403",listener="public",route="/v1/tiles/{tileset}/{z}/{x}/{y}.{ext}"} 1
mapwright_http_requests_total{code="404",listener="public",route="unmatched"} 1
mapwright_http_requests_total{code="429",listener="public",route="/v1/tiles/{tileset}/{z}/{x}/{y}.{ext}"} 1
mapwright_http_requests_total{code="500",listener="public",route="/v1/tiles/{tileset}/{z}/{x}/{y}.{ext}"} 1
# HELP mapwright_auth_failures_total Requests refused by authentication or authorisation, by reason.
# TYPE mapwright_auth_failures_total counter
mapwright_auth_failures_total{reason="missing"} 1
mapwright_auth_failures_total{reason="secret_key"} 1
mapwright_auth_failures_total{reason="unknown"} 1
# HELP mapwright_key_misuse_total Secret keys presented on the public listener.
# TYPE mapwright_key_misuse_total counter
mapwright_key_misuse_total 1
# HELP mapwright_rate_limited_total Requests refused with 429 by a rate limit, by scope (key or ip).
# TYPE mapwright_rate_limited_total counter
mapwright_rate_limited_total{scope="ip"} 0
mapwright_rate_limited_total{scope="key"} 1
`
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(want),
		"mapwright_http_requests_total", "mapwright_auth_failures_total",
		"mapwright_key_misuse_total", "mapwright_rate_limited_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(f.reg, "mapwright_http_request_duration_seconds"); n != int(numRoutes) {
		t.Errorf("%d duration series, want one per route pattern: %d", n, numRoutes)
	}

	// No label value may carry a key, an address or a raw path.
	families, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range families {
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				v := l.GetValue()
				if strings.Contains(v, "mpw_") || strings.Contains(v, "203.0.113") || strings.Contains(v, "roads") {
					t.Errorf("%s has label %s=%q", fam.GetName(), l.GetName(), v)
				}
				for _, k := range f.keys.keys {
					if strings.Contains(v, k.ID) {
						t.Errorf("%s has the key ID in label %s=%q", fam.GetName(), l.GetName(), v)
					}
				}
			}
		}
	}
	problems, err := testutil.GatherAndLint(f.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint %s: %s", p.Metric, p.Text)
	}
}

func TestListenerLabel(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Listener = "public-http" })
	f.do(req{path: "/livez"})
	want := `
# HELP mapwright_http_requests_total HTTP requests answered, by listener, route pattern and status code.
# TYPE mapwright_http_requests_total counter
mapwright_http_requests_total{code="200",listener="public-http",route="/livez"} 1
`
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(want), "mapwright_http_requests_total"); err != nil {
		t.Error(err)
	}
}
