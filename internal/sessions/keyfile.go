package sessions

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/mapwright/mapwright/internal/secretfile"
	"github.com/mapwright/mapwright/internal/store"
)

// KeySize is the length of the session key in bytes.
const KeySize = secretfile.Size

// KeyFileName is the session key's file name inside the data directory.
const KeyFileName = "session.key"

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

// sessionKeyFile is the session key's kind of secret file.
var sessionKeyFile = secretfile.Kind{Label: "session key", Invalid: ErrKeyInvalid, Permissions: ErrKeyPermissions}

func readKeyFile(path string) ([]byte, error) { return sessionKeyFile.Read(path) }

func createKeyFile(dataDir, path string) ([]byte, error) { return sessionKeyFile.Create(dataDir, path) }
