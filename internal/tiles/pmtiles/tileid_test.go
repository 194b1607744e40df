package pmtiles

import (
	"math/rand/v2"
	"testing"
)

func TestZxyToIDKnownValues(t *testing.T) {
	// The first levels of the curve as the spec's reference implementations
	// number them: level bases 0, 1, 5, 21, 85 and the Hilbert order within.
	tests := []struct {
		name string
		z    uint8
		x, y uint32
		want uint64
	}{
		{"world", 0, 0, 0, 0},
		{"z1 top left", 1, 0, 0, 1},
		{"z1 bottom left", 1, 0, 1, 2},
		{"z1 bottom right", 1, 1, 1, 3},
		{"z1 top right", 1, 1, 0, 4},
		{"z2 first", 2, 0, 0, 5},
		{"z2 second", 2, 1, 0, 6},
		{"z2 third", 2, 1, 1, 7},
		{"z2 fourth", 2, 0, 1, 8},
		{"z2 last", 2, 3, 0, 20},
		{"z3 first", 3, 0, 0, 21},
		{"z4 first", 4, 0, 0, 85},
		{"z12 sample", 12, 3423, 1763, 19078479},
		{"z31 first", 31, 0, 0, 1537228672809129301},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ZxyToID(tt.z, tt.x, tt.y)
			if err != nil || got != tt.want {
				t.Fatalf("ZxyToID(%d, %d, %d) = %d, %v; want %d", tt.z, tt.x, tt.y, got, err, tt.want)
			}
			z, x, y, err := IDToZxy(tt.want)
			if err != nil || z != tt.z || x != tt.x || y != tt.y {
				t.Fatalf("IDToZxy(%d) = %d/%d/%d, %v; want %d/%d/%d", tt.want, z, x, y, err, tt.z, tt.x, tt.y)
			}
		})
	}
}

func TestTileIDRoundTripCoversEveryLowTile(t *testing.T) {
	var next uint64
	for z := range uint8(8) {
		n := uint32(1) << z
		seen := make(map[uint64]bool, n*n)
		for x := range n {
			for y := range n {
				id, err := ZxyToID(z, x, y)
				if err != nil {
					t.Fatal(err)
				}
				if seen[id] {
					t.Fatalf("z%d: ID %d given twice", z, id)
				}
				seen[id] = true
				gz, gx, gy, err := IDToZxy(id)
				if err != nil || gz != z || gx != x || gy != y {
					t.Fatalf("IDToZxy(ZxyToID(%d/%d/%d)) = %d/%d/%d, %v", z, x, y, gz, gx, gy, err)
				}
			}
		}
		// The level's IDs are exactly the next n*n integers.
		for id := next; id < next+uint64(n)*uint64(n); id++ {
			if !seen[id] {
				t.Fatalf("z%d: ID %d unused", z, id)
			}
		}
		next += uint64(n) * uint64(n)
	}
}

func TestTileIDRoundTripDeepZooms(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		z := uint8(rng.IntN(32))
		n := uint64(1) << z
		x, y := uint32(rng.Uint64N(n)), uint32(rng.Uint64N(n))
		id, err := ZxyToID(z, x, y)
		if err != nil {
			t.Fatal(err)
		}
		gz, gx, gy, err := IDToZxy(id)
		if err != nil || gz != z || gx != x || gy != y {
			t.Fatalf("round trip of %d/%d/%d gave %d/%d/%d, %v", z, x, y, gz, gx, gy, err)
		}
	}
}

func TestTileIDCurveIsContinuous(t *testing.T) {
	// Consecutive IDs on one level are edge neighbours: the defining
	// property of a Hilbert curve, which a wrong rotation breaks.
	for z := uint8(1); z <= 6; z++ {
		base, _ := ZxyToID(z, 0, 0)
		n := uint64(1) << (2 * z)
		_, px, py, _ := IDToZxy(base)
		for id := base + 1; id < base+n; id++ {
			_, x, y, _ := IDToZxy(id)
			dx, dy := int(x)-int(px), int(y)-int(py)
			if dx*dx+dy*dy != 1 {
				t.Fatalf("z%d: ID %d at %d/%d is not next to ID %d at %d/%d", z, id, x, y, id-1, px, py)
			}
			px, py = x, y
		}
	}
}

func TestTileIDErrors(t *testing.T) {
	tests := []struct {
		name string
		z    uint8
		x, y uint32
	}{
		{"zoom beyond 31", 32, 0, 0},
		{"x off the grid", 3, 8, 0},
		{"y off the grid", 3, 0, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ZxyToID(tt.z, tt.x, tt.y); err == nil {
				t.Errorf("ZxyToID(%d, %d, %d) succeeded", tt.z, tt.x, tt.y)
			}
		})
	}
	if _, _, _, err := IDToZxy(^uint64(0)); err == nil {
		t.Error("IDToZxy(max uint64) succeeded")
	}
}
