package mbtiles

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mapwright/mapwright/internal/tiles/internal/tiletest"
	"github.com/mapwright/mapwright/internal/tiles/tileset"
)

var pngHead = []byte("\x89PNG\r\n\x1a\n")

func pngTile(i int) []byte { return append(append([]byte{}, pngHead...), fmt.Sprintf("tile %d", i)...) }

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func build(t testing.TB, meta map[string]string, tiles []tiletest.Tile) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "set.mbtiles")
	tiletest.WriteMBTiles(t, path, meta, tiles)
	return path
}

func open(t testing.TB, path string) *Reader {
	t.Helper()
	r, err := Open(path)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// execSQL runs statements on a database file through a separate, writable
// connection.
func execSQL(t testing.TB, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestReadsEveryTile(t *testing.T) {
	var tiles []tiletest.Tile
	i := 0
	for z := 0; z <= 3; z++ {
		for x := 0; x < 1<<z; x++ {
			for y := 0; y < 1<<z; y++ {
				tiles = append(tiles, tiletest.Tile{Z: z, X: x, Y: y, Data: pngTile(i)})
				i++
			}
		}
	}
	r := open(t, build(t, map[string]string{"name": "grid", "format": "png", "minzoom": "0", "maxzoom": "3"}, tiles))
	ctx := context.Background()
	for _, tl := range tiles {
		got, err := r.Tile(ctx, tl.Z, tl.X, tl.Y)
		if err != nil || !bytes.Equal(got, tl.Data) {
			t.Fatalf("Tile(%d/%d/%d) = %q, %v; want %q", tl.Z, tl.X, tl.Y, got, err, tl.Data)
		}
	}
	for _, k := range [][3]int{{4, 0, 0}, {-1, 0, 0}, {2, 4, 0}, {2, 0, -1}, {31, 0, 0}} {
		got, err := r.Tile(ctx, k[0], k[1], k[2])
		if got != nil || err != nil {
			t.Errorf("Tile(%v) = %q, %v; want nil, nil", k, got, err)
		}
	}
	md := r.Metadata()
	if md.Name != "grid" || md.Format != tileset.FormatPNG || md.MinZoom != 0 || md.MaxZoom != 3 || r.Encoding() != tileset.EncodingIdentity {
		t.Errorf("metadata = %+v, encoding %q", md, r.Encoding())
	}
}

func TestRowsAreTMS(t *testing.T) {
	path := build(t, map[string]string{"format": "png"}, nil)
	// Written by hand in TMS: at z1 row 1 is the northern row, so XYZ
	// y=0; at z2 row 0 is the southernmost, XYZ y=3.
	execSQL(t, path,
		`INSERT INTO tiles VALUES (1, 0, 1, X'89504E470D0A1A0A6E6F727468')`,
		`INSERT INTO tiles VALUES (1, 0, 0, X'89504E470D0A1A0A736F757468')`,
		`INSERT INTO tiles VALUES (2, 3, 0, X'89504E470D0A1A0A7365')`,
	)
	r := open(t, path)
	tests := []struct {
		name    string
		z, x, y int
		suffix  string
	}{
		{"north", 1, 0, 0, "north"},
		{"south", 1, 0, 1, "south"},
		{"south-east corner", 2, 3, 3, "se"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Tile(context.Background(), tt.z, tt.x, tt.y)
			if err != nil || !bytes.HasSuffix(got, []byte(tt.suffix)) {
				t.Errorf("Tile(%d/%d/%d) = %q, %v; want ...%s", tt.z, tt.x, tt.y, got, err, tt.suffix)
			}
		})
	}
	if got, _ := r.Tile(context.Background(), 2, 3, 0); got != nil {
		t.Errorf("Tile(2/3/0) = %q; the TMS row was not flipped", got)
	}
}

func TestFormatAndZoomsFromTheTiles(t *testing.T) {
	mvt := []byte{0x1a, 0x03, 0x78, 0x02, 0x00}
	tests := []struct {
		name     string
		meta     map[string]string
		tiles    []tiletest.Tile
		format   tileset.Format
		enc      tileset.Encoding
		min, max int
	}{
		{"png without a format row", nil,
			[]tiletest.Tile{{Z: 2, X: 1, Y: 1, Data: pngTile(1)}, {Z: 5, X: 0, Y: 0, Data: pngTile(2)}},
			tileset.FormatPNG, tileset.EncodingIdentity, 2, 5},
		{"jpeg without a format row", nil,
			[]tiletest.Tile{{Z: 3, X: 1, Y: 1, Data: []byte{0xff, 0xd8, 0xff, 0xe0, 1, 2}}},
			tileset.FormatJPEG, tileset.EncodingIdentity, 3, 3},
		{"webp without a format row", nil,
			[]tiletest.Tile{{Z: 1, X: 1, Y: 1, Data: []byte("RIFF\x10\x00\x00\x00WEBPVP8 ")}},
			tileset.FormatWebP, tileset.EncodingIdentity, 1, 1},
		{"gzip vector tiles declared pbf", map[string]string{"format": "pbf", "minzoom": "0", "maxzoom": "14"},
			[]tiletest.Tile{{Z: 4, X: 1, Y: 1, Data: gz(t, mvt)}},
			tileset.FormatMVT, tileset.EncodingGzip, 0, 14},
		{"raw vector tiles declared pbf", map[string]string{"format": "pbf"},
			[]tiletest.Tile{{Z: 4, X: 1, Y: 1, Data: mvt}},
			tileset.FormatMVT, tileset.EncodingIdentity, 4, 4},
		{"gzip vector tiles without a format row", nil,
			[]tiletest.Tile{{Z: 0, X: 0, Y: 0, Data: gz(t, mvt)}},
			tileset.FormatMVT, tileset.EncodingGzip, 0, 0},
		{"bad zoom rows fall back to the table", map[string]string{"format": "png", "minzoom": "x", "maxzoom": "7"},
			[]tiletest.Tile{{Z: 2, X: 0, Y: 0, Data: pngTile(1)}, {Z: 6, X: 0, Y: 0, Data: pngTile(2)}},
			tileset.FormatPNG, tileset.EncodingIdentity, 2, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := open(t, build(t, tt.meta, tt.tiles))
			md := r.Metadata()
			if md.Format != tt.format || r.Encoding() != tt.enc || md.MinZoom != tt.min || md.MaxZoom != tt.max {
				t.Errorf("got %q %q %d-%d, want %q %q %d-%d", md.Format, r.Encoding(), md.MinZoom, md.MaxZoom,
					tt.format, tt.enc, tt.min, tt.max)
			}
		})
	}
}

