package pmtiles

import (
	"context"
	"sync/atomic"
	"testing"
)

// countingRecorder is a CacheRecorder that counts.
type countingRecorder struct{ hits, misses atomic.Int64 }

func (r *countingRecorder) Hit()  { r.hits.Add(1) }
func (r *countingRecorder) Miss() { r.misses.Add(1) }

func (r *countingRecorder) counts() (int64, int64) { return r.hits.Load(), r.misses.Load() }

func TestCacheRecorderCountsLeafLookups(t *testing.T) {
	leafy := WriterOptions{TileType: TileTypePNG, TileCompression: CompressionNone, MaxRootBytes: 300, LeafSize: 16}
	cases := []struct {
		name  string
		tiles map[tileKey][]byte
		opts  WriterOptions
		ropts []Option
		// wantLeaves: the archive needs leaf directories, so reading a
		// tile looks one up.
		wantLeaves bool
		// cached: the second read of a tile finds its leaves cached.
		cached bool
	}{
		{"leaf directories, cached", pyramid(5), leafy, nil, true, true},
		{"leaf directories, cache disabled", pyramid(5), leafy, []Option{WithLeafCacheBytes(0)}, true, false},
		{"root directory only", pyramid(2), WriterOptions{TileType: TileTypePNG, TileCompression: CompressionNone}, nil, false, false},
	}
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &countingRecorder{}
			r, _ := writeArchive(t, tc.tiles, tc.opts, append(tc.ropts, WithCacheRecorder(rec))...)
			if h, m := rec.counts(); h != 0 || m != 0 {
				t.Fatalf("opening counted %d hits, %d misses; want none", h, m)
			}
			// A full scan bypasses the cache and is not a lookup.
			if _, err := r.Entries(ctx); err != nil {
				t.Fatal(err)
			}
			if h, m := rec.counts(); h != 0 || m != 0 {
				t.Fatalf("Walk counted %d hits, %d misses; want none", h, m)
			}

			const z, x, y = 2, 1, 3
			want := tc.tiles[tileKey{z, x, y}]
			for range 2 {
				got, err := r.Tile(ctx, z, x, y)
				if err != nil || string(got) != string(want) {
					t.Fatalf("Tile(%d/%d/%d) = %d bytes, %v", z, x, y, len(got), err)
				}
			}
			hits, misses := rec.counts()
			switch {
			case !tc.wantLeaves:
				if hits != 0 || misses != 0 {
					t.Errorf("root-only archive counted %d hits, %d misses; want none", hits, misses)
				}
			case tc.cached:
				// The first read misses on every level it descends, the
				// second hits on the same levels.
				if misses == 0 || hits != misses {
					t.Errorf("%d hits, %d misses; want the second read to hit every leaf the first missed", hits, misses)
				}
			default:
				if hits != 0 || misses == 0 || misses%2 != 0 {
					t.Errorf("%d hits, %d misses; want every lookup of both reads to miss", hits, misses)
				}
			}
		})
	}
}
