// Package topojson decodes TopoJSON topologies (specification 1.0) into orb
// geometries.
//
// A topology stores every line once, as an arc; geometries refer to arcs by
// index, and a negative index ~i (that is -i-1) means arc i walked
// backwards. A quantized topology also delta-encodes each arc's positions as
// integers and carries the transform that maps them back to coordinates.
// [Decode] undoes both, so [Topology.Arcs] holds absolute coordinates and
// [Topology.Features] assembles lines and rings from them.
//
// Every geometry type is supported: Point, MultiPoint, LineString,
// MultiLineString, Polygon, MultiPolygon, GeometryCollection and the null
// geometry. Decode checks the whole document, including every arc reference,
// so a topology it returns cannot fail later.
package topojson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/paulmach/orb"
)

// Geometry type names, as they appear in the "type" member.
const (
	TypePoint              = "Point"
	TypeMultiPoint         = "MultiPoint"
	TypeLineString         = "LineString"
	TypeMultiLineString    = "MultiLineString"
	TypePolygon            = "Polygon"
	TypeMultiPolygon       = "MultiPolygon"
	TypeGeometryCollection = "GeometryCollection"
)

// Transform maps quantized integer positions back to coordinates:
// x = qx*Scale[0] + Translate[0], y = qy*Scale[1] + Translate[1].
type Transform struct {
	Scale     [2]float64
	Translate [2]float64
}

// Apply returns the coordinates of the quantized position (qx, qy).
func (t Transform) Apply(qx, qy float64) orb.Point {
	// The explicit conversions keep the compiler from fusing the multiply
	// and add, so every platform computes bit-identical coordinates.
	return orb.Point{float64(qx*t.Scale[0]) + t.Translate[0], float64(qy*t.Scale[1]) + t.Translate[1]}
}

// Topology is a decoded TopoJSON document.
type Topology struct {
	// Transform is the quantization transform, or nil for an unquantized
	// topology.
	Transform *Transform
	// Arcs holds every arc with its positions decoded to absolute
	// coordinates (delta encoding and transform undone).
	Arcs []orb.LineString

	objects map[string]*geometry
}

// Feature is one geometry object of a topology, assembled from its arcs.
type Feature struct {
	// ID is the object's "id" member as decoded from JSON (a string, a
	// float64, or nil when absent).
	ID any
	// Properties is the object's "properties" member, or nil.
	Properties map[string]any
	// Geometry is an orb.Point, MultiPoint, LineString, MultiLineString,
	// Polygon, MultiPolygon or Collection; nil for a null geometry.
	Geometry orb.Geometry
}

// geometry is a geometry object with its references checked and parsed. Only
// the fields its type uses are set.
type geometry struct {
	typ        string
	id         any
	properties map[string]any
	positions  [][]float64 // Point (one position), MultiPoint
	lines      [][]int     // LineString (one line), MultiLineString, Polygon (rings)
	polygons   [][][]int   // MultiPolygon
	geometries []*geometry // GeometryCollection
}

type rawTopology struct {
	Type      string                     `json:"type"`
	Transform *rawTransform              `json:"transform"`
	Arcs      [][][]float64              `json:"arcs"`
	Objects   map[string]json.RawMessage `json:"objects"`
}

type rawTransform struct {
	Scale     []float64 `json:"scale"`
	Translate []float64 `json:"translate"`
}

type rawGeometry struct {
	Type        *string         `json:"type"`
	ID          any             `json:"id"`
	Properties  map[string]any  `json:"properties"`
	Arcs        json.RawMessage `json:"arcs"`
	Coordinates json.RawMessage `json:"coordinates"`
	Geometries  []*rawGeometry  `json:"geometries"`
}

// Decode parses a TopoJSON topology and decodes its arcs. It fails on
// anything malformed, including an arc reference out of range, so that
// Features never has to.
func Decode(data []byte) (*Topology, error) {
	var raw rawTopology
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotTopology, err)
	}
	if raw.Type != "Topology" {
		return nil, fmt.Errorf("%w: type is %q", ErrNotTopology, raw.Type)
	}
	t := &Topology{objects: make(map[string]*geometry, len(raw.Objects))}
	if raw.Transform != nil {
		if len(raw.Transform.Scale) != 2 || len(raw.Transform.Translate) != 2 {
			return nil, fmt.Errorf("%w: scale and translate need two numbers each", ErrBadTransform)
		}
		t.Transform = &Transform{
			Scale:     [2]float64{raw.Transform.Scale[0], raw.Transform.Scale[1]},
			Translate: [2]float64{raw.Transform.Translate[0], raw.Transform.Translate[1]},
		}
	}
	t.Arcs = make([]orb.LineString, len(raw.Arcs))
	for i, arc := range raw.Arcs {
		ls, err := t.decodeArc(arc)
		if err != nil {
			return nil, fmt.Errorf("arc %d: %w", i, err)
		}
		t.Arcs[i] = ls
	}
	for _, name := range sortedKeys(raw.Objects) {
		g, err := t.parseGeometry(raw.Objects[name], 0)
		if err != nil {
			return nil, fmt.Errorf("object %q: %w", name, err)
		}
		t.objects[name] = g
	}
	return t, nil
}

