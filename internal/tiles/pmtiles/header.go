package pmtiles

import (
	"encoding/binary"
	"fmt"
	"math"
)

// HeaderLen is the fixed size of a PMTiles v3 header.
const HeaderLen = 127

// MaxRootBytes is the most the header plus root directory may take: clients
// fetch this much first and must find the whole root in it.
const MaxRootBytes = 16384

const magic = "PMTiles"

// Compression is the header's compression enum, used for both the internal
// structures (directories, metadata) and the tiles.
type Compression uint8

// The compression algorithms of the spec. This reader serves tiles stored
// with none or gzip; unknown is resolved by looking at the bytes.
const (
	CompressionUnknown Compression = 0
	CompressionNone    Compression = 1
	CompressionGzip    Compression = 2
	CompressionBrotli  Compression = 3
	CompressionZstd    Compression = 4
)

// String names the algorithm.
func (c Compression) String() string {
	switch c {
	case CompressionUnknown:
		return "unknown"
	case CompressionNone:
		return "none"
	case CompressionGzip:
		return "gzip"
	case CompressionBrotli:
		return "brotli"
	case CompressionZstd:
		return "zstd"
	}
	return fmt.Sprintf("compression(%d)", uint8(c))
}

// TileType is the header's tile type enum.
type TileType uint8

// The tile types of the spec.
const (
	TileTypeUnknown TileType = 0
	TileTypeMVT     TileType = 1
	TileTypePNG     TileType = 2
	TileTypeJPEG    TileType = 3
	TileTypeWebP    TileType = 4
	TileTypeAVIF    TileType = 5
)

// String names the tile type.
func (t TileType) String() string {
	switch t {
	case TileTypeUnknown:
		return "unknown"
	case TileTypeMVT:
		return "mvt"
	case TileTypePNG:
		return "png"
	case TileTypeJPEG:
		return "jpeg"
	case TileTypeWebP:
		return "webp"
	case TileTypeAVIF:
		return "avif"
	}
	return fmt.Sprintf("tiletype(%d)", uint8(t))
}

// Header is the decoded fixed-size header of a PMTiles v3 archive. Offsets
// are from the start of the file; entry offsets are relative to the start of
// the leaf directory or tile data section.
type Header struct {
	// SpecVersion is 3.
	SpecVersion uint8
	// RootOffset and RootLength locate the root directory.
	RootOffset uint64
	RootLength uint64
	// MetadataOffset and MetadataLength locate the JSON metadata.
	MetadataOffset uint64
	MetadataLength uint64
	// LeafDirectoryOffset and LeafDirectoryLength locate the section that
	// leaf pointer offsets are relative to.
	LeafDirectoryOffset uint64
	LeafDirectoryLength uint64
	// TileDataOffset and TileDataLength locate the section that tile entry
	// offsets are relative to.
	TileDataOffset uint64
	TileDataLength uint64
	// AddressedTilesCount is Sum(RunLength) over all tile entries, 0 if
	// unknown.
	AddressedTilesCount uint64
	// TileEntriesCount is the number of entries with RunLength > 0, 0 if
	// unknown.
	TileEntriesCount uint64
	// TileContentsCount is the number of distinct tile blobs, 0 if unknown.
	TileContentsCount uint64
	// Clustered is true when tile blobs are stored in tile ID order.
	Clustered bool
	// InternalCompression applies to the directories and the metadata.
	InternalCompression Compression
	// TileCompression applies to every tile blob.
	TileCompression Compression
	// TileType is the format of every tile.
	TileType TileType
	// MinZoom and MaxZoom bound the zoom levels present.
	MinZoom uint8
	MaxZoom uint8
	// MinLonE7, MinLatE7, MaxLonE7 and MaxLatE7 are the bounds in degrees
	// times 10,000,000.
	MinLonE7 int32
	MinLatE7 int32
	MaxLonE7 int32
	MaxLatE7 int32
	// CenterZoom, CenterLonE7 and CenterLatE7 are the default view.
	CenterZoom  uint8
	CenterLonE7 int32
	CenterLatE7 int32
}

// DecodeHeader decodes the first HeaderLen bytes of b. It checks the magic
// number and version only; Validate checks the fields against a file.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) == 0 {
		return Header{}, ErrEmptyFile
	}
	if err := checkMagic(b); err != nil {
		return Header{}, err
	}
	if len(b) < HeaderLen {
		return Header{}, fmt.Errorf("%w: header needs %d bytes, file has %d", ErrTruncated, HeaderLen, len(b))
	}
	le := binary.LittleEndian
	h := Header{
		SpecVersion:         b[7],
		RootOffset:          le.Uint64(b[8:]),
		RootLength:          le.Uint64(b[16:]),
		MetadataOffset:      le.Uint64(b[24:]),
		MetadataLength:      le.Uint64(b[32:]),
		LeafDirectoryOffset: le.Uint64(b[40:]),
		LeafDirectoryLength: le.Uint64(b[48:]),
		TileDataOffset:      le.Uint64(b[56:]),
		TileDataLength:      le.Uint64(b[64:]),
		AddressedTilesCount: le.Uint64(b[72:]),
		TileEntriesCount:    le.Uint64(b[80:]),
		TileContentsCount:   le.Uint64(b[88:]),
		Clustered:           b[96] == 1,
		InternalCompression: Compression(b[97]),
		TileCompression:     Compression(b[98]),
		TileType:            TileType(b[99]),
		MinZoom:             b[100],
		MaxZoom:             b[101],
		MinLonE7:            int32(le.Uint32(b[102:])),
		MinLatE7:            int32(le.Uint32(b[106:])),
		MaxLonE7:            int32(le.Uint32(b[110:])),
		MaxLatE7:            int32(le.Uint32(b[114:])),
		CenterZoom:          b[118],
		CenterLonE7:         int32(le.Uint32(b[119:])),
		CenterLatE7:         int32(le.Uint32(b[123:])),
	}
	if h.SpecVersion != 3 {
		return Header{}, fmt.Errorf("%w %d (this reader reads version 3)", ErrUnsupportedVersion, h.SpecVersion)
	}
	return h, nil
}

