package tiles

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mapwright/mapwright/internal/tiles/mbtiles"
	"github.com/mapwright/mapwright/internal/tiles/pmtiles"
	"github.com/mapwright/mapwright/internal/tiles/tileset"
)

// DefaultGrace is how long a source retired by a reload stays open for
// callers of Get, which hold no reference. Callers of Acquire keep it open
// for as long as they hold their handle, however long that is.
const DefaultGrace = 30 * time.Second

// openConcurrency bounds how many files a reload opens at once.
const openConcurrency = 4

// validName is the shape of a tileset name: it appears in URLs and in the
// configuration, so it is kept to characters that need no escaping.
var validName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// Kinds of tileset file, by extension.
const (
	KindPMTiles = "pmtiles"
	KindMBTiles = "mbtiles"
)

// Status is the load state of a listed file.
type Status string

// The load states.
const (
	// StatusOK: the tileset opened and is served.
	StatusOK Status = "ok"
	// StatusFailed: the file was refused; Entry.Error says why.
	StatusFailed Status = "failed"
)

// Entry describes one tileset file of the directory, loaded or not.
type Entry struct {
	// Name is the file name without its extension: the name in URLs.
	Name string `json:"name"`
	// Path is the file's path (the catalog directory joined with the file
	// name).
	Path string `json:"path"`
	// Kind is "pmtiles" or "mbtiles".
	Kind string `json:"kind"`
	// Size is the file size in bytes.
	Size int64 `json:"size"`
	// ModTime is the file's modification time.
	ModTime time.Time `json:"mod_time"`
	// Format, MinZoom and MaxZoom repeat the metadata for listings.
	Format  Format `json:"format,omitempty"`
	MinZoom int    `json:"minzoom"`
	MaxZoom int    `json:"maxzoom"`
	// Status is "ok" or "failed".
	Status Status `json:"status"`
	// Error says why a failed file was refused.
	Error string `json:"error,omitempty"`
	// Warnings are oddities of a loaded file that did not stop it.
	Warnings []string `json:"warnings,omitempty"`
	// Metadata is the tileset's description (zero when failed).
	Metadata Metadata `json:"metadata"`
}

// Option adjusts a Catalog.
type Option func(*Catalog)

// WithGrace sets how long retired sources stay open for callers of Get
// (default DefaultGrace). Zero closes them as soon as no handle from Acquire
// holds them.
func WithGrace(d time.Duration) Option {
	return func(c *Catalog) { c.grace = max(d, 0) }
}

// CacheRecorder counts the lookups of the PMTiles readers' caches of
// decoded leaf directories; see [WithDirectoryCacheRecorder].
type CacheRecorder = pmtiles.CacheRecorder

// WithDirectoryCacheRecorder reports every leaf directory lookup of the
// catalog's PMTiles readers to rec, a hit or a miss (see
// pmtiles.WithCacheRecorder); MBTiles files have no such cache. Every
// reader opened by Open and later reloads shares rec. nil records nothing.
func WithDirectoryCacheRecorder(rec CacheRecorder) Option {
	return func(c *Catalog) { c.dirCache = rec }
}

// Catalog is the set of tilesets in one directory. It only ever opens files
// it listed in that directory itself; tileset names coming from requests are
// looked up in its map and never joined into a path.
//
// Lookups are lock-free reads of the current generation. Reload builds a new
// generation and swaps it in atomically; the sources of the old one are
// closed once every handle acquired on them is released (and, for Get, after
// the grace period).
type Catalog struct {
	dir      string
	logger   *slog.Logger
	grace    time.Duration
	dirCache CacheRecorder

	reloadMu sync.Mutex // serialises Reload and Close
	gen      atomic.Pointer[generation]
	closed   atomic.Bool

	retireMu sync.Mutex
	pending  map[*retirement]struct{}
}

type generation struct {
	sources map[string]*source
	entries []Entry
	loaded  int
	failed  int
}

// source is an open tileset shared by the generations that list it and by
// the handles acquired on it. It closes when the last reference goes.
type source struct {
	tileset.Source
	name   string
	info   os.FileInfo
	entry  Entry
	refs   atomic.Int64
	logger *slog.Logger
}

