package components

import (
	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/mapwright/mapwright/internal/tui/styles"
)

// NewInput returns a focused single-line text field styled on st's
// renderer (so NO_COLOR applies to it too), with a steady cursor: a blinking
// one would repaint the screen twice a second for nothing.
func NewInput(st *styles.Styles, prompt, value string, limit int) textinput.Model {
	in := textinput.New()
	in.Prompt = prompt
	in.CharLimit = limit
	in.PromptStyle = st.Prompt
	in.TextStyle = st.Input
	in.PlaceholderStyle = st.Dim
	in.CompletionStyle = st.Dim
	in.Cursor.Style = st.Renderer.NewStyle().Reverse(true)
	in.Cursor.TextStyle = st.Input
	in.Cursor.SetMode(cursor.CursorStatic)
	in.SetValue(value)
	in.CursorEnd()
	in.Focus()
	return in
}

// UpdateInput passes msg to the field and returns the field; it exists so
// pages can update a field held in a struct field in one line.
func UpdateInput(in *textinput.Model, msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	*in, cmd = in.Update(msg)
	return cmd
}
