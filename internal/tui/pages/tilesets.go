package pages

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/mapwright/mapwright/internal/logging"
	"github.com/mapwright/mapwright/internal/tui/common"
	"github.com/mapwright/mapwright/internal/tui/components"
	"github.com/mapwright/mapwright/pkg/client"
)

// TilesetsState is what the Tilesets page is doing.
type TilesetsState int

// States of the Tilesets page.
const (
	// TilesetsLoading: the first list has not arrived.
	TilesetsLoading TilesetsState = iota
	// TilesetsBrowsing: the list is shown.
	TilesetsBrowsing
	// TilesetsReloading: a reload is in flight.
	TilesetsReloading
)

// TilesetsLoadedMsg is the result of listing the tilesets; Reload marks
// the answer of a reload.
type TilesetsLoadedMsg struct {
	At     time.Time
	List   client.TilesetList
	Reload bool
	Err    error
}

// Columns of the tilesets table.
const (
	tsColName = iota
	tsColFormat
	tsColZoom
	tsColPublic
	tsColStatus
	tsColError
)

// Tilesets is the Tilesets page: every tileset the server knows, loaded or
// failed, and a reload.
type Tilesets struct {
	common.Common
	state    TilesetsState
	list     client.TilesetList
	table    *components.Table
	loadedAt time.Time
	loading  bool
	loadErr  error
	flash    string
	flashBad bool
}

// NewTilesets returns the Tilesets page.
func NewTilesets(c common.Common) *Tilesets {
	p := &Tilesets{Common: c}
	p.table = components.NewTable(c, []components.Column{
		tsColName:   {Title: "NAME", Min: 10, Weight: 2},
		tsColFormat: {Title: "FORMAT", Width: 7},
		tsColZoom:   {Title: "ZOOM", Width: 5},
		tsColPublic: {Title: "PUBLIC", Width: 6},
		tsColStatus: {Title: "STATUS", Width: 6},
		tsColError:  {Title: "ERROR", Min: 10, Weight: 3},
	})
	p.table.Empty = "No tilesets: put .pmtiles or .mbtiles files in the server's tileset directory, then press R."
	return p
}

// State is the page's state.
func (p *Tilesets) State() TilesetsState { return p.state }

// Init implements Page.
func (p *Tilesets) Init() tea.Cmd { return nil }

// Title implements Page.
func (p *Tilesets) Title() string { return "Tilesets" }

// Capturing implements Page.
func (p *Tilesets) Capturing() bool { return false }

// ShortHelp implements Page.
func (p *Tilesets) ShortHelp() []key.Binding {
	return []key.Binding{p.KeyMap.Up, p.KeyMap.Down, p.KeyMap.Reload}
}

// FullHelp implements Page.
func (p *Tilesets) FullHelp() [][]key.Binding {
	return [][]key.Binding{p.KeyMap.Navigation(), {p.KeyMap.Reload}}
}

// SetSize implements Page.
func (p *Tilesets) SetSize(width, height int) {
	p.Common.SetSize(width, height)
	p.table.SetSize(width, p.tableHeight())
}

// tableHeight leaves room for the header, the detail (a title, the path
// and two lines of error) and the footer.
func (p *Tilesets) tableHeight() int { return max(p.Height-6, 2) }

// Poll implements Page.
func (p *Tilesets) Poll(now time.Time, active, force bool) tea.Cmd {
	if p.loading || p.state == TilesetsReloading || (!active && !force) {
		return nil
	}
	if !force && p.loadErr == nil && !p.loadedAt.IsZero() && now.Sub(p.loadedAt) < RefreshAfter {
		return nil
	}
	p.loading = true
	c := p.Common
	return func() tea.Msg {
		ctx, cancel := c.Request()
		defer cancel()
		l, err := c.API.ListTilesets(ctx)
		return TilesetsLoadedMsg{At: now, List: l, Err: err}
	}
}

