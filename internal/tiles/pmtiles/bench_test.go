package pmtiles

import (
	"context"
	"math/rand/v2"
	"testing"
)

// BenchmarkPMTilesTile reads random tiles of a 60,000-tile archive whose
// entries live in leaf directories, so most reads go root → cached leaf →
// tile data.
func BenchmarkPMTilesTile(b *testing.B) {
	tiles := sparse(60000, 14, 42)
	r, _ := writeArchive(b, tiles, WriterOptions{TileType: TileTypePNG, TileCompression: CompressionNone})
	if r.Header().LeafDirectoryLength == 0 {
		b.Fatal("benchmark archive has no leaf directories")
	}
	keys := make([]tileKey, 0, len(tiles))
	for k := range tiles {
		keys = append(keys, k)
	}
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
		for pb.Next() {
			k := keys[rng.IntN(len(keys))]
			data, err := r.Tile(ctx, k.z, k.x, k.y)
			if err != nil || data == nil {
				b.Fatalf("Tile(%v) = %v", k, err)
			}
		}
	})
}

// BenchmarkPMTilesTileColdLeaves is the same with the leaf cache disabled:
// every read decompresses and decodes a leaf directory.
func BenchmarkPMTilesTileColdLeaves(b *testing.B) {
	tiles := sparse(60000, 14, 42)
	r, _ := writeArchive(b, tiles, WriterOptions{TileType: TileTypePNG, TileCompression: CompressionNone}, WithLeafCacheBytes(0))
	keys := make([]tileKey, 0, len(tiles))
	for k := range tiles {
		keys = append(keys, k)
	}
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	b.ResetTimer()
	for b.Loop() {
		k := keys[rng.IntN(len(keys))]
		if _, err := r.Tile(ctx, k.z, k.x, k.y); err != nil {
			b.Fatal(err)
		}
	}
}
