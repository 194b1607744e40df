package topojson

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paulmach/orb"
)

// tiny is a hand-made quantized topology: two unit squares (A on the right,
// B on the left) sharing the edge x=0 in quantized space. Arc 0 is that
// shared edge; B walks it backwards (~0 = -1). The transform maps quantized
// (qx, qy) to (qx*0.5+10, qy*0.25+20).
const tiny = `{
  "type": "Topology",
  "transform": {"scale": [0.5, 0.25], "translate": [10, 20]},
  "arcs": [
    [[0, 0], [0, 4]],
    [[0, 4], [4, 0], [0, -4], [-4, 0]],
    [[0, 0], [-4, 0], [0, 4], [4, 0]]
  ],
  "objects": {
    "squares": {"type": "GeometryCollection", "geometries": [
      {"type": "Polygon", "id": "A", "properties": {"name": "Right"}, "arcs": [[0, 1]]},
      {"type": "Polygon", "id": 2, "properties": {"name": "Left"}, "arcs": [[2, -1]]},
      {"type": "MultiPolygon", "properties": {"name": "Both"}, "arcs": [[[0, 1]], [[2, -1]]]},
      {"type": null, "properties": {"name": "Nothing"}}
    ]},
    "border": {"type": "LineString", "arcs": [0]},
    "outline": {"type": "MultiLineString", "arcs": [[1], [-1]]},
    "corner": {"type": "Point", "coordinates": [4, 4]},
    "corners": {"type": "MultiPoint", "coordinates": [[0, 0], [4, 4]]},
    "nested": {"type": "GeometryCollection", "geometries": [
      {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [0, 0]}]}
    ]}
  }
}`

var (
	ringRight = orb.Ring{{10, 20}, {10, 21}, {12, 21}, {12, 20}, {10, 20}}
	ringLeft  = orb.Ring{{10, 20}, {8, 20}, {8, 21}, {10, 21}, {10, 20}}
)

