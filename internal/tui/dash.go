// Package tui is mwctl's dashboard: a terminal UI on the admin API with an
// Overview, Keys, Audit and Tilesets page. The root Model holds the pages,
// the tab bar, the status bar and the help bar, routes keys to the page
// shown and every other message to all pages, and paces the polling of the
// server: every Interval while it answers, with a growing backoff while it
// does not.
package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/mapwright/mapwright/internal/logging"
	"github.com/mapwright/mapwright/internal/tui/common"
	"github.com/mapwright/mapwright/internal/tui/keymap"
	"github.com/mapwright/mapwright/internal/tui/pages"
	"github.com/mapwright/mapwright/internal/tui/styles"
)

// Defaults of Options.
const (
	// DefaultInterval is the poll interval of status and metrics.
	DefaultInterval = 2 * time.Second
	// DefaultMaxBackoff is the longest wait between two attempts while
	// the server does not answer.
	DefaultMaxBackoff = 30 * time.Second
)

// Smallest usable terminal; below it the dashboard asks for more room.
const (
	minWidth  = 40
	minHeight = 10
)

// Page indices, in tab order.
const (
	PageOverview = iota
	PageKeys
	PageAudit
	PageTilesets
)

// Options configure the dashboard.
type Options struct {
	// API is the admin API. Required.
	API common.API
	// Ctx bounds the dashboard's requests and its event stream; nil:
	// context.Background. Run sets it.
	Ctx context.Context
	// Renderer renders every style; nil: lipgloss's default renderer. A
	// renderer with the Ascii profile gives a screen without colour.
	Renderer *lipgloss.Renderer
	// Logger receives the dashboard's logs; nil: none. It must not write
	// to the terminal the dashboard draws on.
	Logger *slog.Logger
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Interval is the poll interval; 0: DefaultInterval.
	Interval time.Duration
	// MaxBackoff bounds the wait between attempts while the server is
	// unreachable; 0: DefaultMaxBackoff.
	MaxBackoff time.Duration
	// Tick returns a command that delivers msg after d; nil: tea.Tick.
	// Tests pass one that never fires and send PollMsg themselves, so
	// that what is on screen does not depend on timing.
	Tick func(d time.Duration, msg tea.Msg) tea.Cmd
}

// PollMsg is the dashboard's heartbeat: every page may fetch what it
// needs. Force (ctrl+r) asks every page to refresh now. Seq tells the
// polls the dashboard scheduled apart: only the latest counts, so that an
// extra poll (ctrl+r) never starts a second chain of them. Zero: a poll
// sent from elsewhere, always handled.
type PollMsg struct {
	Force bool
	Seq   uint64
}

// conn is what the dashboard knows about reaching the server.
type conn struct {
	// known: at least one poll has finished.
	known bool
	// up: the last poll reached the server.
	up bool
	// err is the last poll's failure: unreachable when !up, else an
	// answer refusing the status (credentials, scope).
	err error
	// wait is the delay before the next poll while the server is down.
	wait time.Duration
	// lastUp is when the server last answered.
	lastUp  time.Time
	version string
}

// Model is the dashboard.
type Model struct {
	common.Common
	opts     Options
	pages    []pages.Page
	overview *pages.Overview
	keys     *pages.Keys
	audit    *pages.Audit
	tilesets *pages.Tilesets
	active   int
	help     help.Model
	showHelp bool
	conn     conn
	quitting bool
	// pollSeq is the Seq of the poll scheduled last.
	pollSeq uint64
}

