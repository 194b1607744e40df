package backup

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// FileExt is the extension of backup files.
const FileExt = ".mwbak"

// fileTimeLayout is the time in backup file names: UTC, to the second.
const fileTimeLayout = "20060102T150405Z"

// FileName is the name of a backup taken at t in a backup directory:
// mapwright-YYYYMMDDTHHMMSSZ.mwbak.
func FileName(t time.Time) string {
	return "mapwright-" + t.UTC().Format(fileTimeLayout) + FileExt
}

// ParseFileName returns the time in a name made by FileName; false for
// any other name.
func ParseFileName(name string) (time.Time, bool) {
	const prefix = "mapwright-"
	if len(name) != len(prefix)+len(fileTimeLayout)+len(FileExt) ||
		name[:len(prefix)] != prefix || name[len(name)-len(FileExt):] != FileExt {
		return time.Time{}, false
	}
	t, err := time.Parse(fileTimeLayout, name[len(prefix):len(name)-len(FileExt)])
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// FileInfo describes a backup file written by WriteFile.
type FileInfo struct {
	// Path of the file.
	Path string `json:"path"`
	// Size in bytes.
	Size int64 `json:"size"`
	// Protection as Protection.String describes it.
	Protection string `json:"protection"`
	// Manifest of the backup inside.
	Manifest *Manifest `json:"manifest"`
}

// WriteFile writes a backup file at path: produce writes the plaintext
// stream to the writer it is given, which encrypts it as enc says into a
// temporary file that becomes path only once produce has succeeded and
// everything is on disk (see AtomicFile). With noClobber an existing path
// is an error; otherwise it is replaced. On failure nothing is left
// behind.
func WriteFile(path string, noClobber bool, enc Encryption, produce func(w io.Writer) (*Manifest, error)) (*FileInfo, error) {
	if err := enc.Check(); err != nil {
		return nil, err
	}
	af, err := CreateAtomic(path, noClobber)
	if err != nil {
		return nil, fmt.Errorf("write backup: %w", err)
	}
	cw := &countingWriter{w: af}
	ew, err := enc.Wrap(cw)
	if err != nil {
		af.Abort()
		return nil, fmt.Errorf("write backup %s: %w", path, err)
	}
	var m *Manifest
	if enc.Compress {
		m, err = produceBeside(ew, produce)
	} else {
		m, err = produce(ew)
	}
	if err == nil {
		err = ew.Close()
	}
	if err != nil {
		af.Abort()
		return nil, fmt.Errorf("write backup %s: %w", path, err)
	}
	if err := af.Commit(); err != nil {
		return nil, fmt.Errorf("write backup %s: %w", path, err)
	}
	prot := Protection{Encrypted: !enc.None, Compressed: enc.Compress}
	switch {
	case enc.Passphrase != "":
		prot.Stanzas = []string{"scrypt"}
	case len(enc.Recipients) > 0:
		for range enc.Recipients {
			prot.Stanzas = append(prot.Stanzas, "X25519")
		}
	}
	return &FileInfo{Path: path, Size: cw.n, Protection: prot.String(), Manifest: m}, nil
}

// produceBeside runs produce while another goroutine compresses and
// encrypts what it writes into w, so that the snapshot and the compression
// each have a core.
func produceBeside(w io.Writer, produce func(io.Writer) (*Manifest, error)) (*Manifest, error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(w, pr)
		// A failed write ends the producer's writes with the same error.
		pr.CloseWithError(err)
		done <- err
	}()
	m, err := produce(pw)
	pw.CloseWithError(err)
	if cerr := <-done; err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Copy copies a plaintext backup stream from src to dst unchanged while
// checking it as Reader does (format version, every part's size, lines
// and SHA-256, the manifest, nothing after it), so that a stream cut short
// or altered in transit fails instead of producing a file that looks
// complete. It returns the manifest.
func Copy(dst io.Writer, src io.Reader) (*Manifest, error) {
	tee := &teeReader{r: src, w: dst}
	br, err := NewReader(tee)
	if err != nil {
		return nil, tee.blame(err)
	}
	for {
		pr, err := br.Next()
		if errors.Is(err, io.EOF) {
			return br.Manifest(), nil
		}
		if err != nil {
			return nil, tee.blame(err)
		}
		if _, err := io.Copy(io.Discard, pr); err != nil {
			return nil, tee.blame(err)
		}
	}
}

// teeReader writes what it reads to w, remembering a write error so that
// it is reported as such rather than as a read failure.
type teeReader struct {
	r    io.Reader
	w    io.Writer
	werr error
}

func (t *teeReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		if _, werr := t.w.Write(p[:n]); werr != nil {
			t.werr = werr
			return n, werr
		}
	}
	return n, err
}

func (t *teeReader) blame(err error) error {
	if t.werr != nil {
		return fmt.Errorf("write: %w", t.werr)
	}
	return err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// OpenFile opens a backup file for reading: see Open. The caller closes
// the returned file.
func OpenFile(path string, keys Keys) (io.Reader, Protection, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Protection{}, nil, fmt.Errorf("open backup: %w", err)
	}
	r, prot, err := Open(f, keys)
	if err != nil {
		f.Close()
		return nil, prot, nil, fmt.Errorf("open backup %s: %w", filepath.Base(path), err)
	}
	return r, prot, f, nil
}
