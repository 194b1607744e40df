package components

import (
	"strings"

	"github.com/mapwright/mapwright/internal/tui/styles"
)

// NotShownAgain is the reminder under a key shown once.
const NotShownAgain = "This key will not be shown again."

// SecretBox frames a key shown once: a title, the key, lines of context and
// the reminder that it will not be shown again. The key is never wrapped
// (a line break inside it would corrupt a copy), so the box is as wide as
// the key needs even on a narrow terminal.
func SecretBox(st *styles.Styles, title, token string, lines []string, width int) string {
	var b strings.Builder
	b.WriteString(st.Title.Render(title) + "\n\n")
	b.WriteString(st.SecretToken.Render(token) + "\n\n")
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	b.WriteString(st.Bad.Render(NotShownAgain) + "\n")
	b.WriteString(st.Dim.Render("Copy it now. Press enter when done."))
	inner := max(min(width-4, 76), len(token))
	return st.SecretBox.Width(inner + 2).Render(b.String())
}

// Dialog frames a question or a message.
func Dialog(st *styles.Styles, title string, body string, width int) string {
	inner := max(width-4, 20)
	return st.Dialog.Width(inner + 2).Render(st.Title.Render(title) + "\n" + body)
}