// decodeArc undoes the delta encoding of a quantized arc and applies the
// transform; an unquantized arc already holds absolute coordinates.
func (t *Topology) decodeArc(arc [][]float64) (orb.LineString, error) {
	if len(arc) == 0 {
		return nil, fmt.Errorf("%w: no positions", ErrBadArc)
	}
	ls := make(orb.LineString, len(arc))
	var x, y float64
	for j, pos := range arc {
		if len(pos) < 2 {
			return nil, fmt.Errorf("%w: position %d has %d numbers", ErrBadArc, j, len(pos))
		}
		if t.Transform == nil {
			ls[j] = orb.Point{pos[0], pos[1]}
			continue
		}
		x += pos[0]
		y += pos[1]
		ls[j] = t.Transform.Apply(x, y)
	}
	return ls, nil
}

// maxNesting bounds GeometryCollection nesting so that a hostile document
// cannot drive the recursion arbitrarily deep.
const maxNesting = 32

func (t *Topology) parseGeometry(data []byte, depth int) (*geometry, error) {
	var raw rawGeometry
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadGeometry, err)
	}
	return t.checkGeometry(&raw, depth)
}

func (t *Topology) checkGeometry(raw *rawGeometry, depth int) (*geometry, error) {
	if raw == nil {
		return nil, fmt.Errorf("%w: null geometry object", ErrBadGeometry)
	}
	g := &geometry{id: raw.ID, properties: raw.Properties}
	if raw.Type == nil {
		// A geometry whose type is null (or absent) has no coordinates.
		return g, nil
	}
	g.typ = *raw.Type
	var err error
	switch g.typ {
	case TypePoint:
		var pos []float64
		if err = unmarshalMember(raw.Coordinates, "coordinates", &pos); err == nil {
			g.positions = [][]float64{pos}
		}
	case TypeMultiPoint:
		err = unmarshalMember(raw.Coordinates, "coordinates", &g.positions)
	case TypeLineString:
		var line []int
		if err = unmarshalMember(raw.Arcs, "arcs", &line); err == nil {
			g.lines = [][]int{line}
		}
	case TypeMultiLineString, TypePolygon:
		err = unmarshalMember(raw.Arcs, "arcs", &g.lines)
	case TypeMultiPolygon:
		err = unmarshalMember(raw.Arcs, "arcs", &g.polygons)
	case TypeGeometryCollection:
		if depth >= maxNesting {
			return nil, fmt.Errorf("%w: geometry collections nested deeper than %d", ErrBadGeometry, maxNesting)
		}
		for i, member := range raw.Geometries {
			m, err := t.checkGeometry(member, depth+1)
			if err != nil {
				return nil, fmt.Errorf("geometry %d: %w", i, err)
			}
			g.geometries = append(g.geometries, m)
		}
		return g, nil
	default:
		return nil, fmt.Errorf("%w: unknown type %q", ErrBadGeometry, g.typ)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", g.typ, err)
	}
	for _, pos := range g.positions {
		if len(pos) < 2 {
			return nil, fmt.Errorf("%w: %s position has %d numbers", ErrBadGeometry, g.typ, len(pos))
		}
	}
	for _, line := range g.lines {
		if err := t.checkLine(line); err != nil {
			return nil, fmt.Errorf("%s: %w", g.typ, err)
		}
	}
	for _, poly := range g.polygons {
		for _, ring := range poly {
			if err := t.checkLine(ring); err != nil {
				return nil, fmt.Errorf("%s: %w", g.typ, err)
			}
		}
	}
	return g, nil
}

// unmarshalMember decodes a required member; JSON null counts as absent.
func unmarshalMember(data json.RawMessage, member string, v any) error {
	if len(data) == 0 || bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return fmt.Errorf("%w: %q is missing", ErrBadGeometry, member)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %q: %w", ErrBadGeometry, member, err)
	}
	return nil
}

