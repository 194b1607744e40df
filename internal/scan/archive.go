package scan

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// archiveKind is the format of an archive, told by its name.
type archiveKind int

const (
	notArchive archiveKind = iota
	kindZip
	kindTar
	kindTarGz
	kindGz
)

// archiveKindOf tells an archive by its name's ending: .zip (and the zip
// formats .jar, .war, .whl), .tar, .tar.gz, .tgz and .gz.
func archiveKindOf(name string) archiveKind {
	n := strings.ToLower(name)
	switch {
	case strings.HasSuffix(n, ".tar.gz"), strings.HasSuffix(n, ".tgz"):
		return kindTarGz
	case strings.HasSuffix(n, ".tar"):
		return kindTar
	case strings.HasSuffix(n, ".gz"):
		return kindGz
	case strings.HasSuffix(n, ".zip"), strings.HasSuffix(n, ".jar"),
		strings.HasSuffix(n, ".war"), strings.HasSuffix(n, ".whl"):
		return kindZip
	}
	return notArchive
}

// spoolMem is the largest nested zip archive held in memory for random
// access; a larger one goes to an unlinked temporary file.
const spoolMem = 8 << 20

// budget bounds the bytes that one top-level archive expands to, nested
// archives included.
type budget struct {
	// limit is Options.MaxArchiveBytes plus the archive's own size, so an
	// archive that does not compress is always read to its end.
	limit int64
	// ratioLimit is Options.MaxArchiveRatio times the archive's size.
	ratioLimit int64
	used       int64
}

func newBudget(opts Options, size int64) *budget {
	return &budget{limit: opts.MaxArchiveBytes + size, ratioLimit: opts.MaxArchiveRatio * max(size, 1)}
}

// budgetReader counts the bytes a decompressor produces against a budget.
type budgetReader struct {
	r io.Reader
	b *budget
}

func (br *budgetReader) Read(p []byte) (int, error) {
	n, err := br.r.Read(p)
	br.b.used += int64(n)
	switch {
	case br.b.used > br.b.limit:
		return n, errArchiveLimit
	case br.b.used > ratioFloor && br.b.used > br.b.ratioLimit:
		return n, errArchiveRatio
	}
	return n, err
}

// scanTopArchive opens an archive file found by the walk. Expansion past the
// limits stops the archive with a warning.
func (w *worker) scanTopArchive(ctx context.Context, f *os.File, size int64, src *source) error {
	return w.archiveMember(ctx, f, f, size, src, 0, newBudget(w.opts, size))
}

// member scans one member of an archive (or a git blob): an archive within
// the depth limit is opened, anything else scanned as bytes. depth is the
// number of archives around r. A member that cannot be read becomes a
// warning; a cancelled context and exhausted budgets are returned.
func (w *worker) member(ctx context.Context, r io.Reader, size int64, src *source, depth int, b *budget) error {
	if depth >= w.opts.MaxArchiveDepth || archiveKindOf(src.path) == notArchive {
		err := w.scanStream(ctx, r, src)
		if err == nil || ctx.Err() != nil || isBudget(err) {
			return err
		}
		w.c.warn("%s: read: %v", src.path, err)
		return nil
	}
	return w.archiveMember(ctx, r, nil, size, src, depth, b)
}

// archiveMember opens the archive r (ra gives random access when the caller
// has it) at depth and scans its members. On a budget error it warns and
// returns nil at the top level, where depth is 0.
func (w *worker) archiveMember(ctx context.Context, r io.Reader, ra io.ReaderAt, size int64, src *source, depth int, b *budget) error {
	err := w.openArchive(ctx, r, ra, size, src, depth, b)
	if depth == 0 && isBudget(err) {
		w.c.warn("%s: %v (more than %d bytes expanded); the rest of the archive was not scanned", src.path, err, b.used)
		return nil
	}
	return err
}

func isBudget(err error) bool {
	return errors.Is(err, errArchiveLimit) || errors.Is(err, errArchiveRatio)
}