// New returns the dashboard model of opts.
func New(opts Options) *Model {
	if opts.Ctx == nil {
		opts.Ctx = context.Background()
	}
	if opts.Renderer == nil {
		opts.Renderer = lipgloss.DefaultRenderer()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.Tick == nil {
		opts.Tick = func(d time.Duration, msg tea.Msg) tea.Cmd {
			return tea.Tick(d, func(time.Time) tea.Msg { return msg })
		}
	}
	st := styles.New(opts.Renderer)
	c := common.Common{
		Ctx:    opts.Ctx,
		Styles: st,
		KeyMap: keymap.Default(),
		Logger: logging.Sub(opts.Logger, "dash"),
		Now:    opts.Now,
		API:    opts.API,
	}
	// Each page logs as a subsystem of its own.
	sub := func(name string) common.Common {
		pc := c
		pc.Logger = logging.Sub(opts.Logger, "dash."+name)
		return pc
	}
	m := &Model{Common: c, opts: opts}
	m.overview = pages.NewOverview(sub("overview"), opts.Interval)
	m.keys = pages.NewKeys(sub("keys"))
	m.audit = pages.NewAudit(sub("audit"))
	m.tilesets = pages.NewTilesets(sub("tilesets"))
	m.pages = []pages.Page{PageOverview: m.overview, PageKeys: m.keys, PageAudit: m.audit, PageTilesets: m.tilesets}
	m.help = help.New()
	m.help.Styles = help.Styles{
		Ellipsis:       st.HelpSep,
		ShortKey:       st.HelpKey,
		ShortDesc:      st.HelpDesc,
		ShortSeparator: st.HelpSep,
		FullKey:        st.HelpKey,
		FullDesc:       st.HelpDesc,
		FullSeparator:  st.HelpSep,
	}
	return m
}

// Overview returns the Overview page.
func (m *Model) Overview() *pages.Overview { return m.overview }

// Keys returns the Keys page.
func (m *Model) Keys() *pages.Keys { return m.keys }

// Audit returns the Audit page.
func (m *Model) Audit() *pages.Audit { return m.audit }

// Tilesets returns the Tilesets page.
func (m *Model) Tilesets() *pages.Tilesets { return m.tilesets }

// Active is the index of the page shown.
func (m *Model) Active() int { return m.active }

// Connected reports whether the last poll reached the server.
func (m *Model) Connected() bool { return m.conn.up }

// Init implements tea.Model: the pages start, and the first poll runs at
// once.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{func() tea.Msg { return PollMsg{} }}
	for _, p := range m.pages {
		cmds = append(cmds, p.Init())
	}
	return tea.Batch(cmds...)
}

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.resize(msg.Width, msg.Height)
		return m, nil
	case tea.KeyMsg:
		if msg.Paste && !m.pages[m.active].Capturing() {
			// Pasted text is for text fields; outside one it could act
			// as a string of commands.
			return m, nil
		}
		if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste {
			// Keys typed faster than they are read arrive as one message
			// ("/web"): each is a key of its own, and the first may open
			// the field the others belong in.
			cmds := make([]tea.Cmd, 0, len(msg.Runes))
			for _, r := range msg.Runes {
				cmds = append(cmds, m.key(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}, Alt: msg.Alt}))
			}
			return m, tea.Batch(cmds...)
		}
		return m, m.key(msg)
	case PollMsg:
		if msg.Seq != 0 && msg.Seq != m.pollSeq {
			return m, nil
		}
		now := m.Now()
		var cmds []tea.Cmd
		for i, p := range m.pages {
			cmds = append(cmds, p.Poll(now, i == m.active, msg.Force))
		}
		return m, tea.Batch(cmds...)
	case pages.OverviewMsg:
		return m, tea.Batch(m.overview.Update(msg), m.heartbeat(msg))
	}
	var cmds []tea.Cmd
	for _, p := range m.pages {
		cmds = append(cmds, p.Update(msg))
	}
	return m, tea.Batch(cmds...)
}

