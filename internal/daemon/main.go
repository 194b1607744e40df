// Package daemon is mapwrightd: the command tree, the wiring of store, keys,
// audit, tiles and listeners, and the process lifecycle (signals, drain,
// reload). cmd/mapwrightd only calls Main.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/version"
)

// Exit codes of mapwrightd, listed under EXIT STATUS in its help.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	exitRefused  = 3
	exitSchemaUp = 4
)

const exitStatusHelp = `
EXIT STATUS
  0  success, or a clean shutdown after SIGINT/SIGTERM
  1  runtime failure (a listener, the database or the filesystem failed)
  2  usage error or invalid configuration
  3  refused to use the data directory (unsafe permissions, damaged
     database, missing audit key, already initialised)
  4  the database was migrated by a newer mapwrightd
`

// Streams are the process's standard streams, injectable for tests.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// Main runs mapwrightd with the process's arguments and returns its exit
// code.
func Main() int {
	return Run(context.Background(), os.Args[1:], Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
}

// Run executes one mapwrightd command line and returns the exit code.
func Run(ctx context.Context, args []string, s Streams) int {
	root := NewRootCmd(s)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(s.Err, "mapwrightd: %v\n", err)
	return exitCode(err)
}

func exitCode(err error) int {
	switch {
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, store.ErrSchemaTooNew):
		return exitSchemaUp
	case errors.Is(err, errUnsafeDataDir):
		return exitRefused
	default:
		return exitFailure
	}
}

// NewRootCmd builds the mapwrightd command tree.
func NewRootCmd(s Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "mapwrightd",
		Short: "Mapwright tile server daemon",
		Long: `mapwrightd serves vector and raster map tiles from PMTiles and MBTiles files
over TLS, authenticated by scoped API keys, with a host-gated admin API on a
unix socket, an append-only audit log and encrypted backups.` + "\n" + exitStatusHelp,
		Version:       version.String(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return fmt.Errorf("%w: %v", errUsage, err)
	})
	root.AddCommand(
		newServeCmd(s),
		newCheckConfigCmd(s),
		newDemoCmd(s),
		newInitCmd(s),
	)
	return root
}
