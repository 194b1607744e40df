package tui

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/mapwright/mapwright/internal/tui/pages"
	"github.com/mapwright/mapwright/pkg/client"
)

// TestPages: tab, shift+tab and 1-4 move between pages.
func TestPages(t *testing.T) {
	cases := []struct {
		name  string
		keys  []string
		want  int
		title string
	}{
		{"tab", []string{"tab"}, PageKeys, "[2 Keys]"},
		{"tab wraps", []string{"tab", "tab", "tab", "tab"}, PageOverview, "[1 Overview]"},
		{"shift+tab wraps", []string{"shift+tab"}, PageTilesets, "[4 Tilesets]"},
		{"digit", []string{"3"}, PageAudit, "[3 Audit]"},
		{"digit then tab", []string{"4", "tab"}, PageOverview, "[1 Overview]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.start(80, 24)
			h.do(step{keys: tc.keys, wait: tc.title})
			m := h.final()
			if m.Active() != tc.want {
				t.Errorf("page %d, want %d", m.Active(), tc.want)
			}
		})
	}
}

// TestLayout: the help page, other sizes, and a terminal too small.
func TestLayout(t *testing.T) {
	cases := []struct {
		name          string
		width, height int
		steps         []step
		want          []string
	}{
		{
			name: "help lists every key", width: 80, height: 24,
			steps: []step{keys("Keys of the Keys page", "2", "?")},
			want:  []string{"shift+tab", "ctrl+r", "reverse sort", "revoke", "close help"},
		},
		{
			name: "help closes", width: 80, height: 24,
			steps: []step{keys("Keys of the Keys page", "2", "?"), keys("NAME▲", "esc")},
		},
		{
			name: "wide", width: 120, height: 30,
			steps: []step{openKeys},
			want:  []string{"keys:read,keys:rotate", "LAST USED"},
		},
		{
			name: "resized smaller", width: 120, height: 30,
			steps: []step{openKeys, {keys: nil, wait: ""}},
		},
		{
			name: "too small", width: 120, height: 30,
			steps: []step{openKeys},
			want:  []string{"needs at least", "30×8"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			seedKeys(h.fake)
			h.start(tc.width, tc.height)
			h.do(tc.steps...)
			switch tc.name {
			case "resized smaller":
				h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
			case "too small":
				h.send(tea.WindowSizeMsg{Width: 30, Height: 8})
			}
			m := h.final()
			view := h.golden(m)
			for _, w := range tc.want {
				if !strings.Contains(view, w) {
					t.Errorf("screen lacks %q", w)
				}
			}
			lines := strings.Split(view, "\n")
			if tc.name != "too small" && len(lines) != m.Height {
				t.Errorf("%d lines on a screen of %d", len(lines), m.Height)
			}
			for i, l := range lines {
				if w := lipgloss.Width(l); w > m.Width {
					t.Errorf("line %d is %d cells wide on a screen of %d: %q", i+1, w, m.Width, l)
				}
			}
		})
	}
}

// TestColor: the renderer decides about colour: none at all without a
// colour profile (NO_COLOR), colours with one.
func TestColor(t *testing.T) {
	colour := lipgloss.NewRenderer(io.Discard)
	colour.SetColorProfile(termenv.TrueColor)
	colour.SetHasDarkBackground(true)
	cases := []struct {
		name     string
		renderer *lipgloss.Renderer
		escapes  bool
	}{
		{"no color", plainRenderer(), false},
		{"true color", colour, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			seedKeys(h.fake)
			h.renderer = tc.renderer
			h.start(80, 24)
			h.do(openKeys)
			view := h.final().View()
			if got := strings.Contains(view, "\x1b["); got != tc.escapes {
				t.Errorf("escape sequences on screen: %v, want %v", got, tc.escapes)
			}
		})
	}
}

// TestReconnect: when the server goes away the status bar says so, polls
// back off (doubling up to the maximum), and when it returns the
// dashboard is connected again and refreshes the page shown.
func TestReconnect(t *testing.T) {
	h := newHarness(t)
	seedKeys(h.fake)
	h.start(80, 24)
	h.do(openKeys)
	h.server.stop()
	for i := range 6 {
		h.clock.Advance(time.Second)
		h.send(PollMsg{})
		// Each poll ends by asking for the next one.
		h.waitTicks(2 + i)
	}
	h.waitFor("✕ DISCONNECTED · retrying every 30s · last answer 12:00:00 UTC · cannot connect")
	down := h.view()
	h.server.start()
	// Keys changed while the dashboard could not see them.
	h.fake.AddKey(h.fakeKey("key_0200", "added-while-away"))
	h.clock.Advance(time.Second)
	h.send(PollMsg{})
	h.waitTicks(8)
	h.do(step{wait: "6 keys"})
	m := h.final()
	h.golden(m)
	if !strings.Contains(down, "5 keys") {
		t.Errorf("the last data is not kept while the server is away:\n%s", down)
	}
	if !m.Connected() {
		t.Error("not connected after the server came back")
	}
	// The first poll, then six failures, then the recovery.
	want := []time.Duration{2 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second, 2 * time.Second}
	if got := h.tickDelays(); !slices.Equal(got, want) {
		t.Errorf("poll delays %v, want %v", got, want)
	}
	if !strings.Contains(h.logs.String(), "server unreachable") || !strings.Contains(h.logs.String(), "server reachable again") {
		t.Errorf("logs:\n%s", h.logs)
	}
}

// TestOnePollChain: a poll of the server outside the schedule (ctrl+r)
// reschedules the next one instead of starting a second chain of polls.
func TestOnePollChain(t *testing.T) {
	h := newHarness(t)
	m := New(h.options(context.Background()))
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	answer := pages.OverviewMsg{At: testNow, Status: client.Status{Version: "1.4.0"}}
	m.Update(answer) // the scheduled poll's answer: next poll is #1
	m.Update(answer) // the answer to ctrl+r: next poll is #2
	if _, cmd := m.Update(PollMsg{Seq: 1}); cmd != nil {
		t.Error("a superseded poll ran")
	}
	if _, cmd := m.Update(PollMsg{Seq: 2}); cmd == nil {
		t.Error("the scheduled poll did not run")
	}
	if _, cmd := m.Update(PollMsg{}); cmd != nil {
		t.Error("a poll ran while the last one is in flight")
	}
}
