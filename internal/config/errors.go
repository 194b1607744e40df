package config

import (
	"errors"
	"strings"
)

// Sentinel errors. Load and Validate wrap them; test with errors.Is.
var (
	// ErrInvalid: a setting has a value Mapwright cannot use. Every
	// FieldError matches it.
	ErrInvalid = errors.New("invalid configuration")
	// ErrUnknownKey: the config file holds a key Mapwright does not know,
	// usually a typo that would otherwise be silently ignored.
	ErrUnknownKey = errors.New("unknown key")
	// ErrSyntax: the config file is not well-formed YAML.
	ErrSyntax = errors.New("YAML syntax error")
	// ErrNotFound: a file named by a setting (certificate, key, CA) does not
	// exist.
	ErrNotFound = errors.New("file not found")
)

// FieldError reports one bad setting. Field is the dotted config key, with
// an index for list entries ("admin.allowed_cidrs[1]"); Source, filled in
// by Load, says where the value came from ("MAPWRIGHT_LISTEN_ADDR",
// "flag --addr", "/etc/mapwright/mapwrightd.yaml line 7"); it is empty for
// a default.
type FieldError struct {
	Field  string
	Source string
	Err    error
}

// Error renders "field: problem (source)".
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.Field)
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	if e.Source != "" {
		b.WriteString(" (from ")
		b.WriteString(e.Source)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the underlying problem.
func (e *FieldError) Unwrap() error { return e.Err }

// Is makes every FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// FieldErrors returns every FieldError inside err (which may be a join of
// several), in order. It is how a caller such as a check-config command
// lists all problems at once.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if fe, ok := e.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

func fieldErr(field string, err error) *FieldError {
	return &FieldError{Field: field, Err: err}
}