// heartbeat updates the connection state from a poll of the server and
// schedules the next poll: after Interval while the server answers, after
// a doubling wait (up to MaxBackoff) while it cannot be reached.
func (m *Model) heartbeat(msg pages.OverviewMsg) tea.Cmd {
	wasDown := m.conn.known && !m.conn.up
	m.conn.known = true
	if msg.StatusErr != nil && common.IsDisconnected(msg.StatusErr) {
		if m.conn.up || !wasDown {
			m.Logger.Warn("server unreachable", logging.KeyErr, msg.StatusErr)
		}
		m.conn.up = false
		m.conn.err = msg.StatusErr
		if m.conn.wait == 0 {
			m.conn.wait = m.opts.Interval
		} else {
			m.conn.wait = min(2*m.conn.wait, m.opts.MaxBackoff)
		}
		return m.schedule(m.conn.wait)
	}
	m.conn.up = true
	m.conn.err = msg.StatusErr
	m.conn.wait = 0
	m.conn.lastUp = msg.At
	if msg.StatusErr == nil {
		m.conn.version = msg.Status.Version
	}
	cmds := []tea.Cmd{m.schedule(m.opts.Interval)}
	m.audit.ServerAnswers(msg.At)
	if wasDown {
		m.Logger.Info("server reachable again")
		// What the page shown holds may be stale: refresh it now (the
		// overview just was).
		if m.active != PageOverview {
			cmds = append(cmds, m.pages[m.active].Poll(msg.At, true, true))
		}
	}
	return tea.Batch(cmds...)
}

// schedule asks for the next poll after d; it replaces any poll scheduled
// before.
func (m *Model) schedule(d time.Duration) tea.Cmd {
	m.pollSeq++
	return m.opts.Tick(d, PollMsg{Seq: m.pollSeq})
}

func (m *Model) key(msg tea.KeyMsg) tea.Cmd {
	km := m.KeyMap
	if key.Matches(msg, km.ForceQuit) {
		m.quitting = true
		return tea.Quit
	}
	if m.showHelp {
		switch {
		case key.Matches(msg, km.Help, km.Back):
			m.showHelp = false
		case key.Matches(msg, km.Quit):
			m.quitting = true
			return tea.Quit
		}
		return nil
	}
	page := m.pages[m.active]
	if page.Capturing() {
		return page.Update(msg)
	}
	switch {
	case key.Matches(msg, km.Quit):
		m.quitting = true
		return tea.Quit
	case key.Matches(msg, km.Help):
		m.showHelp = true
		return nil
	case key.Matches(msg, km.NextPage):
		return m.show((m.active + 1) % len(m.pages))
	case key.Matches(msg, km.PrevPage):
		return m.show((m.active + len(m.pages) - 1) % len(m.pages))
	case key.Matches(msg, km.Overview):
		return m.show(PageOverview)
	case key.Matches(msg, km.Keys):
		return m.show(PageKeys)
	case key.Matches(msg, km.Audit):
		return m.show(PageAudit)
	case key.Matches(msg, km.Tilesets):
		return m.show(PageTilesets)
	case key.Matches(msg, km.Refresh):
		return func() tea.Msg { return PollMsg{Force: true} }
	}
	return page.Update(msg)
}

// show switches to page i, which fetches its data if it is stale.
func (m *Model) show(i int) tea.Cmd {
	m.active = i
	return m.pages[i].Poll(m.Now(), true, false)
}

func (m *Model) resize(width, height int) {
	m.SetSize(width, height)
	m.help.Width = width
	for _, p := range m.pages {
		p.SetSize(width, max(height-3, 1))
	}
}

// View implements tea.Model: the tab bar, the page, the status bar and
// the help bar, exactly the terminal's size.
func (m *Model) View() string {
	if m.quitting {
		return ""
	}
	if m.Width == 0 {
		return ""
	}
	if m.Width < minWidth || m.Height < minHeight {
		msg := fmt.Sprintf("The dashboard needs at least %d×%d cells; this terminal has %d×%d.", minWidth, minHeight, m.Width, m.Height)
		return strings.Join(clip(m.Styles.Renderer.NewStyle().Width(m.Width).Render(msg), m.Height, m.Width), "\n")
	}
	bodyH := m.Height - 3
	var body string
	if m.showHelp {
		body = m.fullHelp()
	} else {
		body = m.pages[m.active].View()
	}
	out := make([]string, 0, m.Height)
	out = append(out, m.tabs())
	out = append(out, clip(body, bodyH, m.Width)...)
	out = append(out, m.statusBar(), m.helpBar())
	return strings.Join(out, "\n")
}

