package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/backup"
	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/internal/store/open"
	"github.com/mapwright/mapwright/internal/version"
	"github.com/mapwright/mapwright/pkg/client"
)

// backupCreateOptions are the inputs of `mwctl backup create`.
type backupCreateOptions struct {
	IO     *iostreams.IOStreams
	Client func() (*client.Client, error)
	Now    func() time.Time
	Getenv func(string) (string, bool)

	Output string
	Dir    string

	Recipients      []string
	RecipientsFiles []string
	PassphraseFile  string
	NoEncryption    bool

	// DataDir and DatabaseURL select direct mode: the store is read here
	// instead of through the admin API.
	DataDir     string
	DatabaseURL string
}

func newCmdBackupCreate(f *Factory, runF func(context.Context, *backupCreateOptions) error) *cobra.Command {
	opts := &backupCreateOptions{IO: f.IOStreams, Client: f.Client, Now: f.Now, Getenv: os.LookupEnv}
	cmd := &cobra.Command{
		Use:   "create (-o FILE | --dir DIR) [encryption flags]",
		Short: "Take an encrypted backup of the server",
		Long: `Take a backup: the server streams a consistent snapshot of its database and
its key files over the admin API (scope backup:create); mwctl encrypts it
here and writes it to FILE, or into DIR as mapwright-YYYYMMDDTHHMMSSZ.mwbak
(UTC). The file appears only complete: it is written to a hidden
temporary file beside it, synced and renamed. -o replaces an existing FILE;
--dir never replaces a file.

Encryption is required: --recipient or --recipients-file (age public
keys), or a passphrase from --passphrase-file or MWCTL_BACKUP_PASSPHRASE.
--insecure-no-encryption writes the backup in the clear, marked as such on
its first line; anyone who can read it can read the audit key inside.

With --data-dir (and --database-url for PostgreSQL) mwctl reads the
database directly instead of asking the server: for a stopped server, or
on the database host. The backup is then recorded in the audit log by
mwctl, as the local user.

The result is printed as fields: path, size, rows, tables, backend,
schema_version, encryption.`,
		Example: `  # Into a backup folder, to two age public keys
  mwctl backup create --dir /var/backups/mapwright \
    --recipient age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq \
    --recipients-file ops-team.txt

  # To one file, with a passphrase from the environment
  MWCTL_BACKUP_PASSPHRASE="$(pass show mapwright/backup)" mwctl backup create -o mapwright.mwbak`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runBackupCreate(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Output, output.FlagName, "o", "", "write the backup to this file")
	fl.StringVar(&opts.Dir, "dir", "", "write the backup into this directory, named by the time")
	fl.StringArrayVar(&opts.Recipients, "recipient", nil, "encrypt to this age public key (age1...), repeatable")
	fl.StringArrayVar(&opts.RecipientsFiles, "recipients-file", nil, "encrypt to the age public keys in this file, repeatable")
	fl.StringVar(&opts.PassphraseFile, "passphrase-file", "", "encrypt with the passphrase on this file's first line (else env "+envBackupPassphrase+")")
	fl.BoolVar(&opts.NoEncryption, "insecure-no-encryption", false, "write the backup unencrypted (it holds the audit key)")
	fl.StringVar(&opts.DataDir, "data-dir", "", "read the database of this data directory directly, not through the server")
	fl.StringVar(&opts.DatabaseURL, "database-url", "", "with --data-dir: read this PostgreSQL database directly")
	for _, name := range []string{output.FlagName, "recipients-file", "passphrase-file"} {
		_ = cmd.MarkFlagFilename(name)
	}
	for _, name := range []string{"dir", "data-dir"} {
		_ = cmd.MarkFlagDirname(name)
	}
	return cmd
}

// encryption builds the encryption the flags and environment ask for.
func (o *backupCreateOptions) encryption() (backup.Encryption, error) {
	var enc backup.Encryption
	recipients, err := backup.ParseRecipients(o.Recipients)
	if err != nil {
		return enc, usageErrorf("--recipient: %v", err)
	}
	for _, path := range o.RecipientsFiles {
		rs, err := backup.ReadRecipientsFile(path)
		if err != nil {
			return enc, usageErrorf("--recipients-file: %v", err)
		}
		recipients = append(recipients, rs...)
	}
	pass, err := readPassphrase(o.PassphraseFile, o.Getenv)
	if err != nil {
		return enc, err
	}
	_, fromEnv := o.Getenv(envBackupPassphrase)
	switch {
	case o.NoEncryption && (len(recipients) > 0 || o.PassphraseFile != ""):
		return enc, usageErrorf("--insecure-no-encryption excludes --recipient, --recipients-file and --passphrase-file")
	case o.NoEncryption:
		return backup.Encryption{None: true, Compress: true}, nil
	case len(recipients) > 0 && o.PassphraseFile != "":
		return enc, usageErrorf("give recipients or a passphrase, not both")
	case len(recipients) > 0 && fromEnv && pass != "":
		return enc, usageErrorf("recipients are given and %s is set: unset it, or use only the passphrase", envBackupPassphrase)
	case len(recipients) > 0:
		return backup.Encryption{Recipients: recipients, Compress: true}, nil
	case pass != "":
		return backup.Encryption{Passphrase: pass, Compress: true}, nil
	}
	return enc, usageErrorf("choose the encryption: --recipient or --recipients-file (age public keys), --passphrase-file or %s, or --insecure-no-encryption",
		envBackupPassphrase)
}

func runBackupCreate(ctx context.Context, opts *backupCreateOptions) error {
	if (opts.Output == "") == (opts.Dir == "") {
		return usageErrorf("give exactly one of -o FILE and --dir DIR")
	}
	if opts.DatabaseURL != "" && opts.DataDir == "" {
		return usageErrorf("--database-url needs --data-dir: the key files are read from it")
	}
	enc, err := opts.encryption()
	if err != nil {
		return err
	}
	path, noClobber := opts.Output, false
	if opts.Dir != "" {
		if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
			return fmt.Errorf("backup directory: %w", err)
		}
		path, noClobber = filepath.Join(opts.Dir, backup.FileName(opts.Now())), true
	}
	if enc.None {
		fmt.Fprintln(opts.IO.ErrOut, "mwctl: warning: the backup is NOT encrypted; anyone who can read it can read the audit key inside")
	}

	var info *backup.FileInfo
	if opts.DataDir != "" {
		info, err = createDirect(ctx, opts, path, noClobber, enc)
	} else {
		info, err = createThroughServer(ctx, opts, path, noClobber, enc)
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w (one backup per second at most in a directory)", err)
	}
	if err != nil {
		return err
	}
	m := info.Manifest
	tty := opts.IO.IsStdoutTTY
	size, rows := strconv.FormatInt(info.Size, 10), strconv.FormatInt(m.Rows(), 10)
	if tty {
		size, rows = humanSize(info.Size), fmt.Sprintf("%d in %d tables", m.Rows(), tableCount(m))
	}
	d := output.NewDetail().
		Add("path", "Written to", info.Path).
		Add("size", "Size", size).
		Add("rows", "Rows", rows).
		Add("tables", "Tables", strconv.Itoa(tableCount(m))).
		Add("backend", "Backend", m.Backend).
		Add("schema_version", "Schema version", strconv.Itoa(m.SchemaVersion)).
		AddColored("encryption", "Encryption", info.Protection, protectionColor)
	return d.Render(opts.IO.Out, opts.IO.IsStdoutTTY, opts.IO.ColorScheme())
}

