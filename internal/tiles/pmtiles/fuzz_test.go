package pmtiles

import (
	"bytes"
	"context"
	"slices"
	"testing"
)

func FuzzHeader(f *testing.F) {
	f.Add(sampleHeader().Encode())
	f.Add([]byte("PMTiles\x03"))
	f.Add([]byte("PM\x02\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHeader(b)
		if err != nil {
			return
		}
		_ = h.Validate(int64(len(b)))
		_ = h.Validate(1 << 40)
		// What decodes must encode back to the same header bytes.
		if got := h.Encode(); !bytes.Equal(got[:96], b[:96]) || !bytes.Equal(got[97:], b[97:HeaderLen]) {
			t.Fatalf("Encode(DecodeHeader(b)) differs from b")
		}
		again, err := DecodeHeader(h.Encode())
		if err != nil || again != h {
			t.Fatalf("re-decode = %+v, %v", again, err)
		}
	})
}

func FuzzDirectory(f *testing.F) {
	f.Add(EncodeDirectory([]Entry{{TileID: 0, Offset: 0, Length: 10, RunLength: 1}}))
	f.Add(EncodeDirectory([]Entry{
		{TileID: 1, Offset: 0, Length: 10, RunLength: 1},
		{TileID: 2, Offset: 10, Length: 5, RunLength: 3},
		{TileID: 9, Offset: 0, Length: 10, RunLength: 0},
	}))
	f.Add([]byte{0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := DecodeDirectory(b)
		if err != nil {
			return
		}
		if len(entries) == 0 {
			t.Fatal("decoded an empty directory without error")
		}
		for i := 1; i < len(entries); i++ {
			if entries[i].TileID <= entries[i-1].TileID {
				t.Fatalf("entries out of order at %d", i)
			}
		}
		for _, id := range []uint64{0, entries[0].TileID, entries[len(entries)-1].TileID + 1} {
			findEntry(entries, id)
		}
		again, err := DecodeDirectory(EncodeDirectory(entries))
		if err != nil || !slices.Equal(again, entries) {
			t.Fatalf("round trip = %v, %v; want %v", again, err, entries)
		}
	})
}

// FuzzReader opens arbitrary bytes as an archive and reads a few tiles:
// nothing may panic, and every fault must come back as an error.
func FuzzReader(f *testing.F) {
	tile := []byte("\x89PNG\r\n\x1a\nabc")
	root := compressGzip(EncodeDirectory([]Entry{{TileID: 0, Offset: 0, Length: uint32(len(tile)), RunLength: 5}}))
	f.Add(rawArchive{
		h:    Header{InternalCompression: CompressionGzip, TileCompression: CompressionNone, TileType: TileTypePNG},
		root: root,
		meta: compressGzip([]byte(`{"name":"x"}`)),
		data: tile,
	}.bytes())
	f.Add(rawArchive{
		h:      Header{InternalCompression: CompressionNone, TileCompression: CompressionNone, TileType: TileTypeUnknown},
		root:   EncodeDirectory([]Entry{{TileID: 0, Offset: 0, Length: 4}}),
		leaves: EncodeDirectory([]Entry{{TileID: 1, Offset: 0, Length: uint32(len(tile)), RunLength: 2}}),
		data:   tile,
	}.bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bytes.NewReader(b), int64(len(b)), WithLeafCacheBytes(1024))
		if err != nil {
			return
		}
		ctx := context.Background()
		for _, k := range [][3]int{{0, 0, 0}, {1, 0, 0}, {1, 1, 1}, {2, 1, 2}, {5, 9, 9}} {
			_, _ = r.Tile(ctx, k[0], k[1], k[2])
		}
		_, _ = r.Entries(ctx)
	})
}
