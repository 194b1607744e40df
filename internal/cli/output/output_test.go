package output

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
)

type item struct {
	Name  string     `json:"name"`
	Count int        `json:"count"`
	URL   string     `json:"url,omitempty"`
	When  *time.Time `json:"when,omitempty"`
}

type inner struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// outer embeds inner and adds a field named like inner's struct would be in
// YAML: only a JSON-based conversion flattens it correctly.
type outer struct {
	inner
	Key string `json:"key" yaml:"key"`
}

func printer(format Format, tty, color bool) (*Printer, *strings.Builder, *strings.Builder) {
	ios, _, _, _ := iostreams.Test()
	ios.IsStdoutTTY, ios.ColorEnabled = tty, color
	var o, e strings.Builder
	ios.Out, ios.ErrOut = &o, &e
	return New(ios, format), &o, &e
}

func table() *Table {
	t := NewTable("NAME", "COUNT", "NOTE")
	t.AddRow("alpha", "1", "")
	t.AddRow("beta\twith tab", "22", "line\nbreak")
	t.AddRow("gamma") // missing cells are empty
	return t
}

func TestTableForms(t *testing.T) {
	tests := []struct {
		name        string
		tty, color  bool
		want        string
		wantEscapes bool
	}{
		{
			name: "pipe: header and TAB-separated rows, dashes for empty",
			want: "NAME\tCOUNT\tNOTE\nalpha\t1\t-\nbeta with tab\t22\tline break\ngamma\t-\t-\n",
		},
		{
			name: "terminal: aligned, no trailing spaces",
			tty:  true,
			want: "NAME            COUNT   NOTE\nalpha           1       -\nbeta with tab   22      line break\ngamma           -       -\n",
		},
		{name: "colour terminal", tty: true, color: true, wantEscapes: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, out, _ := printer(FormatTable, tt.tty, tt.color)
			if err := p.Print(nil, nil, func() Human { return table() }); err != nil {
				t.Fatal(err)
			}
			got := out.String()
			if tt.want != "" && got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
			if strings.Contains(got, "\x1b[") != tt.wantEscapes {
				t.Errorf("escape sequences present = %v, want %v: %q", !tt.wantEscapes, tt.wantEscapes, got)
			}
			for _, line := range strings.Split(got, "\n") {
				if strings.HasSuffix(line, " ") {
					t.Errorf("trailing space in %q", line)
				}
			}
		})
	}
}

func TestColumnColor(t *testing.T) {
	p, out, _ := printer(FormatTable, true, true)
	tbl := NewTable("STATE").Color(0, func(cs iostreams.ColorScheme, v string) string { return cs.Red(v) })
	tbl.AddRow("revoked")
	if err := p.Print(nil, nil, func() Human { return tbl }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\x1b[31mrevoked\x1b[0m") {
		t.Errorf("no red: %q", out)
	}
}

func TestDetail(t *testing.T) {
	d := NewDetail().Add("id", "ID", "k1").Add("long_name", "Long name", "").Add("note", "Note", "a\tb")
	for _, tt := range []struct {
		tty  bool
		want string
	}{
		{false, "id\tk1\nlong_name\t-\nnote\ta b\n"},
		{true, "ID:         k1\nLong name:  -\nNote:       a b\n"},
	} {
		p, out, _ := printer(FormatTable, tt.tty, false)
		if err := p.Print(nil, nil, func() Human { return d }); err != nil {
			t.Fatal(err)
		}
		if out.String() != tt.want {
			t.Errorf("tty=%v: got %q, want %q", tt.tty, out, tt.want)
		}
	}
}

func TestDocuments(t *testing.T) {
	when := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	items := []item{{Name: "a&b", Count: 1, URL: "https://x.example/?a=1&b=<2>"}, {Name: "true", Count: 2, When: &when}}
	doc := map[string]any{"items": items}
	tests := []struct {
		format Format
		doc    any
		items  any
		want   string
	}{
		{FormatJSON, items, items, "[\n  {\n    \"name\": \"a&b\",\n    \"count\": 1,\n    \"url\": \"https://x.example/?a=1&b=<2>\"\n  },\n  {\n    \"name\": \"true\",\n    \"count\": 2,\n    \"when\": \"2030-01-02T03:04:05Z\"\n  }\n]\n"},
		{FormatJSONL, doc, items, "{\"name\":\"a&b\",\"count\":1,\"url\":\"https://x.example/?a=1&b=<2>\"}\n{\"name\":\"true\",\"count\":2,\"when\":\"2030-01-02T03:04:05Z\"}\n"},
		{FormatYAML, items, items, "- name: a&b\n  count: 1\n  url: https://x.example/?a=1&b=<2>\n- name: \"true\"\n  count: 2\n  when: \"2030-01-02T03:04:05Z\"\n"},
		{FormatYAML, outer{inner{"k1", "web"}, "mpw_pk_x"}, nil, "id: k1\nname: web\nkey: mpw_pk_x\n"},
		{FormatJSONL, inner{"k1", "web"}, nil, "{\"id\":\"k1\",\"name\":\"web\"}\n"},
		{FormatYAML, map[string]any{"empty": []int{}, "null": nil, "n": 1.5}, nil, "empty: []\nn: 1.5\n\"null\": null\n"},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			p, out, _ := printer(tt.format, true, true)
			if err := p.Print(tt.doc, tt.items, func() Human { t.Fatal("table built for a document"); return nil }); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", out, tt.want)
			}
		})
	}
}

