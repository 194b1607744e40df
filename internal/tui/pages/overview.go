package pages

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/mapwright/mapwright/internal/logging"
	"github.com/mapwright/mapwright/internal/tui/common"
	"github.com/mapwright/mapwright/internal/tui/components"
	"github.com/mapwright/mapwright/internal/tui/traffic"
	"github.com/mapwright/mapwright/pkg/client"
)

// HistoryPoints is how many metric intervals the overview keeps: ten
// minutes at the default two-second poll.
const HistoryPoints = 300

// OverviewState is what the overview has to show.
type OverviewState int

// States of the overview.
const (
	// OverviewLoading: no answer yet.
	OverviewLoading OverviewState = iota
	// OverviewReady: the server's status is known (it may be stale when
	// the server went away; the status bar says so).
	OverviewReady
	// OverviewFailed: the first request failed and nothing is known.
	OverviewFailed
)

// OverviewMsg is the result of one poll of the server: status, readiness
// and metrics, each with its own error.
type OverviewMsg struct {
	// At is when the poll started.
	At time.Time
	// Status and StatusErr answer GET /admin/v1/status.
	Status    client.Status
	StatusErr error
	// ReadyErr answers GET /readyz: nil when ready.
	ReadyErr error
	// Metrics and MetricsErr answer GET /metrics.
	Metrics    []byte
	MetricsErr error
}

// Overview shows the server's state and traffic.
type Overview struct {
	common.Common
	state    OverviewState
	inflight bool
	last     OverviewMsg
	// ready is the last readiness answer; readyErr its error.
	readyErr error
	history  *traffic.History
	// metricsErr is the last failure to get or read the metrics.
	metricsErr error
	interval   time.Duration
}

// NewOverview returns the overview page; interval is the poll interval,
// shown in the traffic title.
func NewOverview(c common.Common, interval time.Duration) *Overview {
	return &Overview{Common: c, history: traffic.NewHistory(HistoryPoints), interval: interval}
}

// State is the page's state.
func (o *Overview) State() OverviewState { return o.state }

// History is the traffic history.
func (o *Overview) History() *traffic.History { return o.history }

// Init implements Page.
func (o *Overview) Init() tea.Cmd { return nil }

// Title implements Page.
func (o *Overview) Title() string { return "Overview" }

// Capturing implements Page.
func (o *Overview) Capturing() bool { return false }

// ShortHelp implements Page.
func (o *Overview) ShortHelp() []key.Binding { return []key.Binding{o.KeyMap.Refresh} }

// FullHelp implements Page.
func (o *Overview) FullHelp() [][]key.Binding { return [][]key.Binding{{o.KeyMap.Refresh}} }

// Poll implements Page: the overview polls on every tick, shown or not,
// so that the traffic history has no holes.
func (o *Overview) Poll(now time.Time, _, _ bool) tea.Cmd {
	if o.inflight {
		return nil
	}
	o.inflight = true
	api, c := o.API, o.Common
	return func() tea.Msg {
		ctx, cancel := c.Request()
		defer cancel()
		m := OverviewMsg{At: now}
		m.Status, m.StatusErr = api.Status(ctx)
		if m.StatusErr != nil && common.IsDisconnected(m.StatusErr) {
			// Nothing else can succeed; do not wait for two more timeouts.
			m.ReadyErr, m.MetricsErr = m.StatusErr, m.StatusErr
			return m
		}
		m.ReadyErr = api.Ready(ctx)
		m.Metrics, m.MetricsErr = api.Metrics(ctx)
		return m
	}
}

// Update implements Page.
func (o *Overview) Update(msg tea.Msg) tea.Cmd {
	m, ok := msg.(OverviewMsg)
	if !ok {
		return nil
	}
	o.inflight = false
	if m.StatusErr != nil {
		if o.state == OverviewLoading {
			o.state = OverviewFailed
		}
		o.last.StatusErr = m.StatusErr
		return nil
	}
	o.state = OverviewReady
	o.last = m
	o.readyErr = m.ReadyErr
	o.metricsErr = m.MetricsErr
	if m.MetricsErr == nil {
		s, err := traffic.Parse(m.Metrics, m.At)
		if err != nil {
			o.metricsErr = err
			o.Logger.Warn("unreadable metrics", logging.KeyErr, err)
		} else {
			o.history.Add(s)
		}
	}
	return nil
}

// SetSize implements Page.
func (o *Overview) SetSize(width, height int) { o.Common.SetSize(width, height) }

// stateOrder orders key states in the overview.
var stateOrder = map[string]int{"active": 0, "pending": 1, "expired": 2, "revoked": 3}

