package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxMergeDepth bounds how deep "<<" merge keys are followed, so a
// self-referencing anchor cannot recurse forever.
const maxMergeDepth = 8

// fileSettings is a config file reduced to the keys it sets.
type fileSettings struct {
	// values is nested like the file: top-level leaves and one map per
	// section. Keys set to null are absent, so they keep their defaults.
	values map[string]any
	// lines maps a dotted key to the line that set it.
	lines map[string]int
}

// parseFile reads a config file strictly: it must be one YAML document
// whose top level is a mapping; every key must be a known section or
// setting (an unknown key is an error naming it and its line, with a
// suggestion for likely typos); a key may appear once per mapping.
func parseFile(data []byte) (fileSettings, error) {
	fs := fileSettings{values: map[string]any{}, lines: map[string]int{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return fs, nil
		}
		return fs, syntaxError(err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return fs, syntaxError(err)
	default:
		return fs, fmt.Errorf("%w: line %d: a config file holds one YAML document; found a second", ErrSyntax, extra.Line)
	}

	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return fs, nil
		}
		root = root.Content[0]
	}
	root = deref(root)
	if isNull(root) {
		return fs, nil
	}
	if root.Kind != yaml.MappingNode {
		return fs, fmt.Errorf("%w: line %d: the top level must be a mapping of keys such as \"listen:\"", ErrSyntax, root.Line)
	}

	var errs []error
	top, err := entries(root, 0)
	if err != nil {
		return fs, err
	}
	for _, e := range top {
		name := e.key.Value
		switch {
		case configSchema.sections[name]:
			if err := fs.section(name, e); err != nil {
				errs = append(errs, err)
			}
		case !strings.Contains(name, ".") && configSchema.byKey[name].key != "":
			if err := fs.leaf(name, e, fs.values); err != nil {
				errs = append(errs, err)
			}
		default:
			errs = append(errs, unknownKey("", name, e.key.Line))
		}
	}
	return fs, limitErrors(errs)
}

// maxFileErrors bounds how many problems of one file are listed; a file
// that is not a config at all would otherwise produce one per line.
const maxFileErrors = 20

// limitErrors flattens joined errors and keeps the first maxFileErrors.
func limitErrors(errs []error) error {
	flat := flatten(errors.Join(errs...))
	if len(flat) > maxFileErrors {
		more := len(flat) - maxFileErrors
		flat = append(flat[:maxFileErrors], fmt.Errorf("%w: and %d more problems in the file", ErrInvalid, more))
	}
	return errors.Join(flat...)
}

// flatten lists the leaves of a tree of joined errors.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, c := range j.Unwrap() {
			out = append(out, flatten(c)...)
		}
		return out
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

func syntaxError(err error) error {
	return fmt.Errorf("%w: %s", ErrSyntax, strings.TrimPrefix(err.Error(), "yaml: "))
}

// section records the settings of one section ("listen:").
func (fs *fileSettings) section(name string, e entry) error {
	v := deref(e.val)
	if isNull(v) {
		// A section whose keys are all commented out keeps its defaults.
		return nil
	}
	if v.Kind != yaml.MappingNode {
		return &FieldError{Field: name, Source: lineSource(v.Line), Err: errors.New("must be a mapping of keys, not a single value or list")}
	}
	kids, err := entries(v, 0)
	if err != nil {
		return err
	}
	m := map[string]any{}
	var errs []error
	for _, k := range kids {
		key := name + "." + k.key.Value
		if configSchema.byKey[key].key == "" {
			errs = append(errs, unknownKey(name, k.key.Value, k.key.Line))
			continue
		}
		if err := fs.leaf(key, k, m); err != nil {
			errs = append(errs, err)
		}
	}
	if len(m) > 0 {
		fs.values[name] = m
	}
	return errors.Join(errs...)
}

