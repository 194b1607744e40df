package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/mapwright/mapwright/internal/store"
)

// KeySize is the length of the audit HMAC key in bytes.
const KeySize = 32

// KeyFileName is the audit key's file name inside the data directory.
const KeyFileName = "audit.key"

// maxKeyFileSize bounds what is read from the key file: the valid content
// is 65 bytes, so anything much larger is not a key file.
const maxKeyFileSize = 1024

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
		return loadOrCreateKey(dataDir, true, missing)
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

func readKeyFile(path string) ([]byte, error) { return readSecretFile("audit key", path) }

// readSecretFile reads a file holding 32 bytes as hexadecimal, as
// documented for the audit key; label names the file in errors.
func readSecretFile(label, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", label, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s %s: %w", label, path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %s is not a regular file: %w", label, path, ErrKeyInvalid)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s %s has mode %04o; run: chmod 0600 %s: %w",
			label, path, info.Mode().Perm(), path, ErrKeyPermissions)
	}
	raw, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", label, path, err)
	}
	if len(raw) > maxKeyFileSize {
		return nil, fmt.Errorf("%s %s is larger than a key file: %w", label, path, ErrKeyInvalid)
	}
	text := bytes.TrimSpace(raw)
	if len(text) != hex.EncodedLen(KeySize) {
		return nil, fmt.Errorf("%s %s holds %d characters, want %d hexadecimal digits: %w",
			label, path, len(text), hex.EncodedLen(KeySize), ErrKeyInvalid)
	}
	key := make([]byte, KeySize)
	if _, err := hex.Decode(key, text); err != nil {
		return nil, fmt.Errorf("%s %s is not hexadecimal: %w", label, path, ErrKeyInvalid)
	}
	return key, nil
}

func createKeyFile(dataDir, path string) ([]byte, error) {
	return createSecretFile("audit key", dataDir, path)
}

// createSecretFile writes 32 random bytes to path, which must not exist,
// in the format readSecretFile reads, and returns them; label names the
// file in errors.
func createSecretFile(label, dataDir, path string) ([]byte, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory for %s: %w", label, err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate %s: %w", label, err)
	}
	tmp, err := os.CreateTemp(dataDir, "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", label, err)
	}
	tmpName := tmp.Name()
	// The temporary name is removed in every case: after a successful link
	// the key lives on under its final name.
	defer os.Remove(tmpName)
	if err := writeKey(tmp, key); err != nil {
		return nil, fmt.Errorf("write %s %s: %w", label, path, err)
	}
	// A hard link fails when the target exists, unlike a rename, so a key
	// written concurrently by another process is never replaced.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readSecretFile(label, path)
		}
		return nil, fmt.Errorf("install %s %s: %w", label, path, err)
	}
	syncDir(dataDir)
	return key, nil
}

func writeKey(f *os.File, key []byte) error {
	// CreateTemp already uses 0600; Chmod makes that independent of it.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	text := make([]byte, hex.EncodedLen(len(key))+1)
	hex.Encode(text, key)
	text[len(text)-1] = '\n'
	if _, err := f.Write(text); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes the new directory entry durable where the platform allows;
// failure is not fatal because the key itself was already synced.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
