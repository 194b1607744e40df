package cli

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/backup"
	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
)

// backupListOptions are the inputs of `mwctl backup list`.
type backupListOptions struct {
	IO     *iostreams.IOStreams
	Now    func() time.Time
	Getenv func(string) (string, bool)
	Format output.Format

	Dir           string
	Keys          backupKeyFlags
	VerifyHeaders bool
}

// backupListEntry is one backup of `mwctl backup list`.
type backupListEntry struct {
	Name       string    `json:"name"`
	Path       string    `json:"path"`
	Time       time.Time `json:"time"`
	Size       int64     `json:"size"`
	Encryption string    `json:"encryption"`
	// The header's fields, when it was read.
	FormatVersion    int        `json:"format_version,omitempty"`
	Backend          string     `json:"backend,omitempty"`
	SchemaVersion    int        `json:"schema_version,omitempty"`
	Created          *time.Time `json:"created,omitempty"`
	MapwrightVersion string     `json:"mapwright_version,omitempty"`
	// Error says why the file could not be inspected or its header read.
	Error string `json:"error,omitempty"`
}

// backupListDoc is the -o json document of backup list.
type backupListDoc struct {
	Backups []backupListEntry `json:"backups"`
}

func newCmdBackupList(f *Factory, runF func(context.Context, *backupListOptions) error) *cobra.Command {
	opts := &backupListOptions{IO: f.IOStreams, Now: f.Now, Getenv: os.LookupEnv}
	cmd := &cobra.Command{
		Use:     "list --dir DIR",
		Aliases: []string{"ls"},
		Short:   "List the backups of a backup directory",
		Long: `List the backup files of a directory (named mapwright-YYYYMMDDTHHMMSSZ.mwbak),
newest first, with their time, size and encryption, read from each file's
unencrypted start. Other files, and the hidden temporary files of backups
being written, are left out.

The format version, source backend and schema version are inside the
encryption: with --verify-headers and an identity or passphrase, mwctl
decrypts the start of each file and reads its header (with a passphrase
that costs about a second per file). Unencrypted files always show them.
A file whose header cannot be read is listed with the error, and the exit
status is then 1. Use backup verify for the full check.

Columns: NAME, TIME, SIZE, ENCRYPTION, FORMAT, BACKEND, SCHEMA, CHECK.
With -o json: {"backups": [{"name", "path", "time", "size", "encryption",
"format_version", "backend", "schema_version", "created",
"mapwright_version", "error"}]}; -o jsonl prints one backup per line.`,
		Example: `  mwctl backup list --dir /var/backups/mapwright
  mwctl backup list --dir /var/backups/mapwright --verify-headers --identity backup.key -o jsonl`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runBackupList(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Dir, "dir", "", "backup directory (required)")
	fl.BoolVar(&opts.VerifyHeaders, "verify-headers", false, "decrypt the start of each backup and read its header")
	opts.Keys.add(fl)
	output.AddFlag(cmd, &opts.Format, output.FormatJSON, output.FormatYAML, output.FormatJSONL)
	_ = cmd.MarkFlagDirname("dir")
	return cmd
}

func runBackupList(_ context.Context, opts *backupListOptions) error {
	if opts.Dir == "" {
		return usageErrorf("backup list needs --dir DIR")
	}
	var keys backup.Keys
	if opts.VerifyHeaders {
		var err error
		if keys, err = opts.Keys.keys(opts.Getenv); err != nil {
			return err
		}
		if len(keys.Identities) == 0 && keys.Passphrase == "" {
			return usageErrorf("--verify-headers needs --identity, --passphrase-file or %s", envBackupPassphrase)
		}
	}
	entries, err := backup.ListDir(opts.Dir)
	if err != nil {
		return err
	}
	doc := backupListDoc{Backups: make([]backupListEntry, 0, len(entries))}
	failed := 0
	for _, e := range entries {
		le := inspectBackup(e, keys, opts.VerifyHeaders)
		if le.Error != "" {
			failed++
		}
		doc.Backups = append(doc.Backups, le)
	}
	p := output.New(opts.IO, opts.Format)
	if len(doc.Backups) == 0 && p.IsTable() && p.TTY() {
		fmt.Fprintf(opts.IO.ErrOut, "No backups in %s.\n", opts.Dir)
		return nil
	}
	now := opts.Now()
	err = p.Print(doc, doc.Backups, func() output.Human {
		t := output.NewTable("NAME", "TIME", "SIZE", "ENCRYPTION", "FORMAT", "BACKEND", "SCHEMA", "CHECK")
		t.Color(3, protectionColor)
		t.Color(7, stateColor)
		for _, b := range doc.Backups {
			size := strconv.FormatInt(b.Size, 10)
			if p.TTY() {
				size = humanSize(b.Size)
			}
			format, schema, check := "", "", ""
			if b.FormatVersion > 0 {
				format, schema, check = strconv.Itoa(b.FormatVersion), strconv.Itoa(b.SchemaVersion), "ok"
			}
			if b.Error != "" {
				check = "failed: " + b.Error
			}
			t.AddRow(b.Name, p.Time(&b.Time, now), size, b.Encryption, format, b.Backend, schema, check)
		}
		return t
	})
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d backups could not be read: %w", failed, len(doc.Backups), errPartial)
	}
	return nil
}

// inspectBackup describes one file: its encryption from its start, and
// its header when it is unencrypted or readHeader is set.
func inspectBackup(e backup.Entry, keys backup.Keys, readHeader bool) backupListEntry {
	le := backupListEntry{Name: e.Name, Path: e.Path, Time: e.Time, Size: e.Size}
	f, err := os.Open(e.Path)
	if err != nil {
		le.Error = err.Error()
		return le
	}
	defer f.Close()
	prot, err := backup.Inspect(f)
	if err != nil {
		le.Error = err.Error()
		return le
	}
	le.Encryption = prot.String()
	if prot.Encrypted && !readHeader {
		return le
	}
	if _, err := f.Seek(0, 0); err != nil {
		le.Error = err.Error()
		return le
	}
	plain, _, err := backup.Open(f, keys)
	if err != nil {
		le.Error = err.Error()
		return le
	}
	br, err := backup.NewReader(plain)
	if err != nil {
		le.Error = err.Error()
		return le
	}
	h := br.Header()
	le.FormatVersion, le.Backend, le.SchemaVersion, le.MapwrightVersion = h.FormatVersion, h.Backend, h.SchemaVersion, h.MapwrightVersion
	created := h.Created
	le.Created = &created
	return le
}
