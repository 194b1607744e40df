package builder

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"

	"github.com/mapwright/mapwright/internal/demo/topojson"
	"github.com/mapwright/mapwright/internal/tiles/pmtiles"
)

func TestUnwrapRing(t *testing.T) {
	tests := []struct {
		name string
		in   orb.Ring
		want orb.Ring
	}{
		{
			name: "ring away from the antimeridian is unchanged",
			in:   orb.Ring{{0, 0}, {10, 0}, {10, 10}, {0, 0}},
			want: orb.Ring{{0, 0}, {10, 0}, {10, 10}, {0, 0}},
		},
		{
			name: "ring crossing eastwards runs on past 180",
			in:   orb.Ring{{170, 60}, {-170, 60}, {-170, 70}, {170, 70}, {170, 60}},
			want: orb.Ring{{170, 60}, {190, 60}, {190, 70}, {170, 70}, {170, 60}},
		},
		{
			name: "ring crossing westwards runs on past -180",
			in:   orb.Ring{{-175, -10}, {175, -10}, {175, -20}, {-175, -20}, {-175, -10}},
			want: orb.Ring{{-175, -10}, {-185, -10}, {-185, -20}, {-175, -20}, {-175, -10}},
		},
		{
			name: "ring around the south pole is closed along the pole",
			in:   orb.Ring{{-180, -70}, {0, -75}, {179, -70}, {-180, -70}},
			want: orb.Ring{{-180, -70}, {0, -75}, {179, -70}, {180, -70}, {180, -90}, {-180, -90}, {-180, -70}},
		},
		{
			name: "ring around the north pole is closed along the pole",
			in:   orb.Ring{{-180, 80}, {179, 80}, {0, 85}, {-180, 80}},
			want: orb.Ring{{-180, 80}, {-181, 80}, {-360, 85}, {-540, 80}, {-540, 90}, {-180, 90}, {-180, 80}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unwrapRing(tt.in); !orb.Equal(got, tt.want) {
				t.Errorf("unwrapRing = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSimplifyArc(t *testing.T) {
	identity := func(ls orb.LineString) orb.LineString { return ls }
	tests := []struct {
		name      string
		in        orb.LineString
		tolerance float64
		want      orb.LineString
	}{
		{
			name:      "collinear points go",
			in:        orb.LineString{{0, 0}, {1, 0}, {2, 0}, {3, 0}},
			tolerance: 0.1,
			want:      orb.LineString{{0, 0}, {3, 0}},
		},
		{
			name:      "a bend beyond the tolerance stays",
			in:        orb.LineString{{0, 0}, {1, 0.48}, {2, 1}, {3, 0}},
			tolerance: 0.1,
			want:      orb.LineString{{0, 0}, {2, 1}, {3, 0}},
		},
		{
			name:      "a bend within the tolerance goes",
			in:        orb.LineString{{0, 0}, {2, 1}, {3, 0}},
			tolerance: 2,
			want:      orb.LineString{{0, 0}, {3, 0}},
		},
		{
			name:      "points around an antimeridian jump stay",
			in:        orb.LineString{{170, 0}, {175, 0}, {179, 0}, {-179, 0}, {-175, 0}, {-170, 0}},
			tolerance: 100,
			want:      orb.LineString{{170, 0}, {179, 0}, {-179, 0}, {-170, 0}},
		},
		{
			name:      "points on the antimeridian stay",
			in:        orb.LineString{{180, 0}, {180, 1}, {180, 2}},
			tolerance: 100,
			want:      orb.LineString{{180, 0}, {180, 1}, {180, 2}},
		},
		{
			name:      "a closed loop keeps its farthest point",
			in:        orb.LineString{{0, 0}, {1, 1.5}, {2, 3}, {1, 2}, {0, 0}},
			tolerance: 0.2,
			want:      orb.LineString{{0, 0}, {2, 3}, {1, 2}, {0, 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := simplifyArc(tt.in, identity(tt.in), tt.tolerance)
			if !orb.Equal(got, tt.want) {
				t.Errorf("simplifyArc = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestToTileOrientsAndCleansRings(t *testing.T) {
	// World coordinates at zoom 0: one tile unit is 1/4096.
	u := func(x, y float64) orb.Point { return orb.Point{x / Extent, y / Extent} }
	square := func(x0, y0, x1, y1 float64, cw bool) orb.Ring {
		r := orb.Ring{u(x0, y0), u(x1, y0), u(x1, y1), u(x0, y1), u(x0, y0)}
		if !cw {
			r.Reverse()
		}
		return r
	}
	tests := []struct {
		name  string
		in    orb.Polygon
		rings int // rings kept; 0 means the polygon is dropped
	}{
		{"clockwise exterior with clockwise hole", orb.Polygon{square(0, 0, 100, 100, true), square(10, 10, 20, 20, true)}, 2},
		{"counter-clockwise exterior with counter-clockwise hole", orb.Polygon{square(0, 0, 100, 100, false), square(10, 10, 20, 20, false)}, 2},
		{"hole that rounds away is dropped", orb.Polygon{square(0, 0, 100, 100, true), square(10, 10, 10.2, 10.2, true)}, 1},
		{"exterior that rounds away drops the polygon", orb.Polygon{square(0, 0, 0.3, 0.3, true)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := toTile(tt.in, 1, 0, 0)
			if len(got) != tt.rings {
				t.Fatalf("kept %d rings, want %d: %v", len(got), tt.rings, got)
			}
			for i, r := range got {
				if !r.Closed() {
					t.Errorf("ring %d is not closed", i)
				}
				for j := 1; j < len(r); j++ {
					if r[j] == r[j-1] {
						t.Errorf("ring %d repeats point %v", i, r[j])
					}
				}
				a := ringArea(r)
				if i == 0 && a <= 0 || i > 0 && a >= 0 {
					t.Errorf("ring %d has area %v: exterior must be positive, holes negative", i, a)
				}
			}
		})
	}
}

// smallTopology holds a square around (0°, 0°) 20 degrees wide and a box
// crossing the antimeridian between 60°N and 70°N.
const smallTopology = `{
  "type": "Topology",
  "arcs": [
    [[-10, -10], [10, -10], [10, 10], [-10, 10], [-10, -10]],
    [[170, 60], [-170, 60], [-170, 70], [170, 70], [170, 60]]
  ],
  "objects": {"countries": {"type": "GeometryCollection", "geometries": [
    {"type": "Polygon", "properties": {"name": "Square"}, "arcs": [[0]]},
    {"type": "Polygon", "properties": {"name": "Dateline"}, "arcs": [[1]]}
  ]}}
}`

func buildSmall(t *testing.T, opts Options) []byte {
	t.Helper()
	var out bytes.Buffer
	if _, err := Build(context.Background(), []byte(smallTopology), &out, opts); err != nil {
		t.Fatalf("Build: %v", err)
	}
	return out.Bytes()
}

func readTile(t *testing.T, r *pmtiles.Reader, z, x, y int) *mvt.Layer {
	t.Helper()
	data, err := r.Tile(context.Background(), z, x, y)
	if err != nil || data == nil {
		t.Fatalf("tile %d/%d/%d: %v (present: %v)", z, x, y, err, data != nil)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	ls, err := mvt.Unmarshal(raw)
	if err != nil || len(ls) != 1 {
		t.Fatalf("decode: %v (%d layers)", err, len(ls))
	}
	return ls[0]
}

func TestBuildPlacesFeaturesInTheirTiles(t *testing.T) {
	archive := buildSmall(t, Options{MaxZoom: 2})
	r, err := pmtiles.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatalf("open built archive: %v", err)
	}
	defer r.Close()

	z0 := readTile(t, r, 0, 0, 0)
	var square orb.Geometry
	for _, f := range z0.Features {
		if f.Properties["name"] == "Square" {
			square = f.Geometry
		}
	}
	if square == nil {
		t.Fatalf("no Square at zoom 0: %d features", len(z0.Features))
	}
	// ±10° of longitude is (0.5 ± 10/360) of 4096 units; ±10° of latitude
	// is 0.5 ∓ atanh(sin 10°)/2π of the same in Web Mercator.
	dx := 10.0 / 360 * Extent
	dy := math.Atanh(math.Sin(10*math.Pi/180)) / (2 * math.Pi) * Extent
	want := orb.Bound{Min: orb.Point{math.Round(2048 - dx), math.Round(2048 - dy)}, Max: orb.Point{math.Round(2048 + dx), math.Round(2048 + dy)}}
	if got := square.Bound(); got != want {
		t.Errorf("Square at zoom 0 spans %v, want %v", got, want)
	}

	tests := []struct {
		name    string
		z, x, y int
		want    []string // names in the tile; nil means no tile at all
	}{
		{"square touches the four middle tiles", 2, 1, 1, []string{"Square"}},
		{"square in the south-east middle tile", 2, 2, 2, []string{"Square"}},
		{"dateline box in the east", 2, 3, 0, []string{"Dateline"}},
		{"dateline box wraps to the west", 2, 0, 0, []string{"Dateline"}},
		{"empty ocean tile is left out", 2, 0, 3, nil},
		{"square reaches zoom 1 south-west", 1, 0, 1, []string{"Square"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == nil {
				data, err := r.Tile(context.Background(), tt.z, tt.x, tt.y)
				if err != nil || data != nil {
					t.Fatalf("tile %d/%d/%d: %d bytes, %v; want none", tt.z, tt.x, tt.y, len(data), err)
				}
				return
			}
			l := readTile(t, r, tt.z, tt.x, tt.y)
			var got []string
			for _, f := range l.Features {
				got = append(got, f.Properties["name"].(string))
			}
			if len(got) != len(tt.want) || got[0] != tt.want[0] {
				t.Errorf("tile %d/%d/%d holds %v, want %v", tt.z, tt.x, tt.y, got, tt.want)
			}
		})
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	one := buildSmall(t, Options{MaxZoom: 3, Workers: 1})
	many := buildSmall(t, Options{MaxZoom: 3, Workers: 8})
	again := buildSmall(t, Options{MaxZoom: 3, Workers: 3})
	if !bytes.Equal(one, many) || !bytes.Equal(one, again) {
		t.Fatal("builds with different worker counts differ")
	}
}

func TestBuildRejects(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		opts Options
		want error
	}{
		{"not a topology", `{"type":"FeatureCollection"}`, Options{}, topojson.ErrNotTopology},
		{"no countries object", `{"type":"Topology","arcs":[],"objects":{"land":{"type":null}}}`, Options{}, topojson.ErrNoObject},
		{"line instead of polygon", `{"type":"Topology","arcs":[[[0,0],[1,1]]],"objects":{"countries":{"type":"LineString","arcs":[0]}}}`, Options{}, ErrNotPolygon},
		{"only null geometries", `{"type":"Topology","arcs":[],"objects":{"countries":{"type":"GeometryCollection","geometries":[{"type":null}]}}}`, Options{}, ErrNoTiles},
		{"inverted zoom range", smallTopology, Options{MinZoom: 3, MaxZoom: 2}, ErrOptions},
		{"zoom too deep", smallTopology, Options{MaxZoom: 13}, ErrOptions},
		{"negative tolerance", smallTopology, Options{Tolerance: -1}, ErrOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			_, err := Build(context.Background(), []byte(tt.doc), &out, tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Build error = %v, want %v", err, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("a failed build wrote %d bytes", out.Len())
			}
		})
	}
}

func TestBuildStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	if _, err := Build(ctx, []byte(smallTopology), &out, Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Build error = %v, want %v", err, context.Canceled)
	}
}

func BenchmarkBuildCountries(b *testing.B) {
	src, err := os.ReadFile(filepath.Join("..", "source", "countries-50m.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(context.Background(), src, io.Discard, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
