package builder

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/clip"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
)

// worldFeature is one country at one zoom level, in world coordinates.
type worldFeature struct {
	name     string
	polygons []worldPolygon
	bound    orb.Bound
}

// encodeTile clips features to tile z/x/y (plus the buffer), converts them to
// integer tile coordinates and returns the gzipped vector tile, or nil when
// no feature touches the tile.
func encodeTile(features []worldFeature, z, x, y int) ([]byte, error) {
	n := float64(uint64(1) << z)
	buf := float64(Buffer) / Extent / n
	tb := orb.Bound{
		Min: orb.Point{float64(x)/n - buf, float64(y)/n - buf},
		Max: orb.Point{float64(x+1)/n + buf, float64(y+1)/n + buf},
	}
	var fs []*geojson.Feature
	for _, f := range features {
		if !f.bound.Intersects(tb) {
			continue
		}
		var mp orb.MultiPolygon
		for _, p := range f.polygons {
			if !p.bound.Intersects(tb) {
				continue
			}
			// clip uses its input as scratch space, and the same polygon
			// is clipped again for the neighbouring tiles.
			clipped := clip.Polygon(tb, p.rings.Clone())
			if tp := toTile(clipped, n, float64(x), float64(y)); tp != nil {
				mp = append(mp, tp)
			}
		}
		if len(mp) == 0 {
			continue
		}
		gf := geojson.NewFeature(mp)
		if len(mp) == 1 {
			gf = geojson.NewFeature(mp[0])
		}
		if f.name != "" {
			gf.Properties["name"] = f.name
		}
		fs = append(fs, gf)
	}
	if len(fs) == 0 {
		return nil, nil
	}
	layer := &mvt.Layer{Name: LayerName, Version: 2, Extent: Extent, Features: fs}
	raw, err := mvt.Marshal(mvt.Layers{layer})
	if err != nil {
		return nil, fmt.Errorf("encode tile %d/%d/%d: %w", z, x, y, err)
	}
	return gzipBytes(raw)
}

// toTile converts a clipped world polygon to integer tile coordinates and
// repairs what rounding breaks: repeated points are dropped, rings left
// without area are dropped, and rings are oriented as the vector tile
// specification requires (exterior clockwise on screen, that is positive
// shoelace area with y down; holes the other way). It returns nil when the
// exterior does not survive.
func toTile(p orb.Polygon, n, x, y float64) orb.Polygon {
	var out orb.Polygon
	for i, r := range p {
		tr := make(orb.Ring, 0, len(r))
		for _, pt := range r {
			// n and Extent are powers of two, so these products are exact
			// and the rounding is the only approximation.
			q := orb.Point{
				math.Round((pt[0]*n - x) * Extent),
				math.Round((pt[1]*n - y) * Extent),
			}
			if len(tr) > 0 && tr[len(tr)-1] == q {
				continue
			}
			tr = append(tr, q)
		}
		if len(tr) > 1 && tr[0] != tr[len(tr)-1] {
			tr = append(tr, tr[0])
		}
		a := ringArea(tr)
		if len(tr) < 4 || a == 0 {
			if i == 0 {
				return nil
			}
			continue
		}
		if (i == 0) != (a > 0) {
			tr.Reverse()
		}
		out = append(out, tr)
	}
	return out
}

// gzipBytes compresses b at a fixed level with an empty gzip header (no name,
// no modification time), so equal tiles give equal bytes.
func gzipBytes(b []byte) ([]byte, error) {
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("gzip tile: %w", err)
	}
	if _, err := zw.Write(b); err != nil {
		return nil, fmt.Errorf("gzip tile: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip tile: %w", err)
	}
	return out.Bytes(), nil
}
