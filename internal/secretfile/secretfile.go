// Package secretfile reads and creates the small key files of a data
// directory (audit.key, session.key, checkpoint.key): 32 random bytes as
// 64 hexadecimal digits and a newline, mode 0600.
//
// A new file is written to a temporary name, synced, and hard-linked into
// place, so a crash never leaves a partial key and an existing file is
// never replaced, even by a concurrent process.
package secretfile

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Size is the length of a key in bytes.
const Size = 32

// maxFileSize bounds what is read from a key file: the valid content is 65
// bytes.
const maxFileSize = 1024

// Kind names one kind of key file in errors and says which sentinel errors
// its faults wrap, so each caller keeps its own errors.
type Kind struct {
	// Label names the file in messages: "audit key".
	Label string
	// Invalid is wrapped when the file is not a key (not a regular file,
	// too large, not 64 hexadecimal digits).
	Invalid error
	// Permissions is wrapped when group or others may access the file.
	Permissions error
}

// Read returns the key in path. A missing file is an error matching
// fs.ErrNotExist.
func (k Kind) Read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", k.Label, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s %s: %w", k.Label, path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %s is not a regular file: %w", k.Label, path, k.Invalid)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s %s has mode %04o; run: chmod 0600 %s: %w",
			k.Label, path, info.Mode().Perm(), path, k.Permissions)
	}
	raw, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", k.Label, path, err)
	}
	if len(raw) > maxFileSize {
		return nil, fmt.Errorf("%s %s is larger than a key file: %w", k.Label, path, k.Invalid)
	}
	text := bytes.TrimSpace(raw)
	if len(text) != hex.EncodedLen(Size) {
		return nil, fmt.Errorf("%s %s holds %d characters, want %d hexadecimal digits: %w",
			k.Label, path, len(text), hex.EncodedLen(Size), k.Invalid)
	}
	key := make([]byte, Size)
	if _, err := hex.Decode(key, text); err != nil {
		return nil, fmt.Errorf("%s %s is not hexadecimal: %w", k.Label, path, k.Invalid)
	}
	return key, nil
}

// Create writes a new random key to path, which should not exist, and
// returns it. When another process created path meanwhile, its key is read
// and returned instead.
func (k Kind) Create(dataDir, path string) ([]byte, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory for %s: %w", k.Label, err)
	}
	key := make([]byte, Size)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generate %s: %w", k.Label, err)
	}
	tmp, err := os.CreateTemp(dataDir, "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", k.Label, err)
	}
	tmpName := tmp.Name()
	// The temporary name is removed in every case: after a successful link
	// the key lives on under its final name.
	defer os.Remove(tmpName)
	if err := write(tmp, key); err != nil {
		return nil, fmt.Errorf("write %s %s: %w", k.Label, path, err)
	}
	// A hard link fails when the target exists, unlike a rename, so a key
	// written concurrently by another process is never replaced.
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return k.Read(path)
		}
		return nil, fmt.Errorf("install %s %s: %w", k.Label, path, err)
	}
	syncDir(dataDir)
	return key, nil
}

// ReadOrCreate reads path, creating a new key there when it is missing.
func (k Kind) ReadOrCreate(dataDir, path string) ([]byte, error) {
	key, err := k.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return k.Create(dataDir, path)
	}
	return key, err
}

func write(f *os.File, key []byte) error {
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
