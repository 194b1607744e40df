package mbtiles

import (
	"strings"
	"testing"

	"github.com/mapwright/mapwright/internal/tiles/tileset"
)

func TestParseMetadata(t *testing.T) {
	tests := []struct {
		name     string
		rows     map[string]string
		check    func(t *testing.T, p ParsedMetadata)
		warnings []string // substrings, one per expected warning
	}{
		{
			name: "complete vector tileset",
			rows: map[string]string{
				"name": "Cities", "description": "Major cities", "attribution": "© NE", "version": "2",
				"type": "overlay", "format": "pbf", "bounds": "-123.1,-37.8,174.7,59.3",
				"center": "-75.9,38.7,6", "minzoom": "0", "maxzoom": "6",
				"json": `{"vector_layers":[{"id":"cities"}],"tilestats":{}}`,
			},
			check: func(t *testing.T, p ParsedMetadata) {
				if p.Name != "Cities" || p.Description != "Major cities" || p.Attribution != "© NE" || p.Version != "2" || p.Type != "overlay" {
					t.Errorf("strings = %+v", p.Metadata)
				}
				if p.Format != tileset.FormatMVT {
					t.Errorf("format = %q", p.Format)
				}
				if p.Bounds == nil || *p.Bounds != [4]float64{-123.1, -37.8, 174.7, 59.3} {
					t.Errorf("bounds = %v", p.Bounds)
				}
				if p.Center == nil || *p.Center != [3]float64{-75.9, 38.7, 6} {
					t.Errorf("center = %v", p.Center)
				}
				if !p.HasMinZoom || !p.HasMaxZoom || p.MinZoom != 0 || p.MaxZoom != 6 {
					t.Errorf("zooms = %v %d, %v %d", p.HasMinZoom, p.MinZoom, p.HasMaxZoom, p.MaxZoom)
				}
				if string(p.VectorLayers) != `[{"id":"cities"}]` {
					t.Errorf("vector_layers = %s", p.VectorLayers)
				}
				if p.Raw["center"] != "-75.9,38.7,6" {
					t.Errorf("Raw = %v", p.Raw)
				}
			},
		},
		{
			name: "spaces, real zooms and a two-part center",
			rows: map[string]string{"format": " JPEG ", "bounds": "-180, -85, 180, 85", "center": "10, 20", "minzoom": "2.0", "maxzoom": " 9 "},
			check: func(t *testing.T, p ParsedMetadata) {
				if p.Format != tileset.FormatJPEG || p.Bounds == nil || p.MinZoom != 2 || p.MaxZoom != 9 {
					t.Errorf("parsed = %+v", p.Metadata)
				}
				if p.Center == nil || *p.Center != [3]float64{10, 20, 2} {
					t.Errorf("center = %v, want zoom from minzoom", p.Center)
				}
			},
		},
		{
			name: "nothing at all",
			rows: map[string]string{},
			check: func(t *testing.T, p ParsedMetadata) {
				if p.Format != "" || p.HasMinZoom || p.HasMaxZoom || p.Bounds != nil || p.Center != nil || p.VectorLayers != nil {
					t.Errorf("parsed = %+v", p)
				}
			},
		},
		{
			name: "malformed values are ignored with warnings",
			rows: map[string]string{
				"format": "tiff", "bounds": "1,2,3", "center": "a,b,c", "minzoom": "-1", "maxzoom": "31",
				"json": "[1]",
			},
			check: func(t *testing.T, p ParsedMetadata) {
				if p.Format != "" || p.Bounds != nil || p.Center != nil || p.HasMinZoom || p.HasMaxZoom {
					t.Errorf("parsed = %+v", p.Metadata)
				}
			},
			warnings: []string{"format \"tiff\"", "bounds", "minzoom", "maxzoom", "center", "json"},
		},
		{
			name: "out-of-range bounds and center",
			rows: map[string]string{"bounds": "-200,-10,10,10", "center": "0,95,3"},
			check: func(t *testing.T, p ParsedMetadata) {
				if p.Bounds != nil || p.Center != nil {
					t.Errorf("bounds = %v center = %v", p.Bounds, p.Center)
				}
			},
			warnings: []string{"bounds", "center"},
		},
		{
			name: "bounds crossing the antimeridian are kept",
			rows: map[string]string{"bounds": "170,-10,-170,10"},
			check: func(t *testing.T, p ParsedMetadata) {
				if p.Bounds == nil || p.Bounds[0] != 170 {
					t.Errorf("bounds = %v", p.Bounds)
				}
			},
		},
		{
			name: "reversed zooms fall back to the table",
			rows: map[string]string{"minzoom": "8", "maxzoom": "3"},
			check: func(t *testing.T, p ParsedMetadata) {
				if p.HasMinZoom || p.HasMaxZoom {
					t.Errorf("zooms kept: %+v", p)
				}
			},
			warnings: []string{"minzoom 8 above maxzoom 3"},
		},
		{
			name: "json without vector layers",
			rows: map[string]string{"json": `{"level1":{"level2":"property"}}`},
			check: func(t *testing.T, p ParsedMetadata) {
				if p.VectorLayers != nil {
					t.Errorf("vector_layers = %s", p.VectorLayers)
				}
			},
		},
		{
			name:     "vector layers not an array",
			rows:     map[string]string{"json": `{"vector_layers":{"id":"x"}}`},
			check:    func(t *testing.T, p ParsedMetadata) {},
			warnings: []string{"vector_layers is not an array"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ParseMetadata(tt.rows)
			tt.check(t, p)
			if len(p.Warnings) != len(tt.warnings) {
				t.Fatalf("warnings = %q, want %d", p.Warnings, len(tt.warnings))
			}
			for i, w := range tt.warnings {
				if !strings.Contains(p.Warnings[i], w) {
					t.Errorf("warning %d = %q, want it to mention %q", i, p.Warnings[i], w)
				}
			}
		})
	}
}