// checkMagic tells a PMTiles v3 archive from anything else, naming the older
// PMTiles layouts (which start "PM" and a 16-bit version) so that the
// operator knows to convert rather than to look for damage.
func checkMagic(b []byte) error {
	n := min(len(b), len(magic))
	if string(b[:n]) == magic[:n] {
		if n < len(magic) {
			return fmt.Errorf("%w: header needs %d bytes, file has %d", ErrTruncated, HeaderLen, len(b))
		}
		return nil
	}
	if len(b) >= 4 && b[0] == 'P' && b[1] == 'M' {
		if v := binary.LittleEndian.Uint16(b[2:]); v == 1 || v == 2 {
			return fmt.Errorf("%w %d (convert the archive to version 3)", ErrUnsupportedVersion, v)
		}
	}
	return ErrBadMagic
}

// Encode returns the HeaderLen-byte encoding of h.
func (h Header) Encode() []byte {
	b := make([]byte, HeaderLen)
	le := binary.LittleEndian
	copy(b, magic)
	b[7] = h.SpecVersion
	le.PutUint64(b[8:], h.RootOffset)
	le.PutUint64(b[16:], h.RootLength)
	le.PutUint64(b[24:], h.MetadataOffset)
	le.PutUint64(b[32:], h.MetadataLength)
	le.PutUint64(b[40:], h.LeafDirectoryOffset)
	le.PutUint64(b[48:], h.LeafDirectoryLength)
	le.PutUint64(b[56:], h.TileDataOffset)
	le.PutUint64(b[64:], h.TileDataLength)
	le.PutUint64(b[72:], h.AddressedTilesCount)
	le.PutUint64(b[80:], h.TileEntriesCount)
	le.PutUint64(b[88:], h.TileContentsCount)
	if h.Clustered {
		b[96] = 1
	}
	b[97] = uint8(h.InternalCompression)
	b[98] = uint8(h.TileCompression)
	b[99] = uint8(h.TileType)
	b[100] = h.MinZoom
	b[101] = h.MaxZoom
	le.PutUint32(b[102:], uint32(h.MinLonE7))
	le.PutUint32(b[106:], uint32(h.MinLatE7))
	le.PutUint32(b[110:], uint32(h.MaxLonE7))
	le.PutUint32(b[114:], uint32(h.MaxLatE7))
	b[118] = h.CenterZoom
	le.PutUint32(b[119:], uint32(h.CenterLonE7))
	le.PutUint32(b[123:], uint32(h.CenterLatE7))
	return b
}

// Validate checks h against a file of size bytes: every section must lie
// inside the file, the root directory must be present, the compressions must
// be ones this reader can serve, and the zoom range must be ordered.
func (h Header) Validate(size int64) error {
	if size < HeaderLen {
		return fmt.Errorf("%w: header needs %d bytes, file has %d", ErrTruncated, HeaderLen, size)
	}
	sections := []struct {
		name        string
		off, length uint64
	}{
		{"root directory", h.RootOffset, h.RootLength},
		{"metadata", h.MetadataOffset, h.MetadataLength},
		{"leaf directories", h.LeafDirectoryOffset, h.LeafDirectoryLength},
		{"tile data", h.TileDataOffset, h.TileDataLength},
	}
	for _, s := range sections {
		end := s.off + s.length
		if end < s.off || end > uint64(size) {
			return fmt.Errorf("%w: %s at offset %d length %d ends beyond the file's %d bytes",
				ErrTruncated, s.name, s.off, s.length, size)
		}
	}
	if h.RootLength == 0 {
		return fmt.Errorf("%w: root directory is empty", ErrBadHeader)
	}
	switch h.InternalCompression {
	case CompressionUnknown, CompressionNone, CompressionGzip:
	default:
		return fmt.Errorf("%w: internal compression %s", ErrUnsupportedCompression, h.InternalCompression)
	}
	switch h.TileCompression {
	case CompressionUnknown, CompressionNone, CompressionGzip:
	default:
		return fmt.Errorf("%w: tile compression %s (tiles could not be served to clients that lack it)",
			ErrUnsupportedCompression, h.TileCompression)
	}
	if h.TileType > TileTypeAVIF {
		return fmt.Errorf("%w: unknown tile type %d", ErrBadHeader, uint8(h.TileType))
	}
	if h.MinZoom > h.MaxZoom {
		return fmt.Errorf("%w: min zoom %d above max zoom %d", ErrBadHeader, h.MinZoom, h.MaxZoom)
	}
	if h.MaxZoom > maxIDZoom {
		return fmt.Errorf("%w: max zoom %d beyond %d", ErrBadHeader, h.MaxZoom, maxIDZoom)
	}
	return nil
}

// e7ToDeg converts a header coordinate to degrees.
func e7ToDeg(v int32) float64 { return float64(v) / 1e7 }

// degToE7 converts degrees to a header coordinate, clamping to the int32
// range so that a wild value cannot wrap around.
func degToE7(d float64) int32 {
	v := math.Round(d * 1e7)
	switch {
	case math.IsNaN(v):
		return 0
	case v > math.MaxInt32:
		return math.MaxInt32
	case v < math.MinInt32:
		return math.MinInt32
	}
	return int32(v)
}
