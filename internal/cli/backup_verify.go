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

// backupVerifyOptions are the inputs of `mwctl backup verify`.
type backupVerifyOptions struct {
	IO     *iostreams.IOStreams
	Now    func() time.Time
	Getenv func(string) (string, bool)
	Format output.Format

	File       string
	Keys       backupKeyFlags
	ScratchDir string
}

// backupVerifyDoc is the -o json document of backup verify.
type backupVerifyDoc struct {
	File       string               `json:"file"`
	Size       int64                `json:"size"`
	Encryption string               `json:"encryption"`
	OK         bool                 `json:"ok"`
	Manifest   *backup.Manifest     `json:"manifest"`
	Tables     []backup.TableReport `json:"tables"`
	Files      []string             `json:"files"`
	Audit      backup.AuditReport   `json:"audit"`
}

func newCmdBackupVerify(f *Factory, runF func(context.Context, *backupVerifyOptions) error) *cobra.Command {
	opts := &backupVerifyOptions{IO: f.IOStreams, Now: f.Now, Getenv: os.LookupEnv}
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Prove a backup restorable by restoring it into a scratch database",
		Long: `Verify a backup the only way that proves it: decrypt it, check the size,
row count and SHA-256 of every part against its manifest, restore it into
a scratch SQLite database in a temporary directory (removed afterwards),
and verify the restored audit chain with the audit key inside the backup.

Any fault (a wrong passphrase, a truncated file, a changed byte, a newer
format, a broken audit chain) is an error and a non-zero exit status.
verify runs offline, needs no server, and records nothing anywhere.

In a pipe the fields are: file, size, encryption, format_version,
created, backend, schema_version, mapwright_version, rows, audit_events,
audit_head, then one tables.NAME line per table with its rows. With
-o json the output is {"file", "size", "encryption", "ok", "manifest":
{...}, "tables": [{"name", "rows"}], "files": [...], "audit": {"ok",
"from", "to", "events"}}.`,
		Example: `  mwctl backup verify --identity ~/.config/mapwright/backup.key mapwright-20260314T030000Z.mwbak`,
		Args:    exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runBackupVerify(cmd.Context(), opts)
		},
	}
	opts.Keys.add(cmd.Flags())
	cmd.Flags().StringVar(&opts.ScratchDir, "scratch-dir", "", "where the scratch database goes (default: the temporary directory); it needs room for the database")
	output.AddFlag(cmd, &opts.Format, output.FormatJSON, output.FormatYAML)
	_ = cmd.MarkFlagFilename("identity")
	_ = cmd.MarkFlagFilename("passphrase-file")
	_ = cmd.MarkFlagDirname("scratch-dir")
	return cmd
}

func runBackupVerify(ctx context.Context, opts *backupVerifyOptions) error {
	keys, err := opts.Keys.keys(opts.Getenv)
	if err != nil {
		return err
	}
	plain, prot, f, err := backup.OpenFile(opts.File, keys)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	rep, err := backup.Verify(ctx, plain, backup.VerifyOptions{ScratchDir: opts.ScratchDir})
	if err != nil {
		return fmt.Errorf("backup %s: %w", opts.File, err)
	}
	doc := backupVerifyDoc{
		File: opts.File, Size: st.Size(), Encryption: prot.String(), OK: true,
		Manifest: rep.Manifest, Tables: rep.Tables, Files: rep.Files, Audit: rep.Audit,
	}
	p := output.New(opts.IO, opts.Format)
	return p.Print(doc, nil, func() output.Human { return verifyDetail(p, doc, opts.Now()) })
}

func verifyDetail(p *output.Printer, doc backupVerifyDoc, now time.Time) output.Human {
	m := doc.Manifest
	tty := p.TTY()
	size, created := strconv.FormatInt(doc.Size, 10), p.Time(&m.Created, now)
	events := strconv.FormatInt(doc.Audit.Events, 10)
	if tty {
		size = humanSize(doc.Size)
		created = m.Created.UTC().Format(time.RFC3339) + " (" + created + ")"
		events = fmt.Sprintf("%d verified (%d to %d) with the backup's audit key", doc.Audit.Events, doc.Audit.From, doc.Audit.To)
	}
	d := output.NewDetail().
		AddColored("result", "Result", "ok", stateColor).
		Add("file", "File", doc.File).
		Add("size", "Size", size).
		AddColored("encryption", "Encryption", doc.Encryption, protectionColor).
		Add("format_version", "Format version", strconv.Itoa(m.FormatVersion)).
		Add("created", "Created", created).
		Add("backend", "Backend", m.Backend).
		Add("schema_version", "Schema version", strconv.Itoa(m.SchemaVersion)).
		Add("mapwright_version", "Mapwright version", m.MapwrightVersion).
		Add("rows", "Rows", strconv.FormatInt(m.Rows(), 10)).
		Add("audit_events", "Audit events", events).
		Add("audit_head", "Audit head", strconv.FormatInt(doc.Audit.To, 10))
	for _, t := range doc.Tables {
		d.Add("tables."+t.Name, "  "+t.Name, strconv.FormatInt(t.Rows, 10))
	}
	if tty {
		d.Add("recorded", "Recorded", "nowhere: verify runs offline")
	}
	return d
}
