package tui

import (
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/pkg/client"
)

// TestOverview shows the server's state and the traffic sparklines after a
// few polls, each two seconds after the last.
func TestOverview(t *testing.T) {
	traffic := []interval{
		{counts: map[string]int{"200": 40}, latencies: repeat(0.003, 40)},
		{counts: map[string]int{"200": 80, "404": 10}, latencies: append(repeat(0.003, 80), repeat(0.04, 10)...)},
		{counts: map[string]int{"200": 200, "404": 10, "429": 20}, latencies: append(repeat(0.004, 200), repeat(0.2, 30)...)},
		{counts: map[string]int{"200": 100, "503": 4}, latencies: append(repeat(0.002, 100), repeat(1.5, 4)...)},
	}
	cases := []struct {
		name  string
		setup func(h *harness)
		// polls is the number of polls after the first.
		polls int
		want  []string
		check func(t *testing.T, m *Model)
	}{
		{
			name:  "traffic",
			polls: len(traffic),
			want:  []string{"1.4.0", "3 active", "1 revoked", "1 expired", "2 loaded", "1 failed", "Ready     yes"},
			check: func(t *testing.T, m *Model) {
				pts := m.Overview().History().Last(10)
				if len(pts) != len(traffic) {
					t.Fatalf("%d points, want %d", len(pts), len(traffic))
				}
				// Interval 3: 230 requests in 2 s, 20 of them 429.
				p := pts[2]
				if p.Requests != 115 || p.OK != 100 || p.Limited != 10 || p.ClientErr != 15 || p.Fault != 0 {
					t.Errorf("interval 3 = %+v", p)
				}
				// 200 of 230 took 4 ms: the median is in the 2.5-5 ms bucket;
				// 30 took 200 ms: p95 is in the 100-250 ms bucket.
				if p.P50 <= 0.0025 || p.P50 > 0.005 || p.P95 <= 0.1 || p.P95 > 0.25 {
					t.Errorf("interval 3 p50 %v p95 %v", p.P50, p.P95)
				}
				if p := pts[3]; p.Fault != 2 {
					t.Errorf("interval 4 5xx/s = %v, want 2", p.Fault)
				}
			},
		},
		{
			name: "not ready and no traffic yet",
			setup: func(h *harness) {
				h.fake.SetReady(false)
			},
			want: []string{"NO: store unreachable", "waiting for a second sample"},
			check: func(t *testing.T, m *Model) {
				if m.Overview().History().Len() != 0 {
					t.Error("a single scrape made a point")
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			seedKeys(h.fake)
			seedTilesets(h.fake)
			src := &trafficSource{t: t, intervals: traffic}
			h.api.metrics = src.metrics
			if tc.setup != nil {
				tc.setup(h)
			}
			h.start(80, 24)
			for range tc.polls {
				src.next()
				h.clock.Advance(2 * time.Second)
				h.send(PollMsg{})
				h.waitFor("updated " + h.clock.Now().Format("15:04:05"))
			}
			m := h.final()
			view := h.golden(m)
			for _, w := range tc.want {
				if !strings.Contains(view, w) {
					t.Errorf("screen lacks %q", w)
				}
			}
			tc.check(t, m)
		})
	}
}

// TestOverviewMetricsForbidden: a credential without metrics:read sees the
// reason instead of sparklines, and the rest of the overview.
func TestOverviewMetricsForbidden(t *testing.T) {
	h := newHarness(t)
	admin := h.fake.AddAdminKey("viewer", "keys:read", "audit:read")
	cl, err := client.New(client.Options{Server: h.server.addr(), Token: admin.Token})
	if err != nil {
		t.Fatal(err)
	}
	h.api.Client = cl
	h.start(80, 24)
	m := h.final()
	view := h.golden(m)
	if !strings.Contains(view, "lacks scope metrics:read") {
		t.Errorf("screen does not say why there is no traffic:\n%s", view)
	}
	if strings.Contains(view, admin.Token) {
		t.Error("the screen shows the credential")
	}
	if m.Overview().History().Len() != 0 {
		t.Error("points without metrics")
	}
}
