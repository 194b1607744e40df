package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/pkg/client"
)

// auditExportFormats are the values of --format.
var auditExportFormats = []string{client.AuditFormatJSONL, client.AuditFormatCSV}

// auditExportOptions are the inputs of `mwctl audit export`.
type auditExportOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Now    func() time.Time

	auditFilterFlags
	Since  string
	Until  string
	Format string
	Output string
}

func newCmdAuditExport(f *Factory, runF func(context.Context, *auditExportOptions) error) *cobra.Command {
	opts := &auditExportOptions{IO: f.IOStreams, Client: f.Client, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "export [--format jsonl|csv] [-o FILE] [filters]",
		Short: "Export the audit log as JSON Lines or CSV",
		Long: `Stream the audit events matching the filters, oldest first, as JSON Lines
(one event per line, the fields of mwctl audit list -o json) or CSV (a
header row, then seq, time, actor, action, target, outcome, details as a
JSON object, client_ip, prev_hash and hash). The export is streamed from
the server to FILE or standard output as it is read: a log of any size
never sits in memory.

The export is itself an audit event (audit.export, with the format and
filters), recorded before the first byte is sent, and included as the
export's last event. An export cut short (a network failure) fails with
exit status 1; with -o the file then is not written at all, as it
appears only complete.`,
		Example: `  mwctl audit export -o audit.jsonl
  mwctl audit export --format csv --since 30d --action key. > key-events.csv`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAuditExport(cmd.Context(), opts)
		},
	}
	opts.auditFilterFlags.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&opts.Since, "since", "", "only events at or after: 24h, 7d, an RFC 3339 time or a date")
	fl.StringVar(&opts.Until, "until", "", "only events before: 24h, 7d, an RFC 3339 time or a date")
	fl.StringVar(&opts.Format, "format", client.AuditFormatJSONL, "jsonl or csv")
	fl.StringVarP(&opts.Output, output.FlagName, "o", "", "write to this file (default: standard output)")
	_ = cmd.RegisterFlagCompletionFunc("format", fixedCompletion(auditExportFormats...))
	_ = cmd.MarkFlagFilename(output.FlagName)
	return cmd
}

func runAuditExport(ctx context.Context, opts *auditExportOptions) error {
	if err := opts.auditFilterFlags.check(); err != nil {
		return err
	}
	if err := checkChoice("format", opts.Format, auditExportFormats); err != nil {
		return err
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
	c, err := opts.Client()
	if err != nil {
		return err
	}
	body, err := c.AuditExport(ctx, opts.Format, client.AuditQuery{
		Since: since, Until: until, Actor: opts.Actor, Action: opts.Action, Target: opts.Key, Outcome: opts.Outcome,
	})
	if err != nil {
		return err
	}
	defer body.Close()
	copyAll := func(w io.Writer) error {
		if _, err := io.Copy(w, body); err != nil {
			return fmt.Errorf("export audit log: the stream broke off: %w", err)
		}
		return nil
	}
	if opts.Output == "" || opts.Output == "-" {
		return copyAll(opts.IO.Out)
	}
	// The export may hold client networks and actors: readable by the
	// owner only.
	return writeFileAtomic(opts.Output, 0o600, copyAll)
}
