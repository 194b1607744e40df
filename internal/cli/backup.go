package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mapwright/mapwright/internal/backup"
)

// envBackupPassphrase seeds the backup passphrase when no
// --passphrase-file is given.
const envBackupPassphrase = "MWCTL_BACKUP_PASSPHRASE"

// maxPassphraseFile bounds what is read of a passphrase file.
const maxPassphraseFile = 4096

// newCmdBackup is the `mwctl backup` group.
func newCmdBackup(f *Factory) *cobra.Command {
	cmd := newGroup("backup", "Create, verify, restore, list and prune backups",
		`Back up the server's database and key files, and get them back.

A backup is one file: a consistent snapshot of every table, the audit key
(and the session key) and a manifest with row counts and SHA-256 of every
part, encrypted with age to public keys (--recipient) or a passphrase.
mwctl encrypts on this machine: the server streams the snapshot over the
admin API and never sees a passphrase. Files are written to a temporary
name, synced and renamed, so a crash never leaves a partial backup under
the final name.

A backup restores into either backend, so it also moves a SQLite
installation to PostgreSQL and back. backup verify proves a backup
restorable by restoring it into a scratch database and verifying its
audit chain.

ENCRYPTION
  --recipient age1...       encrypt to an age public key (repeatable)
  --recipients-file FILE    public keys, one per line (repeatable)
  --passphrase-file FILE    a passphrase, read from the file's first line;
                            else the environment variable
                            MWCTL_BACKUP_PASSPHRASE. Never on the command
                            line, where other users could read it.
  --identity FILE           age identities (AGE-SECRET-KEY-1...) that open
                            backups made for their public keys

AUDIT
  A backup taken through the admin API is recorded by the server
  (backup.create), as is each scheduled backup. A restore records
  backup.restore in the restored database itself, chained with the
  backup's audit key, naming the local user. verify records nothing: it
  runs offline, anywhere, and its report is the record.`)
	cmd.AddCommand(
		newCmdBackupCreate(f, nil),
		newCmdBackupVerify(f, nil),
		newCmdBackupRestore(f, nil),
		newCmdBackupList(f, nil),
		newCmdBackupPrune(f, nil),
	)
	return cmd
}

// backupKeyFlags are the flags that open encrypted backups.
type backupKeyFlags struct {
	Identities     []string
	PassphraseFile string
}

func (k *backupKeyFlags) add(fl *pflag.FlagSet) {
	fl.StringArrayVar(&k.Identities, "identity", nil, "file of age identities that open the backup (repeatable)")
	fl.StringVar(&k.PassphraseFile, "passphrase-file", "", "file whose first line is the backup's passphrase (else env "+envBackupPassphrase+")")
}

// keys loads the identities and the passphrase. Neither is required here:
// an unencrypted backup needs none, and opening an encrypted one without
// reports what it needs.
func (k *backupKeyFlags) keys(lookup func(string) (string, bool)) (backup.Keys, error) {
	var keys backup.Keys
	for _, path := range k.Identities {
		ids, err := backup.ReadIdentityFile(path)
		if err != nil {
			return keys, usageErrorf("--identity: %v", err)
		}
		keys.Identities = append(keys.Identities, ids...)
	}
	pass, err := readPassphrase(k.PassphraseFile, lookup)
	if err != nil {
		return keys, err
	}
	keys.Passphrase = pass
	return keys, nil
}

// readPassphrase returns the passphrase of --passphrase-file (its first
// line) or, without that flag, of the environment; "" when neither.
func readPassphrase(path string, lookup func(string) (string, bool)) (string, error) {
	if path == "" {
		v, _ := lookup(envBackupPassphrase)
		return v, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", usageErrorf("--passphrase-file: %v", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPassphraseFile+1))
	if err != nil {
		return "", fmt.Errorf("read --passphrase-file: %w", err)
	}
	if len(b) > maxPassphraseFile {
		return "", usageErrorf("--passphrase-file %s is larger than %d bytes; it should hold the passphrase on its first line", path, maxPassphraseFile)
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		return "", usageErrorf("--passphrase-file %s: the first line is empty", path)
	}
	return string(line), nil
}

// localActor names the user running mwctl for the audit log:
// "unix:UID(name)", or "unix:UID" when the name is unknown or unusual.
func localActor() string {
	uid := strconv.Itoa(os.Getuid())
	u, err := user.Current()
	if err != nil || !plainUserName(u.Username) {
		return "unix:" + uid
	}
	return "unix:" + uid + "(" + u.Username + ")"
}

// plainUserName accepts names that cannot confuse a reader of the audit
// log: printable ASCII without spaces or parentheses, of a sane length.
func plainUserName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r > '~' || r == '(' || r == ')' {
			return false
		}
	}
	return true
}

// defaultDataDir is the data directory mapwrightd uses by default.
func defaultDataDir(lookup func(string) (string, bool)) string {
	return filepath.Dir(DefaultSocket(lookup))
}

// humanSize writes a byte count in binary units: "512 B", "3.2 MiB".
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// tableCount counts the table parts of a manifest.
func tableCount(m *backup.Manifest) int {
	n := 0
	for _, p := range m.Parts {
		if p.Type == backup.PartTable {
			n++
		}
	}
	return n
}
