package mbtiles

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/mapwright/mapwright/internal/tiles/tileset"
)

// FuzzMBTilesMetadata feeds arbitrary metadata rows to ParseMetadata: it must
// not panic, and whatever it accepts must be within range.
func FuzzMBTilesMetadata(f *testing.F) {
	f.Add("pbf", "-180,-85,180,85", "0,0,2", "0", "14", `{"vector_layers":[{"id":"a"}]}`, "name", "x")
	f.Add("png", "1,2,3", "a,b", "-1", "99", "[1]", "json", "{")
	f.Add("", "", "", "", "", "", "", "")
	f.Add("jpeg", "NaN,0,Inf,1", "1e400,0", "4.5", "1e3", "null", "format", "webp")
	f.Fuzz(func(t *testing.T, format, bounds, center, minzoom, maxzoom, js, key, value string) {
		rows := map[string]string{
			"format": format, "bounds": bounds, "center": center,
			"minzoom": minzoom, "maxzoom": maxzoom, "json": js,
		}
		rows[key] = value
		p := ParseMetadata(rows)
		if p.Format != "" && !p.Format.Valid() {
			t.Fatalf("format %q", p.Format)
		}
		if p.HasMinZoom && (p.MinZoom < 0 || p.MinZoom > tileset.MaxZoom) {
			t.Fatalf("minzoom %d", p.MinZoom)
		}
		if p.HasMaxZoom && (p.MaxZoom < 0 || p.MaxZoom > tileset.MaxZoom) {
			t.Fatalf("maxzoom %d", p.MaxZoom)
		}
		if p.HasMinZoom && p.HasMaxZoom && p.MinZoom > p.MaxZoom {
			t.Fatalf("zooms %d > %d", p.MinZoom, p.MaxZoom)
		}
		if b := p.Bounds; b != nil {
			for _, v := range b {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("bounds %v", b)
				}
			}
			if b[1] > b[3] || b[0] < -180 || b[2] > 180 {
				t.Fatalf("bounds %v", b)
			}
		}
		if c := p.Center; c != nil && (c[1] < -90 || c[1] > 90 || c[2] < 0 || c[2] > tileset.MaxZoom) {
			t.Fatalf("center %v", c)
		}
		if p.VectorLayers != nil && !json.Valid(p.VectorLayers) {
			t.Fatalf("vector_layers %q is not JSON", p.VectorLayers)
		}
		// The result must serialise, as TileJSON and the admin API do.
		if _, err := json.Marshal(p.Metadata); err != nil {
			t.Fatalf("marshal: %v", err)
		}
	})
}
