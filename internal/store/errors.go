package store

import "errors"

// Sentinel errors. Backends wrap them with context; test with errors.Is.
var (
	// ErrNotFound: no row with that ID or hash.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a unique constraint (ID, token hash) or an out-of-order
	// audit sequence.
	ErrConflict = errors.New("conflict")
	// ErrSchemaTooNew: the database was migrated by a newer Mapwright; this
	// binary refuses to touch it.
	ErrSchemaTooNew = errors.New("database schema is newer than this binary")
	// ErrUnavailable: the database cannot be reached or is read-only/locked.
	ErrUnavailable = errors.New("database unavailable")
	// ErrInvalid: an argument the store cannot act on, such as a malformed
	// ListKeys cursor, a KeyFilter with an unknown state or a key ID that is
	// not "key_" followed by a ULID. Callers map it to a client error.
	ErrInvalid = errors.New("invalid argument")
)
