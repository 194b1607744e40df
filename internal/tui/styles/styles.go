// Package styles holds the one Styles struct of the dashboard. Every colour
// and emphasis of every page comes from it, built on one lipgloss renderer,
// so that NO_COLOR (a renderer with the Ascii profile) turns all of it off
// at once and the screen stays readable: nothing relies on colour alone.
package styles

import "github.com/charmbracelet/lipgloss"

// Styles are the dashboard's styles, built by New on one renderer.
type Styles struct {
	// Renderer is the renderer every style was built on; components that
	// make styles of their own (text inputs) use it too.
	Renderer *lipgloss.Renderer

	// Brand is the product name at the left of the tab bar.
	Brand lipgloss.Style
	// TabActive and TabInactive are the page tabs.
	TabActive   lipgloss.Style
	TabInactive lipgloss.Style

	// Title is a section title inside a page.
	Title lipgloss.Style
	// Label is the name of a field ("Version"); Value its value.
	Label lipgloss.Style
	Value lipgloss.Style
	// Dim is secondary text: absent values, hints, units.
	Dim lipgloss.Style

	// OK, Warn, Bad and Info colour values by meaning: healthy, needs
	// attention, failed, informational.
	OK   lipgloss.Style
	Warn lipgloss.Style
	Bad  lipgloss.Style
	Info lipgloss.Style

	// Header is a table's header row; Selected the row under the cursor.
	Header   lipgloss.Style
	Selected lipgloss.Style

	// StatusBar is the bottom status line; StatusOK and StatusBad its
	// connection badge.
	StatusBar lipgloss.Style
	StatusOK  lipgloss.Style
	StatusBad lipgloss.Style

	// HelpKey, HelpDesc and HelpSep style the help bar.
	HelpKey  lipgloss.Style
	HelpDesc lipgloss.Style
	HelpSep  lipgloss.Style

	// Dialog frames a question or a form; SecretBox frames a key shown
	// once, and SecretToken is the key inside it.
	Dialog      lipgloss.Style
	SecretBox   lipgloss.Style
	SecretToken lipgloss.Style

	// Spark is a sparkline.
	Spark lipgloss.Style
	// Input is the text of a text field; Prompt its prompt.
	Input  lipgloss.Style
	Prompt lipgloss.Style
}

// New returns the styles of the dashboard on renderer r. A renderer with the
// Ascii colour profile yields plain text.
func New(r *lipgloss.Renderer) *Styles {
	c := func(light, dark string) lipgloss.AdaptiveColor {
		return lipgloss.AdaptiveColor{Light: light, Dark: dark}
	}
	green := c("#00875F", "#5FD787")
	red := c("#D70000", "#FF5F5F")
	yellow := c("#AF8700", "#FFD75F")
	cyan := c("#0087AF", "#5FD7FF")
	gray := c("#767676", "#8A8A8A")
	accent := c("#5F00D7", "#AF87FF")
	s := &Styles{Renderer: r}
	s.Brand = r.NewStyle().Bold(true).Foreground(accent)
	s.TabActive = r.NewStyle().Bold(true).Reverse(true)
	s.TabInactive = r.NewStyle().Foreground(gray)
	s.Title = r.NewStyle().Bold(true)
	s.Label = r.NewStyle().Foreground(gray)
	s.Value = r.NewStyle()
	s.Dim = r.NewStyle().Foreground(gray)
	s.OK = r.NewStyle().Foreground(green)
	s.Warn = r.NewStyle().Foreground(yellow)
	s.Bad = r.NewStyle().Foreground(red).Bold(true)
	s.Info = r.NewStyle().Foreground(cyan)
	s.Header = r.NewStyle().Bold(true).Underline(true)
	s.Selected = r.NewStyle().Reverse(true)
	s.StatusBar = r.NewStyle().Foreground(gray)
	s.StatusOK = r.NewStyle().Foreground(green).Bold(true)
	s.StatusBad = r.NewStyle().Foreground(red).Bold(true)
	s.HelpKey = r.NewStyle().Bold(true)
	s.HelpDesc = r.NewStyle().Foreground(gray)
	s.HelpSep = r.NewStyle().Foreground(gray)
	s.Dialog = r.NewStyle().Border(lipgloss.RoundedBorder()).Padding(0, 1)
	s.SecretBox = r.NewStyle().Border(lipgloss.DoubleBorder()).BorderForeground(yellow).Padding(0, 1)
	s.SecretToken = r.NewStyle().Bold(true).Foreground(yellow)
	s.Spark = r.NewStyle().Foreground(cyan)
	s.Input = r.NewStyle()
	s.Prompt = r.NewStyle().Bold(true)
	return s
}

// KeyState styles a key state or a tileset status: green for active and
// ok, cyan for pending, yellow for expired, red for revoked and failed.
func (s *Styles) KeyState(state string) lipgloss.Style {
	switch state {
	case "active", "ok", "success":
		return s.OK
	case "pending":
		return s.Info
	case "expired", "expiring":
		return s.Warn
	case "revoked", "failed", "failure":
		return s.Bad
	}
	return s.Value
}
