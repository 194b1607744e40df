package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ensureDataDir creates dir with mode 0700 when it does not exist, and
// refuses one that others can read or enter: it holds the audit key, TLS
// keys and (by default) the database.
func ensureDataDir(dir string) error {
	if dir == "" {
		return fmt.Errorf("%w: no data directory configured", errUnsafeDataDir)
	}
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("%w: data directory %q must be an absolute path", errUnsafeDataDir, dir)
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create data directory %q: %w", dir, err)
		}
		// MkdirAll honours the umask; make sure of 0700 whatever it was.
		return os.Chmod(dir, 0o700)
	case err != nil:
		return fmt.Errorf("data directory %q: %w", dir, err)
	case !fi.IsDir():
		return fmt.Errorf("%w: data directory %q is not a directory", errUnsafeDataDir, dir)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: data directory %q has mode %04o; it holds secrets and must not be open to group or others (chmod 700 %s)",
			errUnsafeDataDir, dir, perm, dir)
	}
	if err := checkOwner(fi); err != nil {
		return fmt.Errorf("%w: data directory %q: %v", errUnsafeDataDir, dir, err)
	}
	return nil
}
