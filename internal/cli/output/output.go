// Package output is the one place where mwctl formats data: the -o flag,
// JSON, YAML and JSON Lines documents, tables and detail views for people
// on a terminal, and plain stable lines for scripts in a pipe.
//
// # Formats
//
//   - json: the pkg/client structure, indented, one document.
//   - yaml: the same document as json, with the same field names and order.
//   - jsonl: one compact JSON object per line, for lists and streams.
//   - table: for people on a terminal, aligned columns with colour; in a
//     pipe, the plain form below.
//
// # Plain form (table format, standard output not a terminal)
//
// A table prints a header line of upper-case column names, then one line per
// row. Fields are separated by one TAB, without padding or colour. An empty
// value prints as "-". TABs and line breaks inside a value become spaces.
// Times are RFC 3339 in UTC. A detail view (one object) prints one
// "field<TAB>value" line per field, the field being the JSON field name.
package output

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
)

// ErrFormat means an -o value is not one the command offers.
var ErrFormat = errors.New("unsupported output format")

// Format is an -o value.
type Format string

// The output formats.
const (
	FormatTable Format = "table"
	FormatJSON  Format = "json"
	FormatYAML  Format = "yaml"
	FormatJSONL Format = "jsonl"
)

// FlagName is the long name of the output flag, for tests that walk the
// command tree.
const FlagName = "output"

// formatValue is the pflag.Value of -o: it accepts only the formats the
// command offers.
type formatValue struct {
	p       *Format
	allowed []Format
}

func (v *formatValue) String() string { return string(*v.p) }
func (v *formatValue) Type() string   { return "format" }
func (v *formatValue) Set(s string) error {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	if !slices.Contains(v.allowed, f) {
		return fmt.Errorf("%w %q: want %s", ErrFormat, s, joinFormats(v.allowed))
	}
	*v.p = f
	return nil
}

func joinFormats(fs []Format) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// AddFlag registers -o/--output on cmd, defaulting to table, accepting
// table and the given formats (json, yaml, jsonl), with shell completion.
func AddFlag(cmd *cobra.Command, p *Format, formats ...Format) {
	allowed := append([]Format{FormatTable}, formats...)
	*p = FormatTable
	cmd.Flags().VarP(&formatValue{p: p, allowed: allowed}, FlagName, "o", "output format: "+joinFormats(allowed))
	_ = cmd.RegisterFlagCompletionFunc(FlagName, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		names := make([]string, len(allowed))
		for i, f := range allowed {
			names[i] = string(f)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
}

// Human is what the table format prints: a *Table, a *Detail, a Message,
// or a command's own view. Render writes it for a terminal when tty is
// true, else in the plain form.
type Human interface {
	Render(w io.Writer, tty bool, cs iostreams.ColorScheme) error
}

// Printer writes a command's result to standard output in the chosen
// format.
type Printer struct {
	ios    *iostreams.IOStreams
	format Format
}

// New returns a printer of format to ios.Out.
func New(ios *iostreams.IOStreams, format Format) *Printer {
	if format == "" {
		format = FormatTable
	}
	return &Printer{ios: ios, format: format}
}

// Format returns the chosen format.
func (p *Printer) Format() Format { return p.format }

// IsTable reports whether the output is for people or the plain form
// rather than a document.
func (p *Printer) IsTable() bool { return p.format == FormatTable }

// TTY reports whether standard output is a terminal.
func (p *Printer) TTY() bool { return p.ios.IsStdoutTTY }

// ColorScheme returns the colours of standard output.
func (p *Printer) ColorScheme() iostreams.ColorScheme { return p.ios.ColorScheme() }

// Print writes doc as a JSON or YAML document, items (a slice, may be nil
// for a single object) as JSON Lines, or human in the table format.
func (p *Printer) Print(doc, items any, human func() Human) error {
	switch p.format {
	case FormatJSON:
		return writeJSON(p.ios.Out, doc)
	case FormatYAML:
		return writeYAML(p.ios.Out, doc)
	case FormatJSONL:
		if items == nil {
			items = []any{doc}
		}
		return writeJSONL(p.ios.Out, items)
	case FormatTable:
		return human().Render(p.ios.Out, p.ios.IsStdoutTTY, p.ios.ColorScheme())
	}
	return fmt.Errorf("%w %q", ErrFormat, p.format)
}

func writeJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	// Tokens, URLs and origins contain & and <, which must stay readable.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func writeJSONL(w io.Writer, items any) error {
	var all bytes.Buffer
	enc := json.NewEncoder(&all)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(items); err != nil {
		return fmt.Errorf("encode JSON lines: %w", err)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(all.Bytes(), &elems); err != nil {
		return fmt.Errorf("JSON lines need a list: %w", err)
	}
	var buf bytes.Buffer
	for _, e := range elems {
		if err := json.Compact(&buf, e); err != nil {
			return fmt.Errorf("encode JSON lines: %w", err)
		}
		buf.WriteByte('\n')
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// Message is free text for the table format, printed as is.
type Message string

// Render writes the message.
func (m Message) Render(w io.Writer, _ bool, _ iostreams.ColorScheme) error {
	_, err := io.WriteString(w, string(m))
	return err
}
