package mbtiles

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/mapwright/mapwright/internal/tiles/internal/tiletest"
)

// BenchmarkMBTilesTile reads random tiles of a 21,845-tile set (a full
// pyramid to z7) through the prepared statement.
func BenchmarkMBTilesTile(b *testing.B) {
	var tiles []tiletest.Tile
	for z := 0; z <= 7; z++ {
		for x := 0; x < 1<<z; x++ {
			for y := 0; y < 1<<z; y++ {
				tiles = append(tiles, tiletest.Tile{Z: z, X: x, Y: y, Data: pngTile(len(tiles))})
			}
		}
	}
	path := build(b, map[string]string{"format": "png"}, tiles)
	r := open(b, path)
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
		for pb.Next() {
			tl := tiles[rng.IntN(len(tiles))]
			data, err := r.Tile(ctx, tl.Z, tl.X, tl.Y)
			if err != nil || data == nil {
				b.Fatalf("Tile(%d/%d/%d) = %v", tl.Z, tl.X, tl.Y, err)
			}
		}
	})
}