// clip returns exactly height lines of s, none wider than width: a page
// that overflows is cut rather than scrolling the whole screen.
func clip(s string, height, width int) []string {
	lines := strings.Split(s, "\n")
	if len(lines) > height {
		lines = lines[:height]
	}
	for i, l := range lines {
		lines[i] = common.Truncate(l, width)
	}
	for len(lines) < height {
		lines = append(lines, "")
	}
	return lines
}

func (m *Model) tabs() string {
	st := m.Styles
	parts := []string{st.Brand.Render("Mapwright")}
	for i, p := range m.pages {
		label := fmt.Sprintf("%d %s", i+1, p.Title())
		if i == m.active {
			parts = append(parts, st.TabActive.Render("["+label+"]"))
		} else {
			parts = append(parts, st.TabInactive.Render(" "+label+" "))
		}
	}
	return common.Truncate(strings.Join(parts, " "), m.Width)
}

func (m *Model) statusBar() string {
	st := m.Styles
	server := common.Sanitize(m.API.Server())
	var s string
	switch {
	case !m.conn.known:
		s = st.StatusBar.Render("… connecting to " + server)
	case !m.conn.up:
		// What to expect comes first; the cause, which can be long, last.
		s = st.StatusBad.Render("✕ DISCONNECTED") + st.StatusBar.Render(" · retrying every "+common.Duration(m.conn.wait))
		if !m.conn.lastUp.IsZero() {
			s += st.StatusBar.Render(" · last answer " + m.conn.lastUp.UTC().Format("15:04:05") + " UTC")
		}
		s += st.StatusBar.Render(" · " + common.ErrorText(m.conn.err))
	case m.conn.err != nil:
		s = st.StatusBad.Render("⚠ "+common.ErrorText(m.conn.err)) + st.StatusBar.Render(" · "+server)
	default:
		s = st.StatusOK.Render("● connected") + st.StatusBar.Render(fmt.Sprintf(" · updated %s UTC · mapwrightd %s · %s",
			m.conn.lastUp.UTC().Format("15:04:05"), common.Sanitize(m.conn.version), server))
	}
	return common.Truncate(s, m.Width)
}

// helpBar is the keys of the page shown, then the global ones.
func (m *Model) helpBar() string {
	km := m.KeyMap
	page := m.pages[m.active]
	if m.showHelp {
		return m.help.ShortHelpView([]key.Binding{key.NewBinding(key.WithKeys("?"), key.WithHelp("?/esc", "close help")), km.Quit})
	}
	bindings := page.ShortHelp()
	if !page.Capturing() {
		bindings = append(bindings, key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab/1-4", "pages")), km.Help, km.Quit)
	}
	return m.help.ShortHelpView(bindings)
}

// fullHelp lists every key: the global ones, then the page's.
func (m *Model) fullHelp() string {
	st := m.Styles
	page := m.pages[m.active]
	groups := append([][]key.Binding{m.KeyMap.Global()}, page.FullHelp()...)
	return st.Title.Render("Keys of the "+page.Title()+" page, and global keys") + "\n\n" + m.help.FullHelpView(groups)
}

// Run shows the dashboard on out, reading keys from in, until the user
// quits or ctx ends (then it returns an error wrapping ctx's).
func Run(ctx context.Context, opts Options, in io.Reader, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opts.Ctx = ctx
	if opts.Renderer != nil {
		// Ask the terminal for its background before the program owns the
		// input: the answer would otherwise arrive as keystrokes.
		_ = opts.Renderer.HasDarkBackground()
	}
	p := tea.NewProgram(New(opts),
		tea.WithContext(ctx),
		tea.WithInput(in),
		tea.WithOutput(out),
		tea.WithAltScreen(),
		// Signals end the context (mwctl's interrupt handling); ctrl+c
		// in the dashboard is a key.
		tea.WithoutSignalHandler(),
	)
	_, err := p.Run()
	if err != nil && errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return fmt.Errorf("dashboard: %w", context.Cause(ctx))
	}
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	return nil
}
