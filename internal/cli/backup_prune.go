package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/backup"
	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
)

// backupPruneOptions are the inputs of `mwctl backup prune`.
type backupPruneOptions struct {
	IO     *iostreams.IOStreams
	Now    func() time.Time
	Format output.Format

	Dir    string
	Keep   backup.KeepPolicy
	DryRun bool
}

// backupPruneDoc is the -o json document of backup prune.
type backupPruneDoc struct {
	DryRun  bool              `json:"dry_run"`
	Policy  backup.KeepPolicy `json:"policy"`
	Kept    int               `json:"kept"`
	Removed int               `json:"removed"`
	Backups []backup.Decision `json:"backups"`
}

func newCmdBackupPrune(f *Factory, runF func(context.Context, *backupPruneOptions) error) *cobra.Command {
	opts := &backupPruneOptions{IO: f.IOStreams, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "prune --dir DIR [--keep-last N] [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--dry-run]",
		Short: "Remove the backups of a directory that no keep rule keeps",
		Long: `Remove old backups from a backup directory, keeping those the rules keep:
--keep-last N keeps the N newest; --keep-daily
N the newest backup of each of the last N days that have one; likewise
--keep-weekly (ISO weeks) and --keep-monthly. Days, weeks and months are
in UTC. A backup any rule keeps is kept; -1 keeps every period. At least
one rule is required: without any, every backup would go.

Only files named mapwright-YYYYMMDDTHHMMSSZ.mwbak are considered; other
files are never touched. --dry-run shows the decisions and removes nothing.

Columns: NAME, TIME, SIZE, ACTION (keep, remove, or would remove),
REASONS. With -o json: {"dry_run", "policy": {"last", "daily", "weekly",
"monthly"}, "kept", "removed", "backups": [{"name", "path", "time",
"size", "keep", "reasons"}]}; -o jsonl prints one backup per line.`,
		Example: `  # A week of dailies, a month of weeklies, a year of monthlies
  mwctl backup prune --dir /var/backups/mapwright --keep-last 3 --keep-daily 7 --keep-weekly 5 --keep-monthly 12 --dry-run`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runBackupPrune(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Dir, "dir", "", "backup directory (required)")
	fl.IntVar(&opts.Keep.Last, "keep-last", 0, "keep the N newest backups (-1: all)")
	fl.IntVar(&opts.Keep.Daily, "keep-daily", 0, "keep the newest backup of each of the last N days with one (-1: all)")
	fl.IntVar(&opts.Keep.Weekly, "keep-weekly", 0, "keep the newest backup of each of the last N weeks with one (-1: all)")
	fl.IntVar(&opts.Keep.Monthly, "keep-monthly", 0, "keep the newest backup of each of the last N months with one (-1: all)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "show what would be removed and remove nothing")
	output.AddFlag(cmd, &opts.Format, output.FormatJSON, output.FormatYAML, output.FormatJSONL)
	_ = cmd.MarkFlagDirname("dir")
	return cmd
}

func runBackupPrune(_ context.Context, opts *backupPruneOptions) error {
	if opts.Dir == "" {
		return usageErrorf("backup prune needs --dir DIR")
	}
	plan, err := backup.Prune(opts.Dir, opts.Keep, opts.DryRun)
	if errors.Is(err, backup.ErrNoKeepRule) {
		return usageErrorf("%v", err)
	}
	if err != nil && plan == nil {
		return err
	}
	doc := backupPruneDoc{DryRun: opts.DryRun, Policy: opts.Keep, Backups: plan}
	if doc.Backups == nil {
		doc.Backups = []backup.Decision{}
	}
	for _, d := range plan {
		if d.Keep {
			doc.Kept++
		} else {
			doc.Removed++
		}
	}
	p := output.New(opts.IO, opts.Format)
	now := opts.Now()
	perr := p.Print(doc, doc.Backups, func() output.Human {
		t := output.NewTable("NAME", "TIME", "SIZE", "ACTION", "REASONS")
		t.Color(3, func(cs iostreams.ColorScheme, v string) string {
			if v == "keep" {
				return cs.Green(v)
			}
			return cs.Yellow(v)
		})
		for _, d := range plan {
			action := "keep"
			if !d.Keep {
				action = map[bool]string{true: "would remove", false: "remove"}[opts.DryRun]
			}
			size := strconv.FormatInt(d.Size, 10)
			if p.TTY() {
				size = humanSize(d.Size)
			}
			t.AddRow(d.Name, p.Time(&d.Time, now), size, action, strings.Join(d.Reasons, ", "))
		}
		return t
	})
	if err != nil {
		// A removal failed midway: the decisions are printed, and some
		// files may be gone already.
		return err
	}
	if perr != nil {
		return perr
	}
	if p.IsTable() && opts.IO.IsStderrTTY {
		verb := "Removed"
		if opts.DryRun {
			verb = "Would remove"
		}
		fmt.Fprintf(opts.IO.ErrOut, "%s %d backups, kept %d (%s).\n", verb, doc.Removed, doc.Kept, opts.Keep)
	}
	return nil
}
