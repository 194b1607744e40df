package scan

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// maxWarnings bounds the warnings kept; later ones are only counted.
const maxWarnings = 1000

// stdinPath is the path of standard input in locations.
const stdinPath = "stdin"

// Scan searches the paths, the git history or the index named by opts for
// Mapwright API keys and returns what it found, offline: statuses are
// StatusUnchecked until Result.Lookup. Problems with single files become
// warnings; an error means the scan as a whole failed (a path that does not
// exist, git failing, ctx cancelled).
func Scan(ctx context.Context, opts Options) (*Result, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	c := newCollector(opts)
	switch {
	case opts.Git:
		err = scanHistory(ctx, opts, c)
	case opts.Staged:
		err = scanStaged(ctx, opts, c)
	default:
		err = scanPaths(ctx, opts, c)
	}
	if err != nil {
		return nil, err
	}
	res := c.result()
	res.Stats.DurationSeconds = time.Since(start).Seconds()
	res.Stats.PeakRSSBytes = peakRSS()
	opts.Logger.Debug("scan done", slog.Int64("files", res.Stats.Files), slog.Int64("bytes", res.Stats.Bytes),
		slog.Int("keys", len(res.Keys)), slog.Float64("seconds", res.Stats.DurationSeconds))
	return res, nil
}

// collector gathers the findings of every worker.
type collector struct {
	opts Options

	mu         sync.Mutex
	keys       map[[32]byte]*Key
	suppressed int64
	warnings   []string
	dropped    int

	invalid, files, bytes, archives, skipped atomic.Int64
}

func newCollector(opts Options) *collector {
	return &collector{opts: opts, keys: map[[32]byte]*Key{}}
}

// add records one occurrence of a token.
func (c *collector) add(src *source, h hit, inline bool) {
	hashHex := hex.EncodeToString(h.hash[:])
	loc := Location{
		Path:        src.path,
		Commit:      src.commit,
		AuthorDate:  src.date,
		Staged:      src.staged,
		Line:        h.line,
		Column:      h.col,
		Offset:      h.off,
		Fingerprint: Fingerprint(hashHex, src.path),
		seq:         src.seq,
	}
	switch {
	case inline:
		loc.Suppressed = SuppressedInline
	case c.opts.Baseline.Has(loc.Fingerprint):
		loc.Suppressed = SuppressedBaseline
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.keys[h.hash]
	if k == nil {
		k = &Key{Hash: hashHex, Redacted: h.redacted, Kind: h.kind, Valid: h.valid, Status: StatusUnchecked}
		if !h.valid {
			k.Status = StatusInvalid
		}
		c.keys[h.hash] = k
	}
	if h.valid && loc.Suppressed != NotSuppressed {
		c.suppressed++
	}
	if len(k.Locations) < c.opts.MaxLocations {
		k.Locations = append(k.Locations, loc)
	} else {
		k.OmittedLocations++
	}
}

// warn records a problem that does not stop the scan.
func (c *collector) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	c.opts.Logger.Debug("scan warning", slog.String("warning", msg))
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.warnings) < maxWarnings {
		c.warnings = append(c.warnings, msg)
	} else {
		c.dropped++
	}
}

// result returns the findings, sorted.
func (c *collector) result() *Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &Result{
		Keys:            make([]*Key, 0, len(c.keys)),
		InvalidCount:    c.invalid.Load(),
		SuppressedCount: c.suppressed,
		Warnings:        append([]string{}, c.warnings...),
		Stats: Stats{
			Files:    c.files.Load(),
			Bytes:    c.bytes.Load(),
			Archives: c.archives.Load(),
			Skipped:  c.skipped.Load(),
		},
	}
	if c.dropped > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%d more warnings not shown", c.dropped))
	}
	for _, k := range c.keys {
		if !k.Valid {
			// Reported look-alikes are counted too, so InvalidCount
			// means the same with and without IncludeInvalid.
			r.InvalidCount += int64(len(k.Locations)) + k.OmittedLocations
		}
		r.Keys = append(r.Keys, k)
	}
	sortResult(r)
	return r
}

// worker scans one stream at a time with its own buffers.
type worker struct {
	opts Options
	c    *collector
	s    *streamer
	// spools hold archives read from a stream that need random access,
	// one per archive depth, reused from archive to archive.
	spools [][]byte
}

func newWorker(opts Options, c *collector) *worker {
	return &worker{opts: opts, c: c, s: newStreamer(opts.ChunkSize, opts.IncludeInvalid, c.add)}
}

// scanStream scans r as one file and counts it.
func (w *worker) scanStream(ctx context.Context, r io.Reader, src *source) error {
	n, invalid, err := w.s.scan(ctx, r, src)
	w.c.files.Add(1)
	w.c.bytes.Add(n)
	w.c.invalid.Add(invalid)
	return err
}

