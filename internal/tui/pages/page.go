// Package pages holds the dashboard's screens: Overview, Keys, Audit and
// Tilesets. Each is a Page with a state enum and exported ...Msg types for
// the results of its requests; the root model routes keys to the page shown
// and every other message to all pages.
package pages

import (
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/mapwright/mapwright/internal/tui/common"
)

// Page is one screen of the dashboard.
type Page interface {
	// Init returns the page's first commands.
	Init() tea.Cmd
	// Update handles a message: a key when the page is shown, anything
	// else always.
	Update(msg tea.Msg) tea.Cmd
	// View renders the page in its size.
	View() string
	// SetSize sets the page's size.
	SetSize(width, height int)
	// Title names the page in the tab bar.
	Title() string
	// ShortHelp is the help bar of the page.
	ShortHelp() []key.Binding
	// FullHelp is the page's part of the full help.
	FullHelp() [][]key.Binding
	// Capturing reports whether a text field, a question or a key shown
	// once has the keyboard: the global keys (tab, 1-4, q) are then off.
	Capturing() bool
	// Poll is called at every tick of the dashboard and when the page is
	// shown; it returns the request to make, if any. active tells whether
	// the page is shown; force asks to refresh now (ctrl+r).
	Poll(now time.Time, active, force bool) tea.Cmd
}

// RefreshAfter is how old a page's data may get while it is shown before
// the page asks for it again.
const RefreshAfter = 10 * time.Second

// fit cuts or pads the lines of s to exactly height lines.
func fit(s string, height int) string {
	if height <= 0 {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > height {
		lines = lines[:height]
	}
	for len(lines) < height {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// plural counts things: "1 event", "3 events".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}

// labelled renders "Label  value" pairs, one per line, labels padded.
// Values may be styled; text from the server must be sanitised by the
// caller (common.Sanitize) before styling.
func labelled(c common.Common, width int, pairs [][2]string) string {
	lw := 0
	for _, p := range pairs {
		lw = max(lw, len(p[0]))
	}
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(c.Styles.Label.Render(common.Pad(p[0], lw)) + "  " + common.Truncate(p[1], max(width-lw-2, 1)))
	}
	return b.String()
}

// twoColumns renders label/value pairs in two columns of half the width
// each, filled row by row, at most rows lines. Values are as for labelled.
func twoColumns(c common.Common, width, rows int, pairs [][2]string) string {
	half := (width - 1) / 2
	lw, rw := 0, 0
	for i, p := range pairs {
		if i%2 == 0 {
			lw = max(lw, len(p[0]))
		} else {
			rw = max(rw, len(p[0]))
		}
	}
	cell := func(p [2]string, labelW, w int) string {
		return c.Styles.Label.Render(common.Pad(p[0], labelW)) + " " + common.Pad(p[1], max(w-labelW-1, 1))
	}
	var out []string
	for i := 0; i < len(pairs) && len(out) < rows; i += 2 {
		line := cell(pairs[i], lw, half)
		if i+1 < len(pairs) {
			line += " " + cell(pairs[i+1], rw, width-half-1)
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
