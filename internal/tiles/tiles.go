// Package tiles serves tilesets from a directory: the common vocabulary of
// tile sources (re-exported from package tileset) and the Catalog, which
// opens every PMTiles and MBTiles file of a directory, reports the ones that
// fail, and swaps in a fresh set on reload without disturbing requests in
// flight.
package tiles

import "github.com/mapwright/mapwright/internal/tiles/tileset"

// Format is the kind of data a tileset's tiles hold; see tileset.Format.
type Format = tileset.Format

// Encoding is how stored tile bytes are compressed; see tileset.Encoding.
type Encoding = tileset.Encoding

// Metadata describes a tileset; see tileset.Metadata.
type Metadata = tileset.Metadata

// Source is an open tileset; see tileset.Source.
type Source = tileset.Source

// The tile formats.
const (
	FormatMVT  = tileset.FormatMVT
	FormatPNG  = tileset.FormatPNG
	FormatJPEG = tileset.FormatJPEG
	FormatWebP = tileset.FormatWebP
	FormatAVIF = tileset.FormatAVIF
)

// The tile encodings.
const (
	EncodingIdentity = tileset.EncodingIdentity
	EncodingGzip     = tileset.EncodingGzip
)

// MaxZoom is the deepest zoom level a tile address may have.
const MaxZoom = tileset.MaxZoom

// ValidTile reports whether z/x/y addresses a tile of the Web Mercator grid:
// 0 <= z <= MaxZoom and 0 <= x, y < 2^z. Handlers check it before any lookup.
func ValidTile(z, x, y int) bool { return tileset.ValidTile(z, x, y) }

// ParseFormat maps a format name ("pbf", "mvt", "png", "jpg", "jpeg",
// "webp", "avif") to a Format.
func ParseFormat(s string) (Format, error) { return tileset.ParseFormat(s) }
