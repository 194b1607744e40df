package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/pkg/client"
)

// keysRevokeOptions are the inputs of `mwctl keys revoke`.
type keysRevokeOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Format output.Format

	ID     string
	Reason string
	Yes    bool
}

func newCmdKeysRevoke(f *Factory, runF func(context.Context, *keysRevokeOptions) error) *cobra.Command {
	opts := &keysRevokeOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "revoke ID [--reason TEXT] [--yes]",
		Short: "Revoke a key at once, on every replica",
		Long: `Revoke a key: it stops working at once, on every replica of the server.
This cannot be undone.

On a terminal mwctl shows the key and asks for confirmation; elsewhere
(a script, CI) it needs --yes, and without it exits with status 2 having
changed nothing. Revoking a key that is already revoked succeeds and says
so.

With -o json the output is {"key": {...}, "already_revoked": BOOL}.`,
		Example: `  mwctl keys revoke key_0042 --reason "leaked in a build log" --yes`,
		Args:    exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runKeysRevoke(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "why the key is revoked, kept in the audit log")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "revoke without asking for confirmation")
	output.AddFlag(cmd, &opts.Format, output.FormatJSON, output.FormatYAML)
	return cmd
}

func runKeysRevoke(ctx context.Context, opts *keysRevokeOptions) error {
	if err := checkKeyID(opts.ID); err != nil {
		return err
	}
	if !opts.Yes && !opts.IO.CanPrompt() {
		return usageErrorf("revoking key %s needs confirmation and there is no terminal to ask on: pass --yes", opts.ID)
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	if !opts.Yes {
		// Show what is about to be revoked; an unknown id fails here, before
		// any question.
		k, err := c.GetKey(ctx, opts.ID)
		if err != nil {
			return err
		}
		// An already revoked key needs no question: revoking it again
		// changes nothing and says so.
		if k.State != "revoked" {
			ok, err := opts.IO.Confirm(ctx, fmt.Sprintf("Revoke %s key %s (%s)? It stops working at once.", k.Kind, keyName(k), k.Start))
			if err != nil {
				return fmt.Errorf("revoke key %s: %w", opts.ID, err)
			}
			if !ok {
				return fmt.Errorf("revoke key %s: %w", opts.ID, errCancelled)
			}
		}
	}
	res, err := c.RevokeKey(ctx, opts.ID, opts.Reason)
	if err != nil {
		return err
	}
	p := output.New(opts.IO, opts.Format)
	return p.Print(res, nil, func() output.Human {
		if res.AlreadyRevoked {
			return output.Message(fmt.Sprintf("Key %s was already revoked; nothing changed.\n", keyName(res.Key)))
		}
		return output.Message(fmt.Sprintf("Revoked key %s.\n", keyName(res.Key)))
	})
}
