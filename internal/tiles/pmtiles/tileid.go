package pmtiles

import "fmt"

// maxIDZoom is the deepest zoom level whose tile IDs fit in 64 bits.
const maxIDZoom = 31

// zoomBase returns the ID of tile z/0/0 on the Hilbert curve of level z: the
// number of tiles on all shallower levels, (4^z - 1) / 3.
func zoomBase(z uint8) uint64 {
	return ((uint64(1) << (2 * uint64(z))) - 1) / 3
}

// ZxyToID returns the PMTiles tile ID of z/x/y: the tile's position on the
// Hilbert curve of its level, offset by the number of tiles on all shallower
// levels. It fails when z > 31 or x, y >= 2^z.
func ZxyToID(z uint8, x, y uint32) (uint64, error) {
	if z > maxIDZoom {
		return 0, fmt.Errorf("zoom %d beyond %d", z, maxIDZoom)
	}
	n := uint64(1) << z
	if uint64(x) >= n || uint64(y) >= n {
		return 0, fmt.Errorf("tile %d/%d/%d outside the grid", z, x, y)
	}
	var d uint64
	// Walk the quadrants from the largest down, rotating the frame so that
	// each sub-square is visited in curve order.
	for s := n / 2; s > 0; s /= 2 {
		var rx, ry uint64
		if uint64(x)&s != 0 {
			rx = 1
		}
		if uint64(y)&s != 0 {
			ry = 1
		}
		d += s * s * ((3 * rx) ^ ry)
		x, y = rotate(s, x, y, rx, ry)
	}
	return zoomBase(z) + d, nil
}

// IDToZxy is the inverse of ZxyToID.
func IDToZxy(id uint64) (z uint8, x, y uint32, err error) {
	for z = 0; z <= maxIDZoom; z++ {
		// (z+1)'s base is where level z ends; at z = 31 the shift is 64 bits
		// and the count no longer fits, so that level is open-ended.
		if z == maxIDZoom || id < zoomBase(z+1) {
			break
		}
	}
	pos := id - zoomBase(z)
	if z == maxIDZoom && pos >= uint64(1)<<62 {
		return 0, 0, 0, fmt.Errorf("tile ID %d beyond zoom %d", id, maxIDZoom)
	}
	n := uint64(1) << z
	var tx, ty uint64
	t := pos
	for s := uint64(1); s < n; s *= 2 {
		rx := 1 & (t / 2)
		ry := 1 & (t ^ rx)
		tx, ty = rotate64(s, tx, ty, rx, ry)
		tx += s * rx
		ty += s * ry
		t /= 4
	}
	return z, uint32(tx), uint32(ty), nil
}

// rotate flips and transposes a quadrant so that the curve's sub-squares
// connect end to end. Only the bits below s matter to later steps, so the
// reflection is taken modulo the quadrant size.
func rotate(s uint64, x, y uint32, rx, ry uint64) (uint32, uint32) {
	if ry == 0 {
		if rx == 1 {
			x = uint32(s - 1 - uint64(x)&(s-1))
			y = uint32(s - 1 - uint64(y)&(s-1))
		}
		return y, x
	}
	return x, y
}

func rotate64(s, x, y, rx, ry uint64) (uint64, uint64) {
	if ry == 0 {
		if rx == 1 {
			x = s - 1 - x
			y = s - 1 - y
		}
		return y, x
	}
	return x, y
}
