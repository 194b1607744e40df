package backup

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/mapwright/mapwright/internal/store"
)

// maxRowBytes bounds one encoded row. The largest legitimate rows (a key
// with many origins and labels) are a few kilobytes.
const maxRowBytes = 16 << 20

// Non-finite floats, which JSON numbers cannot express, are written as
// these strings.
const (
	jsonNaN    = "NaN"
	jsonPosInf = "Infinity"
	jsonNegInf = "-Infinity"
)

// rowEncoder writes rows of one table as JSON Lines: one object per row,
// fields in column order, named by column.
type rowEncoder struct {
	cols  []store.Column
	names [][]byte
	buf   []byte
}

func newRowEncoder(cols []store.Column) *rowEncoder {
	e := &rowEncoder{cols: cols, names: make([][]byte, len(cols))}
	for i, c := range cols {
		// Column names are plain identifiers; appendJSONString quotes
		// anything else correctly all the same.
		name, _ := appendJSONString(nil, c.Name)
		e.names[i] = append(name, ':')
	}
	return e
}

// encode returns the line for row (valid until the next call).
func (e *rowEncoder) encode(row []any) ([]byte, error) {
	if len(row) != len(e.cols) {
		return nil, fmt.Errorf("row of %d values for %d columns", len(row), len(e.cols))
	}
	b := append(e.buf[:0], '{')
	for i, c := range e.cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e.names[i]...)
		var err error
		if b, err = appendValue(b, c, row[i]); err != nil {
			return nil, err
		}
	}
	b = append(b, '}', '\n')
	e.buf = b
	return b, nil
}

func appendValue(b []byte, c store.Column, v any) ([]byte, error) {
	if v == nil {
		if !c.Nullable {
			return nil, fmt.Errorf("column %s: NULL in a NOT NULL column", c.Name)
		}
		return append(b, "null"...), nil
	}
	switch c.Type {
	case store.TypeInt:
		if x, ok := v.(int64); ok {
			return strconv.AppendInt(b, x, 10), nil
		}
	case store.TypeFloat:
		if x, ok := v.(float64); ok {
			switch {
			case math.IsNaN(x):
				return append(b, `"`+jsonNaN+`"`...), nil
			case math.IsInf(x, 1):
				return append(b, `"`+jsonPosInf+`"`...), nil
			case math.IsInf(x, -1):
				return append(b, `"`+jsonNegInf+`"`...), nil
			}
			return strconv.AppendFloat(b, x, 'g', -1, 64), nil
		}
	case store.TypeText:
		if x, ok := v.(string); ok {
			out, err := appendJSONString(b, x)
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", c.Name, err)
			}
			return out, nil
		}
	case store.TypeBlob:
		if x, ok := v.([]byte); ok {
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, x)
			return append(b, '"'), nil
		}
	}
	return nil, fmt.Errorf("column %s (%s): cannot encode a %T", c.Name, c.Type, v)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Text must be valid UTF-8:
// JSON cannot carry anything else without loss.
func appendJSONString(b []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("text that is not valid UTF-8")
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"'), nil
}

// rowDecoder reads the JSON Lines of a table part as a store.RowSource.
// Every line must be one object holding each column exactly once, with a
// value of the column's type; anything else is an error wrapping
// ErrCorrupt.
type rowDecoder struct {
	r     *bufio.Reader
	cols  []store.Column
	index map[string]int
	seen  []bool
	row   []any
	long  []byte
	n     int64
	err   error
}

func newRowDecoder(r io.Reader, cols []store.Column) *rowDecoder {
	d := &rowDecoder{
		r:     bufio.NewReaderSize(r, 64<<10),
		cols:  cols,
		index: make(map[string]int, len(cols)),
		seen:  make([]bool, len(cols)),
		row:   make([]any, len(cols)),
	}
	for i, c := range cols {
		d.index[c.Name] = i
	}
	return d
}

