package tiles

import (
	"bytes"
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/mapwright/mapwright/internal/tiles/pmtiles"
)

// countingRecorder is a CacheRecorder that counts.
type countingRecorder struct{ hits, misses atomic.Int64 }

func (r *countingRecorder) Hit()  { r.hits.Add(1) }
func (r *countingRecorder) Miss() { r.misses.Add(1) }

// writeLeafyPMTiles writes a PNG archive of zooms 0-3 whose root directory
// is kept so small that every tile entry lives in a leaf directory.
func writeLeafyPMTiles(t testing.TB, path string) {
	t.Helper()
	var tiles []pmtiles.Tile
	for z := 0; z <= 3; z++ {
		for x := 0; x < 1<<z; x++ {
			for y := 0; y < 1<<z; y++ {
				tiles = append(tiles, pmtiles.Tile{Z: z, X: x, Y: y, Data: pngTile(filepath.Base(path) + string(rune('a'+x+y)))})
			}
		}
	}
	var buf bytes.Buffer
	if err := pmtiles.Write(&buf, tiles, pmtiles.WriterOptions{
		TileType: pmtiles.TileTypePNG, TileCompression: pmtiles.CompressionNone, MaxRootBytes: pmtiles.HeaderLen + 8, LeafSize: 8,
	}); err != nil {
		t.Fatal(err)
	}
	r, err := pmtiles.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if r.Header().LeafDirectoryLength == 0 {
		t.Fatal("the test archive has no leaf directories")
	}
	writeFileAtomic(t, path, buf.Bytes())
}

func TestCatalogDirectoryCacheRecorder(t *testing.T) {
	dir := t.TempDir()
	writeLeafyPMTiles(t, filepath.Join(dir, "leafy.pmtiles"))
	writeMBTiles(t, filepath.Join(dir, "flat.mbtiles"), "flat")
	rec := &countingRecorder{}
	c := Open(dir, nil, WithDirectoryCacheRecorder(rec), WithGrace(0))
	t.Cleanup(func() { _ = c.Close() })
	if c.Loaded() != 2 {
		t.Fatalf("loaded %d tilesets, want 2: %+v", c.Loaded(), c.List())
	}
	ctx := context.Background()
	read := func(name string, z, x, y int) {
		t.Helper()
		h, ok := c.Acquire(name)
		if !ok {
			t.Fatalf("tileset %s not loaded", name)
		}
		defer h.Close()
		if b, err := h.Tile(ctx, z, x, y); err != nil || b == nil {
			t.Fatalf("%s %d/%d/%d: %q, %v", name, z, x, y, b, err)
		}
	}
	tests := []struct {
		name       string
		do         func()
		hits, miss int64 // growth of the counters
	}{
		{"first read of a PMTiles tile misses", func() { read("leafy", 3, 2, 5) }, 0, 1},
		{"second read of it hits", func() { read("leafy", 3, 2, 5) }, 1, 0},
		{"MBTiles has no directory cache", func() { read("flat", 0, 0, 0) }, 0, 0},
		{"a reloaded archive reports too, with a fresh cache", func() {
			writeLeafyPMTiles(t, filepath.Join(dir, "leafy.pmtiles"))
			if err := c.Reload(ctx); err != nil {
				t.Fatal(err)
			}
			read("leafy", 3, 2, 5)
		}, 0, 1},
	}
	for _, tt := range tests {
		h0, m0 := rec.hits.Load(), rec.misses.Load()
		tt.do()
		if dh, dm := rec.hits.Load()-h0, rec.misses.Load()-m0; dh != tt.hits || dm != tt.miss {
			t.Errorf("%s: +%d hits, +%d misses; want +%d, +%d", tt.name, dh, dm, tt.hits, tt.miss)
		}
	}
}
