// Package pmtiles reads and writes PMTiles version 3 archives: a header, a
// root directory, JSON metadata, optional leaf directories and the tile data,
// in one file addressed by offsets.
//
// The Reader never loads the whole file: it reads the header, the root
// directory and the metadata at open, then fetches leaf directories (kept in
// a bounded LRU cache) and tiles with ReadAt. The Writer builds a clustered,
// deduplicated, run-length encoded archive in memory.
package pmtiles

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync/atomic"

	"golang.org/x/sync/singleflight"

	"github.com/mapwright/mapwright/internal/tiles/tileset"
)

// maxDirectoryDepth bounds how many directories a lookup descends through
// (the root and its leaves). Writers use one level of leaves, rarely two; the
// bound stops a crafted archive whose leaves point at themselves.
const maxDirectoryDepth = 4

// Option adjusts a Reader.
type Option func(*options)

type options struct {
	leafCacheBytes int
	cacheRecorder  CacheRecorder
}

// WithLeafCacheBytes sets the memory budget of the decoded leaf directory
// cache (default DefaultLeafCacheBytes). A budget of 0 disables the cache.
func WithLeafCacheBytes(n int) Option {
	return func(o *options) { o.leafCacheBytes = max(n, 0) }
}

// CacheRecorder counts the lookups of a Reader's leaf directory cache (see
// [WithCacheRecorder]).
type CacheRecorder interface {
	// Hit records a leaf directory found decoded in the cache.
	Hit()
	// Miss records a leaf directory that had to be read from the archive
	// and decoded.
	Miss()
}

// WithCacheRecorder reports every leaf directory lookup of tile reads to
// rec: a hit when the decoded directory was cached, a miss when it had to
// be read (also while the cache is disabled). The root directory is always
// in memory and is not a lookup; [Reader.Walk] bypasses the cache and is not
// counted. rec is called on the tile path, so it must be cheap; nil records
// nothing.
func WithCacheRecorder(rec CacheRecorder) Option {
	return func(o *options) { o.cacheRecorder = rec }
}

// Reader is an open PMTiles archive. It implements tileset.Source and is
// safe for concurrent use.
type Reader struct {
	ra       io.ReaderAt
	closer   io.Closer
	size     int64
	header   Header
	root     []Entry
	meta     tileset.Metadata
	enc      tileset.Encoding
	warnings []string
	leaves   *leafCache
	rec      CacheRecorder
	loads    singleflight.Group
	closed   atomic.Bool
}

var _ tileset.Source = (*Reader)(nil)

// Open opens the archive at path and reads its header, root directory and
// metadata. It fails with a descriptive error (wrapping one of this
// package's sentinels) when the file is empty, not a PMTiles archive, of
// another version, inconsistent, or uses a tile compression other than none
// or gzip.
func Open(path string, opts ...Option) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open PMTiles archive: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("open PMTiles archive: %w", err)
	}
	if !st.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("open PMTiles archive: not a regular file")
	}
	r, err := NewReader(f, st.Size(), opts...)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewReader reads an archive of size bytes from ra, with the same checks as
// Open. The caller keeps ownership of ra: Close does not close it.
func NewReader(ra io.ReaderAt, size int64, opts ...Option) (*Reader, error) {
	o := options{leafCacheBytes: DefaultLeafCacheBytes}
	for _, opt := range opts {
		opt(&o)
	}
	r := &Reader{ra: ra, size: size, leaves: newLeafCache(o.leafCacheBytes), rec: o.cacheRecorder}
	if size == 0 {
		return nil, ErrEmptyFile
	}
	hb, err := r.readAt(0, uint64(min(size, HeaderLen)))
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	h, err := DecodeHeader(hb)
	if err != nil {
		return nil, err
	}
	if err := h.Validate(size); err != nil {
		return nil, err
	}
	r.header = h

	root, err := r.readDirectory(h.RootOffset, h.RootLength, "root directory")
	if err != nil {
		return nil, err
	}
	r.root = root

	fields, decoded, err := r.readMetadata()
	if err != nil {
		return nil, err
	}
	md, warnings := buildMetadata(h, fields, decoded)

	switch h.TileCompression {
	case CompressionGzip:
		r.enc = tileset.EncodingGzip
	case CompressionNone:
		r.enc = tileset.EncodingIdentity
	}
	// An unknown tile compression or tile type is settled by looking at the
	// first tile, as its bytes are what clients will receive.
	if h.TileCompression == CompressionUnknown || md.Format == "" {
		sample, err := r.firstTile(context.Background())
		if err != nil {
			return nil, fmt.Errorf("read a sample tile: %w", err)
		}
		if h.TileCompression == CompressionUnknown && tileset.IsGzip(sample) {
			r.enc = tileset.EncodingGzip
		}
		if md.Format == "" {
			f, _, ok := tileset.Sniff(sample)
			if !ok {
				return nil, fmt.Errorf("%w: tile type unknown and the first tile is not recognisable", tileset.ErrUnknownFormat)
			}
			md.Format = f
			warnings = append(warnings, fmt.Sprintf("tile type unknown; recognised %s tiles from their bytes", f))
		}
	}
	r.meta = md
	r.warnings = warnings
	return r, nil
}

