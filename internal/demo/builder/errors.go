package builder

import "errors"

// Sentinel errors. Test with errors.Is.
var (
	// ErrOptions: the Options are out of range (a negative or inverted
	// zoom range, a zoom too deep for a demo, a negative tolerance).
	ErrOptions = errors.New("invalid build options")
	// ErrNotPolygon: a country in the source is not a polygon or
	// multipolygon.
	ErrNotPolygon = errors.New("country geometry is not a polygon")
	// ErrNoTiles: a zoom level came out without a single tile, so the
	// source holds no usable geometry.
	ErrNoTiles = errors.New("no tiles generated")
)