func TestFormatFlag(t *testing.T) {
	tests := []struct {
		args    []string
		want    Format
		wantErr bool
	}{
		{nil, FormatTable, false},
		{[]string{"-o", "json"}, FormatJSON, false},
		{[]string{"--output=YAML"}, FormatYAML, false},
		{[]string{"-o", "jsonl"}, "", true},
		{[]string{"-o", "xml"}, "", true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var f Format
			cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
			AddFlag(cmd, &f, FormatJSON, FormatYAML)
			cmd.SetArgs(tt.args)
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			err := cmd.Execute()
			if tt.wantErr {
				if err == nil || !errors.Is(err, ErrFormat) && !strings.Contains(err.Error(), "want table, json or yaml") {
					t.Errorf("err = %v", err)
				}
				return
			}
			if err != nil || f != tt.want {
				t.Errorf("format %q, err %v; want %q", f, err, tt.want)
			}
		})
	}
}

func TestStream(t *testing.T) {
	rows := []item{{Name: "a", Count: 1}, {Name: "b", Count: 2}}
	tests := []struct {
		format Format
		tty    bool
		// afterFirst is the output after the first row, before Close.
		afterFirst, final string
	}{
		{FormatJSONL, false, "{\"name\":\"a\",\"count\":1}\n", "{\"name\":\"a\",\"count\":1}\n{\"name\":\"b\",\"count\":2}\n"},
		{FormatTable, false, "NAME\tCOUNT\na\t1\n", "NAME\tCOUNT\na\t1\nb\t2\n"},
		{FormatTable, true, "", "NAME   COUNT\na      1\nb      2\n"},
		{FormatJSON, false, "", "[\n  {\n    \"name\": \"a\",\n    \"count\": 1\n  },\n  {\n    \"name\": \"b\",\n    \"count\": 2\n  }\n]\n"},
		{FormatYAML, false, "", "- name: a\n  count: 1\n- name: b\n  count: 2\n"},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			p, out, _ := printer(tt.format, tt.tty, false)
			s := p.Stream("NAME", "COUNT")
			for i, r := range rows {
				if err := s.Row(r, r.Name, []string{"1", "2"}[i]); err != nil {
					t.Fatal(err)
				}
				if i == 0 && out.String() != tt.afterFirst {
					t.Errorf("after the first row: %q, want %q", out, tt.afterFirst)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.final {
				t.Errorf("final %q, want %q", out, tt.final)
			}
		})
	}
	t.Run("empty plain stream prints the header", func(t *testing.T) {
		p, out, _ := printer(FormatTable, false, false)
		s := p.Stream("NAME")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if out.String() != "NAME\n" {
			t.Errorf("got %q", out)
		}
	})
	t.Run("empty json stream is an empty list", func(t *testing.T) {
		p, out, _ := printer(FormatJSON, false, false)
		if err := p.Stream("NAME").Close(); err != nil {
			t.Fatal(err)
		}
		if out.String() != "[]\n" {
			t.Errorf("got %q", out)
		}
	})
}

