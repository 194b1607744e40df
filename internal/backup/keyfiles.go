package backup

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/sessions"
)

// Key files a backup carries, by their names in the data directory.
const (
	// AuditKeyFile is the audit chain's HMAC key; every backup has it.
	AuditKeyFile = audit.KeyFileName
	// SessionKeyFile seals TOTP secrets and signs session cookies; a
	// backup has it when the data directory had it.
	SessionKeyFile = sessions.KeyFileName
)

// keyFileNames lists the file parts a backup may hold, required first.
var keyFileNames = []string{AuditKeyFile, SessionKeyFile}

// maxKeyFile bounds what is read of a key file: a valid one is 65 bytes.
const maxKeyFile = 1024

// ReadKeyFiles reads the key files of dataDir that a backup carries: the
// audit key (required: without it the backed-up chain could never be
// verified) and the session key when present. Each must hold a key in the
// documented format (64 hexadecimal digits).
func ReadKeyFiles(dataDir string) ([]File, error) {
	var files []File
	for i, name := range keyFileNames {
		data, err := readSmallFile(filepath.Join(dataDir, name))
		if errors.Is(err, fs.ErrNotExist) && i > 0 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s for the backup: %w", name, err)
		}
		if _, err := parseKey(data); err != nil {
			return nil, fmt.Errorf("read %s for the backup: %w", name, err)
		}
		files = append(files, File{Name: name, Data: data})
	}
	return files, nil
}

func readSmallFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s is larger than a key file", path)
	}
	return data, nil
}

// parseKey decodes a key file's content: 64 hexadecimal digits, white
// space around them ignored.
func parseKey(data []byte) ([]byte, error) {
	text := bytes.TrimSpace(data)
	if len(text) != hex.EncodedLen(audit.KeySize) {
		return nil, fmt.Errorf("a key file holds %d hexadecimal digits, this one %d characters", hex.EncodedLen(audit.KeySize), len(text))
	}
	key := make([]byte, audit.KeySize)
	if _, err := hex.Decode(key, text); err != nil {
		return nil, errors.New("a key file holds hexadecimal digits only")
	}
	return key, nil
}

// KeyInstall puts a restored backup's key files into a data directory in
// two steps, so that they land together with the database: Prepare
// checks for conflicts and writes each file under a temporary name,
// Commit (after the database commit) renames them into place, Abort
// removes them.
type KeyInstall struct {
	dir   string
	now   func() time.Time
	steps []keyStep
	// Kept lists key files already present with the same content.
	Kept []string
	// Installed lists the key files Commit put in place.
	Installed []string
	// Replaced maps a key file that Commit replaced to the name its old
	// content was moved to.
	Replaced map[string]string
}

type keyStep struct {
	name, tmp string
	replace   bool
}

// PrepareKeys checks files (name to content, from a backup) against
// dataDir: a file absent there will be installed; one with the same key
// is kept; one with a different key is an error wrapping ErrKeyConflict
// unless force, when it will be replaced, its old content kept beside it
// as NAME.replaced-TIME. Nothing in dataDir changes until Commit.
func PrepareKeys(dataDir string, files map[string][]byte, force bool, now func() time.Time) (*KeyInstall, error) {
	if now == nil {
		now = time.Now
	}
	ki := &KeyInstall{dir: dataDir, now: now, Replaced: map[string]string{}}
	for _, name := range keyFileNames {
		data, ok := files[name]
		if !ok {
			continue
		}
		want, err := parseKey(data)
		if err != nil {
			ki.Abort()
			return nil, fmt.Errorf("%s in the backup: %w: %v", name, ErrCorrupt, err)
		}
		path := filepath.Join(dataDir, name)
		cur, err := readSmallFile(path)
		replace := false
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			ki.Abort()
			return nil, fmt.Errorf("check %s: %w", path, err)
		default:
			have, perr := parseKey(cur)
			if perr == nil && bytes.Equal(have, want) {
				ki.Kept = append(ki.Kept, name)
				continue
			}
			if !force {
				ki.Abort()
				return nil, fmt.Errorf("%w: %s differs from the backup's; with --force it is replaced (the old one kept as %s.replaced-TIME)",
					ErrKeyConflict, path, name)
			}
			replace = true
		}
		tmp, err := writeTemp(dataDir, "."+name+".restore-*", data)
		if err != nil {
			ki.Abort()
			return nil, fmt.Errorf("stage %s: %w", path, err)
		}
		ki.steps = append(ki.steps, keyStep{name: name, tmp: tmp, replace: replace})
	}
	return ki, nil
}

// writeTemp writes data to a new file of mode 0600 in dir and syncs it.
func writeTemp(dir, pattern string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	name := f.Name()
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// Commit moves the staged key files into place.
func (ki *KeyInstall) Commit() error {
	stamp := ki.now().UTC().Format("20060102T150405Z")
	for i, s := range ki.steps {
		path := filepath.Join(ki.dir, s.name)
		if s.replace {
			old := path + ".replaced-" + stamp
			if err := os.Rename(path, old); err != nil {
				ki.abortFrom(i)
				return fmt.Errorf("keep the old %s: %w", s.name, err)
			}
			ki.Replaced[s.name] = filepath.Base(old)
			if err := os.Rename(s.tmp, path); err != nil {
				ki.abortFrom(i)
				return fmt.Errorf("install %s: %w", s.name, err)
			}
		} else if err := os.Link(s.tmp, path); err != nil {
			// A link, unlike a rename, never replaces a file that
			// appeared since Prepare.
			ki.abortFrom(i)
			return fmt.Errorf("install %s: %w", s.name, err)
		} else {
			os.Remove(s.tmp)
		}
		ki.Installed = append(ki.Installed, s.name)
	}
	ki.steps = nil
	return syncDir(ki.dir)
}

func (ki *KeyInstall) abortFrom(i int) {
	for _, s := range ki.steps[i:] {
		os.Remove(s.tmp)
	}
	ki.steps = nil
}

// Abort removes the staged files; the data directory is as it was.
func (ki *KeyInstall) Abort() {
	if ki == nil {
		return
	}
	ki.abortFrom(0)
}
