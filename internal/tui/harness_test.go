package tui

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/mapwright/mapwright/internal/metrics"
	"github.com/mapwright/mapwright/internal/testutil/testenv"
	"github.com/mapwright/mapwright/pkg/client"
	"github.com/mapwright/mapwright/pkg/client/clienttest"
)

// testNow is the start of every test's clock.
var testNow = time.Date(2030, time.June, 1, 12, 0, 0, 0, time.UTC)

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// socketServer serves a handler on a unix socket that a test can stop and
// start again at the same path, so the client sees a real server going
// away and coming back.
type socketServer struct {
	t       testing.TB
	path    string
	handler http.Handler
	mu      sync.Mutex
	srv     *http.Server
}

func newSocketServer(t testing.TB, h http.Handler) *socketServer {
	t.Helper()
	// Socket paths are limited to about 100 bytes, shorter than some
	// TempDir paths.
	dir, err := os.MkdirTemp("", "mwdash")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &socketServer{t: t, path: filepath.Join(dir, "admin.sock"), handler: h}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *socketServer) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	os.Remove(s.path)
	ln, err := net.Listen("unix", s.path)
	if err != nil {
		s.t.Fatalf("listen: %v", err)
	}
	s.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln)
}

func (s *socketServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		// Close, not Shutdown: open event streams must end too.
		s.srv.Close()
		s.srv = nil
	}
}

func (s *socketServer) addr() string { return "unix://" + s.path }

// auditLog is an in-memory audit log with the admin API's semantics: a
// list filtered like the server's (action prefix, exact actor), newest or
// oldest first, and a stream that delivers each event above the last one
// seen exactly once.
type auditLog struct {
	mu      sync.Mutex
	events  []client.AuditEvent
	changed chan struct{}
	verify  client.AuditVerifyResult
	// follows records the lastEventID of each stream opened.
	follows []int64
	now     func() time.Time
	// drops are troubles the stream reports to its onRetry, as the
	// client's FollowAudit does when a connection is lost.
	drops chan drop
}

type drop struct {
	err  error
	wait time.Duration
}

// Drop makes the stream report a lost connection it will retry after wait.
func (a *auditLog) Drop(err error, wait time.Duration) { a.drops <- drop{err, wait} }

func newAuditLog(now func() time.Time) *auditLog {
	return &auditLog{changed: make(chan struct{}), now: now, drops: make(chan drop)}
}

func (a *auditLog) Append(actor, action, target, outcome string, details map[string]string) client.AuditEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	if details == nil {
		details = map[string]string{}
	}
	seq := int64(len(a.events) + 1)
	prev := strings.Repeat("0", 64)
	if seq > 1 {
		prev = a.events[seq-2].Hash
	}
	ev := client.AuditEvent{
		Seq: seq, Time: a.now().UTC(), Actor: actor, Action: action, Target: target, Outcome: outcome,
		Details: details, ClientIP: "", PrevHash: prev, Hash: strings.Repeat(string("0123456789abcdef"[seq%16]), 64),
	}
	a.events = append(a.events, ev)
	close(a.changed)
	a.changed = make(chan struct{})
	return ev
}