// Header returns the decoded header.
func (r *Reader) Header() Header { return r.header }

// Metadata describes the archive. It implements tileset.Source.
func (r *Reader) Metadata() tileset.Metadata { return r.meta }

// Encoding is gzip when the header's tile compression is gzip, identity when
// it is none. An unknown tile compression is resolved at open from the first
// tile's bytes.
func (r *Reader) Encoding() tileset.Encoding { return r.enc }

// Warnings lists oddities noticed at open that did not stop it.
func (r *Reader) Warnings() []string { return r.warnings }

// Close closes the file of a Reader made by Open. Later calls of Tile fail
// with tileset.ErrClosed.
func (r *Reader) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	if r.closer != nil {
		if err := r.closer.Close(); err != nil {
			return fmt.Errorf("close PMTiles archive: %w", err)
		}
	}
	return nil
}

// Tile returns the stored bytes of tile z/x/y, or (nil, nil) when the archive
// has no such tile. It implements tileset.Source.
func (r *Reader) Tile(ctx context.Context, z, x, y int) ([]byte, error) {
	if !tileset.ValidTile(z, x, y) {
		return nil, nil
	}
	id, err := ZxyToID(uint8(z), uint32(x), uint32(y))
	if err != nil {
		return nil, nil
	}
	e, ok, err := r.lookup(ctx, id)
	if err != nil || !ok {
		return nil, err
	}
	data, err := r.readTile(e)
	if err != nil {
		return nil, fmt.Errorf("tile %d/%d/%d: %w", z, x, y, err)
	}
	return data, nil
}

// lookup descends from the root to the tile entry covering id.
func (r *Reader) lookup(ctx context.Context, id uint64) (Entry, bool, error) {
	dir := r.root
	for range maxDirectoryDepth {
		e, ok := findEntry(dir, id)
		if !ok {
			return Entry{}, false, nil
		}
		if e.RunLength > 0 {
			return e, true, nil
		}
		if err := ctx.Err(); err != nil {
			return Entry{}, false, err
		}
		leaf, err := r.leaf(e)
		if err != nil {
			return Entry{}, false, err
		}
		dir = leaf
	}
	return Entry{}, false, fmt.Errorf("%w: leaf directories nest deeper than %d levels", ErrBadDirectory, maxDirectoryDepth)
}

// leaf returns the decoded leaf directory e points to, from the cache when
// it can. Concurrent misses on one leaf share a single read.
func (r *Reader) leaf(e Entry) ([]Entry, error) {
	if dir, ok := r.leaves.get(e.Offset); ok {
		if r.rec != nil {
			r.rec.Hit()
		}
		return dir, nil
	}
	if r.rec != nil {
		r.rec.Miss()
	}
	v, err, _ := r.loads.Do(strconv.FormatUint(e.Offset, 10), func() (any, error) {
		dir, err := r.readLeaf(e)
		if err != nil {
			return nil, err
		}
		r.leaves.put(e.Offset, dir)
		return dir, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]Entry), nil
}

func (r *Reader) readLeaf(e Entry) ([]Entry, error) {
	h := r.header
	end := e.Offset + uint64(e.Length)
	if end < e.Offset || end > h.LeafDirectoryLength {
		return nil, fmt.Errorf("%w: leaf directory at %d length %d lies outside the leaf section (%d bytes)",
			ErrBadDirectory, e.Offset, e.Length, h.LeafDirectoryLength)
	}
	return r.readDirectory(h.LeafDirectoryOffset+e.Offset, uint64(e.Length), "leaf directory")
}

