package pmtiles_test

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"strings"
	"testing"

	"github.com/paulmach/orb/encoding/mvt"

	"github.com/mapwright/mapwright/internal/tiles/internal/tiletest"
	"github.com/mapwright/mapwright/internal/tiles/pmtiles"
	"github.com/mapwright/mapwright/internal/tiles/tileset"
)

// walkCheck walks every entry of r and checks it against the header's
// counts, and that every addressed tile reads back as its entry's blob.
// It returns the addressed tiles.
func walkCheck(t *testing.T, r *pmtiles.Reader) map[[3]int][]byte {
	t.Helper()
	ctx := context.Background()
	h := r.Header()
	var addressed, entries uint64
	offsets := map[uint64]bool{}
	tiles := map[[3]int][]byte{}
	err := r.Walk(ctx, func(e pmtiles.Entry) error {
		entries++
		addressed += uint64(e.RunLength)
		offsets[e.Offset] = true
		blob, err := r.ReadEntry(e)
		if err != nil {
			return err
		}
		for i := range uint64(e.RunLength) {
			z, x, y, err := pmtiles.IDToZxy(e.TileID + i)
			if err != nil {
				return err
			}
			got, err := r.Tile(ctx, int(z), int(x), int(y))
			if err != nil {
				return err
			}
			if !bytes.Equal(got, blob) {
				t.Errorf("tile %d/%d/%d differs from its entry's blob", z, x, y)
			}
			tiles[[3]int{int(z), int(x), int(y)}] = got
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Walk() = %v", err)
	}
	if addressed != h.AddressedTilesCount {
		t.Errorf("walk addressed %d tiles, header says %d", addressed, h.AddressedTilesCount)
	}
	if entries != h.TileEntriesCount {
		t.Errorf("walk found %d entries, header says %d", entries, h.TileEntriesCount)
	}
	if uint64(len(offsets)) != h.TileContentsCount {
		t.Errorf("walk found %d distinct blobs, header says %d", len(offsets), h.TileContentsCount)
	}
	return tiles
}

func TestFixtureTonerZ3(t *testing.T) {
	r, err := pmtiles.Open(tiletest.Fixture(t, "toner-z3.pmtiles"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	md := r.Metadata()
	if md.Format != tileset.FormatPNG || r.Encoding() != tileset.EncodingIdentity || md.MinZoom != 0 || md.MaxZoom != 3 {
		t.Errorf("format %q encoding %q zooms %d-%d, want png identity 0-3", md.Format, r.Encoding(), md.MinZoom, md.MaxZoom)
	}
	if md.Bounds == nil || *md.Bounds != [4]float64{-180, -85, 180, 85} {
		t.Errorf("bounds = %v", md.Bounds)
	}
	h := r.Header()
	// The archive exercises both space savers: fewer entries than tiles
	// (runs) and fewer blobs than entries (deduplication).
	if !(h.TileContentsCount < h.TileEntriesCount && h.TileEntriesCount < h.AddressedTilesCount) {
		t.Fatalf("header counts %d/%d/%d do not show runs and deduplication",
			h.AddressedTilesCount, h.TileEntriesCount, h.TileContentsCount)
	}
	tiles := walkCheck(t, r)
	// A full pyramid to z3: every one of the 85 tiles exists and is a real
	// 256x256 PNG image.
	for z := 0; z <= 3; z++ {
		for x := 0; x < 1<<z; x++ {
			for y := 0; y < 1<<z; y++ {
				b, ok := tiles[[3]int{z, x, y}]
				if !ok {
					t.Fatalf("tile %d/%d/%d missing", z, x, y)
				}
				cfg, err := png.DecodeConfig(bytes.NewReader(b))
				if err != nil || cfg.Width != 256 || cfg.Height != 256 {
					t.Fatalf("tile %d/%d/%d: %dx%d, %v", z, x, y, cfg.Width, cfg.Height, err)
				}
			}
		}
	}
	if b, err := r.Tile(context.Background(), 4, 0, 0); b != nil || err != nil {
		t.Errorf("tile 4/0/0 = %d bytes, %v; want absent", len(b), err)
	}
}

func TestFixtureVectorTiles(t *testing.T) {
	for _, name := range []string{"test_fixture_1", "test_fixture_2"} {
		t.Run(name, func(t *testing.T) {
			r, err := pmtiles.Open(tiletest.Fixture(t, name+".pmtiles"))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			md := r.Metadata()
			if md.Format != tileset.FormatMVT || r.Encoding() != tileset.EncodingGzip || md.MinZoom != 0 || md.MaxZoom != 0 {
				t.Errorf("format %q encoding %q zooms %d-%d, want mvt gzip 0-0", md.Format, r.Encoding(), md.MinZoom, md.MaxZoom)
			}
			if !strings.Contains(string(md.VectorLayers), name+"pmtiles") {
				t.Errorf("vector_layers = %s", md.VectorLayers)
			}
			tiles := walkCheck(t, r)
			b, ok := tiles[[3]int{0, 0, 0}]
			if !ok || len(tiles) != 1 {
				t.Fatalf("tiles = %d, want only 0/0/0", len(tiles))
			}
			layers, err := mvt.UnmarshalGzipped(b)
			if err != nil {
				t.Fatalf("tile 0/0/0 is not a gzipped vector tile: %v", err)
			}
			if len(layers) != 1 || layers[0].Name != name+"pmtiles" {
				t.Errorf("layers = %v", layers)
			}
		})
	}
}

func TestFixturesRefused(t *testing.T) {
	tests := []struct {
		file    string
		want    error
		message string
	}{
		{"empty.pmtiles", pmtiles.ErrEmptyFile, "empty file"},
		{"invalid.pmtiles", pmtiles.ErrBadMagic, "not a PMTiles archive"},
		{"invalid_v4.pmtiles", pmtiles.ErrUnsupportedVersion, "unsupported PMTiles version 4"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r, err := pmtiles.Open(tiletest.Fixture(t, tt.file))
			if err == nil {
				r.Close()
				t.Fatal("Open() succeeded")
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.message) {
				t.Errorf("Open() = %v, want %v mentioning %q", err, tt.want, tt.message)
			}
		})
	}
}
