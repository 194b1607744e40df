package components

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/mapwright/mapwright/internal/tui/common"
)

// Rows supplies a table's rows on demand: the table asks only for the
// cells of the rows it shows, so its cost per frame does not grow with
// the number of rows.
type Rows interface {
	// Len is the number of rows.
	Len() int
	// Cell is the text of one cell.
	Cell(row, col int) string
}

// CellStyler is implemented by Rows that colour some cells (a key's
// state). The style applies to rows other than the selected one.
type CellStyler interface {
	CellStyle(row, col int) (lipgloss.Style, bool)
}

// Column describes one column of a Table.
type Column struct {
	// Title is the header.
	Title string
	// Width is a fixed width; 0 makes the column share the space left.
	Width int
	// Min is the least width of a shared column.
	Min int
	// Weight is a shared column's share of the space left (default 1).
	Weight int
	// Right aligns the column to the right (numbers).
	Right bool
}

// Table is a list of rows under a header with a cursor. It renders the
// header and only the rows that fit its height.
type Table struct {
	common.Common
	columns []Column
	widths  []int
	rows    Rows
	cursor  int
	offset  int
	// sortCol is the column whose header carries the sort marker; -1 none.
	sortCol  int
	sortDesc bool
	// overflow is set when the columns' least widths exceed the table's:
	// lines are then cut at the edge rather than wrapped by the terminal.
	overflow bool
	// Empty is shown instead of rows when there are none.
	Empty string
}

// NewTable returns a table of columns.
func NewTable(c common.Common, columns []Column) *Table {
	t := &Table{Common: c, columns: columns, sortCol: -1}
	t.layout()
	return t
}

// SetSize sets the table's size: the header takes one line, rows the rest.
func (t *Table) SetSize(width, height int) {
	t.Common.SetSize(width, height)
	t.layout()
	t.clamp()
}

// SetRows replaces the rows, keeping the cursor in range.
func (t *Table) SetRows(r Rows) {
	t.rows = r
	t.clamp()
}

// SetSort marks col as the sort column (descending when desc); -1: none.
func (t *Table) SetSort(col int, desc bool) { t.sortCol, t.sortDesc = col, desc }

// Cursor is the index of the selected row; -1 when there are no rows.
func (t *Table) Cursor() int {
	if t.len() == 0 {
		return -1
	}
	return t.cursor
}

// SetCursor selects row i (clamped).
func (t *Table) SetCursor(i int) {
	t.cursor = i
	t.clamp()
}

// Offset is the index of the first visible row.
func (t *Table) Offset() int { return t.offset }

func (t *Table) len() int {
	if t.rows == nil {
		return 0
	}
	return t.rows.Len()
}

// visible is the number of rows that fit under the header.
func (t *Table) visible() int { return max(t.Height-1, 1) }

func (t *Table) clamp() {
	n := t.len()
	t.cursor = min(max(t.cursor, 0), max(n-1, 0))
	v := t.visible()
	if t.cursor < t.offset {
		t.offset = t.cursor
	}
	if t.cursor >= t.offset+v {
		t.offset = t.cursor - v + 1
	}
	t.offset = min(max(t.offset, 0), max(n-v, 0))
}

// Update moves the cursor on the navigation keys and reports whether the
// key was one of them.
func (t *Table) Update(msg tea.KeyMsg) bool {
	km := t.KeyMap
	switch {
	case key.Matches(msg, km.Up):
		t.cursor--
	case key.Matches(msg, km.Down):
		t.cursor++
	case key.Matches(msg, km.PageUp):
		t.cursor -= t.visible()
		t.offset -= t.visible()
	case key.Matches(msg, km.PageDown):
		t.cursor += t.visible()
		t.offset += t.visible()
	case key.Matches(msg, km.Home):
		t.cursor = 0
	case key.Matches(msg, km.End):
		t.cursor = t.len() - 1
	default:
		return false
	}
	t.clamp()
	return true
}

// layout computes column widths: fixed columns first, then the space left
// shared by weight among the others, none narrower than its Min.
func (t *Table) layout() {
	t.widths = make([]int, len(t.columns))
	shared, weights := t.Width-2-max(len(t.columns)-1, 0), 0
	for i, c := range t.columns {
		if c.Width > 0 {
			t.widths[i] = c.Width
			shared -= c.Width
		} else {
			weights += max(c.Weight, 1)
		}
	}
	if weights > 0 {
		left := max(shared, 0)
		for i, c := range t.columns {
			if c.Width == 0 {
				t.widths[i] = max(max(c.Weight, 1)*max(shared, 0)/weights, c.Min)
				left -= t.widths[i]
			}
		}
		// Rounding leaves a few cells: give them to the last shared column.
		for i := len(t.columns) - 1; i >= 0 && left > 0; i-- {
			if t.columns[i].Width == 0 {
				t.widths[i] += left
				break
			}
		}
	}
	total := 2 + max(len(t.columns)-1, 0)
	for _, w := range t.widths {
		total += w
	}
	t.overflow = total > t.Width
}

// View renders the header and the visible rows, exactly Height lines
// (fewer when there are fewer rows).
func (t *Table) View() string {
	var b strings.Builder
	st := t.Styles
	head := make([]string, len(t.columns))
	for i, c := range t.columns {
		title := c.Title
		if i == t.sortCol {
			// The marker must survive a narrow column: the title gives way.
			mark := "▲"
			if t.sortDesc {
				mark = "▼"
			}
			title = ansi.Truncate(title, max(t.widths[i]-1, 0), "") + mark
		}
		head[i] = t.cell(title, i)
	}
	b.WriteString(st.Header.Render(common.Truncate("  "+strings.Join(head, " "), t.Width)))
	n := t.len()
	if n == 0 {
		if t.Empty != "" {
			b.WriteString("\n  " + st.Dim.Render(common.Truncate(t.Empty, t.Width-2)))
		}
		return b.String()
	}
	styler, _ := t.rows.(CellStyler)
	end := min(t.offset+t.visible(), n)
	parts := make([]string, len(t.columns))
	for r := t.offset; r < end; r++ {
		b.WriteByte('\n')
		selected := r == t.cursor
		for i := range t.columns {
			s := t.cell(common.Sanitize(t.rows.Cell(r, i)), i)
			if !selected && styler != nil {
				if cs, ok := styler.CellStyle(r, i); ok {
					s = cs.Render(s)
				}
			}
			parts[i] = s
		}
		line := strings.Join(parts, " ")
		if selected {
			// The marker keeps the selection visible without colour.
			line = "› " + line
		} else {
			line = "  " + line
		}
		if t.overflow {
			line = common.Truncate(line, t.Width)
		}
		if selected {
			line = st.Selected.Render(line)
		}
		b.WriteString(line)
	}
	return b.String()
}

func (t *Table) cell(s string, col int) string {
	if t.columns[col].Right {
		return common.PadLeft(s, t.widths[col])
	}
	return common.Pad(s, t.widths[col])
}
