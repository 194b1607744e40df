package components

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/mapwright/mapwright/internal/tui/common"
)

// Field is one line of a Form: a text field, or a choice among fixed
// values when Choices is set.
type Field struct {
	// Label names the field.
	Label string
	// Hint is shown beside the field (accepted forms, the default).
	Hint string
	// Choices, when set, makes the field a choice; Value is then one of
	// them.
	Choices []string

	input  textinput.Model
	choice int
}

// Form is a dialog of fields: tab and the arrows move between fields, space
// and left/right change a choice, enter on the last field (or ctrl+s
// anywhere) submits, esc cancels. The page owning it reacts to the result
// of Update.
type Form struct {
	common.Common
	// Title is the dialog's title.
	Title string
	// Err is a message shown under the fields (a validation error).
	Err    string
	fields []Field
	focus  int
}

// FormResult is what a key press did to a form.
type FormResult int

// Results of Form.Update.
const (
	// FormEditing: the form stays open.
	FormEditing FormResult = iota
	// FormSubmitted: the user asked to submit the values.
	FormSubmitted
	// FormCancelled: the user closed the form.
	FormCancelled
)

// NewForm returns a form of fields with the first one focused. A text
// field's initial value is given in values (by index; missing: empty).
func NewForm(c common.Common, title string, fields []Field, values []string) *Form {
	f := &Form{Common: c, Title: title, fields: fields}
	for i := range f.fields {
		v := ""
		if i < len(values) {
			v = values[i]
		}
		if len(f.fields[i].Choices) > 0 {
			for j, ch := range f.fields[i].Choices {
				if ch == v {
					f.fields[i].choice = j
				}
			}
			continue
		}
		f.fields[i].input = NewInput(c.Styles, "", v, 512)
		f.fields[i].input.Blur()
	}
	f.setFocus(0)
	return f
}

// Value returns the value of field i: its text, trimmed, or its choice.
func (f *Form) Value(i int) string {
	fl := f.fields[i]
	if len(fl.Choices) > 0 {
		return fl.Choices[fl.choice]
	}
	return strings.TrimSpace(fl.input.Value())
}

// Focus is the index of the focused field.
func (f *Form) Focus() int { return f.focus }

func (f *Form) setFocus(i int) {
	n := len(f.fields)
	i = (i%n + n) % n
	if len(f.fields[f.focus].Choices) == 0 {
		f.fields[f.focus].input.Blur()
	}
	f.focus = i
	if len(f.fields[i].Choices) == 0 {
		f.fields[i].input.Focus()
	}
}

// Update handles a key press.
func (f *Form) Update(msg tea.KeyMsg) (FormResult, tea.Cmd) {
	km := f.KeyMap
	fl := &f.fields[f.focus]
	switch {
	case msg.String() == "ctrl+s":
		return FormSubmitted, nil
	case key.Matches(msg, km.Cancel):
		return FormCancelled, nil
	case key.Matches(msg, km.Submit):
		if f.focus == len(f.fields)-1 {
			return FormSubmitted, nil
		}
		f.setFocus(f.focus + 1)
		return FormEditing, nil
	case key.Matches(msg, km.NextField):
		f.setFocus(f.focus + 1)
		return FormEditing, nil
	case key.Matches(msg, km.PrevField):
		f.setFocus(f.focus - 1)
		return FormEditing, nil
	}
	if len(fl.Choices) > 0 {
		if key.Matches(msg, km.Toggle) {
			step := 1
			if msg.String() == "left" {
				step = len(fl.Choices) - 1
			}
			fl.choice = (fl.choice + step) % len(fl.Choices)
		}
		return FormEditing, nil
	}
	return FormEditing, UpdateInput(&fl.input, msg)
}

// View renders the form as a framed dialog as wide as the form.
func (f *Form) View() string {
	st := f.Styles
	labelW := 0
	for _, fl := range f.fields {
		labelW = max(labelW, len(fl.Label))
	}
	inner := max(f.Width-4, 20)
	var b strings.Builder
	b.WriteString(st.Title.Render(f.Title))
	for i, fl := range f.fields {
		mark := "  "
		if i == f.focus {
			mark = "› "
		}
		b.WriteString("\n" + mark + st.Label.Render(common.Pad(fl.Label, labelW)) + "  ")
		valueW := max(inner-labelW-4, 8)
		if len(fl.Choices) > 0 {
			var opts []string
			for j, ch := range fl.Choices {
				if j == fl.choice {
					opts = append(opts, "("+ch+")")
				} else {
					opts = append(opts, " "+ch+" ")
				}
			}
			b.WriteString(common.Truncate(strings.Join(opts, " "), valueW))
		} else {
			in := fl.input
			in.Width = valueW - 1
			b.WriteString(in.View())
		}
		if i == f.focus && fl.Hint != "" {
			b.WriteString("\n" + strings.Repeat(" ", labelW+4) + st.Dim.Render(common.Truncate(fl.Hint, max(inner-labelW-4, 8))))
		}
	}
	if f.Err != "" {
		b.WriteString("\n" + st.Bad.Render(common.Truncate(f.Err, inner)))
	}
	b.WriteString("\n" + st.Dim.Render(common.Truncate("tab next field · enter on the last field or ctrl+s create · esc cancel", inner)))
	return st.Dialog.Width(inner + 2).Render(b.String())
}
