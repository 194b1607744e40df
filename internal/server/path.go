package server

import (
	"fmt"
	"strings"

	"github.com/mapwright/mapwright/internal/tiles"
)

// Path limits of the tile grid.
const (
	// MaxZoom is the deepest zoom level a tile path may name.
	MaxZoom = tiles.MaxZoom
	// MaxTilesetName is the longest tileset name accepted in a path.
	MaxTilesetName = 128
)

// tilesPrefix is the path prefix of every tile and TileJSON URL.
const tilesPrefix = "/v1/tiles/"

// TileRequest is a parsed tile path.
type TileRequest struct {
	// Tileset is the tileset name.
	Tileset string
	// Z, X and Y address the tile in the XYZ scheme (Y grows southwards).
	Z, X, Y int
	// Ext is the file extension without the dot: mvt, pbf, png, jpg, jpeg,
	// webp or avif.
	Ext string
}

// tileFormats maps a path extension to the tile format it names.
var tileFormats = map[string]tiles.Format{
	"mvt":  tiles.FormatMVT,
	"pbf":  tiles.FormatMVT,
	"png":  tiles.FormatPNG,
	"jpg":  tiles.FormatJPEG,
	"jpeg": tiles.FormatJPEG,
	"webp": tiles.FormatWebP,
	"avif": tiles.FormatAVIF,
}

// ParseTilePath parses the escaped path of a tile request,
// "/v1/tiles/{tileset}/{z}/{x}/{y}.{ext}", strictly: the tileset name is
// 1 to 128 characters of [A-Za-z0-9._-] and neither "." nor "..", z is 0 to
// 30, x and y are within [0, 2^z), numbers are plain decimal digits without
// sign or leading zeros, and ext is a known tile extension. Pass
// r.URL.EscapedPath(), not r.URL.Path: a percent-encoded character (such as
// %2e or %2f) is never valid in a tile path, and seeing the escaped form is
// what lets the parser refuse encoded traversal. Errors wrap
// ErrBadTilePath.
func ParseTilePath(path string) (TileRequest, error) {
	rest, ok := strings.CutPrefix(path, tilesPrefix)
	if !ok {
		return TileRequest{}, fmt.Errorf("%w: not under %s", ErrBadTilePath, tilesPrefix)
	}
	name, rest, ok := strings.Cut(rest, "/")
	if !ok {
		return TileRequest{}, fmt.Errorf("%w: want /v1/tiles/{tileset}/{z}/{x}/{y}.{ext}", ErrBadTilePath)
	}
	if err := checkTilesetName(name); err != nil {
		return TileRequest{}, err
	}
	zs, rest, ok1 := strings.Cut(rest, "/")
	xs, ys, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 {
		return TileRequest{}, fmt.Errorf("%w: want /v1/tiles/{tileset}/{z}/{x}/{y}.{ext}", ErrBadTilePath)
	}
	dot := strings.IndexByte(ys, '.')
	if dot < 0 {
		return TileRequest{}, fmt.Errorf("%w: missing file extension", ErrBadTilePath)
	}
	ys, ext := ys[:dot], ys[dot+1:]
	if _, known := tileFormats[ext]; !known {
		return TileRequest{}, fmt.Errorf("%w: unknown tile extension (want mvt, pbf, png, jpg, jpeg, webp or avif)", ErrBadTilePath)
	}
	z, ok := parseCoord(zs, 2)
	if !ok || z > MaxZoom {
		return TileRequest{}, fmt.Errorf("%w: zoom must be a whole number from 0 to %d", ErrBadTilePath, MaxZoom)
	}
	limit := 1 << z
	x, ok := parseCoord(xs, 10)
	if !ok || x >= limit {
		return TileRequest{}, fmt.Errorf("%w: x must be a whole number from 0 to %d at zoom %d", ErrBadTilePath, limit-1, z)
	}
	y, ok := parseCoord(ys, 10)
	if !ok || y >= limit {
		return TileRequest{}, fmt.Errorf("%w: y must be a whole number from 0 to %d at zoom %d", ErrBadTilePath, limit-1, z)
	}
	return TileRequest{Tileset: name, Z: z, X: x, Y: y, Ext: ext}, nil
}

// parseTileJSONPath parses "/v1/tiles/{tileset}.json" and returns the
// tileset name.
func parseTileJSONPath(path string) (string, error) {
	rest, ok := strings.CutPrefix(path, tilesPrefix)
	if !ok || strings.IndexByte(rest, '/') >= 0 {
		return "", fmt.Errorf("%w: want /v1/tiles/{tileset}.json", ErrBadTilePath)
	}
	name, ok := strings.CutSuffix(rest, ".json")
	if !ok {
		return "", fmt.Errorf("%w: want /v1/tiles/{tileset}.json", ErrBadTilePath)
	}
	if err := checkTilesetName(name); err != nil {
		return "", err
	}
	return name, nil
}

// checkTilesetName reports whether name is a valid tileset name, the same
// rule the catalog applies to file names.
func checkTilesetName(name string) error {
	if name == "" || len(name) > MaxTilesetName || name == "." || name == ".." {
		return fmt.Errorf("%w: tileset name must be 1 to %d characters of A-Z a-z 0-9 . _ -", ErrBadTilePath, MaxTilesetName)
	}
	for i := 0; i < len(name); i++ {
		if !isNameByte(name[i]) {
			return fmt.Errorf("%w: tileset name must be 1 to %d characters of A-Z a-z 0-9 . _ -", ErrBadTilePath, MaxTilesetName)
		}
	}
	return nil
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// parseCoord parses a plain decimal number of at most maxDigits digits with
// no sign and no leading zero (other than "0" itself).
func parseCoord(s string, maxDigits int) (int, bool) {
	if s == "" || len(s) > maxDigits || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
