package demo_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"

	"github.com/mapwright/mapwright/internal/demo"
	"github.com/mapwright/mapwright/internal/demo/builder"
	"github.com/mapwright/mapwright/internal/tiles/pmtiles"
	"github.com/mapwright/mapwright/internal/tiles/tileset"
)

const (
	sourcePath = "source/countries-50m.json"
	maxZoom    = builder.DefaultMaxZoom
)

func openEmbedded(t *testing.T) *pmtiles.Reader {
	t.Helper()
	ra := demo.NewReader()
	r, err := pmtiles.NewReader(ra, ra.Size())
	if err != nil {
		t.Fatalf("open embedded archive: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// decodeTile fetches z/x/y, gunzips it and decodes the vector tile.
func decodeTile(t *testing.T, r *pmtiles.Reader, z, x, y int) *mvt.Layer {
	t.Helper()
	data, err := r.Tile(context.Background(), z, x, y)
	if err != nil {
		t.Fatalf("tile %d/%d/%d: %v", z, x, y, err)
	}
	if data == nil {
		t.Fatalf("tile %d/%d/%d is missing", z, x, y)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("tile %d/%d/%d is not gzip: %v", z, x, y, err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip tile %d/%d/%d: %v", z, x, y, err)
	}
	layers, err := mvt.Unmarshal(raw)
	if err != nil {
		t.Fatalf("decode tile %d/%d/%d: %v", z, x, y, err)
	}
	if len(layers) != 1 || layers[0].Name != demo.LayerName {
		t.Fatalf("tile %d/%d/%d: want one layer %q, got %d layers", z, x, y, demo.LayerName, len(layers))
	}
	return layers[0]
}

func featureNamed(l *mvt.Layer, name string) *geojson.Feature {
	for _, f := range l.Features {
		if f.Properties["name"] == name {
			return f
		}
	}
	return nil
}

func polygons(g orb.Geometry) orb.MultiPolygon {
	switch g := g.(type) {
	case orb.Polygon:
		return orb.MultiPolygon{g}
	case orb.MultiPolygon:
		return g
	}
	return nil
}

func TestEmbeddedArchiveDescribesItself(t *testing.T) {
	r := openEmbedded(t)
	md := r.Metadata()
	if md.Format != tileset.FormatMVT || r.Encoding() != tileset.EncodingGzip {
		t.Errorf("format %q encoding %q, want mvt gzip", md.Format, r.Encoding())
	}
	if md.Name != demo.TilesetName || md.Attribution != demo.Attribution || md.Description == "" {
		t.Errorf("name %q attribution %q description %q", md.Name, md.Attribution, md.Description)
	}
	if md.MinZoom != 0 || md.MaxZoom != maxZoom {
		t.Errorf("zoom %d..%d, want 0..%d", md.MinZoom, md.MaxZoom, maxZoom)
	}
	if md.Bounds == nil || md.Bounds[0] != -180 || md.Bounds[2] != 180 || md.Bounds[1] > -85.05 || md.Bounds[3] < 85.05 {
		t.Errorf("bounds %v, want the whole Mercator world", md.Bounds)
	}
	if md.Center == nil || *md.Center != [3]float64{0, 20, 1} {
		t.Errorf("center %v, want [0 20 1]", md.Center)
	}
	var layers []struct {
		ID      string            `json:"id"`
		Fields  map[string]string `json:"fields"`
		MinZoom int               `json:"minzoom"`
		MaxZoom int               `json:"maxzoom"`
	}
	if err := json.Unmarshal(md.VectorLayers, &layers); err != nil {
		t.Fatalf("vector_layers %s: %v", md.VectorLayers, err)
	}
	if len(layers) != 1 || layers[0].ID != demo.LayerName || layers[0].Fields["name"] != "String" ||
		layers[0].MinZoom != 0 || layers[0].MaxZoom != maxZoom {
		t.Errorf("vector_layers = %s", md.VectorLayers)
	}
	if w := r.Warnings(); len(w) > 0 {
		t.Errorf("reader warnings: %v", w)
	}
}

func TestEmbeddedArchiveHasEveryZoom(t *testing.T) {
	r := openEmbedded(t)
	entries, err := r.Entries(context.Background())
	if err != nil {
		t.Fatalf("entries: %v", err)
	}
	perZoom := make([]int, maxZoom+1)
	for _, e := range entries {
		for id := e.TileID; id < e.TileID+uint64(e.RunLength); id++ {
			z, _, _, err := pmtiles.IDToZxy(id)
			if err != nil {
				t.Fatalf("tile id %d: %v", id, err)
			}
			if int(z) > maxZoom {
				t.Fatalf("tile at zoom %d beyond max zoom %d", z, maxZoom)
			}
			perZoom[z]++
		}
	}
	for z, n := range perZoom {
		// Land covers about a third of the world, so every zoom level
		// has tiles and, from zoom 2 on, ocean tiles are left out.
		if n == 0 || n > 1<<(2*z) {
			t.Errorf("zoom %d has %d tiles", z, n)
		}
	}
	if size := demo.NewReader().Size(); size >= 2<<20 {
		t.Errorf("archive is %d bytes; it must stay under 2 MiB", size)
	}
}

func TestZoomZeroHasTheCountries(t *testing.T) {
	r := openEmbedded(t)
	l := decodeTile(t, r, 0, 0, 0)
	if l.Extent != builder.Extent || l.Version != 2 {
		t.Errorf("layer extent %d version %d, want %d and 2", l.Extent, l.Version, builder.Extent)
	}
	names := map[string]bool{}
	for _, f := range l.Features {
		name, _ := f.Properties["name"].(string)
		if name == "" {
			t.Errorf("feature without a name: %v", f.Properties)
		}
		if names[name] {
			t.Errorf("country %q appears twice in one tile", name)
		}
		names[name] = true
		if polygons(f.Geometry) == nil {
			t.Errorf("%q is a %T, want polygons", name, f.Geometry)
		}
	}
	if len(names) <= 150 {
		t.Errorf("zoom 0 has %d named countries, want more than 150", len(names))
	}
	for _, n := range []string{"France", "Brazil", "Japan", "Australia", "Antarctica", "Russia", "Fiji", "South Africa"} {
		if !names[n] {
			t.Errorf("zoom 0 lacks %q", n)
		}
	}
}

func TestGeometryIsWhereTheCountriesAre(t *testing.T) {
	r := openEmbedded(t)
	z0 := decodeTile(t, r, 0, 0, 0)

	// France (metropolitan part around 2°E, 46°N) lies at tile position
	// x = (2/360+0.5)*4096 ≈ 2071, y ≈ 1466.
	france := featureNamed(z0, "France")
	if france == nil {
		t.Fatal("no France at zoom 0")
	}
	if !containsPoint(polygons(france.Geometry), orb.Point{2071, 1466}) {
		t.Errorf("France does not cover its own middle; bound %v", france.Geometry.Bound())
	}

	// South Africa surrounds Lesotho: the decoder can only see the hole
	// when exterior and interior rings wind as the specification says.
	za := featureNamed(z0, "South Africa")
	if za == nil {
		t.Fatal("no South Africa at zoom 0")
	}
	holes := 0
	for _, p := range polygons(za.Geometry) {
		holes += len(p) - 1
	}
	if holes == 0 {
		t.Error("South Africa has no hole for Lesotho")
	}

	// Antarctica runs across the whole width of the world down to the
	// bottom edge, which only works when its ring around the pole is closed
	// along the pole.
	ant := featureNamed(z0, "Antarctica")
	if ant == nil {
		t.Fatal("no Antarctica at zoom 0")
	}
	for _, x := range []float64{50, 1000, 2048, 3000, 4050} {
		if !containsPoint(polygons(ant.Geometry), orb.Point{x, 4090}) {
			t.Errorf("Antarctica does not reach the bottom edge at x=%v", x)
		}
	}
}

// TestAntimeridianCountriesShowOnBothSides checks that countries crossing
// 180° appear in the westernmost and easternmost tiles of a zoom level.
func TestAntimeridianCountriesShowOnBothSides(t *testing.T) {
	r := openEmbedded(t)
	tests := []struct {
		name    string
		country string
		z, y    int
	}{
		{"Russia reaches Alaska's side", "Russia", 2, 1},
		{"Fiji straddles 180°", "Fiji", 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			last := 1<<tt.z - 1
			for _, x := range []int{0, last} {
				if featureNamed(decodeTile(t, r, tt.z, x, tt.y), tt.country) == nil {
					t.Errorf("%s missing from tile %d/%d/%d", tt.country, tt.z, x, tt.y)
				}
			}
		})
	}
}

func containsPoint(mp orb.MultiPolygon, pt orb.Point) bool {
	inside := false
	for _, p := range mp {
		for _, r := range p {
			for i, j := 0, len(r)-1; i < len(r); j, i = i, i+1 {
				a, b := r[i], r[j]
				if (a[1] > pt[1]) != (b[1] > pt[1]) &&
					pt[0] < (b[0]-a[0])*(pt[1]-a[1])/(b[1]-a[1])+a[0] {
					inside = !inside
				}
			}
		}
	}
	return inside
}

func TestWriteTileset(t *testing.T) {
	dir := t.TempDir()
	// A stale file of the same name is replaced, as a demo run reuses
	// nothing from an earlier one.
	if err := os.WriteFile(filepath.Join(dir, demo.FileName), []byte("stale"), 0o600); err != nil {
		t.Fatal(err)
	}
	path, err := demo.WriteTileset(dir)
	if err != nil {
		t.Fatalf("WriteTileset: %v", err)
	}
	if want := filepath.Join(dir, "countries.pmtiles"); path != want {
		t.Errorf("path = %q, want %q", path, want)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644", st.Mode().Perm())
	}
	r, err := pmtiles.Open(path)
	if err != nil {
		t.Fatalf("open written tileset: %v", err)
	}
	defer r.Close()
	if r.Metadata().Name != demo.TilesetName {
		t.Errorf("written tileset is named %q", r.Metadata().Name)
	}
	if st.Size() != demo.NewReader().Size() {
		t.Errorf("written %d bytes, embedded %d", st.Size(), demo.NewReader().Size())
	}
	left, err := filepath.Glob(filepath.Join(dir, ".demo-*"))
	if err != nil || len(left) > 0 {
		t.Errorf("temporary files left behind: %v %v", left, err)
	}

	if _, err := demo.WriteTileset(filepath.Join(dir, "missing")); err == nil {
		t.Error("WriteTileset into a missing directory succeeded")
	}
}

// TestArchiveMatchesItsBuilder rebuilds the archive from the committed
// source and requires the very same bytes, so the artifact cannot drift from
// the code that claims to produce it.
func TestArchiveMatchesItsBuilder(t *testing.T) {
	if raceEnabled {
		// About a minute under the race detector, and no concurrency the
		// builder's own tests do not already exercise with it.
		t.Skip("full rebuild skipped under the race detector; run without -race to check the archive")
	}
	src, err := os.ReadFile(sourcePath)
	if err != nil {
		t.Fatalf("read source: %v", err)
	}
	var out bytes.Buffer
	stats, err := builder.Build(context.Background(), src, &out, builder.Options{})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	embedded, err := io.ReadAll(demo.NewReader())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), embedded) {
		t.Fatalf("rebuilt archive (%d bytes, tiles per zoom %v) differs from the committed one (%d bytes); rebuild with\n"+
			"\tgo run ./internal/demo/gen -src internal/demo/source/countries-50m.json -out internal/demo/countries.pmtiles",
			out.Len(), stats.TilesPerZoom, len(embedded))
	}
	if !slices.Equal(stats.TilesPerZoom, countTiles(t, openEmbedded(t))) {
		t.Errorf("build stats %v disagree with the archive", stats.TilesPerZoom)
	}
}

func countTiles(t *testing.T, r *pmtiles.Reader) []int {
	t.Helper()
	entries, err := r.Entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := make([]int, maxZoom+1)
	for _, e := range entries {
		for id := e.TileID; id < e.TileID+uint64(e.RunLength); id++ {
			z, _, _, _ := pmtiles.IDToZxy(id)
			n[z]++
		}
	}
	return n
}
