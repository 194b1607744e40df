package config

import (
	"reflect"
	"sort"
	"strings"
)

// keyInfo describes one leaf setting of Config.
type keyInfo struct {
	key  string       // dotted key: "listen.addr"
	typ  reflect.Type // Go type of the field
	path []int        // field index path into Config
}

// schema is the key set of Config, derived from its mapstructure tags so
// the struct stays the single source of truth for names.
type schema struct {
	leaves   []keyInfo
	byKey    map[string]keyInfo
	sections map[string]bool     // "listen", "admin", ...
	children map[string][]string // section → its leaf names, for suggestions
}

var configSchema = buildSchema()

func buildSchema() *schema {
	s := &schema{byKey: map[string]keyInfo{}, sections: map[string]bool{}, children: map[string][]string{}}
	var walk func(t reflect.Type, prefix string, idx []int)
	walk = func(t reflect.Type, prefix string, idx []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := f.Tag.Get("mapstructure")
			if name == "" || name == "-" {
				continue
			}
			path := append(append([]int(nil), idx...), i)
			key := name
			if prefix != "" {
				key = prefix + "." + name
			}
			s.children[prefix] = append(s.children[prefix], name)
			if f.Type.Kind() == reflect.Struct && f.Type != durationType {
				s.sections[key] = true
				walk(f.Type, key, path)
				continue
			}
			k := keyInfo{key: key, typ: f.Type, path: path}
			s.leaves = append(s.leaves, k)
			s.byKey[key] = k
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	sort.Slice(s.leaves, func(i, j int) bool { return s.leaves[i].key < s.leaves[j].key })
	return s
}

// EnvName returns the environment variable that sets a config key:
// "rate_limit.rps" → "MAPWRIGHT_RATE_LIMIT_RPS".
func EnvName(key string) string {
	return "MAPWRIGHT_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Keys returns every config key in dotted form, sorted.
func Keys() []string {
	out := make([]string, len(configSchema.leaves))
	for i, k := range configSchema.leaves {
		out[i] = k.key
	}
	return out
}

// value returns the field of c at the key's index path.
func (k keyInfo) value(c *Config) reflect.Value {
	return reflect.ValueOf(c).Elem().FieldByIndex(k.path)
}

// suggest returns the known key closest to an unknown one in the same
// section, or "" when none is close enough to be a likely typo.
func (s *schema) suggest(section, name string) string {
	best, bestD := "", 3
	for _, c := range s.children[section] {
		if d := editDistance(strings.ToLower(name), c); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	if section == "" {
		return best
	}
	return section + "." + best
}

// editDistance is the Levenshtein distance of two short strings.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// UnknownEnv returns the names of MAPWRIGHT_* variables in environ that
// set no config key (likely typos, which Load ignores), sorted. The daemon
// logs them as a warning.
func UnknownEnv(environ []string) []string {
	known := map[string]bool{ConfigEnv: true}
	for _, k := range configSchema.leaves {
		known[EnvName(k.key)] = true
	}
	var out []string
	for name := range envMap(environ) {
		if strings.HasPrefix(name, "MAPWRIGHT_") && !known[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