// View implements Page.
func (o *Overview) View() string {
	st := o.Styles
	switch o.state {
	case OverviewLoading:
		return fit(st.Dim.Render("Connecting to "+o.API.Server()+"…"), o.Height)
	case OverviewFailed:
		return fit(st.Bad.Render(common.Truncate("Cannot read the server's status: "+common.ErrorText(o.last.StatusErr), o.Width)), o.Height)
	}
	s := o.last.Status
	ready := st.OK.Render("yes")
	if o.readyErr != nil {
		var ae *client.APIError
		if errors.As(o.readyErr, &ae) && ae.Status == http.StatusServiceUnavailable {
			ready = st.Bad.Render("NO: " + common.Sanitize(ae.Problem.Detail))
		} else {
			ready = st.Warn.Render("unknown: " + common.ErrorText(o.readyErr))
		}
	}
	tilesets := fmt.Sprintf("%d loaded", s.Tilesets.Loaded)
	if s.Tilesets.Failed > 0 {
		tilesets += ", " + st.Bad.Render(fmt.Sprintf("%d failed", s.Tilesets.Failed))
	} else {
		tilesets += ", 0 failed"
	}
	states := make([]string, 0, len(s.Keys))
	for k := range s.Keys {
		states = append(states, k)
	}
	sort.Slice(states, func(i, j int) bool {
		oi, iok := stateOrder[states[i]]
		oj, jok := stateOrder[states[j]]
		if iok != jok {
			return iok
		}
		if iok {
			return oi < oj
		}
		return states[i] < states[j]
	})
	var keys []string
	for _, k := range states {
		n := strconv.Itoa(s.Keys[k]) + " " + common.Sanitize(k)
		if s.Keys[k] > 0 {
			n = st.KeyState(k).Render(n)
		}
		keys = append(keys, n)
	}
	info := labelled(o.Common, o.Width, [][2]string{
		{"Server", common.Sanitize(o.API.Server())},
		{"Version", common.Sanitize(s.Version) + "   " + st.Label.Render("backend") + " " + common.Sanitize(s.Backend) + "   " + st.Label.Render("schema") + " " + strconv.Itoa(s.SchemaVersion)},
		{"Uptime", common.Duration(time.Duration(s.UptimeSeconds*float64(time.Second))) + st.Dim.Render("  since "+common.Timestamp(&s.StartedAt))},
		{"Ready", ready},
		{"Tilesets", tilesets},
		{"Keys", strings.Join(keys, " · ")},
	})
	var b strings.Builder
	b.WriteString(info + "\n\n")
	b.WriteString(o.trafficView())
	return fit(b.String(), o.Height)
}

// trafficView renders the sparklines of the public listener's traffic.
func (o *Overview) trafficView() string {
	st := o.Styles
	const labelW, valueW = 12, 9
	sparkW := max(o.Width-labelW-valueW-2, 4)
	points := o.history.Last(sparkW)
	span := time.Duration(0)
	if len(points) > 0 {
		span = points[len(points)-1].At.Sub(points[0].At) + o.interval
	}
	title := "Public traffic"
	switch {
	case o.metricsErr != nil:
		title += ": " + st.Bad.Render("unavailable: "+common.ErrorText(o.metricsErr))
	case len(points) == 0:
		title += st.Dim.Render(" · waiting for a second sample")
	default:
		title += st.Dim.Render(fmt.Sprintf(" · last %s, every %s", common.Duration(span), common.Duration(o.interval)))
	}
	var b strings.Builder
	b.WriteString(st.Title.Render(common.Truncate(title, o.Width)))
	var last traffic.Point
	if len(points) > 0 {
		last = points[len(points)-1]
	} else {
		last = traffic.Point{Requests: math.NaN(), OK: math.NaN(), ClientErr: math.NaN(), Limited: math.NaN(), Fault: math.NaN(), P50: math.NaN(), P95: math.NaN()}
	}
	series := []struct {
		label string
		get   func(traffic.Point) float64
		text  func(float64) string
	}{
		{"requests/s", func(p traffic.Point) float64 { return p.Requests }, common.Rate},
		{"2xx/s", func(p traffic.Point) float64 { return p.OK }, common.Rate},
		{"4xx/s", func(p traffic.Point) float64 { return p.ClientErr }, common.Rate},
		{"429/s", func(p traffic.Point) float64 { return p.Limited }, common.Rate},
		{"5xx/s", func(p traffic.Point) float64 { return p.Fault }, common.Rate},
		{"p50 latency", func(p traffic.Point) float64 { return p.P50 }, common.Seconds},
		{"p95 latency", func(p traffic.Point) float64 { return p.P95 }, common.Seconds},
	}
	for _, s := range series {
		spark := components.Sparkline(traffic.Series(points, s.get), sparkW)
		b.WriteString("\n" + st.Label.Render(common.Pad(s.label, labelW)) + " " + st.Spark.Render(spark) + " " + common.PadLeft(s.text(s.get(last)), valueW))
	}
	return b.String()
}
