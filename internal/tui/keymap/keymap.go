// Package keymap is the one KeyMap of the dashboard: every binding of every
// page is a field here, so that help, tests and pages agree on the keys.
package keymap

import "github.com/charmbracelet/bubbles/key"

// KeyMap holds every key binding of the dashboard.
type KeyMap struct {
	// Global bindings, active on every page unless a text field or a
	// question has the focus (then only ForceQuit works).
	NextPage  key.Binding
	PrevPage  key.Binding
	Overview  key.Binding
	Keys      key.Binding
	Audit     key.Binding
	Tilesets  key.Binding
	Help      key.Binding
	Quit      key.Binding
	ForceQuit key.Binding
	Refresh   key.Binding

	// Moving in lists.
	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Home     key.Binding
	End      key.Binding
	Open     key.Binding
	Back     key.Binding

	// Keys page.
	Filter      key.Binding
	Sort        key.Binding
	SortReverse key.Binding
	Create      key.Binding
	Rotate      key.Binding
	Revoke      key.Binding

	// Audit page.
	FilterAction key.Binding
	FilterActor  key.Binding
	ClearFilter  key.Binding
	Verify       key.Binding

	// Tilesets page.
	Reload key.Binding

	// Forms and questions.
	NextField key.Binding
	PrevField key.Binding
	Submit    key.Binding
	Cancel    key.Binding
	Toggle    key.Binding
	Yes       key.Binding
	No        key.Binding
	Dismiss   key.Binding
}

// Default returns the dashboard's bindings.
func Default() *KeyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return &KeyMap{
		NextPage:  b("tab", "next page", "tab"),
		PrevPage:  b("shift+tab", "previous page", "shift+tab"),
		Overview:  b("1", "overview", "1"),
		Keys:      b("2", "keys", "2"),
		Audit:     b("3", "audit", "3"),
		Tilesets:  b("4", "tilesets", "4"),
		Help:      b("?", "all keys", "?"),
		Quit:      b("q", "quit", "q"),
		ForceQuit: b("ctrl+c", "quit", "ctrl+c"),
		Refresh:   b("ctrl+r", "refresh now", "ctrl+r"),

		Up:       b("↑/k", "up", "up", "k"),
		Down:     b("↓/j", "down", "down", "j"),
		PageUp:   b("pgup", "page up", "pgup", "ctrl+b"),
		PageDown: b("pgdn", "page down", "pgdown", "ctrl+f"),
		Home:     b("g/home", "first", "home", "g"),
		End:      b("G/end", "last", "end", "G"),
		Open:     b("enter", "details", "enter"),
		Back:     b("esc", "back", "esc"),

		Filter:      b("/", "filter", "/"),
		Sort:        b("s", "sort column", "s"),
		SortReverse: b("S", "reverse sort", "S"),
		Create:      b("c", "create", "c"),
		Rotate:      b("r", "rotate", "r"),
		Revoke:      b("x", "revoke", "x"),

		FilterAction: b("a", "filter action", "a"),
		FilterActor:  b("u", "filter actor", "u"),
		ClearFilter:  b("esc", "clear filters", "esc"),
		Verify:       b("v", "verify chain", "v"),

		Reload: b("R", "reload", "R"),

		NextField: b("tab/↓", "next field", "tab", "down"),
		PrevField: b("shift+tab/↑", "previous field", "shift+tab", "up"),
		Submit:    b("enter", "submit", "enter"),
		Cancel:    b("esc", "cancel", "esc"),
		Toggle:    b("space/←/→", "change", " ", "left", "right"),
		Yes:       b("y", "yes", "y", "Y"),
		No:        b("n/esc", "no", "n", "N", "esc"),
		Dismiss:   b("enter", "done", "enter"),
	}
}

// Global returns the bindings that work on every page, for the full help.
func (k *KeyMap) Global() []key.Binding {
	return []key.Binding{k.NextPage, k.PrevPage, k.Overview, k.Keys, k.Audit, k.Tilesets, k.Refresh, k.Help, k.Quit}
}

// Navigation returns the list movement bindings, for the full help.
func (k *KeyMap) Navigation() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Home, k.End}
}
