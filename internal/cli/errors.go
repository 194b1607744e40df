package cli

import (
	"errors"
	"fmt"
)

// Errors of package cli, mapped to exit codes by Main.
var (
	// errUsage marks a bad command line: an unknown command or flag, a
	// missing or malformed argument. Exit code 2.
	errUsage = errors.New("usage error")
	// errCancelled means the user declined a confirmation prompt. Exit
	// code 1.
	errCancelled = errors.New("cancelled; nothing changed")
	// errPartial means an operation ran but part of it failed (a tileset
	// that did not load). Exit code 1.
	errPartial = errors.New("partly failed")
)

// usageError is a bad command line. Its message is shown as is; it
// matches errUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == errUsage }

// usageErrorf returns a usage error (exit code 2).
func usageErrorf(format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...)}
}