// fileJob is a file found by the walk, or standard input.
type fileJob struct {
	path  string
	stdin bool
}

// scanPaths walks opts.Paths and scans the files with opts.Workers workers.
func scanPaths(ctx context.Context, opts Options, c *collector) error {
	jobs := make(chan fileJob, 256)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(jobs)
		wk := &walker{opts: opts, c: c, jobs: jobs, visited: map[string]bool{}}
		return wk.walkPaths(gctx)
	})
	for range opts.Workers {
		w := newWorker(opts, c)
		g.Go(func() error {
			for j := range jobs {
				if err := w.scanFile(gctx, j); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// scanFile scans one file (or standard input). Only a cancelled context is
// an error; a file that cannot be read becomes a warning.
func (w *worker) scanFile(ctx context.Context, j fileJob) error {
	if j.stdin {
		in := w.opts.Stdin
		if in == nil {
			in = os.Stdin
		}
		err := w.scanStream(ctx, in, &source{path: stdinPath})
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("read standard input: %w", err)
		}
		return err
	}
	display := displayPath(j.path)
	f, err := os.Open(j.path)
	if err != nil {
		w.c.skipped.Add(1)
		w.c.warn("%s: %v", display, unwrapPath(err))
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		w.c.skipped.Add(1)
		return nil
	}
	src := &source{path: display}
	if w.opts.MaxArchiveDepth > 0 && archiveKindOf(display) != notArchive {
		return w.scanTopArchive(ctx, f, fi.Size(), src)
	}
	if err := w.scanStream(ctx, f, src); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.c.warn("%s: read: %v", display, unwrapPath(err))
	}
	return nil
}

// displayPath is a file path as shown in locations: cleaned, slash
// separated.
func displayPath(p string) string {
	return filepath.ToSlash(filepath.Clean(p))
}

// unwrapPath drops the path of an *fs.PathError, which the caller already
// shows.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// walker sends the files under the scanned paths to the workers.
type walker struct {
	opts  Options
	c     *collector
	jobs  chan<- fileJob
	stdin bool
	// visited holds the real paths of directories entered through a
	// followed symbolic link or named on the command line, to stop loops.
	visited map[string]bool
}

func (wk *walker) send(ctx context.Context, j fileJob) error {
	select {
	case wk.jobs <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (wk *walker) walkPaths(ctx context.Context) error {
	for _, p := range wk.opts.Paths {
		if p == "-" {
			if wk.stdin {
				return fmt.Errorf("standard input named twice: %w", ErrOptions)
			}
			wk.stdin = true
			if err := wk.send(ctx, fileJob{stdin: true}); err != nil {
				return err
			}
			continue
		}
		// A path named explicitly is followed even when it is a link.
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("scan %q: %w", p, unwrapPath(err))
		}
		switch {
		case fi.IsDir():
			if real, err := filepath.EvalSymlinks(p); err == nil {
				wk.visited[real] = true
			}
			if err := wk.walkDir(ctx, p); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if err := wk.send(ctx, fileJob{path: p}); err != nil {
				return err
			}
		default:
			wk.c.skipped.Add(1)
			wk.c.warn("%s: not a regular file or directory; skipped", displayPath(p))
		}
	}
	return nil
}

// walkDir sends every regular file under root. Directories named .git are
// skipped, except root itself.
func (wk *walker) walkDir(ctx context.Context, root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			wk.c.skipped.Add(1)
			wk.c.warn("%s: %v", displayPath(path), unwrapPath(err))
			return nil
		}
		t := d.Type()
		switch {
		case d.IsDir():
			if d.Name() == ".git" && path != root {
				return filepath.SkipDir
			}
			return nil
		case t.IsRegular():
			return wk.send(ctx, fileJob{path: path})
		case t&fs.ModeSymlink != 0:
			return wk.followLink(ctx, path)
		default:
			// Devices, pipes and sockets have no content to scan, and a
			// pipe could block a worker forever.
			wk.c.skipped.Add(1)
			return nil
		}
	})
}

// followLink handles a symbolic link met while walking.
func (wk *walker) followLink(ctx context.Context, path string) error {
	if !wk.opts.FollowSymlinks {
		wk.c.skipped.Add(1)
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		wk.c.skipped.Add(1)
		wk.c.warn("%s: broken symbolic link: %v", displayPath(path), unwrapPath(err))
		return nil
	}
	switch {
	case fi.Mode().IsRegular():
		return wk.send(ctx, fileJob{path: path})
	case fi.IsDir():
		real, err := filepath.EvalSymlinks(path)
		if err != nil || wk.visited[real] {
			// A loop back to a directory being walked.
			return nil
		}
		wk.visited[real] = true
		return wk.walkDir(ctx, path)
	}
	wk.c.skipped.Add(1)
	return nil
}
