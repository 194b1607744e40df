package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/internal/version"
)

// versionInfo is the document of `mwctl version -o json`.
type versionInfo struct {
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
}

// versionOptions are the inputs of `mwctl version`.
type versionOptions struct {
	IO     *iostreams.IOStreams
	Format output.Format
	Info   versionInfo
}

func newCmdVersion(f *Factory, runF func(context.Context, *versionOptions) error) *cobra.Command {
	opts := &versionOptions{IO: f.IOStreams, Info: versionInfo{Version: version.String(), GoVersion: version.GoVersion()}}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print mwctl's version",
		Long: `Print mwctl's version and the Go version that built it. The server's
version is in mwctl status.

With -o json the output is {"version", "go_version"}.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runVersion(cmd.Context(), opts)
		},
	}
	output.AddFlag(cmd, &opts.Format, output.FormatJSON, output.FormatYAML)
	return cmd
}

func runVersion(_ context.Context, opts *versionOptions) error {
	p := output.New(opts.IO, opts.Format)
	return p.Print(opts.Info, nil, func() output.Human {
		return output.Message(fmt.Sprintf("mwctl %s (%s)\n", opts.Info.Version, opts.Info.GoVersion))
	})
}
