package cli

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/pkg/client"
)

// auditPruneOptions are the inputs of `mwctl audit prune`.
type auditPruneOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Format output.Format

	OlderThan time.Duration
	Yes       bool
}

func newCmdAuditPrune(f *Factory, runF func(context.Context, *auditPruneOptions) error) *cobra.Command {
	opts := &auditPruneOptions{IO: f.IOStreams, Client: f.Client}
	cmd := &cobra.Command{
		Use:   "prune --older-than DURATION [--yes]",
		Short: "Delete audit events older than a duration, now",
		Long: `Delete the audit events older than --older-than (a duration such as 720h or
30d), at once, as the server's daily retention prune does with
audit.retention. It needs the scope admin.

Only the oldest events go, in one transaction, and an audit.prune event
records where the log was cut (the sequence and hash of the last event
deleted), so mwctl audit verify still passes for everything kept. If the
events to delete do not verify, nothing is deleted (exit status 5): they
are evidence.

On a terminal mwctl asks first; elsewhere it needs --yes. With -o json
the output is {"deleted", "cut_seq", "cut_hash", "event"}.`,
		Example: `  mwctl audit prune --older-than 180d --yes`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAuditPrune(cmd.Context(), opts)
		},
	}
	cmd.Flags().Var(durationValue{&opts.OlderThan}, "older-than", "delete the events older than this: 720h, 30d")
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "prune without asking for confirmation")
	output.AddFlag(cmd, &opts.Format, output.FormatJSON, output.FormatYAML)
	return cmd
}

func runAuditPrune(ctx context.Context, opts *auditPruneOptions) error {
	if opts.OlderThan <= 0 {
		return usageErrorf("--older-than is required: a positive duration such as 720h or 30d")
	}
	if !opts.Yes && !opts.IO.CanPrompt() {
		return usageErrorf("pruning the audit log needs confirmation and there is no terminal to ask on: pass --yes")
	}
	if !opts.Yes {
		ok, err := opts.IO.Confirm(ctx, fmt.Sprintf("Delete every audit event older than %s? This cannot be undone.", durationValue{&opts.OlderThan}))
		if err != nil {
			return fmt.Errorf("prune audit log: %w", err)
		}
		if !ok {
			return errCancelled
		}
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.AuditPrune(ctx, opts.OlderThan)
	if err != nil {
		return err
	}
	p := output.New(opts.IO, opts.Format)
	return p.Print(res, nil, func() output.Human {
		if res.Deleted == 0 {
			return output.Message(fmt.Sprintf("No audit event is older than %s; nothing was deleted.\n", durationValue{&opts.OlderThan}))
		}
		return output.NewDetail().
			Add("deleted", "Deleted", strconv.FormatInt(res.Deleted, 10)).
			Add("cut_seq", "Cut after event", strconv.FormatInt(res.CutSeq, 10)).
			Add("cut_hash", "Cut hash", res.CutHash).
			Add("event", "Prune event", strconv.FormatInt(res.Event, 10))
	})
}
