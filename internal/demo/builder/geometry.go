package builder

import (
	"math"
	"slices"

	"github.com/paulmach/orb"
)

// maxMercatorLat is the latitude at which the Web Mercator square ends
// (atan(sinh(pi)) in degrees). Coordinates beyond it are clamped onto it.
const maxMercatorLat = 85.05112877980659

// project maps longitude/latitude to Web Mercator world coordinates, where
// the world is the unit square with (0, 0) at its north-west corner.
// Longitudes beyond ±180 map linearly beyond [0, 1], which is what lets
// polygons crossing the antimeridian be drawn on both sides.
func project(p orb.Point) orb.Point {
	lat := max(-maxMercatorLat, min(maxMercatorLat, p[1]))
	sin := math.Sin(lat * math.Pi / 180)
	return orb.Point{
		p[0]/360 + 0.5,
		0.5 - math.Log((1+sin)/(1-sin))/(4*math.Pi),
	}
}

// segDistSq is the squared distance from p to the segment a-b.
func segDistSq(p, a, b orb.Point) float64 {
	dx, dy := b[0]-a[0], b[1]-a[1]
	ex, ey := p[0]-a[0], p[1]-a[1]
	// The explicit float64 conversions forbid fused multiply-add, so the
	// result, and with it the generated tiles, is the same on every CPU.
	l2 := float64(dx*dx) + float64(dy*dy)
	if l2 > 0 {
		t := (float64(ex*dx) + float64(ey*dy)) / l2
		t = max(0, min(1, t))
		ex = p[0] - (a[0] + float64(t*dx))
		ey = p[1] - (a[1] + float64(t*dy))
	}
	return float64(ex*ex) + float64(ey*ey)
}

// simplifyArc runs Douglas-Peucker on one arc. Distances are measured in
// projected world coordinates (world) against tolerance; the kept points are
// returned from lonlat, the arc in degrees. The endpoints are always kept, so
// neighbouring countries that share the arc stay seamless, and so are the
// points on either side of an antimeridian crossing and on the antimeridian
// itself, so the crossing survives for unwrapRing to find.
func simplifyArc(lonlat, world orb.LineString, tolerance float64) orb.LineString {
	n := len(lonlat)
	if n <= 2 {
		return slices.Clone(lonlat)
	}
	keep := make([]bool, n)
	keep[0], keep[n-1] = true, true
	for i := range n {
		if math.Abs(lonlat[i][0]) == 180 {
			keep[i] = true
		}
		if i > 0 && math.Abs(lonlat[i][0]-lonlat[i-1][0]) > 180 {
			keep[i-1], keep[i] = true, true
		}
	}
	tolSq := tolerance * tolerance
	var stack [][2]int
	start := 0
	for i := 1; i < n; i++ {
		if keep[i] {
			stack = append(stack, [2]int{start, i})
			start = i
		}
	}
	for len(stack) > 0 {
		seg := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		first, last := seg[0], seg[1]
		far, farDist := -1, tolSq
		for i := first + 1; i < last; i++ {
			if d := segDistSq(world[i], world[first], world[last]); d > farDist {
				far, farDist = i, d
			}
		}
		if far < 0 {
			continue
		}
		keep[far] = true
		stack = append(stack, [2]int{first, far}, [2]int{far, last})
	}
	out := make(orb.LineString, 0, n)
	for i, k := range keep {
		if k {
			out = append(out, lonlat[i])
		}
	}
	return out
}

// unwrapRing makes a closed lon/lat ring continuous across the antimeridian.
// Source rings that cross it jump between +180 and -180; from each jump on,
// longitudes are shifted by 360 degrees so that the ring runs on past ±180
// instead. A ring that winds once around a pole (Antarctica's coast) cannot
// close that way: it ends 360 degrees from where it began, and is closed
// along the pole so that it encloses the polar side.
func unwrapRing(r orb.Ring) orb.Ring {
	if len(r) == 0 {
		return nil
	}
	out := make(orb.Ring, len(r), len(r)+3)
	out[0] = r[0]
	offset := 0.0
	latSum := r[0][1]
	for i := 1; i < len(r); i++ {
		switch d := r[i][0] - r[i-1][0]; {
		case d > 180:
			offset -= 360
		case d < -180:
			offset += 360
		}
		out[i] = orb.Point{r[i][0] + offset, r[i][1]}
		latSum += r[i][1]
	}
	if offset == 0 {
		return out
	}
	pole := 90.0
	if latSum < 0 {
		pole = -90
	}
	last := out[len(out)-1]
	return append(out, orb.Point{last[0], pole}, orb.Point{out[0][0], pole}, out[0])
}

// ringArea is the signed area of a closed ring by the shoelace formula:
// positive for counter-clockwise in a y-up frame, which is clockwise on
// screen in a y-down frame such as world or tile coordinates.
func ringArea(r orb.Ring) float64 {
	var sum float64
	for i := 1; i < len(r); i++ {
		sum += float64(r[i-1][0]*r[i][1]) - float64(r[i][0]*r[i-1][1])
	}
	return sum / 2
}

// worldPolygon is a polygon in world coordinates with its bounding box, so
// that tiles skip it cheaply.
type worldPolygon struct {
	rings orb.Polygon
	bound orb.Bound
}

// toWorld turns one lon/lat polygon into world-coordinate polygons: every
// ring unwrapped across the antimeridian and projected; rings that enclose no
// area once clamped to the Mercator square (a cap around a pole, a sliver
// collapsed by simplification) dropped. The result is repeated one world
// to the west and one to the east wherever a copy reaches the unit square,
// so a polygon running past ±180 also shows on the other side.
func toWorld(p orb.Polygon) []worldPolygon {
	rings := make(orb.Polygon, 0, len(p))
	areas := make([]float64, 0, len(p))
	exteriorKept := false
	for i, r := range p {
		u := unwrapRing(r)
		w := make(orb.Ring, len(u))
		for j, pt := range u {
			w[j] = project(pt)
		}
		a := ringArea(w)
		if len(w) < 4 || a == 0 {
			continue
		}
		if i == 0 {
			exteriorKept = true
		}
		rings = append(rings, w)
		areas = append(areas, math.Abs(a))
	}
	if len(rings) == 0 {
		return nil
	}
	if !exteriorKept {
		// The exterior was a polar cap beyond the Mercator square: the
		// largest remaining ring (the coast around the pole) bounds the
		// polygon instead.
		big := 0
		for i, a := range areas {
			if a > areas[big] {
				big = i
			}
		}
		rings[0], rings[big] = rings[big], rings[0]
	}
	b := rings[0].Bound()
	var out []worldPolygon
	for shift := -1.0; shift <= 1; shift++ {
		if b.Max[0]+shift < -0.5 || b.Min[0]+shift > 1.5 {
			continue
		}
		if shift == 0 {
			out = append(out, worldPolygon{rings: rings, bound: b})
			continue
		}
		moved := make(orb.Polygon, len(rings))
		for i, r := range rings {
			moved[i] = make(orb.Ring, len(r))
			for j, pt := range r {
				moved[i][j] = orb.Point{pt[0] + shift, pt[1]}
			}
		}
		out = append(out, worldPolygon{rings: moved, bound: moved[0].Bound()})
	}
	return out
}