func TestMixedCompressionMatchesEncoding(t *testing.T) {
	mvt := []byte{0x1a, 0x03, 0x78, 0x02, 0x00}
	path := build(t, map[string]string{"format": "pbf"}, []tiletest.Tile{
		{Z: 0, X: 0, Y: 0, Data: gz(t, mvt)},
		{Z: 1, X: 0, Y: 0, Data: mvt},
	})
	r := open(t, path)
	if r.Encoding() != tileset.EncodingGzip {
		t.Fatalf("Encoding() = %q, want gzip from the first tile", r.Encoding())
	}
	got, err := r.Tile(context.Background(), 1, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !tileset.IsGzip(got) || !bytes.Equal(gunzip(t, got), mvt) {
		t.Errorf("uncompressed tile served as %q, want it gzipped to match Encoding", got)
	}

	path = build(t, map[string]string{"format": "pbf"}, []tiletest.Tile{
		{Z: 0, X: 0, Y: 0, Data: mvt},
		{Z: 1, X: 0, Y: 0, Data: gz(t, mvt)},
	})
	r = open(t, path)
	if r.Encoding() != tileset.EncodingIdentity {
		t.Fatalf("Encoding() = %q, want identity from the first tile", r.Encoding())
	}
	got, err = r.Tile(context.Background(), 1, 0, 0)
	if err != nil || !bytes.Equal(got, mvt) {
		t.Errorf("gzipped tile served as %q, %v; want it inflated to match Encoding", got, err)
	}
}

func TestNullAndEmptyTiles(t *testing.T) {
	// A row without data makes the whole file refused at open.
	withNull := build(t, map[string]string{"format": "png"}, []tiletest.Tile{
		{Z: 0, X: 0, Y: 0, Data: pngTile(0)},
		{Z: 1, X: 0, Y: 0, Data: nil},
	})
	if _, err := Open(withNull); !errors.Is(err, ErrNullTile) || !errors.Is(err, tileset.ErrCorrupt) {
		t.Errorf("Open(file with a NULL tile) = %v, want ErrNullTile", err)
	}
	// A zero-length blob is an empty tile, not a fault.
	path := build(t, map[string]string{"format": "png"}, []tiletest.Tile{
		{Z: 0, X: 0, Y: 0, Data: pngTile(0)},
		{Z: 1, X: 1, Y: 0, Data: []byte{}},
	})
	r := open(t, path)
	got, err := r.Tile(context.Background(), 1, 1, 0)
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("empty blob = %#v, %v; want a non-nil empty tile", got, err)
	}
}

func TestNormalizedLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "norm.mbtiles")
	execSQL(t, path,
		"CREATE TABLE map (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_id TEXT)",
		"CREATE TABLE images (tile_data blob, tile_id text)",
		"CREATE TABLE metadata (name text, value text)",
		`CREATE VIEW tiles AS SELECT map.zoom_level AS zoom_level, map.tile_column AS tile_column,
			map.tile_row AS tile_row, images.tile_data AS tile_data FROM map JOIN images ON images.tile_id = map.tile_id`,
		"INSERT INTO images VALUES (X'89504E470D0A1A0A6F6365616E', 'ocean')",
		"INSERT INTO map VALUES (1, 0, 0, 'ocean'), (1, 1, 0, 'ocean'), (1, 1, 1, 'missing')",
		"INSERT INTO metadata VALUES ('name', 'norm')",
	)
	r := open(t, path)
	if r.Metadata().Format != tileset.FormatPNG || r.Metadata().MinZoom != 1 || r.Metadata().MaxZoom != 1 {
		t.Errorf("metadata = %+v", r.Metadata())
	}
	for _, k := range [][3]int{{1, 0, 1}, {1, 1, 1}} {
		got, err := r.Tile(context.Background(), k[0], k[1], k[2])
		if err != nil || !bytes.HasSuffix(got, []byte("ocean")) {
			t.Errorf("Tile(%v) = %q, %v", k, got, err)
		}
	}
	// A map row whose image is missing drops out of the view's join.
	if got, err := r.Tile(context.Background(), 1, 1, 0); got != nil || err != nil {
		t.Errorf("Tile(1/1/0) = %q, %v; want absent", got, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noTiles := filepath.Join(dir, "notiles.mbtiles")
	execSQL(t, noTiles, "CREATE TABLE metadata (name text, value text)")
	noFormat := build(t, map[string]string{"name": "x"}, nil)
	unknown := build(t, nil, []tiletest.Tile{{Z: 0, X: 0, Y: 0, Data: []byte("what is this")}})

	tests := []struct {
		name    string
		path    string
		want    error
		message string
	}{
		{"empty file", write("empty.mbtiles", nil), ErrEmptyFile, "empty file"},
		{"not SQLite", write("text.mbtiles", []byte("this is plain text, not a database at all")), ErrNotSQLite, "not an SQLite database"},
		{"no tiles table", noTiles, ErrNoTiles, "no tiles table"},
		{"no format and no tiles", noFormat, tileset.ErrUnknownFormat, "no tile to recognise"},
		{"unrecognisable tiles", unknown, tileset.ErrUnknownFormat, "match no known format"},
		{"missing file", filepath.Join(dir, "missing.mbtiles"), os.ErrNotExist, "no such file"},
		{"directory", dir, nil, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Open(tt.path)
			if err == nil {
				r.Close()
				t.Fatal("Open() succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Open() = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not mention %q", err, tt.message)
			}
		})
	}
}

