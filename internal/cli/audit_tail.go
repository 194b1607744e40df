package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/pkg/client"
)

// auditTailOptions are the inputs of `mwctl audit tail`.
type auditTailOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Now    func() time.Time
	Format output.Format

	auditFilterFlags
	Lines  int
	Follow bool
}

func newCmdAuditTail(f *Factory, runF func(context.Context, *auditTailOptions) error) *cobra.Command {
	opts := &auditTailOptions{IO: f.IOStreams, Client: f.Client, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "tail [-n N] [-f] [flags]",
		Short: "Print the latest audit events, and follow new ones with -f",
		Long: `Print the last N audit events matching the filters (10 by default), oldest
first. With -f mwctl keeps running and prints every new event as the
server records it, until interrupted (exit status 130). When the
connection drops (a server restart, a network failure) mwctl reconnects,
waiting 1 s, then longer, up to 30 s, and resumes after the last event it
printed: nothing is skipped or printed twice.

Each event is one line. In a pipe the lines are the plain table form: a
header, then SEQ, TIME, ACTOR, ACTION, TARGET, OUTCOME, CLIENT and DETAILS
separated by TABs, written as the events arrive. -o jsonl prints one JSON
event per line.`,
		Example: `  # Watch key changes live
  mwctl audit tail -f --action key.

  # Feed refused requests to a log shipper
  mwctl audit tail -f -n 0 --action auth.failure -o jsonl`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAuditTail(cmd.Context(), opts)
		},
	}
	opts.auditFilterFlags.add(cmd)
	fl := cmd.Flags()
	fl.IntVarP(&opts.Lines, "lines", "n", 10, "how many past events to print first, 0 to 1000")
	fl.BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new events as they are recorded")
	output.AddFlag(cmd, &opts.Format, output.FormatJSONL)
	return cmd
}

func runAuditTail(ctx context.Context, opts *auditTailOptions) error {
	if err := opts.auditFilterFlags.check(); err != nil {
		return err
	}
	if opts.Lines < 0 || opts.Lines > 1000 {
		return usageErrorf("--lines %d: want 0 to 1000", opts.Lines)
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	// The head is read before the past events, so that following starts
	// no later than what they show; events printed twice are skipped.
	var head int64
	if opts.Follow {
		last, err := c.AuditList(ctx, client.AuditQuery{Order: "desc", Limit: 1})
		if err != nil {
			return err
		}
		if len(last.Events) > 0 {
			head = last.Events[0].Seq
		}
	}
	var past []client.AuditEvent
	if opts.Lines > 0 {
		page, err := c.AuditList(ctx, client.AuditQuery{
			Actor: opts.Actor, Action: opts.Action, Target: opts.Key, Outcome: opts.Outcome,
			Order: "desc", Limit: opts.Lines,
		})
		if err != nil {
			return err
		}
		past = page.Events
		slices.Reverse(past)
	}

	pr := newTailPrinter(opts)
	var printed int64
	for _, ev := range past {
		if err := pr.event(ev); err != nil {
			return err
		}
		printed = max(printed, ev.Seq)
	}
	if !opts.Follow {
		return pr.close()
	}
	err = c.FollowAudit(ctx, head, func(ev client.AuditEvent) error {
		if ev.Seq <= printed || !opts.match(ev) {
			return nil
		}
		return pr.event(ev)
	}, func(err error, wait time.Duration) {
		fmt.Fprintf(opts.IO.ErrOut, "mwctl: the audit stream was interrupted (%v); reconnecting in %s\n", err, wait)
	})
	if cerr := pr.close(); err == nil {
		err = cerr
	}
	return err
}

// tailPrinter writes events one line each, at once.
type tailPrinter struct {
	opts   *auditTailOptions
	p      *output.Printer
	stream *output.Stream
}

func newTailPrinter(opts *auditTailOptions) *tailPrinter {
	p := output.New(opts.IO, opts.Format)
	t := &tailPrinter{opts: opts, p: p}
	if opts.Format == output.FormatJSONL || !p.TTY() {
		// jsonl and the plain form both write each row as it comes.
		t.stream = p.Stream(auditHeaders...)
	}
	return t
}

func (t *tailPrinter) event(ev client.AuditEvent) error {
	now := t.opts.Now()
	if t.stream != nil {
		return t.stream.Row(ev, auditCells(t.p, ev, now)...)
	}
	// On a terminal an aligned table would wait for the end, which a
	// followed log never reaches: each event is a line of its own.
	cs := t.p.ColorScheme()
	cells := auditCells(t.p, ev, now)
	for i, c := range cells {
		cells[i] = terminalSafe(c)
		if cells[i] == "" {
			cells[i] = output.Empty
		}
	}
	// Absolute times: a followed log is read as it scrolls, and relative
	// times would go stale on screen.
	cells[1] = ev.Time.Local().Format(time.DateTime)
	cells[0] = cs.Gray("#" + cells[0])
	cells[5] = outcomeColor(cs, cells[5])
	_, err := fmt.Fprintln(t.opts.IO.Out, strings.Join(cells, "  "))
	return err
}

func (t *tailPrinter) close() error {
	if t.stream != nil {
		return t.stream.Close()
	}
	return nil
}

// terminalSafe replaces control characters, so that an event's text can
// never drive the terminal.
func terminalSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}
