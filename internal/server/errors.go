package server

import "errors"

// Sentinel errors. Test with errors.Is.
var (
	// ErrBadTilePath: a tile or TileJSON path that does not parse; answered
	// with 400.
	ErrBadTilePath = errors.New("bad tile path")
	// errCorruptTile: a stored gzip tile that does not decompress; answered
	// with 500 and logged.
	errCorruptTile = errors.New("stored tile does not decompress")
)
