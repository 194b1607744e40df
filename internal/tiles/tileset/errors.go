package tileset

import "errors"

// Sentinel errors shared by every source. Readers wrap them with context;
// test with errors.Is.
var (
	// ErrClosed: the source was closed; the caller raced a reload and should
	// look the tileset up again.
	ErrClosed = errors.New("tile source closed")
	// ErrUnknownFormat: the tileset's format could be neither read from its
	// metadata nor recognised from its tile bytes.
	ErrUnknownFormat = errors.New("unknown tile format")
	// ErrCorrupt: the file's structure contradicts itself (an offset past the
	// end, a directory that does not decode, a NULL tile).
	ErrCorrupt = errors.New("corrupt tileset")
	// ErrUnsupported: the file is valid but uses a feature this reader does
	// not implement (a newer version, a compression it cannot serve).
	ErrUnsupported = errors.New("unsupported tileset")
)
