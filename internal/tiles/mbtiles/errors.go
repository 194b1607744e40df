package mbtiles

import "github.com/mapwright/mapwright/internal/tiles/tileset"

// Sentinel errors. Each wraps the matching tileset error so that callers
// outside this package can test for the general class.
var (
	// ErrEmptyFile: the file has no bytes at all.
	ErrEmptyFile = &wrapped{"empty file", tileset.ErrCorrupt}
	// ErrNotSQLite: the file is not an SQLite database.
	ErrNotSQLite = &wrapped{"not an SQLite database", tileset.ErrCorrupt}
	// ErrDamaged: SQLite reports the database image as malformed.
	ErrDamaged = &wrapped{"damaged database", tileset.ErrCorrupt}
	// ErrNoTiles: the database has no tiles table or view.
	ErrNoTiles = &wrapped{"no tiles table or view", tileset.ErrCorrupt}
	// ErrNullTile: a tiles row exists for the address but its tile_data is
	// NULL (or not a blob): the writer failed, so the row is reported as a
	// fault rather than passed off as a missing tile.
	ErrNullTile = &wrapped{"tile row has no tile data", tileset.ErrCorrupt}
)

type wrapped struct {
	msg  string
	base error
}

func (e *wrapped) Error() string { return e.msg }
func (e *wrapped) Unwrap() error { return e.base }
