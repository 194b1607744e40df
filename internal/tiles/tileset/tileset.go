// Package tileset holds the vocabulary shared by every tile source: the tile
// formats and encodings, the metadata a tileset describes itself with, and
// the Source interface the readers implement.
//
// It sits below package tiles (the catalog) and the format readers
// (pmtiles, mbtiles) so that both can use it without importing each other.
// Callers outside internal/tiles normally use the aliases in package tiles.
package tileset

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// MaxZoom is the deepest zoom level a tile address may have. Level 30 already
// resolves about 4 cm at the equator; deeper addresses are refused before any
// lookup so that 2^z cannot overflow.
const MaxZoom = 30

// ValidTile reports whether z/x/y addresses a tile of the Web Mercator grid:
// 0 <= z <= MaxZoom and 0 <= x, y < 2^z.
func ValidTile(z, x, y int) bool {
	if z < 0 || z > MaxZoom {
		return false
	}
	n := 1 << z
	return x >= 0 && x < n && y >= 0 && y < n
}

// Format is the kind of data a tileset's tiles hold.
type Format string

// The tile formats a source can hold.
const (
	// FormatMVT is a vector tile in the MVT protocol buffer encoding.
	FormatMVT Format = "mvt"
	// FormatPNG is a PNG image.
	FormatPNG Format = "png"
	// FormatJPEG is a JPEG image.
	FormatJPEG Format = "jpg"
	// FormatWebP is a WebP image.
	FormatWebP Format = "webp"
	// FormatAVIF is an AVIF image.
	FormatAVIF Format = "avif"
)

// Formats lists every known format, in a stable order.
func Formats() []Format {
	return []Format{FormatMVT, FormatPNG, FormatJPEG, FormatWebP, FormatAVIF}
}

// Valid reports whether f is one of the known formats.
func (f Format) Valid() bool {
	switch f {
	case FormatMVT, FormatPNG, FormatJPEG, FormatWebP, FormatAVIF:
		return true
	}
	return false
}

// ContentType returns the media type served for a tile of format f, or
// "application/octet-stream" for an unknown format.
func (f Format) ContentType() string {
	switch f {
	case FormatMVT:
		return "application/vnd.mapbox-vector-tile"
	case FormatPNG:
		return "image/png"
	case FormatJPEG:
		return "image/jpeg"
	case FormatWebP:
		return "image/webp"
	case FormatAVIF:
		return "image/avif"
	}
	return "application/octet-stream"
}

// Extensions returns the URL extensions (without the dot) under which tiles
// of format f are served; the first is the canonical one. Vector tiles answer
// to "mvt" and "pbf", JPEG to "jpg" and "jpeg".
func (f Format) Extensions() []string {
	switch f {
	case FormatMVT:
		return []string{"mvt", "pbf"}
	case FormatJPEG:
		return []string{"jpg", "jpeg"}
	case FormatPNG, FormatWebP, FormatAVIF:
		return []string{string(f)}
	}
	return nil
}

// HasExtension reports whether ext (without the dot, any case) is one of f's
// extensions.
func (f Format) HasExtension(ext string) bool {
	for _, e := range f.Extensions() {
		if strings.EqualFold(e, ext) {
			return true
		}
	}
	return false
}

// ParseFormat maps the names tilesets use for their format ("pbf", "mvt",
// "png", "jpg", "jpeg", "webp", "avif", any case) to a Format.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "mvt", "pbf", "vector", "application/vnd.mapbox-vector-tile", "application/x-protobuf":
		return FormatMVT, nil
	case "png", "image/png":
		return FormatPNG, nil
	case "jpg", "jpeg", "image/jpeg":
		return FormatJPEG, nil
	case "webp", "image/webp":
		return FormatWebP, nil
	case "avif", "image/avif":
		return FormatAVIF, nil
	}
	return "", fmt.Errorf("%w: %q", ErrUnknownFormat, s)
}

// Encoding is how the stored tile bytes are compressed, as in the HTTP
// Content-Encoding header.
type Encoding string

// The encodings a source may return tiles in.
const (
	// EncodingIdentity means the bytes are the tile itself.
	EncodingIdentity Encoding = ""
	// EncodingGzip means the bytes are a gzip stream of the tile.
	EncodingGzip Encoding = "gzip"
)

// Metadata describes a tileset: what TileJSON and the admin listing show.
type Metadata struct {
	// Name is the human-readable name the tileset gives itself (not the
	// catalog name, which comes from the file name).
	Name string `json:"name,omitempty"`
	// Description is free text.
	Description string `json:"description,omitempty"`
	// Attribution is the credit line the map must show, possibly HTML.
	Attribution string `json:"attribution,omitempty"`
	// Version is the tileset's own revision, e.g. "1.0.0".
	Version string `json:"version,omitempty"`
	// Type is "overlay" or "baselayer" when the tileset says so.
	Type string `json:"type,omitempty"`
	// Format is the kind of data every tile holds.
	Format Format `json:"format"`
	// MinZoom and MaxZoom bound the zoom levels the tileset covers.
	MinZoom int `json:"minzoom"`
	// MaxZoom is the deepest zoom level the tileset covers.
	MaxZoom int `json:"maxzoom"`
	// Bounds is west, south, east, north in degrees (WGS 84), or nil when
	// unknown.
	Bounds *[4]float64 `json:"bounds,omitempty"`
	// Center is longitude, latitude and zoom of the default view, or nil
	// when unknown.
	Center *[3]float64 `json:"center,omitempty"`
	// VectorLayers is the TileJSON vector_layers array of a vector tileset,
	// verbatim, or nil.
	VectorLayers json.RawMessage `json:"vector_layers,omitempty"`
	// Raw holds the source's own metadata as read (MBTiles: every metadata
	// row as a string; PMTiles: the JSON metadata object), for callers that
	// need a field not modelled above. It must not be modified.
	Raw map[string]any `json:"-"`
}

// Source is an open tileset.
//
// Implementations are safe for concurrent use. After Close, Tile returns an
// error wrapping ErrClosed.
type Source interface {
	// Metadata describes the tileset. It is read once at open.
	Metadata() Metadata
	// Encoding is the encoding of the bytes Tile returns.
	Encoding() Encoding
	// Tile returns the stored bytes of tile z/x/y (XYZ scheme, y growing
	// southwards), in the encoding Encoding reports. It returns (nil, nil)
	// when the tileset has no such tile, and an error only for a real fault
	// (I/O, corrupt data, closed source). A present tile is never nil.
	Tile(ctx context.Context, z, x, y int) ([]byte, error)
	// Close releases the file. It is safe to call more than once.
	Close() error
}
