package backup

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mapwright/mapwright/internal/store"
)

// testCols has one column of every type, two of them nullable.
var testCols = []store.Column{
	{Name: "i", Type: store.TypeInt},
	{Name: "f", Type: store.TypeFloat},
	{Name: "s", Type: store.TypeText},
	{Name: "b", Type: store.TypeBlob},
	{Name: "n", Type: store.TypeInt, Nullable: true},
	{Name: "ns", Type: store.TypeText, Nullable: true},
}

func decodeAll(t testing.TB, data []byte, cols []store.Column) ([][]any, error) {
	d := newRowDecoder(bytes.NewReader(data), cols)
	var rows [][]any
	for d.Next() {
		v, _ := d.Values()
		rows = append(rows, cloneValues(v))
	}
	return rows, d.Err()
}

func cloneValues(v []any) []any {
	out := make([]any, len(v))
	for i, x := range v {
		if b, ok := x.([]byte); ok {
			x = bytes.Clone(b)
		}
		out[i] = x
	}
	return out
}

func TestRowsRoundTrip(t *testing.T) {
	rows := [][]any{
		{int64(0), 0.0, "", []byte{}, nil, nil},
		{int64(math.MaxInt64), 12.5, `quote " backslash \ tab	newline` + "\n\x00\x1f\x7f", []byte{0, 1, 0xff}, int64(-1), "ключ ✓ 🗺"},
		{int64(math.MinInt64), math.MaxFloat64, "</script>&", bytes.Repeat([]byte{0xaa}, 1000), int64(42), ""},
		{int64(1), math.SmallestNonzeroFloat64, "a", []byte("x"), nil, "b"},
		{int64(2), math.Inf(1), "inf", nil, nil, nil},
		{int64(3), math.Inf(-1), "-inf", []byte{1}, nil, nil},
		{int64(4), math.Copysign(0, -1), "negative zero", []byte{2}, nil, nil},
		{int64(5), 1e21, "exponent", []byte{3}, nil, nil},
	}
	// A nil blob in a NOT NULL column is not allowed; give it bytes.
	rows[4][3] = []byte("nil is not allowed here")
	enc := newRowEncoder(testCols)
	var buf bytes.Buffer
	for _, r := range rows {
		line, err := enc.encode(r)
		if err != nil {
			t.Fatalf("encode %v: %v", r, err)
		}
		buf.Write(line)
	}
	got, err := decodeAll(t, buf.Bytes(), testCols)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, rows) {
		t.Errorf("round trip:\n got %#v\nwant %#v", got, rows)
	}
	if math.Signbit(got[6][1].(float64)) != true {
		t.Error("negative zero lost its sign")
	}

	// NaN never equals itself, so it is checked apart.
	line, err := enc.encode([]any{int64(9), math.NaN(), "nan", []byte{}, nil, nil})
	if err != nil {
		t.Fatal(err)
	}
	got, err = decodeAll(t, line, testCols)
	if err != nil || !math.IsNaN(got[0][1].(float64)) {
		t.Errorf("NaN came back as %v, %v", got, err)
	}
}

func TestRowsEncodeRefuses(t *testing.T) {
	enc := newRowEncoder(testCols)
	cases := []struct {
		name string
		row  []any
	}{
		{"too few values", []any{int64(1)}},
		{"NULL in a NOT NULL column", []any{nil, 1.0, "", []byte{}, nil, nil}},
		{"string in an int column", []any{"1", 1.0, "", []byte{}, nil, nil}},
		{"invalid UTF-8", []any{int64(1), 1.0, "\xff", []byte{}, nil, nil}},
		{"int in a float column", []any{int64(1), int64(1), "", []byte{}, nil, nil}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if line, err := enc.encode(tc.row); err == nil {
				t.Errorf("encoded as %q", line)
			}
		})
	}
}

