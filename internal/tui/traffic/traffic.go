// Package traffic turns successive scrapes of mapwrightd's /metrics into the
// series the dashboard draws: requests per second by status class and
// latency quantiles, from the deltas of counters and histogram buckets
// between two scrapes, kept in a fixed-size ring.
package traffic

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metric names read from the exposition (see internal/metrics).
const (
	MetricRequests = "mapwright_http_requests_total"
	MetricDuration = "mapwright_http_request_duration_seconds"
)

// Listener is the listener whose traffic is drawn: tiles, not the admin API
// (which the dashboard's own polling would dominate).
const Listener = "public"

// Sample is one scrape reduced to cumulative counts of the public listener.
type Sample struct {
	// At is when the scrape was taken.
	At time.Time
	// Total and the class counts are cumulative request counts. Class4xx
	// includes 429, which Class429 also counts on its own.
	Total, Class2xx, Class4xx, Class429, Class5xx float64
	// Bounds are the histogram's finite upper bounds, ascending; Counts the
	// cumulative observation count at each bound, summed over routes, and
	// Count the total observations (the +Inf bucket).
	Bounds []float64
	Counts []float64
	Count  float64
}

// Parse reads the Prometheus text exposition in text, taken at at. A scrape
// without the request metrics (no traffic yet) is a valid, empty Sample.
func Parse(text []byte, at time.Time) (Sample, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return Sample{}, fmt.Errorf("parse metrics: %w", err)
	}
	s := Sample{At: at}
	if f := fams[MetricRequests]; f != nil {
		for _, m := range f.GetMetric() {
			if label(m, "listener") != Listener {
				continue
			}
			v := counterValue(m)
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				continue
			}
			s.Total += v
			code := label(m, "code")
			switch {
			case strings.HasPrefix(code, "2"):
				s.Class2xx += v
			case strings.HasPrefix(code, "4"):
				s.Class4xx += v
				if code == "429" {
					s.Class429 += v
				}
			case strings.HasPrefix(code, "5"):
				s.Class5xx += v
			}
		}
	}
	for _, v := range []float64{s.Total, s.Class2xx, s.Class4xx, s.Class429, s.Class5xx} {
		if math.IsInf(v, 0) {
			return Sample{}, fmt.Errorf("parse metrics: %s: count out of range", MetricRequests)
		}
	}
	if f := fams[MetricDuration]; f != nil && f.GetType() == dto.MetricType_HISTOGRAM {
		byBound := map[float64]float64{}
		for _, m := range f.GetMetric() {
			if label(m, "listener") != Listener {
				continue
			}
			h := m.GetHistogram()
			if h == nil {
				continue
			}
			s.Count += finite(float64(h.GetSampleCount()))
			for _, b := range h.GetBucket() {
				ub := b.GetUpperBound()
				if math.IsInf(ub, 0) || math.IsNaN(ub) {
					continue
				}
				byBound[ub] += finite(float64(b.GetCumulativeCount()))
			}
		}
		for ub, c := range byBound {
			if math.IsInf(c, 0) {
				return Sample{}, fmt.Errorf("parse metrics: %s: count out of range", MetricDuration)
			}
			s.Bounds = append(s.Bounds, ub)
		}
		if math.IsInf(s.Count, 0) {
			return Sample{}, fmt.Errorf("parse metrics: %s: count out of range", MetricDuration)
		}
		sort.Float64s(s.Bounds)
		s.Counts = make([]float64, len(s.Bounds))
		for i, ub := range s.Bounds {
			s.Counts[i] = byBound[ub]
		}
	}
	return s, nil
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0
	}
	return v
}

func counterValue(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	}
	return math.NaN()
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// Point is the traffic between two scrapes: rates per second and latency
// quantiles in seconds. A quantile is NaN when no request finished in the
// interval.
type Point struct {
	At                                      time.Time
	Requests, OK, ClientErr, Limited, Fault float64
	P50, P95                                float64
}

