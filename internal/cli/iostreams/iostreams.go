// Package iostreams holds the standard streams of mwctl and what is known
// about them (terminal or pipe, colour allowed), so that every command
// writes through one value that tests replace with buffers.
package iostreams

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mattn/go-isatty"
)

// ErrNoAnswer means a confirmation prompt read end of input before an
// answer.
var ErrNoAnswer = errors.New("no answer to the confirmation prompt")

// IOStreams are the streams a command reads and writes, and their nature.
type IOStreams struct {
	// In is standard input (answers to prompts, --token-stdin).
	In io.Reader
	// Out is standard output: data, and nothing else.
	Out io.Writer
	// ErrOut is standard error: errors, warnings, prompts and progress.
	ErrOut io.Writer

	// IsStdinTTY reports whether In is a terminal.
	IsStdinTTY bool
	// IsStdoutTTY reports whether Out is a terminal; if not, output is
	// plain and stable for scripts.
	IsStdoutTTY bool
	// IsStderrTTY reports whether ErrOut is a terminal.
	IsStderrTTY bool
	// ColorEnabled reports whether Out may carry ANSI colour: a terminal,
	// NO_COLOR unset or empty, TERM not "dumb", and no --no-color.
	ColorEnabled bool

	inReader *bufio.Reader
}

// System returns the process's streams, with terminal and colour detection
// from the file descriptors and the environment (NO_COLOR, TERM).
func System() *IOStreams {
	s := &IOStreams{
		In:          os.Stdin,
		Out:         os.Stdout,
		ErrOut:      os.Stderr,
		IsStdinTTY:  isTerminal(os.Stdin),
		IsStdoutTTY: isTerminal(os.Stdout),
		IsStderrTTY: isTerminal(os.Stderr),
	}
	s.ColorEnabled = s.IsStdoutTTY && ColorAllowed(os.LookupEnv)
	return s
}

// Test returns streams backed by buffers: stdin, stdout and stderr. None is
// a terminal and colour is off; a test sets the fields it needs.
func Test() (s *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// ColorAllowed applies the environment's colour conventions: NO_COLOR set
// to a non-empty value, or TERM=dumb, forbid colour.
func ColorAllowed(lookup func(string) (string, bool)) bool {
	if v, ok := lookup("NO_COLOR"); ok && v != "" {
		return false
	}
	if v, _ := lookup("TERM"); v == "dumb" {
		return false
	}
	return true
}

func isTerminal(f *os.File) bool {
	fd := f.Fd()
	return isatty.IsTerminal(fd) || isatty.IsCygwinTerminal(fd)
}

// CanPrompt reports whether a question can be asked and answered: input
// comes from a terminal and standard error, where prompts go, is one.
func (s *IOStreams) CanPrompt() bool { return s.IsStdinTTY && s.IsStderrTTY }

// Confirm asks a yes/no question on ErrOut and reads the answer from In.
// Only "y" or "yes" (any case) is a yes; the default is no. It returns
// ctx's error if ctx ends first (an interrupt while waiting).
func (s *IOStreams) Confirm(ctx context.Context, question string) (bool, error) {
	fmt.Fprintf(s.ErrOut, "%s [y/N] ", question)
	type answer struct {
		line string
		err  error
	}
	ch := make(chan answer, 1)
	// A read from a terminal cannot be cancelled; the goroutine ends with
	// the process if the context ends first.
	go func() {
		line, err := s.ReadLine()
		ch <- answer{line, err}
	}()
	var a answer
	select {
	case <-ctx.Done():
		fmt.Fprintln(s.ErrOut)
		return false, ctx.Err()
	case a = <-ch:
	}
	line, err := a.line, a.err
	if err != nil {
		fmt.Fprintln(s.ErrOut)
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

// ReadLine reads one line from In without its line ending. It returns
// ErrNoAnswer at end of input with nothing read.
func (s *IOStreams) ReadLine() (string, error) {
	if s.inReader == nil {
		s.inReader = bufio.NewReader(s.In)
	}
	line, err := s.inReader.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", ErrNoAnswer
		}
		return "", fmt.Errorf("read answer: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// ColorScheme returns the colour functions for Out: they return the text
// unchanged when colour is off.
func (s *IOStreams) ColorScheme() ColorScheme { return ColorScheme{Enabled: s.ColorEnabled} }

// ColorScheme wraps text in ANSI SGR sequences when Enabled.
type ColorScheme struct {
	// Enabled turns the colours on.
	Enabled bool
}

func (c ColorScheme) wrap(code, s string) string {
	if !c.Enabled || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// Bold returns s in bold.
func (c ColorScheme) Bold(s string) string { return c.wrap("1", s) }

// Green returns s in green (success, active).
func (c ColorScheme) Green(s string) string { return c.wrap("32", s) }

// Red returns s in red (failure, revoked).
func (c ColorScheme) Red(s string) string { return c.wrap("31", s) }

// Yellow returns s in yellow (warning, expiring, expired).
func (c ColorScheme) Yellow(s string) string { return c.wrap("33", s) }

// Cyan returns s in cyan (pending, informational).
func (c ColorScheme) Cyan(s string) string { return c.wrap("36", s) }

// Gray returns s dimmed (absent values, secondary text).
func (c ColorScheme) Gray(s string) string { return c.wrap("90", s) }
