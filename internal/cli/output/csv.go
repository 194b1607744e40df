package output

import (
	"encoding/csv"
	"fmt"
	"strings"
)

// FormatCSV is RFC 4180 CSV: a header row of column names, then one record
// per row, for lists that spreadsheets and standard tools read. Commands
// that offer it say which columns they write.
const FormatCSV Format = "csv"

// CSV writes rows as CSV to standard output as they arrive, the header
// row first. On a terminal, control characters inside values are replaced
// by U+FFFD so that data cannot drive the terminal; in a pipe values are
// written exactly.
type CSV struct {
	p       *Printer
	w       *csv.Writer
	header  []string
	started bool
}

// CSV returns a CSV writer under these column names.
func (p *Printer) CSV(header ...string) *CSV {
	return &CSV{p: p, w: csv.NewWriter(p.ios.Out), header: header}
}

// Row writes one record; it must have one value per column.
func (c *CSV) Row(values ...string) error {
	if len(values) != len(c.header) {
		return fmt.Errorf("CSV row of %d values under %d columns", len(values), len(c.header))
	}
	if err := c.start(); err != nil {
		return err
	}
	if c.p.ios.IsStdoutTTY {
		safe := make([]string, len(values))
		for i, v := range values {
			safe[i] = strings.Map(func(r rune) rune {
				if isControl(r) && r != '\n' && r != '\t' {
					return '\uFFFD'
				}
				return r
			}, v)
		}
		values = safe
	}
	if err := c.w.Write(values); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	c.w.Flush()
	return c.w.Error()
}

func (c *CSV) start() error {
	if c.started {
		return nil
	}
	c.started = true
	if err := c.w.Write(c.header); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}

// Close writes the header of an empty result and flushes.
func (c *CSV) Close() error {
	if err := c.start(); err != nil {
		return err
	}
	c.w.Flush()
	return c.w.Error()
}
