package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Errors of snapshots and restores. Test with errors.Is.
var (
	// ErrNotEmpty: a restore without RestoreOptions.Force found rows in
	// the target database.
	ErrNotEmpty = errors.New("database is not empty")
	// ErrSchemaMismatch: the tables or columns of a database differ from
	// the list [SchemaTables] gives for its schema version, or a restore
	// names a table or column that schema does not have.
	ErrSchemaMismatch = errors.New("database tables do not match the schema")
)

// ColumnType is the portable type of a column: what a snapshot returns for
// it and what a restore accepts, whatever the backend.
type ColumnType string

// Column types and the Go type of their values (nil for NULL).
const (
	// TypeInt: int64 (SQLite INTEGER; PostgreSQL bigint, integer, smallint).
	TypeInt ColumnType = "int"
	// TypeFloat: float64 (SQLite REAL; PostgreSQL double precision, real).
	TypeFloat ColumnType = "float"
	// TypeText: string, valid UTF-8 (SQLite TEXT; PostgreSQL text).
	TypeText ColumnType = "text"
	// TypeBlob: []byte (SQLite BLOB; PostgreSQL bytea).
	TypeBlob ColumnType = "blob"
)

// Column is one column of a [Table].
type Column struct {
	// Name is the column's name in both backends.
	Name string
	// Type is its portable type.
	Type ColumnType
	// Nullable is true when the column accepts NULL.
	Nullable bool
}

// Table describes one table of the logical schema, the same in every
// backend.
type Table struct {
	// Name is the table's name.
	Name string
	// Columns in declaration order.
	Columns []Column
	// Key lists the primary key columns: snapshots read rows in this order
	// (byte-wise for text), so that equal databases give equal streams.
	Key []string
	// Seeded marks a table whose first rows the migrations insert (the
	// audit chain head). It does not count when deciding whether a
	// database is empty, and a restore replaces its rows.
	Seeded bool
}

// Column returns the column named name and whether it exists.
func (t Table) Column(name string) (Column, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// ColumnNames returns the names of t's columns in order.
func (t Table) ColumnNames() []string {
	names := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		names[i] = c.Name
	}
	return names
}

// schemaTables holds, for every schema version, its tables in dependency
// order (a table comes after the tables it references). It is the one
// place that names the tables a backup carries: the backends compare it
// with their catalogs on every snapshot, and the conformance suite fails
// when a migration adds a table or column that is missing here.
func schemaTables(version int) []Table {
	keys := Table{
		Name: "keys",
		Key:  []string{"id"},
		Columns: []Column{
			{"id", TypeText, false},
			{"kind", TypeText, false},
			{"name", TypeText, false},
			{"start", TypeText, false},
			{"hash", TypeBlob, false},
			{"scopes", TypeText, false},
			{"tilesets", TypeText, false},
			{"origins", TypeText, false},
			{"rate", TypeFloat, false},
			{"burst", TypeInt, false},
			{"labels", TypeText, false},
			{"created_at", TypeInt, false},
			{"created_by", TypeText, false},
			{"not_before", TypeInt, true},
			{"expires_at", TypeInt, true},
			{"expired_at", TypeInt, true},
			{"revoked_at", TypeInt, true},
			{"revoked_by", TypeText, false},
			{"revoke_reason", TypeText, false},
			{"replaces", TypeText, false},
			{"replaced_by", TypeText, false},
			{"last_used_at", TypeInt, true},
		},
	}
	events := Table{
		Name: "audit_events",
		Key:  []string{"seq"},
		Columns: []Column{
			{"seq", TypeInt, false},
			{"time", TypeInt, false},
			{"actor", TypeText, false},
			{"action", TypeText, false},
			{"target", TypeText, false},
			{"outcome", TypeText, false},
			{"details", TypeText, false},
			{"client_ip", TypeText, false},
			{"prev_hash", TypeBlob, false},
			{"hash", TypeBlob, false},
		},
	}
	head := Table{
		Name:   "audit_head",
		Key:    []string{"id"},
		Seeded: true,
		Columns: []Column{
			{"id", TypeInt, false},
			{"seq", TypeInt, false},
			{"hash", TypeBlob, false},
		},
	}
	sessions := Table{
		Name: "admin_sessions",
		Key:  []string{"hash"},
		Columns: []Column{
			{"hash", TypeBlob, false},
			{"key_id", TypeText, false},
			{"created_at", TypeInt, false},
			{"last_seen_at", TypeInt, false},
			{"idle_expires_at", TypeInt, false},
			{"expires_at", TypeInt, false},
		},
	}
	totp := Table{
		Name: "key_totp",
		Key:  []string{"key_id"},
		Columns: []Column{
			{"key_id", TypeText, false},
			{"sealed", TypeBlob, false},
			{"created_at", TypeInt, false},
			{"last_step", TypeInt, false},
		},
	}
	switch version {
	case 1:
		return []Table{keys, events, head}
	case 2, 3:
		// Version 3 added indexes only.
		return []Table{keys, sessions, totp, events, head}
	}
	return nil
}