// Update implements Page.
func (p *Tilesets) Update(msg tea.Msg) tea.Cmd {
	switch m := msg.(type) {
	case TilesetsLoadedMsg:
		if m.Reload {
			p.state = TilesetsBrowsing
		} else {
			p.loading = false
		}
		if m.Err != nil {
			p.Logger.Warn("list tilesets", common.LogKeyReload, m.Reload, logging.KeyErr, m.Err)
			if m.Reload {
				p.setFlash("Reload failed: "+common.ErrorText(m.Err), true)
			} else {
				p.loadErr = m.Err
			}
			if p.state == TilesetsLoading {
				p.state = TilesetsBrowsing
			}
			return nil
		}
		p.loadErr = nil
		p.loadedAt = m.At
		p.list = m.List
		p.table.SetRows(tilesetRows{p})
		if p.state == TilesetsLoading {
			p.state = TilesetsBrowsing
		}
		if m.Reload {
			p.setFlash(fmt.Sprintf("Reloaded: %d loaded, %d failed.", m.List.Loaded, m.List.Failed), m.List.Failed > 0)
		}
	case tea.KeyMsg:
		if p.state != TilesetsBrowsing || p.table.Update(m) {
			return nil
		}
		if key.Matches(m, p.KeyMap.Reload) {
			p.state = TilesetsReloading
			c := p.Common
			now := p.Now()
			return func() tea.Msg {
				ctx, cancel := c.Request()
				defer cancel()
				l, err := c.API.ReloadTilesets(ctx)
				return TilesetsLoadedMsg{At: now, List: l, Reload: true, Err: err}
			}
		}
	}
	return nil
}

func (p *Tilesets) setFlash(s string, bad bool) { p.flash, p.flashBad = s, bad }

type tilesetRows struct{ p *Tilesets }

func (r tilesetRows) Len() int { return len(r.p.list.Tilesets) }

func (r tilesetRows) Cell(row, col int) string {
	t := r.p.list.Tilesets[row]
	switch col {
	case tsColName:
		return t.Name
	case tsColFormat:
		return common.OrDash(t.Format)
	case tsColZoom:
		if t.Status != "ok" {
			return "-"
		}
		return strconv.Itoa(t.MinZoom) + "-" + strconv.Itoa(t.MaxZoom)
	case tsColPublic:
		if t.Public {
			return "yes"
		}
		return "no"
	case tsColStatus:
		return t.Status
	case tsColError:
		return t.Error
	}
	return ""
}

func (r tilesetRows) CellStyle(row, col int) (lipgloss.Style, bool) {
	if col != tsColStatus && col != tsColError {
		return lipgloss.Style{}, false
	}
	return r.p.Styles.KeyState(r.p.list.Tilesets[row].Status), true
}

// View implements Page.
func (p *Tilesets) View() string {
	st := p.Styles
	header := st.Title.Render("Tilesets") + " " + st.Dim.Render(fmt.Sprintf("%d loaded · %d failed", p.list.Loaded, p.list.Failed))
	if p.loadErr != nil {
		header += " " + st.Bad.Render("· list failed: "+common.ErrorText(p.loadErr))
	}
	header = common.Truncate(header, p.Width)
	var body string
	switch p.state {
	case TilesetsLoading:
		body = st.Dim.Render("Loading tilesets…")
	default:
		body = fit(p.table.View(), p.tableHeight()) + "\n" + p.detail()
	}
	footer := ""
	switch {
	case p.state == TilesetsReloading:
		footer = st.Dim.Render("Reloading tilesets…")
	case p.flash != "" && p.flashBad:
		footer = st.Bad.Render(common.Truncate(common.Sanitize(p.flash), p.Width))
	case p.flash != "":
		footer = st.OK.Render(common.Truncate(common.Sanitize(p.flash), p.Width))
	}
	return fit(header+"\n"+fit(body, max(p.Height-2, 1))+"\n"+footer, p.Height)
}

// detail shows the selected tileset's path and its error on up to two
// lines, which the table cuts to one column.
func (p *Tilesets) detail() string {
	i := p.table.Cursor()
	if i < 0 {
		return ""
	}
	st := p.Styles
	t := p.list.Tilesets[i]
	out := st.Dim.Render(common.Rule(common.Sanitize(t.Name), p.Width)) + "\n" +
		labelled(p.Common, p.Width, [][2]string{{"Path ", common.Sanitize(t.Path)}})
	if t.Error != "" {
		w := max(p.Width-7, 8)
		wrapped := strings.Split(ansi.Wrap(common.Sanitize(t.Error), w, " "), "\n")
		if len(wrapped) > 2 {
			wrapped = wrapped[:2]
			wrapped[1] = common.Truncate(wrapped[1]+" …", w)
		}
		out += "\n" + st.Label.Render("Error") + "  " + st.Bad.Render(wrapped[0])
		if len(wrapped) > 1 {
			out += "\n       " + st.Bad.Render(wrapped[1])
		}
	}
	return out
}
