package components

import (
	"fmt"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/mapwright/mapwright/internal/tui/common"
	"github.com/mapwright/mapwright/internal/tui/keymap"
	"github.com/mapwright/mapwright/internal/tui/styles"
)

func testCommon() common.Common {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	return common.Common{Styles: styles.New(r), KeyMap: keymap.Default()}
}

func TestSparkline(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name   string
		values []float64
		width  int
		want   string
	}{
		{"scaled to the peak", []float64{0, 1, 2, 4, 8}, 5, "▁▂▃▅█"},
		{"padded left, newest at the right", []float64{3, 3}, 4, "  ██"},
		{"only the newest that fit", []float64{8, 0, 0, 8}, 2, "▁█"},
		{"all zero", []float64{0, 0, 0}, 3, "▁▁▁"},
		{"tiny values still show", []float64{1000, 1}, 2, "█▂"},
		{"missing data is blank", []float64{1, nan, 1}, 3, "█ █"},
		{"no room", []float64{1}, 0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Sparkline(tc.values, tc.width); got != tc.want {
				t.Errorf("Sparkline(%v, %d) = %q, want %q", tc.values, tc.width, got, tc.want)
			}
		})
	}
}

// countingRows counts the cells a table asks for.
type countingRows struct {
	n     int
	cells int
}

func (r *countingRows) Len() int { return r.n }
func (r *countingRows) Cell(row, col int) string {
	r.cells++
	return fmt.Sprintf("r%d c%d", row, col)
}

func TestTableRendersOnlyVisibleRows(t *testing.T) {
	rows := &countingRows{n: 10000}
	tb := NewTable(testCommon(), []Column{{Title: "A", Width: 8}, {Title: "B", Min: 4}})
	tb.SetSize(40, 11)
	tb.SetRows(rows)
	tb.Update(tea.KeyMsg{Type: tea.KeyPgDown})
	tb.Update(tea.KeyMsg{Type: tea.KeyPgDown})
	view := tb.View()
	if rows.cells != 10*2 {
		t.Errorf("rendering asked for %d cells, want 20 (10 visible rows × 2 columns)", rows.cells)
	}
	lines := strings.Split(view, "\n")
	if len(lines) != 11 {
		t.Fatalf("%d lines, want 11", len(lines))
	}
	if !strings.HasPrefix(lines[1], "› r20 c0") {
		t.Errorf("after two pages the cursor should be on row 20: %q", lines[1])
	}
	for i, l := range lines {
		if w := lipgloss.Width(l); w > 40 {
			t.Errorf("line %d is %d wide", i, w)
		}
	}
}

func TestTableNavigation(t *testing.T) {
	cases := []struct {
		name   string
		keys   []tea.KeyMsg
		cursor int
		offset int
	}{
		{"down", []tea.KeyMsg{{Type: tea.KeyDown}}, 1, 0},
		{"up at the top stays", []tea.KeyMsg{{Type: tea.KeyUp}}, 0, 0},
		{"end", []tea.KeyMsg{{Type: tea.KeyRunes, Runes: []rune("G")}}, 99, 95},
		{"end then home", []tea.KeyMsg{{Type: tea.KeyEnd}, {Type: tea.KeyHome}}, 0, 0},
		{"page down scrolls", []tea.KeyMsg{{Type: tea.KeyPgDown}}, 5, 5},
		{"past the end clamps", []tea.KeyMsg{{Type: tea.KeyEnd}, {Type: tea.KeyPgDown}, {Type: tea.KeyDown}}, 99, 95},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tb := NewTable(testCommon(), []Column{{Title: "A", Min: 4}})
			tb.SetSize(20, 6)
			tb.SetRows(&countingRows{n: 100})
			for _, k := range tc.keys {
				if !tb.Update(k) {
					t.Fatalf("%v not handled", k)
				}
			}
			if tb.Cursor() != tc.cursor || tb.Offset() != tc.offset {
				t.Errorf("cursor %d offset %d, want %d %d", tb.Cursor(), tb.Offset(), tc.cursor, tc.offset)
			}
		})
	}
}

func TestTableNarrowColumnsAreCut(t *testing.T) {
	tb := NewTable(testCommon(), []Column{{Title: "NAME", Min: 30}, {Title: "STATE", Width: 20}})
	tb.SetSize(30, 3)
	tb.SetRows(&countingRows{n: 2})
	for i, l := range strings.Split(tb.View(), "\n") {
		if w := lipgloss.Width(l); w > 30 {
			t.Errorf("line %d is %d wide on a table of 30", i, w)
		}
	}
}

func TestSecretBoxNeverWrapsTheKey(t *testing.T) {
	c := testCommon()
	token := "mpw_pk_" + strings.Repeat("A", 36)
	for _, width := range []int{30, 80, 200} {
		box := SecretBox(c.Styles, "Key created", token, []string{"a line"}, width)
		if !strings.Contains(box, token) {
			t.Errorf("width %d: the key is not on one line:\n%s", width, box)
		}
		if !strings.Contains(box, NotShownAgain) {
			t.Errorf("width %d: no reminder", width)
		}
	}
}