// SchemaTables returns the tables of schema version version, in
// dependency order: restore them in this order and empty them in the
// reverse one. The migrations' own bookkeeping table (schema_migrations)
// is not among them: a snapshot carries the version instead. An unknown
// version is an error wrapping ErrSchemaTooNew when it is above every
// version known here, else ErrInvalid.
func SchemaTables(version int) ([]Table, error) {
	tables := schemaTables(version)
	if tables == nil {
		if version > LatestKnownSchema() {
			return nil, fmt.Errorf("schema version %d, the table list knows up to %d: %w", version, LatestKnownSchema(), ErrSchemaTooNew)
		}
		return nil, fmt.Errorf("schema version %d: %w", version, ErrInvalid)
	}
	// The caller may change its copy; the list itself stays fixed.
	out := slices.Clone(tables)
	for i := range out {
		out[i].Columns = slices.Clone(out[i].Columns)
		out[i].Key = slices.Clone(out[i].Key)
	}
	return out, nil
}

// LatestKnownSchema is the highest schema version [SchemaTables] describes.
func LatestKnownSchema() int {
	v := 1
	for schemaTables(v+1) != nil {
		v++
	}
	return v
}

// FindTable returns the table named name among tables.
func FindTable(tables []Table, name string) (Table, bool) {
	for _, t := range tables {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}

// Snapshot is a consistent, read-only view of a whole database, valid only
// inside the fn given to [Store.Snapshot]: every table is read as of one
// moment, however long the reading takes and whatever is written
// meanwhile.
type Snapshot interface {
	// Backend names the backend the snapshot comes from.
	Backend() string
	// SchemaVersion is the database's schema version as of the snapshot.
	SchemaVersion() int
	// Tables lists the tables of that version, in dependency order.
	Tables() []Table
	// ScanTable calls fn with every row of the named table in primary key
	// order, streaming rather than loading them. row holds one value per
	// column of the table, in column order, typed as [ColumnType] says; fn
	// must not keep row (or a []byte in it) after it returns. An error from
	// fn stops the scan and is returned.
	ScanTable(ctx context.Context, table string, fn func(row []any) error) error
}

// RowSource yields rows to [RestoreTx.LoadTable], one at a time.
type RowSource interface {
	// Next advances to the next row; false at the end or on error.
	Next() bool
	// Values returns the current row, one value per loaded column, typed
	// as the columns' [ColumnType] says. The slice may be reused by the
	// next call to Next, but the values in it (strings, byte slices) must
	// stay as they are: a backend may hold on to several rows to write
	// them at once.
	Values() ([]any, error)
	// Err returns the error that ended the rows, nil at a clean end.
	Err() error
}

// RestoreOptions control [Store.Restore].
type RestoreOptions struct {
	// Force restores into a database that holds rows: they are deleted
	// first, in the same transaction. Without it such a database is
	// refused with ErrNotEmpty.
	Force bool
}

// RestoreTx is the transaction of [Store.Restore]. Besides the usual
// reads and writes (an audit event can be appended once the rows are in),
// it loads whole tables.
type RestoreTx interface {
	Tx

	// LoadTable replaces the rows of table (of the database's current
	// schema) with the rows from src, whose values are for columns, in
	// that order. Columns missing from the list take their defaults. Each
	// table loads at most once per restore. It returns the number of rows
	// loaded.
	LoadTable(ctx context.Context, table string, columns []string, src RowSource) (int64, error)
}