// acquire takes a reference unless the source has already closed.
func (s *source) acquire() bool {
	for {
		n := s.refs.Load()
		if n <= 0 {
			return false
		}
		if s.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (s *source) release() {
	if s.refs.Add(-1) != 0 {
		return
	}
	if err := s.Source.Close(); err != nil {
		s.logger.Warn("close tileset", logKeyTileset, s.name, logKeyError, err)
	}
}

// Open returns the catalog of dir and loads it once. A failure to read the
// directory is logged and leaves the catalog empty; call Reload to retry (it
// returns the error) and whenever the directory changes. logger may be nil.
func Open(dir string, logger *slog.Logger, opts ...Option) *Catalog {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &Catalog{
		dir:     dir,
		logger:  logger,
		grace:   DefaultGrace,
		pending: make(map[*retirement]struct{}),
	}
	for _, opt := range opts {
		opt(c)
	}
	c.gen.Store(&generation{sources: map[string]*source{}})
	if err := c.Reload(context.Background()); err != nil {
		logger.Error("load tilesets", logKeyDir, dir, logKeyError, err)
	}
	return c
}

// Dir returns the directory the catalog lists.
func (c *Catalog) Dir() string { return c.dir }

// Acquire returns a handle on the tileset called name, or false when no
// loaded tileset has that name. The handle keeps the source open across
// reloads until it is released with Close; every successful Acquire must be
// paired with a Close.
func (c *Catalog) Acquire(name string) (*Handle, bool) {
	// A reload may retire the generation between loading it and taking the
	// reference; the source then refuses the reference and the lookup is
	// retried against the generation that replaced it.
	for range 8 {
		if c.closed.Load() {
			return nil, false
		}
		g := c.gen.Load()
		s, ok := g.sources[name]
		if !ok {
			return nil, false
		}
		if s.acquire() {
			return &Handle{src: s}, true
		}
		if c.gen.Load() == g {
			return nil, false
		}
	}
	return nil, false
}

// Get returns the tileset called name without taking a reference. The
// source stays valid for at least the grace period after a reload retires
// it; a request that outlives that gets tileset.ErrClosed from Tile. Closing
// the returned Source does nothing: the catalog owns it. Prefer Acquire where
// the lifetime matters.
func (c *Catalog) Get(name string) (Source, bool) {
	if c.closed.Load() {
		return nil, false
	}
	s, ok := c.gen.Load().sources[name]
	if !ok {
		return nil, false
	}
	return borrowed{s}, true
}

// List describes every tileset file of the directory, loaded or failed,
// sorted by name then path.
func (c *Catalog) List() []Entry {
	g := c.gen.Load()
	out := make([]Entry, len(g.entries))
	copy(out, g.entries)
	return out
}

// Loaded returns the number of tilesets being served.
func (c *Catalog) Loaded() int { return c.gen.Load().loaded }

// Failed returns the number of tileset files that were refused.
func (c *Catalog) Failed() int { return c.gen.Load().failed }

// candidate is a tileset file found in the directory.
type candidate struct {
	name, path, kind string
	info             os.FileInfo
	err              error
}

// Reload lists the directory again and swaps in the new set of tilesets.
// Files that did not change (same file, size and modification time) keep
// their open source; new and changed files are opened; a file that fails is
// listed as failed without stopping the others. It returns an error, leaving
// the current set in place, only when the directory cannot be read, the
// context ends, or the catalog is closed.
func (c *Catalog) Reload(ctx context.Context) error {
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	if c.closed.Load() {
		return ErrClosed
	}
	start := time.Now()
	cands, err := c.scan()
	if err != nil {
		return fmt.Errorf("reload tilesets: %w", err)
	}
	old := c.gen.Load()

	results := make([]*source, len(cands))
	reused := make([]bool, len(cands))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(openConcurrency)
	for i := range cands {
		cand := &cands[i]
		if cand.err != nil {
			continue
		}
		if prev, ok := old.sources[cand.name]; ok && sameFile(prev.info, cand.info) && prev.acquire() {
			results[i], reused[i] = prev, true
			continue
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			s, err := c.openSource(cand)
			if err != nil {
				cand.err = err
				return nil
			}
			results[i] = s
			return nil
		})
	}
	waitErr := g.Wait()
	if err := errors.Join(waitErr, ctx.Err()); err != nil {
		for _, s := range results {
			if s != nil {
				s.release()
			}
		}
		return fmt.Errorf("reload tilesets: %w", err)
	}

	next := &generation{sources: make(map[string]*source)}
	nReused := 0
	for i, cand := range cands {
		e := Entry{Name: cand.name, Path: cand.path, Kind: cand.kind}
		if cand.info != nil {
			e.Size, e.ModTime = cand.info.Size(), cand.info.ModTime()
		}
		if s := results[i]; s != nil {
			e = s.entry
			next.sources[cand.name] = s
			next.loaded++
			if reused[i] {
				nReused++
			}
		} else {
			e.Status, e.Error = StatusFailed, cand.err.Error()
			next.failed++
			c.logger.Warn("tileset refused", logKeyTileset, cand.name, logKeyPath, cand.path, logKeyError, cand.err)
		}
		next.entries = append(next.entries, e)
	}
	c.gen.Store(next)
	c.retire(old, c.grace)
	c.logger.Info("tilesets loaded", logKeyDir, c.dir, logKeyLoaded, next.loaded, logKeyFailed, next.failed,
		logKeyReused, nReused, logKeyDuration, time.Since(start))
	return nil
}

// scan lists the tileset files of the directory. Invalid and duplicate names
// come back with their error set.
func (c *Catalog) scan() ([]candidate, error) {
	des, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, err
	}
	var cands []candidate
	byName := make(map[string][]int)
	for _, de := range des {
		fname := de.Name()
		// Dot files are editors' and downloaders' scratch space.
		if strings.HasPrefix(fname, ".") || de.IsDir() {
			continue
		}
		ext := filepath.Ext(fname)
		var kind string
		switch strings.ToLower(ext) {
		case ".pmtiles":
			kind = KindPMTiles
		case ".mbtiles":
			kind = KindMBTiles
		default:
			continue
		}
		cand := candidate{
			name: strings.TrimSuffix(fname, ext),
			path: filepath.Join(c.dir, fname),
			kind: kind,
		}
		// Stat follows a symbolic link: an operator may link a tileset
		// kept on another volume into the directory.
		info, err := os.Stat(cand.path)
		switch {
		case err != nil:
			cand.err = fmt.Errorf("open tileset %q: %w", cand.name, err)
		case !info.Mode().IsRegular():
			cand.err = fmt.Errorf("open tileset %q: %w", cand.name, ErrNotRegular)
		default:
			cand.info = info
		}
		if !validName.MatchString(cand.name) {
			cand.err = fmt.Errorf("%w %q (from %s): use only letters, digits, '.', '_' and '-'",
				ErrInvalidName, cand.name, fname)
		}
		byName[cand.name] = append(byName[cand.name], len(cands))
		cands = append(cands, cand)
	}
	for name, idx := range byName {
		if len(idx) < 2 {
			continue
		}
		files := make([]string, len(idx))
		for i, j := range idx {
			files[i] = filepath.Base(cands[j].path)
		}
		sort.Strings(files)
		for _, j := range idx {
			cands[j].err = fmt.Errorf("%w %q: files %s all give this name; rename all but one",
				ErrDuplicateName, name, strings.Join(files, ", "))
		}
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].name != cands[j].name {
			return cands[i].name < cands[j].name
		}
		return cands[i].path < cands[j].path
	})
	return cands, nil
}

