package sqlite

import "errors"

// Sentinel errors of the SQLite backend, in addition to those of package
// store.
var (
	// ErrNotSQLite: the file exists but does not start with a SQLite
	// header. Open never writes to such a file.
	ErrNotSQLite = errors.New("file is not a SQLite database")
	// ErrCorrupt: the file is a SQLite database that is truncated or fails
	// its integrity check. Open never migrates such a file.
	ErrCorrupt = errors.New("database file is corrupt")
	// ErrForeign: the file is a SQLite database holding tables that are not
	// Mapwright's. Open never adds tables to such a file.
	ErrForeign = errors.New("database file is not a Mapwright database")
)
