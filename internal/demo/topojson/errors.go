package topojson

import "errors"

// Sentinel errors. Test with errors.Is; the returned errors wrap them with
// the object, geometry or arc they concern.
var (
	// ErrNotTopology: the document is not a TopoJSON topology (bad JSON, or
	// a "type" other than "Topology").
	ErrNotTopology = errors.New("not a TopoJSON topology")
	// ErrBadTransform: the quantization transform lacks a two-element scale
	// or translate.
	ErrBadTransform = errors.New("invalid TopoJSON transform")
	// ErrBadArc: an arc is empty or holds a position with fewer than two
	// numbers.
	ErrBadArc = errors.New("invalid TopoJSON arc")
	// ErrArcIndex: a geometry refers to an arc the topology does not have.
	ErrArcIndex = errors.New("TopoJSON arc index out of range")
	// ErrBadGeometry: a geometry object has an unknown type or arcs or
	// coordinates of the wrong shape.
	ErrBadGeometry = errors.New("invalid TopoJSON geometry")
	// ErrNoObject: the topology has no object of the requested name.
	ErrNoObject = errors.New("no such TopoJSON object")
)
