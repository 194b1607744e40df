package sessions

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

// KeySize is the length of the session key in bytes.
const KeySize = 32

// KeyFileName is the session key's file name inside the data directory.
const KeyFileName = "session.key"

// maxKeyFileSize bounds what is read from the key file: the valid content
// is 65 bytes.
const maxKeyFileSize = 1024

// LoadOrCreateKey returns the session key stored in dataDir/session.key.
//
// When the file is absent and mustExist is false, a new random key is
// written with mode 0600 (to a temporary file then linked into place, so a
// crash never leaves a partial key and an existing file is never replaced)
// and returned. With mustExist, a missing file is an error wrapping
// [ErrKeyMissing]. A file that is not a key is refused with [ErrKeyInvalid];
// on systems with Unix permissions, one readable or writable by group or
// others with [ErrKeyPermissions].
func LoadOrCreateKey(dataDir string, mustExist bool) ([]byte, error) {
	return loadOrCreateKey(dataDir, mustExist, "")
}

// OpenKey is [LoadOrCreateKey] with mustExist decided from the database r:
// the key must already exist when TOTP secrets sealed with it are stored.
// Losing it otherwise only ends the open sessions.
func OpenKey(ctx context.Context, dataDir string, r store.Reader) ([]byte, error) {
	n, err := r.CountTOTP(ctx)
	if err != nil {
		return nil, fmt.Errorf("open session key: %w", err)
	}
	if n > 0 {
		return loadOrCreateKey(dataDir, true, fmt.Sprintf("the database holds %d TOTP secrets sealed with it", n))
	}
	return loadOrCreateKey(dataDir, false, "")
}

func loadOrCreateKey(dataDir string, mustExist bool, why string) ([]byte, error) {
	path := filepath.Join(dataDir, KeyFileName)
	key, err := readKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if mustExist {
		if why == "" {
			why = "it is required"
		}
		return nil, fmt.Errorf("session key %s is missing but %s: restore it from backup (every replica needs the same file): %w",
			path, why, ErrKeyMissing)
	}
	return createKeyFile(dataDir, path)
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open session key: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat session key %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("session key %s is not a regular file: %w", path, ErrKeyInvalid)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("session key %s has mode %04o; run: chmod 0600 %s: %w",
			path, info.Mode().Perm(), path, ErrKeyPermissions)
	}
	raw, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read session key %s: %w", path, err)
	}
	if len(raw) > maxKeyFileSize {
		return nil, fmt.Errorf("session key %s is larger than a key file: %w", path, ErrKeyInvalid)
	}
	text := bytes.TrimSpace(raw)
	if len(text) != hex.EncodedLen(KeySize) {
		return nil, fmt.Errorf("session key %s holds %d characters, want %d hexadecimal digits: %w",
			path, len(text), hex.EncodedLen(KeySize), ErrKeyInvalid)
	}
	key := make([]byte, KeySize)
	if _, err := hex.Decode(key, text); err != nil {
		return nil, fmt.Errorf("session key %s is not hexadecimal: %w", path, ErrKeyInvalid)
	}
	return key, nil
}

func createKeyFile(dataDir, path string) ([]byte, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory for session key: %w", err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate session key: %w", err)
	}
	tmp, err := os.CreateTemp(dataDir, ".session.key.*")
	if err != nil {
		return nil, fmt.Errorf("create session key: %w", err)
	}
	tmpName := tmp.Name()
	// After a successful link the key lives on under its final name.
	defer os.Remove(tmpName)
	if err := writeKey(tmp, key); err != nil {
		return nil, fmt.Errorf("write session key %s: %w", path, err)
	}
	// A hard link fails when the target exists, unlike a rename, so a key
	// written meanwhile by another process is never replaced.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readKeyFile(path)
		}
		return nil, fmt.Errorf("install session key %s: %w", path, err)
	}
	syncDir(dataDir)
	return key, nil
}

func writeKey(f *os.File, key []byte) error {
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
// the key itself was already synced, so failure is not fatal.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
