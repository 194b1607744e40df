// Package mbtiles reads MBTiles tilesets: SQLite databases with a tiles
// table (or view) addressed in the TMS scheme and a metadata table.
//
// The database is opened read-only and query-only. When no journal or WAL
// file sits beside it, it is also opened immutable, which spares every read
// the file locking; tilesets must therefore be replaced by renaming a new
// file over the old one (then reloaded), never rewritten in place.
package mbtiles

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/mapwright/mapwright/internal/tiles/tileset"
)

// maxInflatedTile caps the size of a tile decompressed to match the
// tileset's encoding, so that a hostile blob cannot exhaust memory.
const maxInflatedTile = 64 << 20

const sqliteMagic = "SQLite format 3\x00"

// Reader is an open MBTiles tileset. It implements tileset.Source and is safe
// for concurrent use.
type Reader struct {
	db       *sql.DB
	stmt     *sql.Stmt
	meta     tileset.Metadata
	enc      tileset.Encoding
	warnings []string
	closed   atomic.Bool
}

var _ tileset.Source = (*Reader)(nil)

// Open opens the MBTiles file at path read-only and checks it: the file
// must be an SQLite database with a tiles table or view, the metadata must
// be readable, one tile must be readable when the format has to be
// recognised from the bytes, and no row may lack its tile data (an error
// wrapping ErrNullTile). A damaged database fails here with an error
// wrapping ErrDamaged.
//
// The zoom range comes from the metadata, else from the tiles table. The
// encoding comes from a sample tile: gzip when its bytes are a gzip stream.
func Open(path string) (*Reader, error) {
	if err := checkFile(path); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open MBTiles: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(abs))
	if err != nil {
		return nil, fmt.Errorf("open MBTiles: %w", err)
	}
	// Reads are independent; a few connections let concurrent requests run
	// in parallel without holding a page cache per request.
	conns := max(4, runtime.GOMAXPROCS(0))
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	r := &Reader{db: db}
	if err := r.init(context.Background()); err != nil {
		_ = db.Close()
		return nil, err
	}
	return r, nil
}

// checkFile refuses what SQLite would otherwise take for a new, empty
// database, and what is not an SQLite file at all, with a precise message.
func checkFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open MBTiles: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open MBTiles: %w", err)
	}
	if !st.Mode().IsRegular() {
		return errors.New("open MBTiles: not a regular file")
	}
	if st.Size() == 0 {
		return ErrEmptyFile
	}
	head := make([]byte, len(sqliteMagic))
	if _, err := io.ReadFull(f, head); err != nil || string(head) != sqliteMagic {
		return ErrNotSQLite
	}
	return nil
}

// dsn builds the connection string. immutable is only safe when no journal
// or WAL file holds changes the main file lacks.
func dsn(abs string) string {
	q := "mode=ro"
	if !exists(abs+"-wal") && !exists(abs+"-journal") {
		q += "&immutable=1"
	}
	q += "&_pragma=query_only(1)"
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q}
	return u.String()
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func (r *Reader) init(ctx context.Context) error {
	var kind string
	err := r.db.QueryRowContext(ctx,
		"SELECT type FROM sqlite_master WHERE name = 'tiles' AND type IN ('table', 'view')").Scan(&kind)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNoTiles
	}
	if err != nil {
		return fmt.Errorf("read schema: %w", classify(err))
	}

	rows, hasMeta, err := r.readMetadataRows(ctx)
	if err != nil {
		return err
	}
	p := ParseMetadata(rows)
	warnings := p.Warnings
	if !hasMeta {
		warnings = append(warnings, "no metadata table")
	}

	if !p.HasMinZoom || !p.HasMaxZoom {
		var lo, hi sql.NullInt64
		err := r.db.QueryRowContext(ctx, "SELECT MIN(zoom_level), MAX(zoom_level) FROM tiles").Scan(&lo, &hi)
		if err != nil {
			return fmt.Errorf("read zoom range: %w", classify(err))
		}
		if lo.Valid && hi.Valid && lo.Int64 >= 0 && hi.Int64 <= tileset.MaxZoom {
			if !p.HasMinZoom {
				p.MinZoom = int(lo.Int64)
			}
			if !p.HasMaxZoom {
				p.MaxZoom = int(hi.Int64)
			}
		}
		if p.MinZoom > p.MaxZoom {
			p.MinZoom, p.MaxZoom = int(lo.Int64), int(hi.Int64)
		}
	}

	var sample []byte
	err = r.db.QueryRowContext(ctx, "SELECT tile_data FROM tiles WHERE tile_data IS NOT NULL LIMIT 1").Scan(&sample)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		sample = nil
	case err != nil:
		return fmt.Errorf("read a sample tile: %w", classify(err))
	}
	// A row without data is a damaged tileset: refuse it whole at load, as
	// with any other damage, rather than fail one tile per request later.
	// The scan reads only row headers, never the tile blobs themselves.
	var nulls bool
	if err := r.db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM tiles WHERE tile_data IS NULL)").Scan(&nulls); err != nil {
		return fmt.Errorf("check tiles for missing data: %w", classify(err))
	}
	if nulls {
		return fmt.Errorf("%w: some rows of the tiles table have no tile data", ErrNullTile)
	}
	sniffed, _, recognised := tileset.Sniff(sample)
	switch {
	case p.Format == "" && recognised:
		p.Format = sniffed
	case p.Format == "" && sample == nil:
		return fmt.Errorf("%w: no format in the metadata and no tile to recognise it from", tileset.ErrUnknownFormat)
	case p.Format == "":
		return fmt.Errorf("%w: no format in the metadata and the tile bytes match no known format", tileset.ErrUnknownFormat)
	case recognised && sniffed != p.Format:
		warnings = append(warnings, fmt.Sprintf("metadata format %s but the tiles look like %s", p.Format, sniffed))
	}
	if sample == nil {
		warnings = append(warnings, "the tileset holds no tiles")
	}
	r.enc = tileset.EncodingIdentity
	if tileset.IsGzip(sample) {
		r.enc = tileset.EncodingGzip
	}

	r.stmt, err = r.db.PrepareContext(ctx,
		"SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?")
	if err != nil {
		return fmt.Errorf("prepare tile query: %w", classify(err))
	}
	r.meta = p.Metadata
	r.warnings = warnings
	return nil
}