// createThroughServer asks the admin API for the snapshot and checks it
// while writing it.
func createThroughServer(ctx context.Context, opts *backupCreateOptions, path string, noClobber bool, enc backup.Encryption) (*backup.FileInfo, error) {
	c, err := opts.Client()
	if err != nil {
		return nil, err
	}
	return backup.WriteFile(path, noClobber, enc, func(w io.Writer) (*backup.Manifest, error) {
		rc, err := c.CreateBackup(ctx)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return backup.Copy(w, rc)
	})
}

// createDirect snapshots the store of a data directory and records the
// backup in its audit log.
func createDirect(ctx context.Context, opts *backupCreateOptions, path string, noClobber bool, enc backup.Encryption) (*backup.FileInfo, error) {
	if opts.DatabaseURL == "" {
		// Opening a missing SQLite file would create an empty database.
		if _, err := os.Stat(filepath.Join(opts.DataDir, open.SQLiteFile)); err != nil {
			return nil, fmt.Errorf("no database in %s: %w", opts.DataDir, err)
		}
	}
	st, err := open.Open(ctx, opts.DataDir, opts.DatabaseURL)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	key, err := audit.LoadOrCreateKey(opts.DataDir, true)
	if err != nil {
		return nil, err
	}
	files, err := backup.ReadKeyFiles(opts.DataDir)
	if err != nil {
		return nil, err
	}
	info, err := backup.WriteFile(path, noClobber, enc, func(w io.Writer) (*backup.Manifest, error) {
		return backup.WriteSnapshot(ctx, st, w, backup.SnapshotOptions{Files: files, MapwrightVersion: version.String(), Now: opts.Now})
	})
	ev := audit.Event{Actor: localActor(), Action: audit.ActionBackupCreate, Target: filepath.Base(path),
		Details: map[string]string{"direct": "true"}}
	if err != nil {
		ev.Outcome, ev.Details["error"] = audit.OutcomeFailure, err.Error()
	} else {
		m := info.Manifest
		ev.Details["rows"] = strconv.FormatInt(m.Rows(), 10)
		ev.Details["backend"] = m.Backend
		ev.Details["schema_version"] = strconv.Itoa(m.SchemaVersion)
		ev.Details["size"] = strconv.FormatInt(info.Size, 10)
	}
	if _, aerr := audit.New(key, opts.Now).AppendStandalone(context.WithoutCancel(ctx), st, ev); aerr != nil {
		if err != nil {
			return nil, err
		}
		return info, fmt.Errorf("the backup %s is written, but recording it in the audit log failed: %w", path, aerr)
	}
	return info, err
}

// protectionColor shows an unencrypted backup in red.
func protectionColor(cs iostreams.ColorScheme, v string) string {
	if v == "none" {
		return cs.Red(v)
	}
	return cs.Green(v)
}