func TestFeaturesOfQuantizedTopology(t *testing.T) {
	topo, err := Decode([]byte(tiny))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if got, want := strings.Join(topo.Objects(), ","), "border,corner,corners,nested,outline,squares"; got != want {
		t.Errorf("Objects() = %s, want %s", got, want)
	}

	tests := []struct {
		name   string
		object string
		want   []Feature
	}{
		{
			name:   "polygons share a reversed arc",
			object: "squares",
			want: []Feature{
				{ID: "A", Properties: map[string]any{"name": "Right"}, Geometry: orb.Polygon{ringRight}},
				{ID: float64(2), Properties: map[string]any{"name": "Left"}, Geometry: orb.Polygon{ringLeft}},
				{Properties: map[string]any{"name": "Both"}, Geometry: orb.MultiPolygon{{ringRight}, {ringLeft}}},
				{Properties: map[string]any{"name": "Nothing"}},
			},
		},
		{
			name:   "line string",
			object: "border",
			want:   []Feature{{Geometry: orb.LineString{{10, 20}, {10, 21}}}},
		},
		{
			name:   "multi line string with reversed arc",
			object: "outline",
			want: []Feature{{Geometry: orb.MultiLineString{
				{{10, 21}, {12, 21}, {12, 20}, {10, 20}},
				{{10, 21}, {10, 20}},
			}}},
		},
		{
			name:   "point positions are quantized but not delta-encoded",
			object: "corner",
			want:   []Feature{{Geometry: orb.Point{12, 21}}},
		},
		{
			name:   "multi point",
			object: "corners",
			want:   []Feature{{Geometry: orb.MultiPoint{{10, 20}, {12, 21}}}},
		},
		{
			name:   "nested collection becomes one feature",
			object: "nested",
			want:   []Feature{{Geometry: orb.Collection{orb.Point{10, 20}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := topo.Features(tt.object)
			if err != nil {
				t.Fatalf("Features(%q): %v", tt.object, err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d features, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				assertFeature(t, i, got[i], tt.want[i])
			}
		})
	}
}

func assertFeature(t *testing.T, i int, got, want Feature) {
	t.Helper()
	if got.ID != want.ID {
		t.Errorf("feature %d: id = %#v, want %#v", i, got.ID, want.ID)
	}
	if got.Properties["name"] != want.Properties["name"] {
		t.Errorf("feature %d: name = %v, want %v", i, got.Properties["name"], want.Properties["name"])
	}
	switch {
	case want.Geometry == nil && got.Geometry != nil:
		t.Errorf("feature %d: geometry = %v, want none", i, got.Geometry)
	case want.Geometry != nil && (got.Geometry == nil || !orb.Equal(got.Geometry, want.Geometry)):
		t.Errorf("feature %d: geometry = %v, want %v", i, got.Geometry, want.Geometry)
	}
}

func TestUnquantizedTopology(t *testing.T) {
	// Without a transform the arcs hold absolute coordinates, not deltas.
	const doc = `{"type":"Topology","arcs":[[[1.5,2],[3,2],[3,4],[1.5,2]]],
		"objects":{"tri":{"type":"Polygon","arcs":[[0]]},"p":{"type":"Point","coordinates":[7,8]}}}`
	topo, err := Decode([]byte(doc))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	fs, err := topo.Features("tri")
	if err != nil {
		t.Fatalf("Features: %v", err)
	}
	want := orb.Polygon{{{1.5, 2}, {3, 2}, {3, 4}, {1.5, 2}}}
	if !orb.Equal(fs[0].Geometry, want) {
		t.Errorf("geometry = %v, want %v", fs[0].Geometry, want)
	}
	fs, err = topo.Features("p")
	if err != nil {
		t.Fatalf("Features: %v", err)
	}
	if !orb.Equal(fs[0].Geometry, orb.Point{7, 8}) {
		t.Errorf("point = %v, want [7 8]", fs[0].Geometry)
	}
}

func TestUnclosedRingIsClosed(t *testing.T) {
	const doc = `{"type":"Topology","arcs":[[[0,0],[1,0],[1,1]]],"objects":{"o":{"type":"Polygon","arcs":[[0]]}}}`
	topo, err := Decode([]byte(doc))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	fs, err := topo.Features("o")
	if err != nil {
		t.Fatalf("Features: %v", err)
	}
	want := orb.Polygon{{{0, 0}, {1, 0}, {1, 1}, {0, 0}}}
	if !orb.Equal(fs[0].Geometry, want) {
		t.Errorf("geometry = %v, want %v", fs[0].Geometry, want)
	}
}

func TestDecodeRejects(t *testing.T) {
	const arcs = `"arcs":[[[0,0],[1,0],[0,1],[-1,-1]]]`
	tests := []struct {
		name string
		doc  string
		want error
	}{
		{"not json", `{"type":`, ErrNotTopology},
		{"geojson instead", `{"type":"FeatureCollection","features":[]}`, ErrNotTopology},
		{"one-number scale", `{"type":"Topology","transform":{"scale":[1],"translate":[0,0]},"arcs":[],"objects":{}}`, ErrBadTransform},
		{"empty arc", `{"type":"Topology","arcs":[[]],"objects":{}}`, ErrBadArc},
		{"short position", `{"type":"Topology","arcs":[[[0,0],[1]]],"objects":{}}`, ErrBadArc},
		{"arc index too large", `{"type":"Topology",` + arcs + `,"objects":{"o":{"type":"Polygon","arcs":[[1]]}}}`, ErrArcIndex},
		{"reversed arc index too large", `{"type":"Topology",` + arcs + `,"objects":{"o":{"type":"LineString","arcs":[-2]}}}`, ErrArcIndex},
		{"fractional arc index", `{"type":"Topology",` + arcs + `,"objects":{"o":{"type":"LineString","arcs":[0.5]}}}`, ErrBadGeometry},
		{"ring without arcs", `{"type":"Topology",` + arcs + `,"objects":{"o":{"type":"Polygon","arcs":[[]]}}}`, ErrBadGeometry},
		{"polygon arcs of wrong depth", `{"type":"Topology",` + arcs + `,"objects":{"o":{"type":"Polygon","arcs":[0]}}}`, ErrBadGeometry},
		{"missing arcs", `{"type":"Topology",` + arcs + `,"objects":{"o":{"type":"MultiPolygon"}}}`, ErrBadGeometry},
		{"unknown type", `{"type":"Topology",` + arcs + `,"objects":{"o":{"type":"Circle","arcs":[0]}}}`, ErrBadGeometry},
		{"point with one number", `{"type":"Topology",` + arcs + `,"objects":{"o":{"type":"Point","coordinates":[1]}}}`, ErrBadGeometry},
		{"null collection member", `{"type":"Topology",` + arcs + `,"objects":{"o":{"type":"GeometryCollection","geometries":[null]}}}`, ErrBadGeometry},
		{"bad member deep inside", `{"type":"Topology",` + arcs + `,"objects":{"o":{"type":"GeometryCollection","geometries":[{"type":"GeometryCollection","geometries":[{"type":"LineString","arcs":[7]}]}]}}}`, ErrArcIndex},
		{"collections nested too deep", `{"type":"Topology",` + arcs + `,"objects":{"o":` + strings.Repeat(`{"type":"GeometryCollection","geometries":[`, 40) + strings.Repeat(`]}`, 40) + `}}`, ErrBadGeometry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.doc))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestFeaturesUnknownObject(t *testing.T) {
	topo, err := Decode([]byte(tiny))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if _, err := topo.Features("countries"); !errors.Is(err, ErrNoObject) {
		t.Fatalf("Features error = %v, want %v", err, ErrNoObject)
	}
}

func TestWithArcs(t *testing.T) {
	topo, err := Decode([]byte(tiny))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	moved := make([]orb.LineString, len(topo.Arcs))
	for i, a := range topo.Arcs {
		moved[i] = make(orb.LineString, len(a))
		for j, p := range a {
			moved[i][j] = orb.Point{p[0] + 100, p[1]}
		}
	}
	shifted, err := topo.WithArcs(moved)
	if err != nil {
		t.Fatalf("WithArcs: %v", err)
	}
	fs, err := shifted.Features("border")
	if err != nil {
		t.Fatalf("Features: %v", err)
	}
	if want := (orb.LineString{{110, 20}, {110, 21}}); !orb.Equal(fs[0].Geometry, want) {
		t.Errorf("shifted border = %v, want %v", fs[0].Geometry, want)
	}
	// The original must be untouched.
	fs, err = topo.Features("border")
	if err != nil {
		t.Fatalf("Features: %v", err)
	}
	if want := (orb.LineString{{10, 20}, {10, 21}}); !orb.Equal(fs[0].Geometry, want) {
		t.Errorf("original border = %v, want %v", fs[0].Geometry, want)
	}

	if _, err := topo.WithArcs(moved[:1]); !errors.Is(err, ErrArcIndex) {
		t.Errorf("WithArcs(too few) error = %v, want %v", err, ErrArcIndex)
	}
	moved[1] = nil
	if _, err := topo.WithArcs(moved); !errors.Is(err, ErrBadArc) {
		t.Errorf("WithArcs(empty arc) error = %v, want %v", err, ErrBadArc)
	}
}

// TestNaturalEarthSource decodes the bundled countries and checks the
// decoded arcs span exactly the bounding box the file declares, which only
// holds when delta decoding and the transform are both right.
func TestNaturalEarthSource(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "source", "countries-50m.json"))
	if err != nil {
		t.Fatalf("read source: %v", err)
	}
	topo, err := Decode(data)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	b := orb.Bound{Min: orb.Point{math.Inf(1), math.Inf(1)}, Max: orb.Point{math.Inf(-1), math.Inf(-1)}}
	for _, a := range topo.Arcs {
		for _, p := range a {
			b = b.Extend(p)
		}
	}
	want := orb.Bound{Min: orb.Point{-180, -89.999}, Max: orb.Point{180, 83.599609375}}
	const eps = 1e-9
	if math.Abs(b.Min[0]-want.Min[0]) > eps || math.Abs(b.Min[1]-want.Min[1]) > eps ||
		math.Abs(b.Max[0]-want.Max[0]) > eps || math.Abs(b.Max[1]-want.Max[1]) > eps {
		t.Errorf("arcs span %v, file declares %v", b, want)
	}

	fs, err := topo.Features("countries")
	if err != nil {
		t.Fatalf("Features: %v", err)
	}
	if len(fs) != 241 {
		t.Errorf("got %d countries, want 241", len(fs))
	}
	names := map[string]bool{}
	for i, f := range fs {
		name, _ := f.Properties["name"].(string)
		if name == "" {
			t.Errorf("country %d has no name", i)
		}
		names[name] = true
		var polys orb.MultiPolygon
		switch g := f.Geometry.(type) {
		case orb.Polygon:
			polys = orb.MultiPolygon{g}
		case orb.MultiPolygon:
			polys = g
		default:
			t.Fatalf("country %q has geometry %T", name, f.Geometry)
		}
		for _, p := range polys {
			for _, r := range p {
				if len(r) < 4 || !r.Closed() {
					t.Errorf("country %q has a ring of %d points, closed=%v", name, len(r), r.Closed())
				}
			}
		}
	}
	for _, n := range []string{"France", "Japan", "Brazil", "Antarctica", "Fiji", "Russia"} {
		if !names[n] {
			t.Errorf("country %q missing", n)
		}
	}
}

func FuzzTopoJSON(f *testing.F) {
	f.Add([]byte(tiny))
	f.Add([]byte(`{"type":"Topology","arcs":[[[0,0],[1,0],[1,1]]],"objects":{"o":{"type":"Polygon","arcs":[[-1]]}}}`))
	f.Add([]byte(`{"type":"Topology","transform":{"scale":[1e308,1e308],"translate":[0,0]},"arcs":[[[1e308,1e308],[1e308,1e308]]],"objects":{"o":{"type":"MultiPolygon","arcs":[[[0,-1,0]]]}}}`))
	f.Add([]byte(`{"type":"Topology","arcs":[],"objects":{"o":{"type":"GeometryCollection","geometries":[{"type":null},{"type":"MultiPoint","coordinates":[]}]}}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		topo, err := Decode(data)
		if err != nil {
			return
		}
		for _, name := range topo.Objects() {
			fs, err := topo.Features(name)
			if err != nil {
				t.Fatalf("Features(%q) after a successful Decode: %v", name, err)
			}
			for _, ft := range fs {
				if ft.Geometry != nil {
					_ = ft.Geometry.Bound()
				}
			}
		}
	})
}
