package pmtiles

import (
	"github.com/mapwright/mapwright/internal/tiles/tileset"
)

// Sentinel errors. Each wraps the matching tileset error so that callers
// outside this package can test for the general class (errors.Is(err,
// tileset.ErrCorrupt)) and callers here for the precise one.
var (
	// ErrEmptyFile: the file has no bytes at all.
	ErrEmptyFile = corrupt("empty file")
	// ErrBadMagic: the file does not start with the PMTiles magic number.
	ErrBadMagic = corrupt("not a PMTiles archive (bad magic number)")
	// ErrTruncated: a section lies beyond the end of the file or the
	// header is cut short.
	ErrTruncated = corrupt("truncated PMTiles archive")
	// ErrBadHeader: a header field holds an impossible value.
	ErrBadHeader = corrupt("invalid PMTiles header")
	// ErrBadDirectory: a directory does not decode.
	ErrBadDirectory = corrupt("invalid PMTiles directory")
	// ErrBadMetadata: the JSON metadata does not decode.
	ErrBadMetadata = corrupt("invalid PMTiles metadata")
	// ErrUnsupportedVersion: the spec version is not 3.
	ErrUnsupportedVersion = unsupported("unsupported PMTiles version")
	// ErrUnsupportedCompression: brotli, zstd or an unknown algorithm.
	ErrUnsupportedCompression = unsupported("unsupported PMTiles compression")
)

type wrapped struct {
	msg  string
	base error
}

func (e *wrapped) Error() string { return e.msg }
func (e *wrapped) Unwrap() error { return e.base }

func corrupt(msg string) error     { return &wrapped{msg: msg, base: tileset.ErrCorrupt} }
func unsupported(msg string) error { return &wrapped{msg: msg, base: tileset.ErrUnsupported} }
