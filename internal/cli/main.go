// Package cli is mwctl: its command tree (one file per verb), the factory
// of its dependencies, and the mapping of errors to exit codes. cmd/mwctl
// only calls Main.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/mapwright/mapwright/internal/backup"
	"github.com/mapwright/mapwright/internal/cli/contexts"
	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/pkg/client"
)

// Exit codes of mwctl, listed under EXIT STATUS in its help.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitNotFound    = 3
	exitNotAllowed  = 4
	exitConflict    = 5
	exitInterrupted = 130
)

// Main runs mwctl with the process's arguments and streams and returns its
// exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first signal, restore the default handling so that a
		// second one ends mwctl even if something does not heed ctx.
		<-ctx.Done()
		stop()
	}()
	return Run(ctx, NewFactory(iostreams.System()), os.Args[1:])
}

// Run executes one mwctl command line on f and returns the exit code. An
// error is printed as "mwctl: message" on standard error.
func Run(ctx context.Context, f *Factory, args []string) int {
	root := NewRootCmd(f)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	code := exitCode(ctx, err)
	errOut := f.IOStreams.ErrOut
	if code == exitInterrupted {
		fmt.Fprintln(errOut, "mwctl: interrupted")
		return code
	}
	fmt.Fprintf(errOut, "mwctl: %v\n", err)
	if hint := hintFor(f, err); hint != "" {
		fmt.Fprintf(errOut, "mwctl: hint: %s\n", hint)
	}
	if errors.Is(err, errUsage) && !client.IsInvalid(err) && cmd != nil {
		fmt.Fprintf(errOut, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// exitCode maps an error to its documented exit code.
func exitCode(ctx context.Context, err error) int {
	// Commands with exit codes of their own (scan: 1 when a live key is
	// found) say so through their error.
	if code, ok := exitStatusOf(err); ok {
		return code
	}
	switch {
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.Is(err, errUsage), client.IsInvalid(err), errors.Is(err, contexts.ErrInvalid):
		return exitUsage
	case client.IsNotFound(err), errors.Is(err, contexts.ErrNotFound):
		return exitNotFound
	case client.IsUnauthorized(err), client.IsForbidden(err):
		return exitNotAllowed
	case client.IsConflict(err), errors.Is(err, contexts.ErrExists), errors.Is(err, store.ErrNotEmpty), errors.Is(err, backup.ErrKeyConflict):
		return exitConflict
	}
	return exitFailure
}

// hintFor suggests a next step for the common failures.
func hintFor(f *Factory, err error) string {
	if !errors.Is(err, client.ErrConnect) && !client.IsUnauthorized(err) {
		return ""
	}
	// The command reached the client, so Target was resolved: this reads
	// the memoised value.
	t, terr := f.Target()
	if terr != nil {
		return ""
	}
	switch {
	case errors.Is(err, client.ErrConnect) && t.DefaultSocket:
		return "no --server, MWCTL_SERVER or context is set, so mwctl tried the default socket; see `mwctl --help` (CONNECTING)"
	case client.IsUnauthorized(err) && t.Session != "" && !t.ExplicitToken:
		return "the session may have ended: run `mwctl login` again"
	case client.IsUnauthorized(err) && t.Token == "" && t.Session == "":
		return "no credentials were sent: give a secret key with --token-file or MWCTL_TOKEN, or add one to the context"
	}
	return ""
}