func (r *Reader) readTile(e Entry) ([]byte, error) {
	h := r.header
	end := e.Offset + uint64(e.Length)
	if end < e.Offset || end > h.TileDataLength {
		return nil, fmt.Errorf("%w: tile at %d length %d lies outside the tile data section (%d bytes)",
			ErrTruncated, e.Offset, e.Length, h.TileDataLength)
	}
	return r.readAt(h.TileDataOffset+e.Offset, uint64(e.Length))
}

// readDirectory reads, decompresses and decodes the directory at off.
func (r *Reader) readDirectory(off, length uint64, what string) ([]Entry, error) {
	b, err := r.readAt(off, length)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	b, err = decompress(b, r.header.InternalCompression, what, ErrBadDirectory)
	if err != nil {
		return nil, err
	}
	dir, err := DecodeDirectory(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return dir, nil
}

func (r *Reader) readMetadata() (map[string]json.RawMessage, map[string]any, error) {
	h := r.header
	if h.MetadataLength == 0 {
		return map[string]json.RawMessage{}, map[string]any{}, nil
	}
	b, err := r.readAt(h.MetadataOffset, h.MetadataLength)
	if err != nil {
		return nil, nil, fmt.Errorf("read metadata: %w", err)
	}
	b, err = decompress(b, h.InternalCompression, "metadata", ErrBadMetadata)
	if err != nil {
		return nil, nil, err
	}
	return ParseMetadata(b)
}

// readAt reads exactly n bytes at off.
func (r *Reader) readAt(off, n uint64) ([]byte, error) {
	if r.closed.Load() {
		return nil, tileset.ErrClosed
	}
	if off > uint64(r.size) || n > uint64(r.size)-off {
		return nil, fmt.Errorf("%w: %d bytes at offset %d pass the end of the file (%d bytes)", ErrTruncated, n, off, r.size)
	}
	buf := make([]byte, n)
	got, err := r.ra.ReadAt(buf, int64(off))
	if got == len(buf) {
		return buf, nil
	}
	switch {
	case errors.Is(err, os.ErrClosed) || r.closed.Load():
		return nil, tileset.ErrClosed
	case err == nil || errors.Is(err, io.EOF):
		return nil, fmt.Errorf("%w: short read at offset %d", ErrTruncated, off)
	}
	return nil, err
}

// firstTile returns the bytes of the lowest-ID tile.
func (r *Reader) firstTile(ctx context.Context) ([]byte, error) {
	var first *Entry
	err := r.Walk(ctx, func(e Entry) error {
		first = &e
		return errStopWalk
	})
	if err != nil && !errors.Is(err, errStopWalk) {
		return nil, err
	}
	if first == nil {
		return nil, fmt.Errorf("%w: archive holds no tiles", ErrBadDirectory)
	}
	return r.readTile(*first)
}

var errStopWalk = errors.New("stop walk")

// Walk calls fn for every tile entry (RunLength > 0) of the archive, in
// ascending tile ID order, descending into leaf directories. It stops at the
// first error fn returns and returns it. Leaves read by Walk bypass the cache
// so that a full scan does not evict the directories serving live requests.
func (r *Reader) Walk(ctx context.Context, fn func(Entry) error) error {
	return r.walk(ctx, r.root, 0, fn)
}

func (r *Reader) walk(ctx context.Context, dir []Entry, depth int, fn func(Entry) error) error {
	if depth >= maxDirectoryDepth {
		return fmt.Errorf("%w: leaf directories nest deeper than %d levels", ErrBadDirectory, maxDirectoryDepth)
	}
	for _, e := range dir {
		if e.RunLength > 0 {
			if err := fn(e); err != nil {
				return err
			}
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		leaf, err := r.readLeaf(e)
		if err != nil {
			return err
		}
		if err := r.walk(ctx, leaf, depth+1, fn); err != nil {
			return err
		}
	}
	return nil
}

// Entries returns every tile entry of the archive in ascending tile ID
// order; see Walk.
func (r *Reader) Entries(ctx context.Context) ([]Entry, error) {
	var out []Entry
	err := r.Walk(ctx, func(e Entry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// ReadEntry returns the blob a tile entry points to.
func (r *Reader) ReadEntry(e Entry) ([]byte, error) {
	if e.RunLength == 0 {
		return nil, fmt.Errorf("entry for tile ID %d is a leaf directory pointer", e.TileID)
	}
	return r.readTile(e)
}