func (a *auditLog) list(q client.AuditQuery) client.AuditPage {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []client.AuditEvent
	for _, ev := range a.events {
		if strings.HasPrefix(ev.Action, q.Action) && (q.Actor == "" || ev.Actor == q.Actor) {
			out = append(out, ev)
		}
	}
	if q.Order == "desc" {
		slices.Reverse(out)
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return client.AuditPage{Events: out}
}

// follow delivers events above last until ctx ends, and reports drops to
// onRetry.
func (a *auditLog) follow(ctx context.Context, last int64, fn func(client.AuditEvent) error, onRetry func(error, time.Duration)) error {
	a.mu.Lock()
	a.follows = append(a.follows, last)
	a.mu.Unlock()
	for {
		a.mu.Lock()
		var todo []client.AuditEvent
		for _, ev := range a.events {
			if ev.Seq > last {
				todo = append(todo, ev)
			}
		}
		changed := a.changed
		a.mu.Unlock()
		for _, ev := range todo {
			if err := fn(ev); err != nil {
				return err
			}
			last = ev.Seq
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case d := <-a.drops:
			onRetry(d.err, d.wait)
		case <-changed:
		}
	}
}

// testAPI is the admin API of a test: package client against the
// in-memory fake, with the audit log and the metrics of the test. Like the
// server, it records key operations in the audit log.
type testAPI struct {
	*client.Client
	audit *auditLog
	// metrics, when set, replaces the fake's /metrics answer.
	metrics func() []byte
}

// testServer is the address the dashboard shows in tests, the same on
// every run (the socket's real path is a fresh temporary one).
const testServer = "unix:///var/lib/mapwright/admin.sock"

func (a *testAPI) Server() string { return testServer }

func (a *testAPI) Metrics(ctx context.Context) ([]byte, error) {
	b, err := a.Client.Metrics(ctx)
	if err != nil || a.metrics == nil {
		return b, err
	}
	return a.metrics(), nil
}

func (a *testAPI) CreateKey(ctx context.Context, req client.CreateKeyRequest) (client.CreatedKey, error) {
	ck, err := a.Client.CreateKey(ctx, req)
	if err == nil {
		a.audit.Append("unix:1000(test)", "key.create", ck.ID, "success", map[string]string{"name": ck.Name, "kind": ck.Kind})
	}
	return ck, err
}

func (a *testAPI) RotateKey(ctx context.Context, id string, grace time.Duration) (client.RotatedKey, error) {
	rk, err := a.Client.RotateKey(ctx, id, grace)
	if err == nil {
		a.audit.Append("unix:1000(test)", "key.rotate", id, "success", map[string]string{"new": rk.ID, "grace": grace.String()})
	}
	return rk, err
}

func (a *testAPI) RevokeKey(ctx context.Context, id, reason string) (client.RevokeResult, error) {
	res, err := a.Client.RevokeKey(ctx, id, reason)
	if err == nil && !res.AlreadyRevoked {
		a.audit.Append("unix:1000(test)", "key.revoke", id, "success", map[string]string{"reason": reason})
	}
	return res, err
}

func (a *testAPI) AuditList(ctx context.Context, q client.AuditQuery) (client.AuditPage, error) {
	// Reach the server first, so that a stopped server fails the call as
	// it would for real.
	if err := a.Client.Ready(ctx); err != nil && !client.IsInvalid(err) && errors.Is(err, client.ErrConnect) {
		return client.AuditPage{}, err
	}
	return a.audit.list(q), nil
}

func (a *testAPI) FollowAudit(ctx context.Context, last int64, fn func(client.AuditEvent) error, onRetry func(error, time.Duration)) error {
	return a.audit.follow(ctx, last, fn, onRetry)
}

func (a *testAPI) AuditVerify(ctx context.Context, _ client.AuditVerifyRequest) (client.AuditVerifyResult, error) {
	a.audit.mu.Lock()
	defer a.audit.mu.Unlock()
	return a.audit.verify, nil
}

// screen wraps the dashboard to keep its last frame, which the test
// goroutine may read while the program runs, and to count the messages it
// has handled.
type screen struct {
	m         *Model
	last      atomic.Pointer[string]
	processed atomic.Int64
}

// syncMsg marks a point in the message stream: once it is handled, every
// message sent before it has been too.
type syncMsg struct{ n int64 }

func (s *screen) Init() tea.Cmd { return s.m.Init() }

func (s *screen) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if m, ok := msg.(syncMsg); ok {
		s.processed.Store(m.n)
		return s, nil
	}
	_, cmd := s.m.Update(msg)
	return s, cmd
}

func (s *screen) View() string {
	v := s.m.View()
	s.last.Store(&v)
	return v
}

// harness is one dashboard under test: the fake server, the audit log, the
// clock, the program and its logs.
type harness struct {
	t      *testing.T
	fake   *clienttest.Fake
	server *socketServer
	api    *testAPI
	clock  *clock
	tm     *teatest.TestModel
	screen *screen
	logs   *testenv.Buffer
	syncs  int64
	// ticks are the delays the dashboard asked for its next polls.
	tickMu sync.Mutex
	ticks  []time.Duration
	// renderer is the renderer of the dashboard; nil: no colour.
	renderer *lipgloss.Renderer
}

// newHarness returns a harness on a fake with no keys; start runs it.
func newHarness(t *testing.T) *harness {
	t.Helper()
	c := &clock{t: testNow}
	fake := clienttest.New(clienttest.Options{Now: c.Now, Version: "1.4.0"})
	srv := newSocketServer(t, fake)
	cl, err := client.New(client.Options{Server: srv.addr()})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{
		t: t, fake: fake, server: srv, clock: c, logs: &testenv.Buffer{},
		api: &testAPI{Client: cl, audit: newAuditLog(c.Now)},
	}
}

// plainRenderer renders without colour, as under NO_COLOR.
func plainRenderer() *lipgloss.Renderer {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	r.SetHasDarkBackground(true)
	return r
}

// options are the dashboard's options in tests: the test clock, no
// colour, logs to a buffer, and ticks that are recorded but never fire.
func (h *harness) options(ctx context.Context) Options {
	r := h.renderer
	if r == nil {
		r = plainRenderer()
	}
	return Options{
		API:      h.api,
		Ctx:      ctx,
		Renderer: r,
		Logger:   slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:      h.clock.Now,
		Tick: func(d time.Duration, _ tea.Msg) tea.Cmd {
			h.tickMu.Lock()
			h.ticks = append(h.ticks, d)
			h.tickMu.Unlock()
			return nil
		},
	}
}

// start runs the dashboard in a terminal of width×height and waits for
// the first poll to be on screen.
func (h *harness) start(width, height int) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.t.Cleanup(cancel)
	h.screen = &screen{m: New(h.options(ctx))}
	h.tm = teatest.NewTestModel(h.t, h.screen, teatest.WithInitialTermSize(width, height))
	h.waitFor("● connected")
}

