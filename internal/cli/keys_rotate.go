package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/pkg/client"
)

// defaultGrace is how long a rotated key keeps working by default: long
// enough to roll the new key out, short enough to bound a leak.
const defaultGrace = 24 * time.Hour

// keysRotateOptions are the inputs of `mwctl keys rotate`.
type keysRotateOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Now    func() time.Time
	Format output.Format

	ID    string
	Grace time.Duration
	Quiet bool
}

func newCmdKeysRotate(f *Factory, runF func(context.Context, *keysRotateOptions) error) *cobra.Command {
	opts := &keysRotateOptions{IO: f.IOStreams, Client: f.Client, Now: f.Now, Grace: defaultGrace}
	cmd := &cobra.Command{
		Use:   "rotate ID [--grace 24h]",
		Short: "Replace a key with a new one; the old one works for a grace period",
		Long: `Issue a successor of a key, with the same name, kind, scopes, tilesets,
origins, limits, labels and expiry. The new token is printed once. The old
key keeps working for the grace period (24h by default), so clients can
switch, then expires; --grace 0 ends it at once. To stop a leaked key
immediately, revoke it instead.

With -o json the output is the new key with its token in "key",
"replaces" (the old key's id) and "old_expires_at". --quiet prints the new
token alone.`,
		Example: `  # In CI: rotate, keeping the old key for two hours, and store the new token
  mwctl keys rotate key_0042 --grace 2h --quiet > tiles.key`,
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runKeysRotate(cmd.Context(), opts)
		},
	}
	cmd.Flags().Var(durationValue{&opts.Grace}, "grace", "how long the old key keeps working, e.g. 24h, 90m, 7d; 0 ends it at once")
	cmd.Flags().BoolVarP(&opts.Quiet, "quiet", "q", false, "print only the new key's token")
	output.AddFlag(cmd, &opts.Format, output.FormatJSON, output.FormatYAML)
	return cmd
}

func runKeysRotate(ctx context.Context, opts *keysRotateOptions) error {
	if err := checkKeyID(opts.ID); err != nil {
		return err
	}
	if opts.Quiet && opts.Format != output.FormatTable {
		return usageErrorf("--quiet prints the token alone and cannot be combined with -o %s", opts.Format)
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	rotated, err := c.RotateKey(ctx, opts.ID, opts.Grace)
	if err != nil {
		return err
	}
	if opts.Quiet {
		_, err := fmt.Fprintln(opts.IO.Out, rotated.Token)
		return err
	}
	now := opts.Now()
	p := output.New(opts.IO, opts.Format)
	err = p.Print(rotated, nil, func() output.Human {
		d := keyDetail(p, rotated.Key, rotated.Token, now)
		d.Add("old_expires_at", "Old key ends", p.Time(rotated.OldExpiresAt, now))
		return d
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(opts.IO.ErrOut, shownOnce)
	return nil
}
