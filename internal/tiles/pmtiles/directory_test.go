package pmtiles

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestDirectoryRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		entries []Entry
	}{
		{"single tile", []Entry{{TileID: 0, Offset: 0, Length: 10, RunLength: 1}}},
		{"contiguous blobs", []Entry{
			{TileID: 1, Offset: 0, Length: 10, RunLength: 1},
			{TileID: 2, Offset: 10, Length: 5, RunLength: 1},
			{TileID: 3, Offset: 15, Length: 7, RunLength: 3},
		}},
		{"deduplicated blob points back", []Entry{
			{TileID: 5, Offset: 0, Length: 100, RunLength: 1},
			{TileID: 6, Offset: 100, Length: 50, RunLength: 1},
			{TileID: 7, Offset: 0, Length: 100, RunLength: 2},
			{TileID: 20, Offset: 150, Length: 9, RunLength: 1},
		}},
		{"leaf pointers", []Entry{
			{TileID: 0, Offset: 0, Length: 300},
			{TileID: 4096, Offset: 300, Length: 280},
			{TileID: 1 << 40, Offset: 580, Length: 1},
		}},
		{"large values", []Entry{
			{TileID: 1 << 62, Offset: 1 << 50, Length: 1<<32 - 1, RunLength: 1<<32 - 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeDirectory(EncodeDirectory(tt.entries))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.entries) {
				t.Errorf("round trip = %+v\nwant %+v", got, tt.entries)
			}
		})
	}
}

func TestDirectoryOffsetZeroMeansContiguous(t *testing.T) {
	// Hand-encoded: 3 entries, IDs 0,1,2; runs 1; lengths 10, 20, 30;
	// offsets 0+1, then 0 (follows the first), then 0 (follows the second).
	var b []byte
	for _, v := range []uint64{3, 0, 1, 1, 1, 1, 1, 10, 20, 30, 1, 0, 0} {
		b = binary.AppendUvarint(b, v)
	}
	got, err := DecodeDirectory(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{TileID: 0, Offset: 0, Length: 10, RunLength: 1},
		{TileID: 1, Offset: 10, Length: 20, RunLength: 1},
		{TileID: 2, Offset: 30, Length: 30, RunLength: 1},
	}
	if !slices.Equal(got, want) {
		t.Errorf("DecodeDirectory() = %+v, want %+v", got, want)
	}
}

func uvarints(vs ...uint64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.AppendUvarint(b, v)
	}
	return b
}

func TestDecodeDirectoryErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		message string
	}{
		{"empty input", nil, "truncated reading entry count"},
		{"no entries", uvarints(0), "no entries"},
		{"count larger than the bytes allow", uvarints(1000, 1, 1, 1, 1), "cannot fit"},
		{"truncated column", uvarints(2, 0, 1, 1, 1, 5, 5, 1), "truncated reading offset"},
		{"malformed varint", append(uvarints(1), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), "malformed varint"},
		{"repeated tile ID", uvarints(2, 3, 0, 1, 1, 5, 5, 1, 0), "repeats tile ID 3"},
		{"zero length", uvarints(1, 0, 1, 0, 1), "length 0"},
		{"first offset refers back", uvarints(1, 0, 1, 5, 0), "first entry refers to a previous entry"},
		{"tile ID overflows", uvarints(2, ^uint64(0), 1, 1, 1, 1, 1, 1, 0), "overflows"},
		{"run past the ID space", uvarints(1, ^uint64(0), 2, 1, 1), "run overflows"},
		{"run length beyond 32 bits", uvarints(1, 0, 1<<32, 1, 1), "run length"},
		{"offset overflows", uvarints(2, 0, 1, 1, 1, 5, 5, ^uint64(0), 0), "offset overflows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeDirectory(tt.in)
			if !errors.Is(err, ErrBadDirectory) {
				t.Fatalf("error = %v, want ErrBadDirectory", err)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not mention %q", err, tt.message)
			}
		})
	}
}

func TestFindEntry(t *testing.T) {
	dir := []Entry{
		{TileID: 5, Offset: 0, Length: 1, RunLength: 3}, // 5, 6, 7
		{TileID: 10, Offset: 1, Length: 1},              // leaf from 10
		{TileID: 50, Offset: 2, Length: 1, RunLength: 1},
	}
	tests := []struct {
		name string
		id   uint64
		want int // index into dir, -1 for none
	}{
		{"before the first entry", 4, -1},
		{"start of a run", 5, 0},
		{"end of a run", 7, 0},
		{"just past a run", 8, -1},
		{"leaf pointer's own ID", 10, 1},
		{"inside a leaf's range", 49, 1},
		{"single tile", 50, 2},
		{"past the last tile", 51, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, ok := findEntry(dir, tt.id)
			if tt.want < 0 {
				if ok {
					t.Errorf("findEntry(%d) = %+v, want none", tt.id, e)
				}
				return
			}
			if !ok || e != dir[tt.want] {
				t.Errorf("findEntry(%d) = %+v, %v; want %+v", tt.id, e, ok, dir[tt.want])
			}
		})
	}
}
