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

// auditListOptions are the inputs of `mwctl audit list`.
type auditListOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Now    func() time.Time
	Format output.Format

	auditFilterFlags
	Since  string
	Until  string
	Order  string
	Limit  int
	Cursor string
	All    bool
}

func newCmdAuditList(f *Factory, runF func(context.Context, *auditListOptions) error) *cobra.Command {
	opts := &auditListOptions{IO: f.IOStreams, Client: f.Client, Now: f.Now}
	cmd := &cobra.Command{
		Use:     "list [flags]",
		Aliases: []string{"ls"},
		Short:   "List audit events, newest first",
		Long: `List audit events matching the filters, newest first (--order oldest for
the other way), one page at a time (--limit, 100 by default) or every
page with --all.

--since and --until take a duration back from now (24h, 7d), an RFC 3339
time or a date; --since is inclusive, --until exclusive. --action matches
a prefix: "key." lists every key event. --key lists a key's history.

Columns: SEQ, TIME, ACTOR, ACTION, TARGET, OUTCOME, CLIENT (the client's
network), DETAILS (key=value pairs; an auth.failure event counts the
refused requests it stands for in "count").

With -o json the output is {"events": [...], "next": CURSOR}; a further
page is fetched with --cursor. -o jsonl prints one event per line and -o
csv a header row then one record per event, with the columns seq, time,
actor, action, target, outcome, details (a JSON object), client_ip,
prev_hash and hash: the format of mwctl audit export.`,
		Example: `  # What happened to one key
  mwctl audit list --key key_01J9Z8Q4V6W2T0M3N5P7R9S1B2 --order oldest

  # Failed logins and refused requests of the last day, for a spreadsheet
  mwctl audit list --since 24h --outcome failure --all -o csv > failures.csv`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAuditList(cmd.Context(), opts)
		},
	}
	opts.auditFilterFlags.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&opts.Since, "since", "", "only events at or after: 24h, 7d, an RFC 3339 time or a date")
	fl.StringVar(&opts.Until, "until", "", "only events before: 24h, 7d, an RFC 3339 time or a date")
	fl.StringVar(&opts.Order, "order", "newest", "newest or oldest first")
	fl.IntVar(&opts.Limit, "limit", 0, "events per page, 1 to 1000 (0: the server's page size, 100)")
	fl.StringVar(&opts.Cursor, "cursor", "", "start at this page cursor (from \"next\" in -o json)")
	fl.BoolVar(&opts.All, "all", false, "fetch every page")
	output.AddFlag(cmd, &opts.Format, output.FormatJSON, output.FormatYAML, output.FormatJSONL, output.FormatCSV)
	_ = cmd.RegisterFlagCompletionFunc("order", fixedCompletion(auditOrders...))
	return cmd
}

func runAuditList(ctx context.Context, opts *auditListOptions) error {
	if err := opts.auditFilterFlags.check(); err != nil {
		return err
	}
	if err := checkChoice("order", opts.Order, auditOrders); err != nil {
		return err
	}
	if opts.Limit < 0 || opts.Limit > 1000 {
		return usageErrorf("--limit %d: want 1 to 1000", opts.Limit)
	}
	now := opts.Now()
	since, err := parseAuditTime("since", opts.Since, now)
	if err != nil {
		return err
	}
	until, err := parseAuditTime("until", opts.Until, now)
	if err != nil {
		return err
	}
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		return usageErrorf("--until is before --since")
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	q := client.AuditQuery{
		Since: since, Until: until, Actor: opts.Actor, Action: opts.Action, Target: opts.Key,
		Outcome: opts.Outcome, Order: "desc", Cursor: opts.Cursor, Limit: opts.Limit,
	}
	if opts.Order == "oldest" {
		q.Order = "asc"
	}

	p := output.New(opts.IO, opts.Format)
	// json and yaml print one document; the other formats print each page
	// as it arrives, so --all never holds the whole log.
	if opts.Format == output.FormatJSON || opts.Format == output.FormatYAML {
		page, err := c.AuditList(ctx, q)
		if err != nil {
			return err
		}
		for opts.All && page.Next != "" {
			q.Cursor = page.Next
			more, err := c.AuditList(ctx, q)
			if err != nil {
				return err
			}
			page.Events, page.Next = append(page.Events, more.Events...), more.Next
		}
		return p.Print(page, page.Events, nil)
	}

	var (
		row    func(client.AuditEvent) error
		finish func() error
		count  int
	)
	switch opts.Format {
	case output.FormatCSV:
		w := p.CSV(client.AuditCSVHeader...)
		row = func(ev client.AuditEvent) error { return w.Row(ev.CSVRecord()...) }
		finish = w.Close
	default:
		s := p.Stream(auditHeaders...)
		s.Table().Color(5, outcomeColor)
		row = func(ev client.AuditEvent) error { return s.Row(ev, auditCells(p, ev, now)...) }
		finish = s.Close
	}
	seen := map[string]bool{}
	for {
		page, err := c.AuditList(ctx, q)
		if err != nil {
			return err
		}
		for _, ev := range page.Events {
			if err := row(ev); err != nil {
				return err
			}
			count++
		}
		if !opts.All || page.Next == "" {
			if page.Next != "" {
				fmt.Fprintf(opts.IO.ErrOut, "More events: add --all, or --cursor %s for the next page.\n", page.Next)
			}
			break
		}
		if seen[page.Next] {
			return fmt.Errorf("list audit events: %w", client.ErrPaging)
		}
		seen[page.Next] = true
		q.Cursor = page.Next
	}
	if count == 0 && p.IsTable() && p.TTY() {
		fmt.Fprintln(opts.IO.ErrOut, "No events match.")
		return nil
	}
	return finish()
}
