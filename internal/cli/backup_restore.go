package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/backup"
	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/internal/store/open"
)

// socketProbeTimeout bounds the check that no server owns the data
// directory.
const socketProbeTimeout = time.Second

// backupRestoreOptions are the inputs of `mwctl backup restore`.
type backupRestoreOptions struct {
	IO     *iostreams.IOStreams
	Now    func() time.Time
	Getenv func(string) (string, bool)
	Format output.Format

	File        string
	Keys        backupKeyFlags
	DataDir     string
	DatabaseURL string
	// AdminSocket is the running server's admin socket to look for;
	// empty: DATA/admin.sock.
	AdminSocket string
	Force       bool
	// Actor names the local user in the backup.restore event.
	Actor string
}

// backupRestoreDoc is the -o json document of backup restore.
type backupRestoreDoc struct {
	File      string               `json:"file"`
	Target    string               `json:"target"`
	DataDir   string               `json:"data_dir"`
	Manifest  *backup.Manifest     `json:"manifest"`
	Tables    []backup.TableReport `json:"tables"`
	Audit     backup.AuditReport   `json:"audit"`
	EventSeq  int64                `json:"event_seq"`
	Installed []string             `json:"key_files_installed"`
	Kept      []string             `json:"key_files_kept"`
	Replaced  map[string]string    `json:"key_files_replaced,omitempty"`
}