func (t *Topology) checkLine(line []int) error {
	if len(line) == 0 {
		return fmt.Errorf("%w: a line or ring refers to no arc", ErrBadGeometry)
	}
	for _, i := range line {
		if i < 0 {
			i = ^i
		}
		if i >= len(t.Arcs) {
			return fmt.Errorf("%w: %d (topology has %d arcs)", ErrArcIndex, i, len(t.Arcs))
		}
	}
	return nil
}

// Objects returns the names of the topology's objects, sorted.
func (t *Topology) Objects() []string {
	return sortedKeys(t.objects)
}

// WithArcs returns a copy of t whose geometries are assembled from arcs
// instead of t.Arcs, for example after simplifying each arc. arcs must hold
// as many arcs as t.Arcs, each non-empty.
func (t *Topology) WithArcs(arcs []orb.LineString) (*Topology, error) {
	if len(arcs) != len(t.Arcs) {
		return nil, fmt.Errorf("%w: %d arcs given for a topology of %d", ErrArcIndex, len(arcs), len(t.Arcs))
	}
	for i, a := range arcs {
		if len(a) == 0 {
			return nil, fmt.Errorf("arc %d: %w: no positions", i, ErrBadArc)
		}
	}
	c := *t
	c.Arcs = arcs
	return &c, nil
}

// Features assembles the named object. A GeometryCollection object yields one
// feature per member geometry, in document order; any other object yields a
// single feature.
func (t *Topology) Features(object string) ([]Feature, error) {
	g, ok := t.objects[object]
	if !ok {
		return nil, fmt.Errorf("%w: %q (have %v)", ErrNoObject, object, t.Objects())
	}
	if g.typ != TypeGeometryCollection {
		return []Feature{t.feature(g)}, nil
	}
	fs := make([]Feature, 0, len(g.geometries))
	for _, m := range g.geometries {
		fs = append(fs, t.feature(m))
	}
	return fs, nil
}

func (t *Topology) feature(g *geometry) Feature {
	return Feature{ID: g.id, Properties: g.properties, Geometry: t.geometry(g)}
}

func (t *Topology) geometry(g *geometry) orb.Geometry {
	switch g.typ {
	case TypePoint:
		return t.position(g.positions[0])
	case TypeMultiPoint:
		mp := make(orb.MultiPoint, len(g.positions))
		for i, pos := range g.positions {
			mp[i] = t.position(pos)
		}
		return mp
	case TypeLineString:
		return t.line(g.lines[0])
	case TypeMultiLineString:
		mls := make(orb.MultiLineString, len(g.lines))
		for i, l := range g.lines {
			mls[i] = t.line(l)
		}
		return mls
	case TypePolygon:
		return t.polygon(g.lines)
	case TypeMultiPolygon:
		mp := make(orb.MultiPolygon, len(g.polygons))
		for i, p := range g.polygons {
			mp[i] = t.polygon(p)
		}
		return mp
	case TypeGeometryCollection:
		c := make(orb.Collection, 0, len(g.geometries))
		for _, m := range g.geometries {
			if mg := t.geometry(m); mg != nil {
				c = append(c, mg)
			}
		}
		return c
	}
	return nil
}

// position decodes a point's position: quantized but, unlike arcs, not
// delta-encoded.
func (t *Topology) position(pos []float64) orb.Point {
	if t.Transform == nil {
		return orb.Point{pos[0], pos[1]}
	}
	return t.Transform.Apply(pos[0], pos[1])
}

// line concatenates arcs. Consecutive arcs share their joining position, so
// every arc after the first contributes all but its first position.
func (t *Topology) line(arcs []int) orb.LineString {
	var ls orb.LineString
	for _, ref := range arcs {
		var pts orb.LineString
		if ref >= 0 {
			pts = t.Arcs[ref]
		} else {
			pts = slices.Clone(t.Arcs[^ref])
			slices.Reverse(pts)
		}
		if len(ls) > 0 {
			pts = pts[1:]
		}
		ls = append(ls, pts...)
	}
	return ls
}

// polygon assembles rings, closing any whose arcs do not end where they
// began so that every ring satisfies orb's closed-ring convention.
func (t *Topology) polygon(rings [][]int) orb.Polygon {
	p := make(orb.Polygon, len(rings))
	for i, r := range rings {
		ring := orb.Ring(t.line(r))
		if !ring.Closed() {
			ring = append(ring, ring[0])
		}
		p[i] = ring
	}
	return p
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