// leaf records one setting into dst under its last key component.
func (fs *fileSettings) leaf(key string, e entry, dst map[string]any) error {
	info := configSchema.byKey[key]
	v := deref(e.val)
	if isNull(v) {
		return nil
	}
	bad := func(msg string) error {
		return &FieldError{Field: key, Source: lineSource(v.Line), Err: errors.New(msg)}
	}
	var val any
	switch v.Kind {
	case yaml.MappingNode:
		return bad("must be a single value, not a mapping")
	case yaml.SequenceNode:
		if info.typ.Kind() != reflect.Slice {
			return bad("must be a single value, not a list")
		}
		list := make([]string, 0, len(v.Content))
		for _, item := range v.Content {
			item = deref(item)
			if item.Kind != yaml.ScalarNode {
				return bad("list entries must be single values")
			}
			if !isNull(item) {
				list = append(list, item.Value)
			}
		}
		val = list
	case yaml.ScalarNode:
		if info.typ.Kind() == reflect.String || info.typ.Kind() == reflect.Slice {
			// The text as written: "addr: 8443" or "tls_key: 0600.pem"
			// must not pass through number parsing first.
			val = v.Value
		} else {
			var x any
			if err := v.Decode(&x); err != nil {
				return bad(strings.TrimPrefix(err.Error(), "yaml: "))
			}
			val = x
		}
	default:
		return bad("unsupported YAML value")
	}
	last := key[strings.LastIndexByte(key, '.')+1:]
	dst[last] = val
	fs.lines[key] = v.Line
	if e.key.Line > 0 {
		fs.lines[key] = e.key.Line
	}
	return nil
}

// entry is one key/value pair of a mapping, after merge keys are applied.
type entry struct {
	key, val *yaml.Node
}

// entries lists the pairs of a mapping node. Explicit keys win over keys
// merged in with "<<" (as YAML specifies); an explicit key given twice is
// an error naming both lines, since the second would silently win.
func entries(m *yaml.Node, depth int) ([]entry, error) {
	if depth > maxMergeDepth {
		return nil, fmt.Errorf("%w: line %d: merge keys nested too deeply", ErrSyntax, m.Line)
	}
	var explicit, merged []entry
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := deref(m.Content[i]), m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("%w: line %d: keys must be plain names", ErrSyntax, k.Line)
		}
		if isMerge(k) {
			srcs := []*yaml.Node{deref(v)}
			if srcs[0].Kind == yaml.SequenceNode {
				srcs = srcs[0].Content
			}
			for _, s := range srcs {
				s = deref(s)
				if s.Kind != yaml.MappingNode {
					return nil, fmt.Errorf("%w: line %d: \"<<\" must merge a mapping", ErrSyntax, s.Line)
				}
				more, err := entries(s, depth+1)
				if err != nil {
					return nil, err
				}
				merged = append(merged, more...)
			}
			continue
		}
		if first, dup := seen[k.Value]; dup {
			return nil, fmt.Errorf("%w: line %d: key %q given twice (first on line %d)", ErrSyntax, k.Line, k.Value, first)
		}
		seen[k.Value] = k.Line
		explicit = append(explicit, entry{key: k, val: v})
	}
	for _, e := range merged {
		if _, ok := seen[e.key.Value]; ok {
			continue
		}
		seen[e.key.Value] = e.key.Line
		explicit = append(explicit, e)
	}
	return explicit, nil
}

func deref(n *yaml.Node) *yaml.Node {
	// Aliases of aliases are followed a bounded number of times.
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < maxMergeDepth; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || n.Kind == yaml.AliasNode || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

func isMerge(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "<<" && (n.Tag == "" || n.Tag == "!" || n.ShortTag() == "!!merge")
}

func unknownKey(section, name string, line int) error {
	key := name
	if section != "" {
		key = section + "." + name
	}
	err := ErrUnknownKey
	if s := configSchema.suggest(section, name); s != "" {
		err = fmt.Errorf("%w; did you mean %q?", ErrUnknownKey, s)
	}
	return &FieldError{Field: key, Source: lineSource(line), Err: err}
}

// lineSource is replaced by Load with the file name; it keeps the line
// when parseFile is used alone.
func lineSource(line int) string {
	return fmt.Sprintf("line %d", line)
}