func newCmdBackupRestore(f *Factory, runF func(context.Context, *backupRestoreOptions) error) *cobra.Command {
	opts := &backupRestoreOptions{IO: f.IOStreams, Now: f.Now, Getenv: os.LookupEnv}
	cmd := &cobra.Command{
		Use:   "restore FILE [--data-dir DIR] [--database-url URL] [--force]",
		Short: "Restore a backup into a stopped server's data directory or database",
		Long: `Restore a backup offline, into the store of a server that is not running:
the SQLite database of --data-dir, or the PostgreSQL database of
--database-url. The key files of the backup (audit.key, session.key) go
into --data-dir (default: mapwrightd's default data directory), created
with mode 0700 when missing. mwctl refuses when the data directory's admin
socket answers: stop mapwrightd first (with PostgreSQL, every replica: the
restore locks the tables, and a replica's caches would not follow it).

The database must be empty (as a fresh data directory's is) unless --force,
which deletes its rows. Everything happens in one transaction, after the
whole backup is checked (hashes, row counts, audit chain): a failure
leaves the database as it was. A key file already in the data directory
is kept when it holds the same key and refused when it differs, unless
--force, which moves the old one aside as NAME.replaced-TIME.

A backup restores into either backend: a SQLite backup into PostgreSQL and
back. The restore is recorded as a backup.restore event at the end of the
restored audit log, chained with the backup's audit key, naming you.

In a pipe the fields are: target, data_dir, created, backend,
schema_version, rows, audit_events, event_seq, key_files, then one
tables.NAME line per table. With -o json: {"file", "target", "data_dir",
"manifest", "tables", "audit", "event_seq", "key_files_installed",
"key_files_kept", "key_files_replaced"}.`,
		Example: `  # Into a fresh data directory (SQLite)
  mwctl backup restore mapwright-20260314T030000Z.mwbak --data-dir /var/lib/mapwright --identity backup.key

  # Move to PostgreSQL: the database, and the data directory for the key files
  mwctl backup restore mapwright.mwbak --database-url postgres://mapwright@db/mapwright --data-dir /var/lib/mapwright`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if opts.Actor == "" {
				opts.Actor = localActor()
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runBackupRestore(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	opts.Keys.add(fl)
	fl.StringVar(&opts.DataDir, "data-dir", "", "data directory of the stopped server: its SQLite database (unless --database-url) and key files")
	fl.StringVar(&opts.DatabaseURL, "database-url", "", "restore into this PostgreSQL database (postgres://...) instead of the data directory's SQLite")
	fl.StringVar(&opts.AdminSocket, "admin-socket", "", "admin socket of the server to find stopped, when it is not DATA/admin.sock (as under the service unit)")
	fl.BoolVar(&opts.Force, "force", false, "restore into a database that holds rows (they are deleted) and replace differing key files")
	output.AddFlag(cmd, &opts.Format, output.FormatJSON, output.FormatYAML)
	_ = cmd.MarkFlagFilename("identity")
	_ = cmd.MarkFlagFilename("passphrase-file")
	_ = cmd.MarkFlagDirname("data-dir")
	_ = cmd.MarkFlagFilename("admin-socket")
	return cmd
}

func runBackupRestore(ctx context.Context, opts *backupRestoreOptions) error {
	keys, err := opts.Keys.keys(opts.Getenv)
	if err != nil {
		return err
	}
	dataDir := opts.DataDir
	if dataDir == "" {
		dataDir = defaultDataDir(opts.Getenv)
	}
	if dataDir, err = filepath.Abs(dataDir); err != nil {
		return usageErrorf("--data-dir: %v", err)
	}
	sock := opts.AdminSocket
	if sock == "" {
		sock = filepath.Join(dataDir, "admin.sock")
	}
	if err := checkServerStopped(dataDir, sock); err != nil {
		return err
	}
	// Open the file first: a wrong key or a file that is not a backup
	// fails before anything is created.
	plain, _, f, err := backup.OpenFile(opts.File, keys)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer f.Close()

	created, err := prepareDataDir(dataDir, opts.DatabaseURL == "")
	if err != nil {
		return err
	}
	st, err := open.Open(ctx, dataDir, opts.DatabaseURL)
	if err != nil {
		created.undo()
		return err
	}
	var ki *backup.KeyInstall
	rep, err := backup.Restore(ctx, plain, st, backup.RestoreOptions{
		Force:  opts.Force,
		Actor:  opts.Actor,
		Source: filepath.Base(opts.File),
		Now:    opts.Now,
		BeforeCommit: func(files map[string][]byte) error {
			var err error
			ki, err = backup.PrepareKeys(dataDir, files, opts.Force, opts.Now)
			return err
		},
	})
	cerr := st.Close()
	if err != nil {
		ki.Abort()
		created.undo()
		return fmt.Errorf("restore %s: %w", opts.File, err)
	}
	if cerr != nil {
		ki.Abort()
		return fmt.Errorf("restore %s: the database committed but did not close cleanly: %w", opts.File, cerr)
	}
	if err := ki.Commit(); err != nil {
		return fmt.Errorf("restore %s: the database is restored, but installing its key files in %s failed (they are in the backup): %w",
			opts.File, dataDir, err)
	}
	doc := backupRestoreDoc{
		File: opts.File, Target: describeTarget(dataDir, opts.DatabaseURL), DataDir: dataDir,
		Manifest: rep.Manifest, Tables: rep.Tables, Audit: rep.Audit,
		Installed: nonNil(ki.Installed), Kept: nonNil(ki.Kept), Replaced: ki.Replaced,
	}
	if rep.Event != nil {
		doc.EventSeq = rep.Event.Seq
	}
	p := output.New(opts.IO, opts.Format)
	if err := p.Print(doc, nil, func() output.Human { return restoreDetail(p, doc, opts.Now()) }); err != nil {
		return err
	}
	if p.IsTable() && opts.IO.IsStderrTTY {
		fmt.Fprintf(opts.IO.ErrOut, "Start mapwrightd with this data directory%s to serve the restored keys.\n",
			map[bool]string{true: " and database URL", false: ""}[opts.DatabaseURL != ""])
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func restoreDetail(p *output.Printer, doc backupRestoreDoc, now time.Time) output.Human {
	m := doc.Manifest
	keyFiles := []string{}
	for _, n := range doc.Installed {
		keyFiles = append(keyFiles, n+" installed")
	}
	for _, n := range doc.Kept {
		keyFiles = append(keyFiles, n+" kept (identical)")
	}
	for n, old := range doc.Replaced {
		keyFiles = append(keyFiles, n+" replaced (old one: "+old+")")
	}
	d := output.NewDetail().
		Add("target", "Restored into", doc.Target).
		Add("data_dir", "Data directory", doc.DataDir).
		Add("created", "Backup taken", p.Time(&m.Created, now)).
		Add("backend", "From backend", m.Backend).
		Add("schema_version", "Schema version", strconv.Itoa(m.SchemaVersion)).
		Add("rows", "Rows", strconv.FormatInt(m.Rows(), 10)).
		Add("audit_events", "Audit events verified", strconv.FormatInt(doc.Audit.Events, 10)).
		Add("event_seq", "Restore recorded as event", strconv.FormatInt(doc.EventSeq, 10)).
		Add("key_files", "Key files", strings.Join(keyFiles, ", "))
	for _, t := range doc.Tables {
		d.Add("tables."+t.Name, "  "+t.Name, strconv.FormatInt(t.Rows, 10))
	}
	return d
}

// checkServerStopped refuses a data directory whose server's admin socket
// sock answers: restoring under a running server would pull its data from
// under it.
func checkServerStopped(dataDir, sock string) error {
	conn, err := net.DialTimeout("unix", sock, socketProbeTimeout)
	if err != nil {
		return nil
	}
	conn.Close()
	return fmt.Errorf("mapwrightd is running on %s (its admin socket %s answers): stop it before restoring", dataDir, sock)
}

// createdPaths are what a restore created, removed again when it fails so
// that a failed restore into a fresh directory leaves nothing behind.
type createdPaths []string

func (c createdPaths) undo() {
	for i := len(c) - 1; i >= 0; i-- {
		os.Remove(c[i])
	}
}

// prepareDataDir creates the data directory (mode 0700) when missing and
// notes, when the SQLite database is to be used and does not exist yet,
// the files opening it will create.
func prepareDataDir(dir string, sqlite bool) (createdPaths, error) {
	var created createdPaths
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		created = append(created, dir)
	} else if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if sqlite {
		db := filepath.Join(dir, open.SQLiteFile)
		if _, err := os.Stat(db); errors.Is(err, fs.ErrNotExist) {
			created = append(created, db, db+"-wal", db+"-shm")
		}
	}
	return created, nil
}

// describeTarget names the restored database without any password.
func describeTarget(dataDir, databaseURL string) string {
	if databaseURL == "" {
		return "SQLite " + filepath.Join(dataDir, open.SQLiteFile)
	}
	u, err := url.Parse(databaseURL)
	if err != nil {
		return "PostgreSQL"
	}
	// The query may carry a password too (password=...).
	u.RawQuery, u.Fragment = "", ""
	return "PostgreSQL " + u.Redacted()
}