func TestTimes(t *testing.T) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	pPipe, _, _ := printer(FormatTable, false, false)
	pTTY, _, _ := printer(FormatTable, true, false)
	tests := []struct {
		t          *time.Time
		pipe, term string
	}{
		{nil, "", ""},
		{&time.Time{}, "", ""},
		{at(30 * time.Second), "2030-06-01T12:00:30Z", "just now"},
		{at(-5 * time.Minute), "2030-06-01T11:55:00Z", "5 minutes ago"},
		{at(time.Hour), "2030-06-01T13:00:00Z", "in 1 hour"},
		{at(30 * 24 * time.Hour), "2030-07-01T12:00:00Z", "in 30 days"},
		{at(-90 * 24 * time.Hour), "2030-03-03T12:00:00Z", "3 months ago"},
		{at(800 * 24 * time.Hour), "2032-08-09T12:00:00Z", "in 2 years"},
	}
	for _, tt := range tests {
		if got := pPipe.Time(tt.t, now); got != tt.pipe {
			t.Errorf("pipe %v = %q, want %q", tt.t, got, tt.pipe)
		}
		if got := pTTY.Time(tt.t, now); got != tt.term {
			t.Errorf("terminal %v = %q, want %q", tt.t, got, tt.term)
		}
	}
	local := time.Date(2030, 6, 1, 14, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	if got := pPipe.Time(&local, now); got != "2030-06-01T12:00:00Z" {
		t.Errorf("plain times are not UTC: %q", got)
	}
}

func FuzzJSONToYAML(f *testing.F) {
	f.Add(`{"a":[1,2.5,"x",true,null,{"b":"c"}]}`)
	f.Add(`"2030-01-01T00:00:00Z"`)
	f.Add(`[`)
	f.Add(`{"yes":"no","on":"1","":"~","k":"a: b # c"}`)
	f.Fuzz(func(t *testing.T, s string) {
		node, err := JSONToYAML([]byte(s))
		if !json.Valid([]byte(s)) {
			return
		}
		if err != nil {
			t.Fatalf("valid JSON %q not converted: %v", s, err)
		}
		out, err := yaml.Marshal(node)
		if err != nil {
			t.Fatalf("encode YAML of %q: %v", s, err)
		}
		// The YAML means the same as the JSON, whenever both decode (JSON
		// allows duplicate keys and huge numbers, YAML decoding does not).
		var fromJSON, fromYAML any
		if json.Unmarshal([]byte(s), &fromJSON) != nil || yaml.Unmarshal(out, &fromYAML) != nil {
			return
		}
		if !reflect.DeepEqual(numbersAsFloats(fromJSON), numbersAsFloats(fromYAML)) {
			t.Fatalf("JSON %s became YAML %q meaning %v", s, out, fromYAML)
		}
	})
}

// numbersAsFloats turns the integers YAML decodes into the float64s JSON
// decodes, recursively, so the two can be compared.
func numbersAsFloats(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case []any:
		for i := range x {
			x[i] = numbersAsFloats(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = numbersAsFloats(x[k])
		}
	}
	return v
}

func TestCSV(t *testing.T) {
	cases := []struct {
		name string
		tty  bool
		rows [][]string
		want string
	}{
		{"empty result still has its header", false, nil, "a,b\n"},
		{"quoting", false, [][]string{{"x,y", "say \"hi\"\nthen"}}, "a,b\n\"x,y\",\"say \"\"hi\"\"\nthen\"\n"},
		{"pipe keeps control characters", false, [][]string{{"\x1b[31m", "z"}}, "a,b\n\x1b[31m,z\n"},
		{"terminal replaces them", true, [][]string{{"\x1b[31m", "z"}}, "a,b\n\uFFFD[31m,z\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ios, _, out, _ := iostreams.Test()
			ios.IsStdoutTTY = tc.tty
			c := New(ios, FormatCSV).CSV("a", "b")
			for _, r := range tc.rows {
				if err := c.Row(r...); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("got %q, want %q", out.String(), tc.want)
			}
		})
	}
	ios, _, _, _ := iostreams.Test()
	if err := New(ios, FormatCSV).CSV("a", "b").Row("only one"); err == nil {
		t.Error("a short row was written")
	}
}
