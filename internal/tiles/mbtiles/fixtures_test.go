package mbtiles_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"image/png"
	"net/url"
	"strings"
	"testing"

	"github.com/paulmach/orb/encoding/mvt"

	"github.com/mapwright/mapwright/internal/tiles/internal/tiletest"
	"github.com/mapwright/mapwright/internal/tiles/mbtiles"
	"github.com/mapwright/mapwright/internal/tiles/tileset"
)

type row struct {
	z, col, tmsRow int
	data           []byte
	null           bool
}

// directRows reads the tiles table with plain SQL, independently of the
// reader.
func directRows(t *testing.T, path string) []row {
	t.Helper()
	u := url.URL{Scheme: "file", Path: path, RawQuery: "mode=ro"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		var r row
		var data any
		if err := rows.Scan(&r.z, &r.col, &r.tmsRow, &data); err != nil {
			t.Fatal(err)
		}
		switch d := data.(type) {
		case []byte:
			r.data = d
		case nil:
			r.null = true
		default:
			t.Fatalf("tile_data of type %T", data)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// compareAll checks every row of the file against the reader: byte-equal
// tiles, and ErrNullTile for NULL rows. It returns the number of NULL rows.
func compareAll(t *testing.T, r *mbtiles.Reader, rows []row) int {
	t.Helper()
	nulls := 0
	for _, want := range rows {
		y := (1 << want.z) - 1 - want.tmsRow
		got, err := r.Tile(context.Background(), want.z, want.col, y)
		if want.null {
			nulls++
			if !errors.Is(err, mbtiles.ErrNullTile) {
				t.Errorf("NULL row %d/%d/%d: Tile() = %d bytes, %v; want ErrNullTile", want.z, want.col, y, len(got), err)
			}
			continue
		}
		if err != nil || !bytes.Equal(got, want.data) {
			t.Errorf("tile %d/%d/%d: %d bytes, %v; want the row's %d bytes", want.z, want.col, y, len(got), err, len(want.data))
		}
	}
	return nulls
}

func TestFixturesRead(t *testing.T) {
	tests := []struct {
		file      string
		format    tileset.Format
		enc       tileset.Encoding
		min, max  int
		rows      int
		nulls     int
		name      string
		hasLayers bool
		center    bool
	}{
		{"plain_1.mbtiles", tileset.FormatPNG, tileset.EncodingIdentity, 0, 4, 285, 0, "plain_1", false, false},
		{"some-empty-tiles.mbtiles", tileset.FormatPNG, tileset.EncodingIdentity, 1, 2, 11, 0, "US Debt Held By Foreign Nations", false, false},
		{"world_cities.mbtiles", tileset.FormatMVT, tileset.EncodingGzip, 0, 6, 8, 0, "Major cities from Natural Earth data", true, true},
		// The reference reader of this fixture opens it and fails only the
		// NULL tile; so does this one (see ErrNullTile).
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := tiletest.Fixture(t, tt.file)
			r, err := mbtiles.Open(path)
			if err != nil {
				t.Fatalf("Open() = %v", err)
			}
			defer r.Close()
			md := r.Metadata()
			if md.Format != tt.format || r.Encoding() != tt.enc || md.MinZoom != tt.min || md.MaxZoom != tt.max || md.Name != tt.name {
				t.Errorf("got %q %q %d-%d %q, want %q %q %d-%d %q", md.Format, r.Encoding(), md.MinZoom, md.MaxZoom, md.Name,
					tt.format, tt.enc, tt.min, tt.max, tt.name)
			}
			if (md.VectorLayers != nil) != tt.hasLayers || (md.Center != nil) != tt.center || md.Bounds == nil {
				t.Errorf("vector_layers %s center %v bounds %v", md.VectorLayers, md.Center, md.Bounds)
			}
			rows := directRows(t, path)
			if len(rows) != tt.rows {
				t.Errorf("%d rows, want %d", len(rows), tt.rows)
			}
			if nulls := compareAll(t, r, rows); nulls != tt.nulls {
				t.Errorf("%d NULL rows, want %d", nulls, tt.nulls)
			}
			// The bytes are what the format says: decodable PNGs and
			// gzipped vector tiles.
			for _, rw := range rows[:min(len(rows), 20)] {
				if rw.null {
					continue
				}
				switch tt.format {
				case tileset.FormatPNG:
					if _, err := png.DecodeConfig(bytes.NewReader(rw.data)); err != nil {
						t.Errorf("tile %d/%d/%d is not a PNG: %v", rw.z, rw.col, rw.tmsRow, err)
					}
				case tileset.FormatMVT:
					if _, err := mvt.UnmarshalGzipped(rw.data); err != nil {
						t.Errorf("tile %d/%d/%d is not a gzipped vector tile: %v", rw.z, rw.col, rw.tmsRow, err)
					}
				}
			}
		})
	}
}

func TestFixtureWorldCitiesMetadata(t *testing.T) {
	r, err := mbtiles.Open(tiletest.Fixture(t, "world_cities.mbtiles"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	md := r.Metadata()
	if !strings.Contains(string(md.VectorLayers), `"id": "cities"`) {
		t.Errorf("vector_layers = %s", md.VectorLayers)
	}
	if *md.Center != [3]float64{-75.9375, 38.788894, 6} {
		t.Errorf("center = %v", *md.Center)
	}
	if *md.Bounds != [4]float64{-123.12359, -37.818085, 174.763027, 59.352706} {
		t.Errorf("bounds = %v", *md.Bounds)
	}
	if md.Type != "overlay" || md.Version != "2" {
		t.Errorf("type %q version %q", md.Type, md.Version)
	}
}

func TestFixtureCorruptRefused(t *testing.T) {
	_, err := mbtiles.Open(tiletest.Fixture(t, "corrupt.mbtiles"))
	if !errors.Is(err, mbtiles.ErrDamaged) || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("Open(corrupt.mbtiles) = %v, want ErrDamaged saying malformed", err)
	}
}

// TestFixtureEmptyTiles reads the map rows of some-empty-tiles.mbtiles whose
// image is missing: the view drops them, so they are absent, not errors.
func TestFixtureEmptyTiles(t *testing.T) {
	path := tiletest.Fixture(t, "some-empty-tiles.mbtiles")
	u := url.URL{Scheme: "file", Path: path, RawQuery: "mode=ro"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT zoom_level, tile_column, tile_row FROM map
		WHERE tile_id IS NULL OR tile_id NOT IN (SELECT tile_id FROM images)`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var missing [][3]int
	for rows.Next() {
		var z, col, row int
		if err := rows.Scan(&z, &col, &row); err != nil {
			t.Fatal(err)
		}
		missing = append(missing, [3]int{z, col, (1 << z) - 1 - row})
	}
	if len(missing) == 0 {
		t.Fatal("fixture has no map rows without an image")
	}
	r, err := mbtiles.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, k := range missing {
		got, err := r.Tile(context.Background(), k[0], k[1], k[2])
		if got != nil || err != nil {
			t.Errorf("Tile(%v) = %d bytes, %v; want absent", k, len(got), err)
		}
	}
}

func TestFixtureNullTileRefused(t *testing.T) {
	_, err := mbtiles.Open(tiletest.Fixture(t, "corrupt_null_tile.mbtiles"))
	if !errors.Is(err, mbtiles.ErrNullTile) || !strings.Contains(err.Error(), "no tile data") {
		t.Errorf("Open(corrupt_null_tile.mbtiles) = %v, want ErrNullTile saying no tile data", err)
	}
}