// openArchive scans the members of the archive r. A file whose content does
// not match its name's format is scanned as bytes.
func (w *worker) openArchive(ctx context.Context, r io.Reader, ra io.ReaderAt, size int64, src *source, depth int, b *budget) error {
	kind := archiveKindOf(src.path)
	if kind == kindZip {
		return w.openZip(ctx, r, ra, size, src, depth, b)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(512)
	var inner io.Reader = br
	if kind == kindGz || kind == kindTarGz {
		if len(head) < 2 || head[0] != 0x1f || head[1] != 0x8b {
			return w.member(ctx, br, size, src, w.opts.MaxArchiveDepth, b)
		}
		gz, err := gzip.NewReader(br)
		if err != nil {
			return w.member(ctx, br, size, src, w.opts.MaxArchiveDepth, b)
		}
		defer gz.Close()
		w.c.archives.Add(1)
		inner = &budgetReader{r: gz, b: b}
		if kind == kindGz {
			name := strings.TrimSuffix(path.Base(src.path), path.Ext(src.path))
			return w.member(ctx, inner, -1, w.child(src, name), depth+1, b)
		}
	} else {
		if len(head) < 262 || string(head[257:262]) != "ustar" {
			return w.member(ctx, br, size, src, w.opts.MaxArchiveDepth, b)
		}
		w.c.archives.Add(1)
	}
	tr := tar.NewReader(inner)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if isBudget(err) {
				return err
			}
			w.c.warn("%s: corrupt tar archive: %v", src.path, err)
			return nil
		}
		if !hdr.FileInfo().Mode().IsRegular() {
			continue
		}
		if err := w.member(ctx, tr, hdr.Size, w.child(src, hdr.Name), depth+1, b); err != nil {
			return err
		}
	}
}

// openZip scans the members of a zip archive. Without random access the
// archive is first spooled to memory or, past spoolMem, to a temporary file.
func (w *worker) openZip(ctx context.Context, r io.Reader, ra io.ReaderAt, size int64, src *source, depth int, b *budget) error {
	if ra == nil {
		sp, n, done, err := w.spool(r, depth)
		if err != nil {
			if isBudget(err) || ctx.Err() != nil {
				return err
			}
			w.c.warn("%s: read: %v", src.path, err)
			return nil
		}
		defer done()
		ra, size = sp, n
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		// Not a zip after all: scan its bytes.
		return w.member(ctx, io.NewSectionReader(ra, 0, size), size, src, w.opts.MaxArchiveDepth, b)
	}
	w.c.archives.Add(1)
	for _, zf := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !zf.Mode().IsRegular() {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			w.c.warn("%s!%s: %v", src.path, zf.Name, err)
			continue
		}
		err = w.member(ctx, &budgetReader{r: rc, b: b}, int64(zf.UncompressedSize64), w.child(src, zf.Name), depth+1, b)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// child is the source of an archive member.
func (w *worker) child(parent *source, name string) *source {
	c := *parent
	c.path = parent.path + "!" + strings.TrimPrefix(name, "./")
	return &c
}

// spool reads r for random access: into the worker's buffer for this depth
// when it fits in spoolMem, else into an unlinked temporary file. done
// releases the file.
func (w *worker) spool(r io.Reader, depth int) (io.ReaderAt, int64, func(), error) {
	for len(w.spools) <= depth {
		w.spools = append(w.spools, nil)
	}
	if w.spools[depth] == nil {
		w.spools[depth] = make([]byte, spoolMem)
	}
	buf := w.spools[depth]
	n, err := io.ReadFull(r, buf)
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return bytes.NewReader(buf[:n]), int64(n), func() {}, nil
	case err != nil:
		return nil, 0, nil, err
	}
	tmp, err := os.CreateTemp("", "mwctl-scan-*")
	if err != nil {
		return nil, 0, nil, fmt.Errorf("spool archive: %w", err)
	}
	// Unlinked at once: the file lives as long as it is open and is never
	// left behind.
	os.Remove(tmp.Name())
	done := func() { tmp.Close() }
	if _, err := tmp.Write(buf[:n]); err != nil {
		done()
		return nil, 0, nil, fmt.Errorf("spool archive: %w", err)
	}
	m, err := io.Copy(tmp, r)
	if err != nil {
		done()
		return nil, 0, nil, err
	}
	return tmp, int64(n) + m, done, nil
}