// Next decodes the next row; false at the end or on error (see Err).
func (d *rowDecoder) Next() bool {
	if d.err != nil {
		return false
	}
	line, err := d.line()
	if err != nil {
		if !errors.Is(err, io.EOF) {
			d.err = err
		}
		return false
	}
	d.n++
	if err := parseRow(line, d.cols, d.index, d.seen, d.row); err != nil {
		d.err = fmt.Errorf("%w: row %d: %v", ErrCorrupt, d.n, err)
		return false
	}
	return true
}

// line returns the next line without its end, io.EOF at a clean end.
func (d *rowDecoder) line() ([]byte, error) {
	d.long = d.long[:0]
	line, err := d.r.ReadSlice('\n')
	if err == nil {
		return line[:len(line)-1], nil
	}
	if errors.Is(err, bufio.ErrBufferFull) {
		d.long = append(d.long, line...)
		for {
			line, err = d.r.ReadSlice('\n')
			d.long = append(d.long, line...)
			if len(d.long) > maxRowBytes {
				return nil, fmt.Errorf("%w: row %d is longer than %d bytes", ErrCorrupt, d.n+1, maxRowBytes)
			}
			if err == nil {
				return d.long[:len(d.long)-1], nil
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				break
			}
		}
	}
	if errors.Is(err, io.EOF) {
		if len(line) > 0 || len(d.long) > 0 {
			return nil, fmt.Errorf("%w: the last row does not end with a line break", ErrCorrupt)
		}
		return nil, io.EOF
	}
	return nil, err
}

// Values returns the current row; it is reused by the next call to Next.
func (d *rowDecoder) Values() ([]any, error) { return d.row, nil }

// Err returns what ended the rows early, nil at a clean end.
func (d *rowDecoder) Err() error { return d.err }

// Rows returns the number of rows decoded.
func (d *rowDecoder) Rows() int64 { return d.n }

// parseRow decodes one JSON object into row (one value per column, by
// name). seen is scratch space of len(cols).
func parseRow(line []byte, cols []store.Column, index map[string]int, seen []bool, row []any) error {
	clear(seen)
	p := parser{b: line}
	p.ws()
	if !p.eat('{') {
		return errors.New("a row is not a JSON object")
	}
	p.ws()
	if p.eat('}') {
		if len(cols) > 0 {
			return errors.New("an empty object")
		}
	} else {
		for {
			p.ws()
			name, err := p.str()
			if err != nil {
				return fmt.Errorf("field name: %w", err)
			}
			i, ok := index[name]
			if !ok {
				return fmt.Errorf("unknown field %q", sanitize(name))
			}
			if seen[i] {
				return fmt.Errorf("field %s appears twice", name)
			}
			seen[i] = true
			p.ws()
			if !p.eat(':') {
				return fmt.Errorf("field %s: no colon", name)
			}
			p.ws()
			v, err := p.value(cols[i])
			if err != nil {
				return fmt.Errorf("field %s: %w", name, err)
			}
			row[i] = v
			p.ws()
			if p.eat(',') {
				continue
			}
			if p.eat('}') {
				break
			}
			return fmt.Errorf("field %s: expected , or }", name)
		}
	}
	p.ws()
	if p.i != len(p.b) {
		return errors.New("data after the object")
	}
	for i, ok := range seen {
		if !ok {
			return fmt.Errorf("field %s is missing", cols[i].Name)
		}
	}
	return nil
}

// parser scans the subset of JSON that rows use: one flat object whose
// values are strings, numbers and null.
type parser struct {
	b []byte
	i int
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a JSON string.
func (p *parser) str() (string, error) {
	if !p.eat('"') {
		return "", errors.New("expected a string")
	}
	start := p.i
	escaped := false
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			raw := p.b[start:p.i]
			p.i++
			if !escaped {
				if !utf8.Valid(raw) {
					return "", errors.New("string is not valid UTF-8")
				}
				return string(raw), nil
			}
			if !utf8.Valid(raw) {
				return "", errors.New("string is not valid UTF-8")
			}
			return unescapeJSON(raw)
		case c == '\\':
			escaped = true
			p.i += 2
		case c < 0x20:
			return "", errors.New("control character in a string")
		default:
			p.i++
		}
	}
	return "", errors.New("unterminated string")
}

