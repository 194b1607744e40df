package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Stream prints rows as they arrive (an audit log being followed, a long
// scan). In jsonl each row is written at once as one JSON line; in the
// plain form each row is written at once as one line; on a terminal rows
// are aligned, so they are written at Close; json and yaml collect the
// rows into one list written at Close.
type Stream struct {
	p       *Printer
	headers []string
	items   []any
	table   *Table
	started bool
}

// Stream returns a stream of rows under these column names.
func (p *Printer) Stream(headers ...string) *Stream {
	return &Stream{p: p, headers: headers, table: NewTable(headers...)}
}

// Table returns the stream's table, to set column colours.
func (s *Stream) Table() *Table { return s.table }

// Row adds one row: v is its document form (json, yaml, jsonl) and cells
// its table form.
func (s *Stream) Row(v any, cells ...string) error {
	w := s.p.ios.Out
	switch s.p.format {
	case FormatJSONL:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("encode JSON line: %w", err)
		}
		_, err := w.Write(buf.Bytes())
		return err
	case FormatJSON, FormatYAML:
		s.items = append(s.items, v)
		return nil
	}
	if s.p.ios.IsStdoutTTY {
		s.table.AddRow(cells...)
		return nil
	}
	var buf bytes.Buffer
	if !s.started {
		writePlainLine(&buf, s.headers)
		s.started = true
	}
	row := make([]string, len(s.headers))
	copy(row, cells)
	writePlainLine(&buf, row)
	_, err := w.Write(buf.Bytes())
	return err
}

// Close writes what the format holds back until the end: the aligned
// table on a terminal, the json or yaml list, or the plain header of an
// empty stream.
func (s *Stream) Close() error {
	w := s.p.ios.Out
	switch s.p.format {
	case FormatJSONL:
		return nil
	case FormatJSON, FormatYAML:
		items := s.items
		if items == nil {
			items = []any{}
		}
		if s.p.format == FormatJSON {
			return writeJSON(w, items)
		}
		return writeYAML(w, items)
	}
	if s.p.ios.IsStdoutTTY {
		return s.table.Render(w, true, s.p.ios.ColorScheme())
	}
	if !s.started {
		var buf bytes.Buffer
		writePlainLine(&buf, s.headers)
		_, err := io.Copy(w, &buf)
		return err
	}
	return nil
}
