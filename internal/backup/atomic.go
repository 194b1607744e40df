package backup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// TempPrefix starts the names of files being written in a backup
// directory; they are hidden, and list and prune ignore them.
const TempPrefix = ".mapwright-"

// AtomicFile is a file that appears under its final name only complete:
// it is written to a temporary file in the same directory, synced, and
// renamed (or linked) into place, and the directory is synced. A crash or
// kill at any point leaves either the previous state or the whole new
// file under the final name, never a part of it.
type AtomicFile struct {
	f         *os.File
	path      string
	noClobber bool
	done      bool
}

// CreateAtomic starts writing path with mode 0600. With noClobber, Commit
// fails when path exists by then; otherwise it replaces it.
func CreateAtomic(path string, noClobber bool) (*AtomicFile, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" || strings.HasSuffix(path, string(filepath.Separator)) {
		return nil, fmt.Errorf("create %q: not a file name", path)
	}
	if noClobber {
		if _, err := os.Lstat(path); err == nil {
			return nil, fmt.Errorf("create %s: %w", path, fs.ErrExist)
		}
	}
	f, err := os.CreateTemp(dir, TempPrefix+base+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	// CreateTemp uses 0600 already; Chmod makes that independent of it.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return &AtomicFile{f: f, path: path, noClobber: noClobber}, nil
}

// Write writes to the temporary file.
func (a *AtomicFile) Write(p []byte) (int, error) { return a.f.Write(p) }

// TempName returns the temporary file's path.
func (a *AtomicFile) TempName() string { return a.f.Name() }

// Commit syncs the file, moves it to its final name and syncs the
// directory, so that the new name survives a power loss.
func (a *AtomicFile) Commit() error {
	if a.done {
		return fmt.Errorf("commit %s: already finished", a.path)
	}
	a.done = true
	tmp := a.f.Name()
	if err := a.f.Sync(); err != nil {
		a.f.Close()
		os.Remove(tmp)
		return fmt.Errorf("sync %s: %w", a.path, err)
	}
	if err := a.f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("close %s: %w", a.path, err)
	}
	if a.noClobber {
		// A hard link fails when the target exists, which a rename would
		// silently replace.
		err := os.Link(tmp, a.path)
		os.Remove(tmp)
		if err != nil {
			return fmt.Errorf("move into place: %w", err)
		}
	} else if err := os.Rename(tmp, a.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("move into place: %w", err)
	}
	if err := syncDir(filepath.Dir(a.path)); err != nil {
		return fmt.Errorf("sync directory of %s: %w", a.path, err)
	}
	return nil
}

// Abort removes the temporary file; the final name is untouched. It does
// nothing after Commit.
func (a *AtomicFile) Abort() {
	if a.done {
		return
	}
	a.done = true
	a.f.Close()
	os.Remove(a.f.Name())
}

// syncDir makes a directory's entries durable. Some systems cannot sync a
// directory; that is not an error there.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}
