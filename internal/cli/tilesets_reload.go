package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/pkg/client"
)

// tilesetsReloadOptions are the inputs of `mwctl tilesets reload`.
type tilesetsReloadOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Format output.Format
}

func newCmdTilesetsReload(f *Factory, runF func(context.Context, *tilesetsReloadOptions) error) *cobra.Command {
	opts := &tilesetsReloadOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "Make the server rescan its tilesets",
		Long: `Make the server rescan its tileset directory and print the result, as
mwctl tilesets list does. Tilesets that fail to load are listed with their
error, and the exit status is then 1.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runTilesetsReload(cmd.Context(), opts)
		},
	}
	output.AddFlag(cmd, &opts.Format, output.FormatJSON, output.FormatYAML, output.FormatJSONL)
	return cmd
}

func runTilesetsReload(ctx context.Context, opts *tilesetsReloadOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	list, err := c.ReloadTilesets(ctx)
	if err != nil {
		return err
	}
	if err := printTilesets(output.New(opts.IO, opts.Format), list); err != nil {
		return err
	}
	if err := failedTilesets(list); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "Reloaded: %d tilesets loaded.\n", list.Loaded)
	return nil
}