// unescapeJSON decodes the content of a JSON string that holds escapes.
// It is stricter than the standard decoder in one respect: a \u escape
// of half a surrogate pair is an error rather than U+FFFD, since a writer
// of valid UTF-8 never produces one.
func unescapeJSON(raw []byte) (string, error) {
	out := make([]byte, 0, len(raw))
	for len(raw) > 0 {
		i := bytes.IndexByte(raw, '\\')
		if i < 0 {
			out = append(out, raw...)
			break
		}
		out = append(out, raw[:i]...)
		raw = raw[i:]
		if len(raw) < 2 {
			return "", errors.New("a backslash ends the string")
		}
		switch c := raw[1]; c {
		case '"', '\\', '/':
			out = append(out, c)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(raw[2:])
			if !ok {
				return "", errors.New("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				var r2 rune
				if len(raw) >= 12 && raw[6] == '\\' && raw[7] == 'u' {
					r2, ok = hex4(raw[8:])
				} else {
					ok = false
				}
				if r = utf16.DecodeRune(r, r2); !ok || r == utf8.RuneError {
					return "", errors.New("half a surrogate pair in a \\u escape")
				}
				raw = raw[6:]
			}
			out = utf8.AppendRune(out, r)
			raw = raw[4:]
		default:
			return "", fmt.Errorf("bad escape \\%c", c)
		}
		raw = raw[2:]
	}
	return string(out), nil
}

// hex4 decodes four hexadecimal digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// number reads the characters of a JSON number.
func (p *parser) number() []byte {
	start := p.i
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			p.i++
		default:
			return p.b[start:p.i]
		}
	}
	return p.b[start:p.i]
}

// value reads a value of column c's type.
func (p *parser) value(c store.Column) (any, error) {
	if bytes.HasPrefix(p.b[p.i:], []byte("null")) {
		p.i += 4
		if !c.Nullable {
			return nil, errors.New("null in a NOT NULL column")
		}
		return nil, nil
	}
	switch c.Type {
	case store.TypeInt:
		tok := p.number()
		if !validJSONNumber(tok) {
			return nil, errors.New("expected an integer")
		}
		v, err := strconv.ParseInt(string(tok), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("expected a 64-bit integer, got %q", tok)
		}
		return v, nil
	case store.TypeFloat:
		if p.i < len(p.b) && p.b[p.i] == '"' {
			s, err := p.str()
			if err != nil {
				return nil, err
			}
			switch s {
			case jsonNaN:
				return math.NaN(), nil
			case jsonPosInf:
				return math.Inf(1), nil
			case jsonNegInf:
				return math.Inf(-1), nil
			}
			return nil, fmt.Errorf("expected a number, got the string %q", sanitize(s))
		}
		tok := p.number()
		if !validJSONNumber(tok) {
			return nil, errors.New("expected a number")
		}
		v, err := strconv.ParseFloat(string(tok), 64)
		if err != nil {
			return nil, fmt.Errorf("expected a number, got %q", tok)
		}
		return v, nil
	case store.TypeText:
		return p.str()
	case store.TypeBlob:
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		v, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("expected base64: %w", err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("column type %q", c.Type)
}

// validJSONNumber checks the JSON number grammar, which is stricter than
// strconv's: no leading +, no leading zeros, no bare dot, no hex.
func validJSONNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i == len(b)
}

// columnsOf converts store columns to the manifest's form.
func columnsOf(cols []store.Column) []Column {
	out := make([]Column, len(cols))
	for i, c := range cols {
		out[i] = Column{Name: c.Name, Type: string(c.Type), Nullable: c.Nullable}
	}
	return out
}