// readMetadataRows reads the metadata table. hasMeta is false when the
// table is missing, which is tolerated: the format can still be sniffed.
func (r *Reader) readMetadataRows(ctx context.Context) (map[string]string, bool, error) {
	var n int
	err := r.db.QueryRowContext(ctx,
		"SELECT count(*) FROM sqlite_master WHERE name = 'metadata' AND type IN ('table', 'view')").Scan(&n)
	if err != nil {
		return nil, false, fmt.Errorf("read schema: %w", classify(err))
	}
	out := map[string]string{}
	if n == 0 {
		return out, false, nil
	}
	rows, err := r.db.QueryContext(ctx, "SELECT name, value FROM metadata")
	if err != nil {
		return nil, false, fmt.Errorf("read metadata: %w", classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		var name, value any
		if err := rows.Scan(&name, &value); err != nil {
			return nil, false, fmt.Errorf("read metadata: %w", classify(err))
		}
		k, ok := asString(name)
		if !ok {
			continue
		}
		v, _ := asString(value)
		out[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("read metadata: %w", classify(err))
	}
	return out, true, nil
}

// asString renders a metadata cell, which SQLite's loose typing lets be
// text, a blob or a number.
func asString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case []byte:
		return string(v), true
	case int64:
		return fmt.Sprint(v), true
	case float64:
		return fmt.Sprint(v), true
	}
	return "", false
}

// Metadata describes the tileset. It implements tileset.Source.
func (r *Reader) Metadata() tileset.Metadata { return r.meta }

// Encoding is gzip when the sampled tile at open was a gzip stream. Tile
// converts any tile stored otherwise, so the bytes always match it.
func (r *Reader) Encoding() tileset.Encoding { return r.enc }

// Warnings lists oddities noticed at open that did not stop it.
func (r *Reader) Warnings() []string { return r.warnings }

// Close closes the database. Later calls of Tile fail with
// tileset.ErrClosed.
func (r *Reader) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	_ = r.stmt.Close()
	if err := r.db.Close(); err != nil {
		return fmt.Errorf("close MBTiles: %w", err)
	}
	return nil
}

// Tile returns the bytes of tile z/x/y (XYZ; the row is flipped to TMS), or
// (nil, nil) when no row exists. A row whose tile_data is NULL is a fault:
// the error wraps ErrNullTile. A zero-length blob is an empty tile and is
// returned as a non-nil empty slice.
func (r *Reader) Tile(ctx context.Context, z, x, y int) ([]byte, error) {
	if r.closed.Load() {
		return nil, tileset.ErrClosed
	}
	if !tileset.ValidTile(z, x, y) {
		return nil, nil
	}
	row := (1 << z) - 1 - y
	var v any
	err := r.stmt.QueryRowContext(ctx, z, x, row).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil && r.closed.Load():
		return nil, tileset.ErrClosed
	case err != nil:
		return nil, fmt.Errorf("tile %d/%d/%d: %w", z, x, y, classify(err))
	}
	var data []byte
	switch v := v.(type) {
	case []byte:
		data = v
	case string:
		data = []byte(v)
	default:
		return nil, fmt.Errorf("tile %d/%d/%d: %w", z, x, y, ErrNullTile)
	}
	if data == nil {
		data = []byte{}
	}
	data, err = r.matchEncoding(data)
	if err != nil {
		return nil, fmt.Errorf("tile %d/%d/%d: %w", z, x, y, err)
	}
	return data, nil
}

// matchEncoding makes a vector tile's bytes agree with Encoding when a
// writer mixed compressed and uncompressed tiles in one file.
func (r *Reader) matchEncoding(b []byte) ([]byte, error) {
	if r.meta.Format != tileset.FormatMVT {
		return b, nil
	}
	gz := tileset.IsGzip(b)
	switch {
	case r.enc == tileset.EncodingGzip && !gz:
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(b)
		_ = zw.Close()
		return buf.Bytes(), nil
	case r.enc == tileset.EncodingIdentity && gz:
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%w: gzip tile: %w", tileset.ErrCorrupt, err)
		}
		out, err := io.ReadAll(io.LimitReader(zr, maxInflatedTile+1))
		if err != nil {
			return nil, fmt.Errorf("%w: gzip tile: %w", tileset.ErrCorrupt, err)
		}
		if len(out) > maxInflatedTile {
			return nil, fmt.Errorf("%w: tile inflates beyond %d bytes", tileset.ErrCorrupt, maxInflatedTile)
		}
		return out, nil
	}
	return b, nil
}

// classify wraps SQLite's corruption results in ErrDamaged so that callers
// can tell a damaged file from a passing fault.
func classify(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("%w: %w", ErrDamaged, err)
		}
	}
	return err
}
