package cli

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/pkg/client"
)

// tilesetsListOptions are the inputs of `mwctl tilesets list`.
type tilesetsListOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Format output.Format
}

func newCmdTilesetsList(f *Factory, runF func(context.Context, *tilesetsListOptions) error) *cobra.Command {
	opts := &tilesetsListOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List tilesets with their status",
		Long: `List the tilesets the server knows, loaded or failed.

Columns: NAME, FORMAT, ZOOM (min-max), PUBLIC (served without a key),
STATUS (ok or failed), PATH, ERROR. With -o json the output is
{"tilesets": [...], "loaded": N, "failed": N}; -o jsonl prints one tileset
per line.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runTilesetsList(cmd.Context(), opts)
		},
	}
	output.AddFlag(cmd, &opts.Format, output.FormatJSON, output.FormatYAML, output.FormatJSONL)
	return cmd
}

func runTilesetsList(ctx context.Context, opts *tilesetsListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	list, err := c.ListTilesets(ctx)
	if err != nil {
		return err
	}
	return printTilesets(output.New(opts.IO, opts.Format), list)
}
