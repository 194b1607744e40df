package deploy

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// selector is one series selector of a PromQL expression: the metric name
// and its label matchers.
type selector struct {
	metric   string
	matchers []matcher
}

// matcher is one label matcher: label, operator (=, !=, =~, !~) and the
// unquoted value.
type matcher struct {
	label, op, value string
}

func (s selector) String() string {
	var parts []string
	for _, m := range s.matchers {
		parts = append(parts, m.label+m.op+strconv.Quote(m.value))
	}
	return s.metric + "{" + strings.Join(parts, ", ") + "}"
}

// promqlKeywords are words of PromQL that are not metric names.
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "inf": true, "nan": true,
}

// labelListKeywords are followed by a parenthesised list of label names.
var labelListKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true,
}

// selectors lists the series selectors of a PromQL expression. It knows
// enough PromQL for alert rules: function calls and aggregations (a word
// followed by "("), grouping clauses, range and subquery brackets, string
// and number literals, and selectors with or without matchers. A selector
// without a metric name is an error, as the rules never need one.
func selectors(expr string) ([]selector, error) {
	var out []selector
	i := 0
	skipSpace := func() {
		for i < len(expr) && strings.ContainsRune(" \t\r\n", rune(expr[i])) {
			i++
		}
	}
	for i < len(expr) {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			end, err := skipString(expr, i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '[':
			end := strings.IndexByte(expr[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("unclosed [ at %d", i)
			}
			i += end + 1
		case c == '{':
			return nil, fmt.Errorf("selector without a metric name at %d", i)
		case isIdentStart(c):
			start := i
			for i < len(expr) && isIdentChar(expr[i]) {
				i++
			}
			word := expr[start:i]
			skipSpace()
			if labelListKeywords[word] {
				if i < len(expr) && expr[i] == '(' {
					end := strings.IndexByte(expr[i:], ')')
					if end < 0 {
						return nil, fmt.Errorf("unclosed label list after %s", word)
					}
					i += end + 1
				}
				continue
			}
			if promqlKeywords[word] {
				continue
			}
			if rest := expr[i:]; hasWordPrefix(rest, "by") || hasWordPrefix(rest, "without") {
				continue // an aggregation: "sum by (job) (...)"
			}
			if i < len(expr) && expr[i] == '(' {
				continue // a function or an aggregation
			}
			sel := selector{metric: word}
			if i < len(expr) && expr[i] == '{' {
				ms, end, err := parseMatchers(expr, i)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", word, err)
				}
				sel.matchers, i = ms, end
			}
			out = append(out, sel)
		case c >= '0' && c <= '9' || c == '.':
			// Numbers and durations ("0.5", "26", "1e3", "5m").
			for i < len(expr) && (isIdentChar(expr[i]) || expr[i] == '.') {
				i++
			}
		default:
			i++
		}
	}
	return out, nil
}

// hasWordPrefix reports whether s starts with the word w.
func hasWordPrefix(s, w string) bool {
	return strings.HasPrefix(s, w) && (len(s) == len(w) || !isIdentChar(s[len(w)]))
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// skipString returns the index just past the string literal at i.
func skipString(s string, i int) (int, error) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unclosed string at %d", i)
}

// parseMatchers reads "{label op "value", ...}" starting at the brace and
// returns the matchers and the index past the closing brace.
func parseMatchers(s string, i int) ([]matcher, int, error) {
	var out []matcher
	i++ // {
	for {
		for i < len(s) && strings.ContainsRune(" \t\r\n,", rune(s[i])) {
			i++
		}
		if i >= len(s) {
			return nil, 0, fmt.Errorf("unclosed {")
		}
		if s[i] == '}' {
			return out, i + 1, nil
		}
		start := i
		for i < len(s) && isIdentChar(s[i]) {
			i++
		}
		label := s[start:i]
		for i < len(s) && s[i] == ' ' {
			i++
		}
		var op string
		for _, o := range []string{"=~", "!~", "!=", "="} {
			if strings.HasPrefix(s[i:], o) {
				op = o
				break
			}
		}
		if label == "" || op == "" {
			return nil, 0, fmt.Errorf("bad matcher at %d", start)
		}
		i += len(op)
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) || (s[i] != '"' && s[i] != '\'' && s[i] != '`') {
			return nil, 0, fmt.Errorf("matcher %s%s: value is not a string", label, op)
		}
		end, err := skipString(s, i)
		if err != nil {
			return nil, 0, err
		}
		raw := s[i:end]
		if raw[0] == '\'' {
			raw = `"` + strings.ReplaceAll(raw[1:len(raw)-1], `"`, `\"`) + `"`
		}
		value, err := strconv.Unquote(raw)
		if err != nil {
			return nil, 0, fmt.Errorf("matcher %s%s: %w", label, op, err)
		}
		out = append(out, matcher{label: label, op: op, value: value})
		i = end
	}
}

func TestSelectors(t *testing.T) {
	tests := []struct {
		name, expr string
		want       []string
	}{
		{"bare metric", "up == 0", []string{"up{}"}},
		{"matchers and a range",
			`sum by (job, instance) (rate(mapwright_http_requests_total{listener="public", code=~"5.."}[5m])) > 0.01`,
			[]string{`mapwright_http_requests_total{listener="public", code=~"5.."}`}},
		{"set operators and grouping",
			`a{x="1"} > 0 and on (job, instance) time() - b > 26 * 3600 or c`,
			[]string{`a{x="1"}`, "b{}", "c{}"}},
		{"quantile over buckets",
			`histogram_quantile(0.99, sum by (le) (rate(h_bucket{route="/v1/tiles/{tileset}"}[5m])))`,
			[]string{`h_bucket{route="/v1/tiles/{tileset}"}`}},
		{"offset and bool", `x offset 1h > bool 3`, []string{"x{}"}},
		{"single quotes", `y{a='it"s'}`, []string{`y{a="it\"s"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sels, err := selectors(tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range sels {
				got = append(got, s.String())
			}
			if strings.Join(got, " ; ") != strings.Join(tt.want, " ; ") {
				t.Errorf("selectors(%q) = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
	for _, bad := range []string{`{job="x"}`, `a{b="c"`, `a{b=c}`, `a[5m`} {
		if _, err := selectors(bad); err == nil {
			t.Errorf("selectors(%q) accepted a malformed expression", bad)
		}
	}
}
