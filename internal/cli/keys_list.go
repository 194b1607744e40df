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

// keysListOptions are the inputs of `mwctl keys list`.
type keysListOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Now    func() time.Time
	Format output.Format

	Kind           string
	State          string
	ExpiringWithin time.Duration
	Tileset        string
	Labels         []string
	Limit          int
	Cursor         string
	All            bool
}

func newCmdKeysList(f *Factory, runF func(context.Context, *keysListOptions) error) *cobra.Command {
	opts := &keysListOptions{IO: f.IOStreams, Client: f.Client, Now: f.Now}
	cmd := &cobra.Command{
		Use:     "list [flags]",
		Aliases: []string{"ls"},
		Short:   "List API keys",
		Long: `List the server's API keys, newest last, one page at a time (--limit, the
server's page size by default) or all of them with --all.

--state expiring lists active keys that expire within --expiring-within
(7 days by default); giving --expiring-within alone implies it.

Columns: ID, NAME, KIND, STATE, START (the token's first characters),
EXPIRES, LAST USED. With -o json the output is {"keys": [...], "next":
CURSOR}; "next" is absent on the last page, and a further page is fetched
with --cursor. -o jsonl prints one key per line.`,
		Example: `  # Keys that expire within two weeks, for a script
  mwctl keys list --expiring-within 14d -o jsonl

  # Every revoked key of the maps team
  mwctl keys list --state revoked --label team=maps --all`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runKeysList(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Kind, "kind", "", "only keys of this kind: public or secret")
	fl.StringVar(&opts.State, "state", "", "only keys in this state: active, revoked, expired, expiring or pending")
	fl.Var(durationValue{&opts.ExpiringWithin}, "expiring-within", "with --state expiring: the horizon, e.g. 168h or 7d")
	fl.StringVar(&opts.Tileset, "tileset", "", "only keys that may read this tileset")
	fl.StringArrayVar(&opts.Labels, "label", nil, "only keys with label key=value, repeatable (all must match)")
	fl.IntVar(&opts.Limit, "limit", 0, "keys per page, 1 to 1000 (0: the server's page size)")
	fl.StringVar(&opts.Cursor, "cursor", "", "start at this page cursor (from \"next\" in -o json)")
	fl.BoolVar(&opts.All, "all", false, "fetch every page")
	output.AddFlag(cmd, &opts.Format, output.FormatJSON, output.FormatYAML, output.FormatJSONL)
	_ = cmd.RegisterFlagCompletionFunc("kind", fixedCompletion(keyKinds...))
	_ = cmd.RegisterFlagCompletionFunc("state", fixedCompletion(keyStates...))
	return cmd
}

func runKeysList(ctx context.Context, opts *keysListOptions) error {
	if err := checkChoice("kind", opts.Kind, keyKinds); err != nil {
		return err
	}
	if err := checkChoice("state", opts.State, keyStates); err != nil {
		return err
	}
	state := opts.State
	if opts.ExpiringWithin > 0 {
		switch state {
		case "":
			state = "expiring"
		case "expiring":
		default:
			return usageErrorf("--expiring-within goes with --state expiring, not --state %s", state)
		}
	}
	if opts.Limit < 0 || opts.Limit > 1000 {
		return usageErrorf("--limit %d: want 1 to 1000", opts.Limit)
	}
	lbls, err := parseLabels("label", opts.Labels)
	if err != nil {
		return err
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	q := client.ListKeysOptions{
		Kind: opts.Kind, State: state, ExpiringWithin: opts.ExpiringWithin,
		Tileset: opts.Tileset, Labels: lbls, Cursor: opts.Cursor, Limit: opts.Limit,
	}
	var page client.KeyList
	if opts.All {
		keys, err := c.ListAllKeys(ctx, q)
		if err != nil {
			return err
		}
		page = client.KeyList{Keys: keys}
	} else if page, err = c.ListKeys(ctx, q); err != nil {
		return err
	}
	p := output.New(opts.IO, opts.Format)
	if len(page.Keys) == 0 && p.IsTable() && p.TTY() {
		fmt.Fprintln(opts.IO.ErrOut, "No keys match.")
		return nil
	}
	now := opts.Now()
	if err := p.Print(page, page.Keys, func() output.Human { return keyTable(p, page.Keys, now) }); err != nil {
		return err
	}
	if page.Next != "" && opts.Format != output.FormatJSON && opts.Format != output.FormatYAML {
		fmt.Fprintf(opts.IO.ErrOut, "More keys: add --all, or --cursor %s for the next page.\n", page.Next)
	}
	return nil
}
