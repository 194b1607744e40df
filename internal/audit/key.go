package audit

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/mapwright/mapwright/internal/secretfile"
	"github.com/mapwright/mapwright/internal/store"
)

// KeySize is the length of the audit HMAC key in bytes.
const KeySize = secretfile.Size

// KeyFileName is the audit key's file name inside the data directory.
const KeyFileName = "audit.key"

// LoadOrCreateKey returns the audit key stored in dataDir/audit.key.
//
// When the file is absent and mustExist is false, a new random key is
// written with mode 0600 (to a temporary file that is then linked into
// place, so a crash never leaves a partial key and an existing file is never
// overwritten) and returned. Set mustExist when the database already holds
// keys or audit events: a missing file then means the chain could no longer
// be verified, and the error (wrapping [ErrKeyMissing]) says to restore it.
//
// A file that is not a key (see the package documentation for the format)
// is an error wrapping [ErrKeyInvalid]. On systems with Unix permissions, a
// file readable or writable by group or others is refused with an error
// wrapping [ErrKeyPermissions] that tells how to fix it: failing closed is
// safer than using a key others may have read.
func LoadOrCreateKey(dataDir string, mustExist bool) ([]byte, error) {
	missing := "the database already has audit events or keys"
	return loadOrCreateKey(dataDir, mustExist, missing)
}

// OpenKey is [LoadOrCreateKey] with mustExist decided from the database r:
// the key must already exist when r holds any audit event or any key. Its
// error for a missing file names how many audit events depend on it.
func OpenKey(ctx context.Context, dataDir string, r store.Reader) ([]byte, error) {
	head, err := r.AuditHead(ctx)
	if err != nil {
		return nil, fmt.Errorf("read audit head: %w", err)
	}
	if head.Seq > 0 {
		missing := fmt.Sprintf("the database already has %d audit events", head.Seq)
		key, err := loadOrCreateKey(dataDir, true, missing)
		if err != nil {
			return nil, err
		}
		if err := checkHead(ctx, r, key, head); err != nil {
			return nil, err
		}
		return key, nil
	}
	keys, _, err := r.ListKeys(ctx, store.KeyFilter{Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	if len(keys) > 0 {
		return loadOrCreateKey(dataDir, true, "the database already has API keys")
	}
	return loadOrCreateKey(dataDir, false, "")
}

func loadOrCreateKey(dataDir string, mustExist bool, missing string) ([]byte, error) {
	path := filepath.Join(dataDir, KeyFileName)
	key, err := readKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if mustExist {
		return nil, fmt.Errorf("audit key %s is missing but %s: restore it from backup; refusing to start: %w",
			path, missing, ErrKeyMissing)
	}
	return createKeyFile(dataDir, path)
}

// auditKeyFile is the audit key's kind of secret file.
var auditKeyFile = secretfile.Kind{Label: "audit key", Invalid: ErrKeyInvalid, Permissions: ErrKeyPermissions}

func readKeyFile(path string) ([]byte, error) { return auditKeyFile.Read(path) }

func createKeyFile(dataDir, path string) ([]byte, error) { return auditKeyFile.Create(dataDir, path) }

// checkHead makes sure key signed the last event of the chain. Every
// process appending to one database (several replicas on one PostgreSQL)
// must share one audit key; a process with another key would append events
// that break the chain for good.
func checkHead(ctx context.Context, r store.Reader, key []byte, head store.AuditHead) error {
	var last *store.AuditEvent
	err := r.ScanAudit(ctx, head.Seq, head.Seq, func(ev store.AuditEvent) error {
		last = &ev
		return nil
	})
	if err != nil {
		return fmt.Errorf("read audit head event %d: %w", head.Seq, err)
	}
	if last == nil {
		return fmt.Errorf("audit head event %d is missing from the log: %w", head.Seq, ErrKeyMismatch)
	}
	if !hmac.Equal(chainHash(key, last.PrevHash, Canonical(*last)), last.Hash) {
		return fmt.Errorf("the audit key file does not sign event %d, the last of this database's audit chain: "+
			"every process writing to one database needs the same %s (copy it from the first installation), "+
			"or the event was altered; the key must not sign further events: %w", head.Seq, KeyFileName, ErrKeyMismatch)
	}
	return nil
}