func TestRowsDecodeRefuses(t *testing.T) {
	const ok = `{"i":1,"f":1.5,"s":"x","b":"AA==","n":null,"ns":null}`
	cases := []struct {
		name, line string
	}{
		{"not an object", `[1,2]`},
		{"unknown field", `{"i":1,"f":1.5,"s":"x","b":"AA==","n":null,"ns":null,"z":1}`},
		{"missing field", `{"i":1,"f":1.5,"s":"x","b":"AA==","n":null}`},
		{"field twice", `{"i":1,"i":2,"f":1.5,"s":"x","b":"AA==","n":null,"ns":null}`},
		{"null in a NOT NULL column", `{"i":null,"f":1.5,"s":"x","b":"AA==","n":null,"ns":null}`},
		{"float in an int column", `{"i":1.5,"f":1.5,"s":"x","b":"AA==","n":null,"ns":null}`},
		{"int out of range", `{"i":9223372036854775808,"f":1.5,"s":"x","b":"AA==","n":null,"ns":null}`},
		{"leading plus", `{"i":+1,"f":1.5,"s":"x","b":"AA==","n":null,"ns":null}`},
		{"hex number", `{"i":0x10,"f":1.5,"s":"x","b":"AA==","n":null,"ns":null}`},
		{"string in a float column", `{"i":1,"f":"1.5","s":"x","b":"AA==","n":null,"ns":null}`},
		{"bad base64", `{"i":1,"f":1.5,"s":"x","b":"A","n":null,"ns":null}`},
		{"unpadded base64", `{"i":1,"f":1.5,"s":"x","b":"AA","n":null,"ns":null}`},
		{"number for a string", `{"i":1,"f":1.5,"s":5,"b":"AA==","n":null,"ns":null}`},
		{"bad escape", `{"i":1,"f":1.5,"s":"\q","b":"AA==","n":null,"ns":null}`},
		{"raw control character", "{\"i\":1,\"f\":1.5,\"s\":\"a\tb\",\"b\":\"AA==\",\"n\":null,\"ns\":null}"},
		{"invalid UTF-8", "{\"i\":1,\"f\":1.5,\"s\":\"\xff\",\"b\":\"AA==\",\"n\":null,\"ns\":null}"},
		{"unterminated string", `{"i":1,"f":1.5,"s":"x`},
		{"trailing data", ok + `x`},
		{"two objects", ok + ok},
		{"empty line", ``},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeAll(t, []byte(tc.line+"\n"), testCols)
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("decode %q: %v, want ErrCorrupt", tc.line, err)
			}
		})
	}
	t.Run("no final line feed", func(t *testing.T) {
		if _, err := decodeAll(t, []byte(ok), testCols); !errors.Is(err, ErrCorrupt) {
			t.Errorf("got %v, want ErrCorrupt", err)
		}
	})
	t.Run("white space and escapes are fine", func(t *testing.T) {
		line := " { \"ns\" : \"\\u00e9\\n\" , \"n\":7,\"b\":\"\",\"s\":\"\\\"\",\"f\":-1e-3,\"i\":-0 }\r\n"
		rows, err := decodeAll(t, []byte(line), testCols)
		want := []any{int64(0), -1e-3, `"`, []byte{}, int64(7), "é\n"}
		if err != nil || len(rows) != 1 || !reflect.DeepEqual(rows[0], want) {
			t.Errorf("got %#v, %v; want %#v", rows, err, want)
		}
	})
	t.Run("a row longer than the limit", func(t *testing.T) {
		long := `{"i":1,"f":1.5,"s":"` + strings.Repeat("x", maxRowBytes) + `","b":"","n":null,"ns":null}` + "\n"
		if _, err := decodeAll(t, []byte(long), testCols); !errors.Is(err, ErrCorrupt) {
			t.Errorf("got %v, want ErrCorrupt", err)
		}
	})
	t.Run("a long row within the limit", func(t *testing.T) {
		s := strings.Repeat("y", 200<<10)
		line := `{"i":1,"f":1.5,"s":"` + s + `","b":"","n":null,"ns":null}` + "\n"
		rows, err := decodeAll(t, []byte(line+line), testCols)
		if err != nil || len(rows) != 2 || rows[1][2] != s {
			t.Errorf("got %d rows, %v", len(rows), err)
		}
	})
}

// FuzzParseRow feeds arbitrary lines to the row decoder: it must never
// panic, and whatever it accepts must encode and decode back to the same
// values.
func FuzzParseRow(f *testing.F) {
	enc := newRowEncoder(testCols)
	for _, r := range [][]any{
		{int64(1), 2.5, "x", []byte{1}, nil, "y"},
		{int64(-7), math.Inf(1), "q\"\\\n", []byte{}, int64(3), nil},
	} {
		line, _ := enc.encode(r)
		f.Add(bytes.Clone(line))
	}
	f.Add([]byte(`{"i":1}` + "\n"))
	f.Add([]byte("{\"s\":\"\\ud800\"}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := decodeAll(t, data, testCols)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error not wrapping ErrCorrupt: %v", err)
			}
			return
		}
		var again bytes.Buffer
		for _, r := range rows {
			line, err := enc.encode(r)
			if err != nil {
				t.Fatalf("accepted row %#v does not encode: %v", r, err)
			}
			again.Write(line)
		}
		back, err := decodeAll(t, again.Bytes(), testCols)
		if err != nil {
			t.Fatalf("re-encoded rows do not decode: %v", err)
		}
		if len(back) != len(rows) {
			t.Fatalf("%d rows became %d", len(rows), len(back))
		}
		for i := range rows {
			for j := range rows[i] {
				a, b := rows[i][j], back[i][j]
				if fa, ok := a.(float64); ok && math.IsNaN(fa) {
					if fb, ok := b.(float64); !ok || !math.IsNaN(fb) {
						t.Fatalf("NaN became %v", b)
					}
					continue
				}
				if !reflect.DeepEqual(a, b) {
					t.Fatalf("row %d value %d: %#v became %#v", i, j, a, b)
				}
			}
		}
	})
}

// FuzzUnescape compares the string decoder with the standard one: what it
// accepts, the standard decoder must decode to the same string.
func FuzzUnescape(f *testing.F) {
	for _, s := range []string{`a\"b`, `\\\/\b\f\n\r\t`, `\u00e9\u0000`, `\ud83d\uddfa map`, `\ud83d`, `\u12`, `x\`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := unescapeJSON(raw)
		if err != nil {
			return
		}
		var want string
		if jerr := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &want); jerr != nil {
			// A raw quote or control character is the parser's to refuse
			// before it gets here.
			if bytes.ContainsAny(raw, "\"") || bytes.ContainsFunc(raw, func(r rune) bool { return r < 0x20 }) {
				return
			}
			t.Fatalf("accepted %q, which the standard decoder refuses: %v", raw, jerr)
		}
		if utf8.Valid(raw) && got != want {
			t.Fatalf("%q decodes to %q, the standard decoder says %q", raw, got, want)
		}
	})
}