func (c *Catalog) openSource(cand *candidate) (*source, error) {
	var (
		src tileset.Source
		err error
	)
	switch cand.kind {
	case KindPMTiles:
		src, err = pmtiles.Open(cand.path, pmtiles.WithCacheRecorder(c.dirCache))
	case KindMBTiles:
		src, err = mbtiles.Open(cand.path)
	default:
		err = fmt.Errorf("unknown kind %q", cand.kind)
	}
	if err != nil {
		return nil, fmt.Errorf("open tileset %q: %w", cand.name, err)
	}
	md := src.Metadata()
	s := &source{Source: src, name: cand.name, info: cand.info, logger: c.logger}
	s.refs.Store(1)
	s.entry = Entry{
		Name:     cand.name,
		Path:     cand.path,
		Kind:     cand.kind,
		Size:     cand.info.Size(),
		ModTime:  cand.info.ModTime(),
		Format:   md.Format,
		MinZoom:  md.MinZoom,
		MaxZoom:  md.MaxZoom,
		Status:   StatusOK,
		Metadata: md,
	}
	if w, ok := src.(tileset.Warner); ok {
		s.entry.Warnings = w.Warnings()
		for _, msg := range s.entry.Warnings {
			c.logger.Warn("tileset warning", logKeyTileset, cand.name, logKeyWarning, msg)
		}
	}
	return s, nil
}

