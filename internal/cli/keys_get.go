package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/pkg/client"
)

// keysGetOptions are the inputs of `mwctl keys get`.
type keysGetOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Now    func() time.Time
	Format output.Format

	ID string
}

func newCmdKeysGet(f *Factory, runF func(context.Context, *keysGetOptions) error) *cobra.Command {
	opts := &keysGetOptions{IO: f.IOStreams, Client: f.Client, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "get ID",
		Short: "Show one API key",
		Long: `Show everything the server knows about a key, except its token: kind,
state, scopes, tilesets, origins, limits, labels, dates and lineage
(replaces / replaced by, for rotated keys).

With -o json the output is the key object of the admin API.`,
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runKeysGet(cmd.Context(), opts)
		},
	}
	output.AddFlag(cmd, &opts.Format, output.FormatJSON, output.FormatYAML)
	return cmd
}

func runKeysGet(ctx context.Context, opts *keysGetOptions) error {
	if err := checkKeyID(opts.ID); err != nil {
		return err
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	k, err := c.GetKey(ctx, opts.ID)
	if err != nil {
		return err
	}
	p := output.New(opts.IO, opts.Format)
	return p.Print(k, nil, func() output.Human { return keyDetail(p, k, "", opts.Now()) })
}