// Delta is the traffic between prev and cur. It reports false when cur is
// not later than prev. A counter that went down means the server restarted:
// the interval then counts from zero, as Prometheus's rate() does.
func Delta(prev, cur Sample) (Point, bool) {
	secs := cur.At.Sub(prev.At).Seconds()
	if secs <= 0 {
		return Point{}, false
	}
	reset := cur.Total < prev.Total || cur.Count < prev.Count ||
		cur.Class2xx < prev.Class2xx || cur.Class4xx < prev.Class4xx ||
		cur.Class429 < prev.Class429 || cur.Class5xx < prev.Class5xx ||
		!sameBounds(prev.Bounds, cur.Bounds)
	base := prev
	if reset {
		base = Sample{Bounds: cur.Bounds, Counts: make([]float64, len(cur.Counts))}
	}
	for i := range cur.Counts {
		if cur.Counts[i] < base.Counts[i] {
			base = Sample{Bounds: cur.Bounds, Counts: make([]float64, len(cur.Counts))}
			break
		}
	}
	p := Point{
		At:        cur.At,
		Requests:  (cur.Total - base.Total) / secs,
		OK:        (cur.Class2xx - base.Class2xx) / secs,
		ClientErr: (cur.Class4xx - base.Class4xx) / secs,
		Limited:   (cur.Class429 - base.Class429) / secs,
		Fault:     (cur.Class5xx - base.Class5xx) / secs,
	}
	counts := make([]float64, len(cur.Counts))
	for i := range cur.Counts {
		counts[i] = cur.Counts[i] - base.Counts[i]
	}
	total := cur.Count - base.Count
	p.P50 = Quantile(0.5, cur.Bounds, counts, total)
	p.P95 = Quantile(0.95, cur.Bounds, counts, total)
	return p, true
}

func sameBounds(a, b []float64) bool {
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

// Quantile estimates the q-quantile from histogram buckets as Prometheus's
// histogram_quantile does: linear interpolation inside the bucket where the
// rank falls, the lowest bucket starting at zero, and the highest finite
// bound when the rank falls in the +Inf bucket. bounds are ascending finite
// upper bounds, counts the cumulative counts at each, total the count of
// all observations. It returns NaN when there are none.
func Quantile(q float64, bounds, counts []float64, total float64) float64 {
	if total <= 0 || len(bounds) == 0 || len(bounds) != len(counts) || math.IsNaN(q) {
		return math.NaN()
	}
	rank := q * total
	lowerBound, lowerCount := 0.0, 0.0
	for i, ub := range bounds {
		c := counts[i]
		if c >= rank {
			if c == lowerCount {
				return ub
			}
			if i == 0 && ub <= 0 {
				return ub
			}
			return lowerBound + (ub-lowerBound)*(rank-lowerCount)/(c-lowerCount)
		}
		lowerBound, lowerCount = ub, c
	}
	return bounds[len(bounds)-1]
}

// History keeps the last points in a ring of fixed capacity and the last
// sample, from which the next point is computed.
type History struct {
	ring  []Point
	start int
	n     int
	last  *Sample
}

// NewHistory returns an empty history of capacity points (at least 1).
func NewHistory(capacity int) *History {
	return &History{ring: make([]Point, max(capacity, 1))}
}

// Add records a scrape. The first scrape only sets the baseline; each later
// one adds the point since the previous and returns it.
func (h *History) Add(s Sample) (Point, bool) {
	prev := h.last
	h.last = &s
	if prev == nil {
		return Point{}, false
	}
	p, ok := Delta(*prev, s)
	if !ok {
		return Point{}, false
	}
	if h.n < len(h.ring) {
		h.ring[(h.start+h.n)%len(h.ring)] = p
		h.n++
	} else {
		h.ring[h.start] = p
		h.start = (h.start + 1) % len(h.ring)
	}
	return p, true
}

// Len is the number of points held.
func (h *History) Len() int { return h.n }

// Cap is the most points the history holds.
func (h *History) Cap() int { return len(h.ring) }

// Last returns up to n of the newest points, oldest first.
func (h *History) Last(n int) []Point {
	n = min(max(n, 0), h.n)
	out := make([]Point, n)
	for i := range n {
		out[i] = h.ring[(h.start+h.n-n+i)%len(h.ring)]
	}
	return out
}

// Series extracts one value of each point, for a sparkline.
func Series(points []Point, f func(Point) float64) []float64 {
	out := make([]float64, len(points))
	for i, p := range points {
		out[i] = f(p)
	}
	return out
}
