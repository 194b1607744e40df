package output

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
)

// Empty is printed for an empty value, so that every row has the same
// number of whitespace-separated fields.
const Empty = "-"

// Colorer picks the colour of a cell from its value; nil: no colour.
type Colorer func(cs iostreams.ColorScheme, value string) string

// Table is rows under upper-case column names.
type Table struct {
	headers []string
	rows    [][]string
	colors  map[int]Colorer
}

// NewTable returns a table with these column names (upper case by
// convention: "ID", "LAST USED").
func NewTable(headers ...string) *Table {
	return &Table{headers: headers, colors: map[int]Colorer{}}
}

// AddRow appends a row; missing cells are empty, extra cells dropped.
func (t *Table) AddRow(cells ...string) {
	row := make([]string, len(t.headers))
	copy(row, cells)
	t.rows = append(t.rows, row)
}

// Color sets the colour of column col (from 0) on a terminal.
func (t *Table) Color(col int, c Colorer) *Table {
	t.colors[col] = c
	return t
}

// Len returns the number of rows.
func (t *Table) Len() int { return len(t.rows) }

// Render writes the table: aligned on a terminal, plain otherwise.
func (t *Table) Render(w io.Writer, tty bool, cs iostreams.ColorScheme) error {
	if !tty {
		return writePlainRows(w, t.headers, t.rows)
	}
	var buf bytes.Buffer
	tbl := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off},
				Lines:      tw.Lines{ShowHeaderLine: tw.Off, ShowTop: tw.Off, ShowBottom: tw.Off},
			},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithPadding(tw.Padding{Left: "", Right: "   ", Overwrite: true}),
		tablewriter.WithTrimSpace(tw.Off),
	)
	headers := make([]string, len(t.headers))
	for i, h := range t.headers {
		headers[i] = cs.Bold(h)
	}
	tbl.Header(headers)
	for _, row := range t.rows {
		cells := make([]string, len(row))
		for i, v := range row {
			v = oneLine(v)
			if v == "" {
				cells[i] = cs.Gray(Empty)
				continue
			}
			if c := t.colors[i]; c != nil {
				v = c(cs, v)
			}
			cells[i] = v
		}
		if err := tbl.Append(cells); err != nil {
			return fmt.Errorf("table row: %w", err)
		}
	}
	if err := tbl.Render(); err != nil {
		return fmt.Errorf("render table: %w", err)
	}
	_, err := w.Write(trimTrailing(buf.Bytes()))
	return err
}

// trailingPad matches the padding the table leaves after the last column,
// with any colour resets that follow it.
var trailingPad = regexp.MustCompile(`(?m)[ ]+((?:\x1b\[0m)*)$`)

func trimTrailing(b []byte) []byte { return trailingPad.ReplaceAll(b, []byte("$1")) }

// writePlainRows writes the plain form: header, then TAB-separated rows.
func writePlainRows(w io.Writer, headers []string, rows [][]string) error {
	var buf bytes.Buffer
	writePlainLine(&buf, headers)
	for _, r := range rows {
		writePlainLine(&buf, r)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func writePlainLine(buf *bytes.Buffer, cells []string) {
	for i, c := range cells {
		if i > 0 {
			buf.WriteByte('\t')
		}
		c = oneLine(c)
		if c == "" {
			c = Empty
		}
		buf.WriteString(c)
	}
	buf.WriteByte('\n')
}

// oneLine keeps a value on one line and one field: TABs, line breaks and
// other control characters become spaces, and surrounding space goes.
func oneLine(s string) string {
	if strings.IndexFunc(s, isControl) < 0 {
		return strings.TrimSpace(s)
	}
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s))
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

// Detail is one object as labelled fields.
type Detail struct {
	fields []field
}

type field struct {
	name, label, value string
	color              Colorer
}

// NewDetail returns an empty detail view.
func NewDetail() *Detail { return &Detail{} }

// Add appends a field: name is its JSON field name (the plain form's
// first column), label its human label.
func (d *Detail) Add(name, label, value string) *Detail {
	d.fields = append(d.fields, field{name: name, label: label, value: value})
	return d
}

// AddColored appends a field whose value is coloured on a terminal.
func (d *Detail) AddColored(name, label, value string, c Colorer) *Detail {
	d.fields = append(d.fields, field{name: name, label: label, value: value, color: c})
	return d
}

// Render writes the fields: labelled and aligned on a terminal, as
// "name<TAB>value" lines otherwise.
func (d *Detail) Render(w io.Writer, tty bool, cs iostreams.ColorScheme) error {
	var buf bytes.Buffer
	if !tty {
		for _, f := range d.fields {
			writePlainLine(&buf, []string{f.name, f.value})
		}
		_, err := w.Write(buf.Bytes())
		return err
	}
	width := 0
	for _, f := range d.fields {
		width = max(width, len(f.label)+1)
	}
	for _, f := range d.fields {
		v := oneLine(f.value)
		switch {
		case v == "":
			v = cs.Gray(Empty)
		case f.color != nil:
			v = f.color(cs, v)
		}
		fmt.Fprintf(&buf, "%s%s  %s\n", cs.Bold(f.label+":"), strings.Repeat(" ", width-len(f.label)-1), v)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