// view is the last frame drawn.
func (h *harness) view() string {
	if v := h.screen.last.Load(); v != nil {
		return *v
	}
	return ""
}

// waitFor waits until the screen shows text.
func (h *harness) waitFor(text string) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(h.view(), text) {
		if time.Now().After(deadline) {
			h.t.Fatalf("the screen does not show %q after 5s:\n%s", text, h.view())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sync waits until the program has handled every message sent so far.
func (h *harness) sync() {
	h.t.Helper()
	h.syncs++
	n := h.syncs
	h.tm.Send(syncMsg{n})
	deadline := time.Now().Add(5 * time.Second)
	for h.screen.processed.Load() < n {
		if time.Now().After(deadline) {
			h.t.Fatal("the program handles no messages")
		}
		time.Sleep(time.Millisecond)
	}
}

// send sends msg to the program.
func (h *harness) send(msg tea.Msg) { h.tm.Send(msg) }

// press sends key presses by name: "enter", "esc", "tab", "shift+tab",
// "up", "down", "ctrl+s", "space", or a single character.
func (h *harness) press(names ...string) {
	for _, n := range names {
		h.send(keyMsg(n))
	}
}

// typ types text, one rune at a time.
func (h *harness) typ(text string) {
	for _, r := range text {
		h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
}

func keyMsg(name string) tea.KeyMsg {
	types := map[string]tea.KeyType{
		"enter": tea.KeyEnter, "esc": tea.KeyEsc, "tab": tea.KeyTab, "shift+tab": tea.KeyShiftTab,
		"up": tea.KeyUp, "down": tea.KeyDown, "left": tea.KeyLeft, "right": tea.KeyRight,
		"pgdown": tea.KeyPgDown, "pgup": tea.KeyPgUp, "ctrl+s": tea.KeyCtrlS, "ctrl+c": tea.KeyCtrlC,
		"ctrl+r": tea.KeyCtrlR, "ctrl+u": tea.KeyCtrlU, "space": tea.KeySpace, "backspace": tea.KeyBackspace,
	}
	if t, ok := types[name]; ok {
		return tea.KeyMsg{Type: t}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(name)}
}

// final quits and returns the final model, whose state the test may read
// once the program has ended.
func (h *harness) final() *Model {
	h.t.Helper()
	h.sync()
	if err := h.tm.Quit(); err != nil {
		h.t.Fatal(err)
	}
	return h.tm.FinalModel(h.t, teatest.WithFinalTimeout(5*time.Second)).(*screen).m
}

// golden compares the final screen with the test's golden file
// (testdata/TEST.golden; go test -update rewrites it).
func (h *harness) golden(m *Model) string {
	h.t.Helper()
	view := m.View()
	teatest.RequireEqualOutput(h.t, []byte(view+"\n"))
	return view
}

// waitTicks waits until the dashboard has asked for n polls in all.
func (h *harness) waitTicks(n int) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(h.tickDelays()) < n {
		if time.Now().After(deadline) {
			h.t.Fatalf("%d polls asked for, want %d", len(h.tickDelays()), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// tickDelays returns the poll delays asked for so far.
func (h *harness) tickDelays() []time.Duration {
	h.tickMu.Lock()
	defer h.tickMu.Unlock()
	return slices.Clone(h.ticks)
}

// exposition returns the metrics text of a server that answered the
// public requests given, as mapwrightd's registry writes it: counts by
// status code, and each request's latency observed in the histogram.
func exposition(t testing.TB, counts map[string]int, latencies []float64) []byte {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	for code, n := range counts {
		m.HTTPRequests.WithLabelValues("public", "GET /v1/tiles/{tileset}/{z}/{x}/{y}", code).Add(float64(n))
	}
	for _, l := range latencies {
		m.HTTPDuration.WithLabelValues("public", "GET /v1/tiles/{tileset}/{z}/{x}/{y}").Observe(l)
	}
	// Admin traffic (the dashboard's own polling) must not count.
	m.HTTPRequests.WithLabelValues("admin", "GET /metrics", "200").Add(1000)
	m.HTTPDuration.WithLabelValues("admin", "GET /metrics").Observe(4)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// step is one user action: keys pressed (a "type:" prefix types the rest
// as text, one key at a time; "paste:" pastes it), then text to wait for
// on screen. A name of several characters without a prefix is sent as one
// message, as a terminal delivers keys typed faster than they are read.
type step struct {
	keys []string
	wait string
}

// do runs steps in order.
func (h *harness) do(steps ...step) {
	h.t.Helper()
	for _, s := range steps {
		for _, k := range s.keys {
			if text, ok := strings.CutPrefix(k, "type:"); ok {
				h.typ(text)
			} else if text, ok := strings.CutPrefix(k, "paste:"); ok {
				h.send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(text), Paste: true})
			} else {
				h.press(k)
			}
		}
		h.sync()
		if s.wait != "" {
			h.waitFor(s.wait)
		}
	}
}

// press and wait.
func keys(wait string, names ...string) step { return step{keys: names, wait: wait} }