func TestDamagedDatabaseRefused(t *testing.T) {
	var tiles []tiletest.Tile
	for i := range 400 {
		tiles = append(tiles, tiletest.Tile{Z: 9, X: i, Y: i, Data: bytes.Repeat(pngTile(i), 20)})
	}
	path := build(t, map[string]string{"format": "png"}, tiles)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Scribble over the schema and the first pages, keeping the file
	// header so that it still claims to be SQLite.
	for i := 100; i < 8192 && i < len(b); i++ {
		b[i] = 0xA5
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path)
	if !errors.Is(err, ErrDamaged) || !errors.Is(err, tileset.ErrCorrupt) {
		t.Errorf("Open() = %v, want ErrDamaged", err)
	}
}

func TestOpensBesideAJournal(t *testing.T) {
	path := build(t, map[string]string{"format": "png"}, []tiletest.Tile{{Z: 0, X: 0, Y: 0, Data: pngTile(0)}})
	// An empty journal is not hot; its presence only turns immutable off.
	if err := os.WriteFile(path+"-journal", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(dsn(path), "immutable") {
		t.Errorf("dsn(%q) = %q, want no immutable beside a journal", path, dsn(path))
	}
	r := open(t, path)
	if got, err := r.Tile(context.Background(), 0, 0, 0); err != nil || !bytes.Equal(got, pngTile(0)) {
		t.Errorf("Tile() = %q, %v", got, err)
	}
}

func TestDSN(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		path string
		want string
	}{
		{"plain path", filepath.Join(dir, "a.mbtiles"), "file://" + filepath.ToSlash(dir) + "/a.mbtiles?mode=ro&immutable=1&_pragma=query_only(1)"},
		{"query characters are escaped", filepath.Join(dir, "a?b#c%d.mbtiles"), "/a%3Fb%23c%25d.mbtiles?mode=ro"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dsn(tt.path); !strings.Contains(got, tt.want) {
				t.Errorf("dsn() = %q, want it to contain %q", got, tt.want)
			}
		})
	}
	// The escaped name really opens.
	plain := build(t, map[string]string{"format": "png"}, []tiletest.Tile{{Z: 0, X: 0, Y: 0, Data: pngTile(0)}})
	odd := filepath.Join(dir, "odd ?#% name.mbtiles")
	if err := os.Rename(plain, odd); err != nil {
		t.Fatal(err)
	}
	open(t, odd)
}

func TestReadOnly(t *testing.T) {
	path := build(t, map[string]string{"format": "png"}, []tiletest.Tile{{Z: 0, X: 0, Y: 0, Data: pngTile(0)}})
	r := open(t, path)
	if _, err := r.db.Exec("INSERT INTO metadata VALUES ('x', 'y')"); err == nil {
		t.Error("a write through the reader's connection succeeded")
	}
}

func TestClosedReader(t *testing.T) {
	r := open(t, build(t, map[string]string{"format": "png"}, []tiletest.Tile{{Z: 0, X: 0, Y: 0, Data: pngTile(0)}}))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Tile(context.Background(), 0, 0, 0); !errors.Is(err, tileset.ErrClosed) {
		t.Errorf("Tile() after Close = %v, want ErrClosed", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
}

func TestConcurrentReads(t *testing.T) {
	var tiles []tiletest.Tile
	for x := range 32 {
		for y := range 32 {
			tiles = append(tiles, tiletest.Tile{Z: 5, X: x, Y: y, Data: pngTile(x*32 + y)})
		}
	}
	r := open(t, build(t, map[string]string{"format": "png"}, tiles))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				tl := tiles[(i*7+g*13)%len(tiles)]
				got, err := r.Tile(context.Background(), tl.Z, tl.X, tl.Y)
				if err != nil || !bytes.Equal(got, tl.Data) {
					errs <- fmt.Errorf("Tile(%d/%d/%d) = %q, %v", tl.Z, tl.X, tl.Y, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
