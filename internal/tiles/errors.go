package tiles

import (
	"errors"

	"github.com/mapwright/mapwright/internal/tiles/tileset"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrClosed: the source or catalog was closed.
	ErrClosed = tileset.ErrClosed
	// ErrCorrupt: a tileset file contradicts itself or is damaged.
	ErrCorrupt = tileset.ErrCorrupt
	// ErrUnsupported: a tileset uses a feature the readers do not implement.
	ErrUnsupported = tileset.ErrUnsupported
	// ErrUnknownFormat: a tileset's tile format could not be determined.
	ErrUnknownFormat = tileset.ErrUnknownFormat
	// ErrInvalidName: a file name does not give a valid tileset name.
	ErrInvalidName = errors.New("invalid tileset name")
	// ErrDuplicateName: several files give the same tileset name.
	ErrDuplicateName = errors.New("duplicate tileset name")
	// ErrNotRegular: a tileset path is not a regular file.
	ErrNotRegular = errors.New("not a regular file")
)
