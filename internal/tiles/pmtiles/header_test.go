package pmtiles

import (
	"errors"
	"strings"
	"testing"

	"github.com/mapwright/mapwright/internal/tiles/tileset"
)

func sampleHeader() Header {
	return Header{
		SpecVersion:         3,
		RootOffset:          127,
		RootLength:          25,
		MetadataOffset:      152,
		MetadataLength:      247,
		LeafDirectoryOffset: 399,
		LeafDirectoryLength: 0,
		TileDataOffset:      399,
		TileDataLength:      69,
		AddressedTilesCount: 1,
		TileEntriesCount:    1,
		TileContentsCount:   1,
		Clustered:           true,
		InternalCompression: CompressionGzip,
		TileCompression:     CompressionGzip,
		TileType:            TileTypeMVT,
		MinZoom:             0,
		MaxZoom:             14,
		MinLonE7:            -1800000000,
		MinLatE7:            -850511287,
		MaxLonE7:            1800000000,
		MaxLatE7:            850511287,
		CenterZoom:          3,
		CenterLonE7:         -123456789,
		CenterLatE7:         456789012,
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	h := sampleHeader()
	b := h.Encode()
	if len(b) != HeaderLen {
		t.Fatalf("Encode() gave %d bytes, want %d", len(b), HeaderLen)
	}
	if string(b[:7]) != "PMTiles" || b[7] != 3 {
		t.Fatalf("Encode() starts %q", b[:8])
	}
	got, err := DecodeHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if got != h {
		t.Errorf("DecodeHeader(Encode(h)) = %+v\nwant %+v", got, h)
	}
}

func TestDecodeHeaderErrors(t *testing.T) {
	v4 := sampleHeader().Encode()
	v4[7] = 4
	v2 := append([]byte("PM\x02\x00"), make([]byte, 200)...)
	tests := []struct {
		name    string
		in      []byte
		want    error
		message string
	}{
		{"empty file", nil, ErrEmptyFile, "empty file"},
		{"text file", []byte(strings.Repeat("This is not a tile archive. ", 10)), ErrBadMagic, "bad magic"},
		{"magic prefix only", []byte("PMTi"), ErrTruncated, "file has 4"},
		{"header cut short", sampleHeader().Encode()[:100], ErrTruncated, "file has 100"},
		{"version 4", v4, ErrUnsupportedVersion, "unsupported PMTiles version 4"},
		{"version 2 layout", v2, ErrUnsupportedVersion, "unsupported PMTiles version 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeHeader(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not mention %q", err, tt.message)
			}
		})
	}
}

func TestHeaderValidate(t *testing.T) {
	const size = 468
	tests := []struct {
		name    string
		edit    func(*Header)
		size    int64
		want    error
		message string
	}{
		{"sound", func(*Header) {}, size, nil, ""},
		{"file shorter than header", func(*Header) {}, 100, ErrTruncated, "header needs"},
		{"tile data past the end", func(h *Header) { h.TileDataLength = 70 }, size, ErrTruncated, "tile data"},
		{"metadata offset overflows", func(h *Header) { h.MetadataOffset = ^uint64(0) - 1 }, size, ErrTruncated, "metadata"},
		{"root directory missing", func(h *Header) { h.RootLength = 0 }, size, ErrBadHeader, "root directory is empty"},
		{"brotli tiles", func(h *Header) { h.TileCompression = CompressionBrotli }, size, ErrUnsupportedCompression, "tile compression brotli"},
		{"zstd tiles", func(h *Header) { h.TileCompression = CompressionZstd }, size, ErrUnsupportedCompression, "tile compression zstd"},
		{"brotli directories", func(h *Header) { h.InternalCompression = CompressionBrotli }, size, ErrUnsupportedCompression, "internal compression brotli"},
		{"unknown compression value", func(h *Header) { h.TileCompression = 9 }, size, ErrUnsupportedCompression, "compression(9)"},
		{"unknown tile type", func(h *Header) { h.TileType = 9 }, size, ErrBadHeader, "tile type 9"},
		{"zoom range reversed", func(h *Header) { h.MinZoom, h.MaxZoom = 5, 3 }, size, ErrBadHeader, "min zoom 5 above max zoom 3"},
		{"zoom beyond 31", func(h *Header) { h.MaxZoom = 40 }, size, ErrBadHeader, "max zoom 40"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := sampleHeader()
			tt.edit(&h)
			err := h.Validate(tt.size)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Validate() = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not mention %q", err, tt.message)
			}
		})
	}
}

func TestSentinelsWrapGeneralClasses(t *testing.T) {
	for _, err := range []error{ErrEmptyFile, ErrBadMagic, ErrTruncated, ErrBadHeader, ErrBadDirectory, ErrBadMetadata} {
		if !errors.Is(err, tileset.ErrCorrupt) {
			t.Errorf("%v does not wrap tileset.ErrCorrupt", err)
		}
	}
	for _, err := range []error{ErrUnsupportedVersion, ErrUnsupportedCompression} {
		if !errors.Is(err, tileset.ErrUnsupported) {
			t.Errorf("%v does not wrap tileset.ErrUnsupported", err)
		}
	}
}