// sameFile reports whether a file is unchanged since it was opened.
func sameFile(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// retirement is a generation waiting out the grace period.
type retirement struct {
	gen   *generation
	timer *time.Timer
	once  sync.Once
}

func (r *retirement) release() {
	r.once.Do(func() {
		for _, s := range r.gen.sources {
			s.release()
		}
	})
}

// retire drops the generation's references after grace.
func (c *Catalog) retire(g *generation, grace time.Duration) {
	if len(g.sources) == 0 {
		return
	}
	r := &retirement{gen: g}
	if grace <= 0 {
		r.release()
		return
	}
	c.retireMu.Lock()
	c.pending[r] = struct{}{}
	r.timer = time.AfterFunc(grace, func() {
		c.retireMu.Lock()
		delete(c.pending, r)
		c.retireMu.Unlock()
		r.release()
	})
	c.retireMu.Unlock()
}

// Close stops serving: lookups fail from now on, and every source closes as
// soon as the handles acquired on it are released. Pending retirements are
// cut short. It is safe to call more than once.
func (c *Catalog) Close() error {
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	if c.closed.Swap(true) {
		return nil
	}
	old := c.gen.Swap(&generation{sources: map[string]*source{}})
	c.retireMu.Lock()
	pending := make([]*retirement, 0, len(c.pending))
	for r := range c.pending {
		pending = append(pending, r)
	}
	clear(c.pending)
	c.retireMu.Unlock()
	for _, r := range pending {
		r.timer.Stop()
		r.release()
	}
	c.retire(old, 0)
	return nil
}

// Handle is a tileset held open by Acquire. It implements Source; its Close
// releases the reference (once) rather than closing the shared file.
type Handle struct {
	src      *source
	released atomic.Bool
}

var _ Source = (*Handle)(nil)

// Name returns the tileset name.
func (h *Handle) Name() string { return h.src.name }

// Entry returns the catalog's description of the tileset.
func (h *Handle) Entry() Entry { return h.src.entry }

// Metadata describes the tileset.
func (h *Handle) Metadata() Metadata { return h.src.Metadata() }

// Encoding is the encoding of the bytes Tile returns.
func (h *Handle) Encoding() Encoding { return h.src.Encoding() }

// Tile returns the stored bytes of tile z/x/y, (nil, nil) when absent.
func (h *Handle) Tile(ctx context.Context, z, x, y int) ([]byte, error) {
	if h.released.Load() {
		return nil, ErrClosed
	}
	return h.src.Tile(ctx, z, x, y)
}

// Close releases the handle; the source closes when nothing else holds it.
// Calls after the first do nothing.
func (h *Handle) Close() error {
	if !h.released.Swap(true) {
		h.src.release()
	}
	return nil
}

// borrowed is the Source Get returns: usable while the catalog keeps the
// source open, and not closable by the borrower.
type borrowed struct{ s *source }

func (b borrowed) Metadata() Metadata { return b.s.Metadata() }
func (b borrowed) Encoding() Encoding { return b.s.Encoding() }
func (b borrowed) Tile(ctx context.Context, z, x, y int) ([]byte, error) {
	return b.s.Tile(ctx, z, x, y)
}
func (b borrowed) Close() error { return nil }
