package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/internal/sqlstore"
)

// Snapshot calls fn with a consistent view of every table. See
// store.Store.
//
// The view is one deferred read transaction on one connection: in
// write-ahead-log mode it sees the database as of its first read, while
// writers carry on. The log cannot be checkpointed past that point until
// the snapshot ends, so it grows during a long one.
func (s *Store) Snapshot(ctx context.Context, fn func(store.Snapshot) error) error {
	sqlTx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("snapshot: begin: %w", mapErr(err))
	}
	// A read-only transaction has nothing to commit.
	defer sqlTx.Rollback()
	version, err := schemaVersion(ctx, sqlTx)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	tables, err := checkedTables(ctx, sqlTx, version)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return fn(&snapshot{q: sqlTx, version: version, tables: tables})
}

// schemaVersion reads the highest applied migration through q.
func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM "+sqlstore.MigrationsTable).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", mapErr(err))
	}
	return v, nil
}

// checkedTables returns the tables of schema version after checking them
// against the database's catalog.
func checkedTables(ctx context.Context, q querier, version int) ([]store.Table, error) {
	tables, err := store.SchemaTables(version)
	if err != nil {
		return nil, err
	}
	catalog, err := readCatalog(ctx, q)
	if err != nil {
		return nil, err
	}
	if err := sqlstore.CompareCatalog(version, tables, catalog); err != nil {
		return nil, err
	}
	return tables, nil
}

// readCatalog lists the database's tables and their columns.
func readCatalog(ctx context.Context, q querier) (map[string][]sqlstore.CatalogColumn, error) {
	rows, err := q.QueryContext(ctx, `SELECT m.name, p.name, p.type, p."notnull"
		FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
		ORDER BY m.name, p.cid`)
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", mapErr(err))
	}
	defer rows.Close()
	catalog := map[string][]sqlstore.CatalogColumn{}
	for rows.Next() {
		var table, name, declared string
		var notNull bool
		if err := rows.Scan(&table, &name, &declared, &notNull); err != nil {
			return nil, fmt.Errorf("read catalog: %w", mapErr(err))
		}
		catalog[table] = append(catalog[table], sqlstore.CatalogColumn{
			Name: name, Type: portableType(declared), Nullable: !notNull, Declared: declared,
		})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read catalog: %w", mapErr(err))
	}
	return catalog, nil
}

// portableType maps a STRICT table's declared column type.
func portableType(declared string) store.ColumnType {
	switch strings.ToUpper(declared) {
	case "INTEGER", "INT":
		return store.TypeInt
	case "REAL":
		return store.TypeFloat
	case "TEXT":
		return store.TypeText
	case "BLOB":
		return store.TypeBlob
	}
	return ""
}

// snapshot is a store.Snapshot on a read transaction.
type snapshot struct {
	q       querier
	version int
	tables  []store.Table
}

func (s *snapshot) Backend() string       { return store.BackendSQLite }
func (s *snapshot) SchemaVersion() int    { return s.version }
func (s *snapshot) Tables() []store.Table { return slices.Clone(s.tables) }
func (s *snapshot) table(name string) (store.Table, error) {
	t, ok := store.FindTable(s.tables, name)
	if !ok {
		return store.Table{}, fmt.Errorf("scan table %q: not a table of schema version %d: %w", name, s.version, store.ErrInvalid)
	}
	return t, nil
}

// ScanTable streams the rows of a table in key order. See store.Snapshot.
func (s *snapshot) ScanTable(ctx context.Context, name string, fn func(row []any) error) error {
	t, err := s.table(name)
	if err != nil {
		return err
	}
	rows, err := s.q.QueryContext(ctx, sqlstore.SelectTableQuery(t, ""))
	if err != nil {
		return fmt.Errorf("scan table %s: %w", name, mapErr(err))
	}
	defer rows.Close()
	raw := make([]any, len(t.Columns))
	dest := make([]any, len(t.Columns))
	for i := range raw {
		dest[i] = &raw[i]
	}
	row := make([]any, len(t.Columns))
	var n int64
	for rows.Next() {
		n++
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("scan table %s: row %d: %w", name, n, mapErr(err))
		}
		for i, c := range t.Columns {
			v, err := sqlstore.NormalizeValue(c, raw[i])
			if err != nil {
				return fmt.Errorf("scan table %s: row %d: %w", name, n, err)
			}
			row[i] = v
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scan table %s: %w", name, mapErr(err))
	}
	return nil
}

// Page cache sizes as PRAGMA cache_size takes them: negative numbers are
// KiB. A restore uses a larger cache for its one connection, bounded so
// that memory stays flat however large the database.
const (
	restoreCacheKiB = -65536
	defaultCacheKiB = -2000
)

// Restore runs fn in one immediate transaction on an empty (or, with
// opts.Force, emptied) database. See store.Store. The write lock is held
// from the start, so no other process writes until it ends.
func (s *Store) Restore(ctx context.Context, opts store.RestoreOptions, fn func(store.RestoreTx) error) error {
	if err := s.lockWriter(ctx); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer s.unlockWriter()
	// A connection of its own, so that the bulk-load settings below apply
	// to it alone and are undone before it goes back to the pool.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("restore: %w", mapErr(err))
	}
	defer conn.Close()
	// A bulk load through the default 2 MB page cache spends most of its
	// time spilling and re-reading index pages; multi-row INSERTs keep a
	// statement journal, which belongs in memory (it holds the pages one
	// statement changed).
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = %d; PRAGMA temp_store = MEMORY", restoreCacheKiB)); err != nil {
		return fmt.Errorf("restore: %w", mapErr(err))
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf("PRAGMA cache_size = %d; PRAGMA temp_store = DEFAULT", defaultCacheKiB))
	sqlTx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("restore: begin transaction: %w", mapErr(err))
	}
	// Rolls back when anything fails; a no-op after Commit.
	defer sqlTx.Rollback()
	version, err := schemaVersion(ctx, sqlTx)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	tables, err := checkedTables(ctx, sqlTx, version)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if opts.Force {
		// Reverse dependency order, so that no row is deleted while
		// another still references it.
		for i := len(tables) - 1; i >= 0; i-- {
			if tables[i].Seeded {
				continue
			}
			if _, err := sqlTx.ExecContext(ctx, "DELETE FROM "+sqlstore.QuoteIdent(tables[i].Name)); err != nil {
				return fmt.Errorf("restore: empty table %s: %w", tables[i].Name, mapErr(err))
			}
		}
	} else if err := checkEmpty(ctx, sqlTx, tables); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	rt := &restoreTx{tx: &tx{reader: reader{q: sqlTx}}, sqlTx: sqlTx, tables: tables, loaded: map[string]bool{}}
	if err := fn(rt); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("restore: commit: %w", mapErr(err))
	}
	return nil
}

// checkEmpty fails with store.ErrNotEmpty, naming the row counts, when any
// table that is not seeded holds rows.
func checkEmpty(ctx context.Context, q querier, tables []store.Table) error {
	var full []string
	for _, t := range tables {
		if t.Seeded {
			continue
		}
		var n int64
		if err := q.QueryRowContext(ctx, "SELECT count(*) FROM "+sqlstore.QuoteIdent(t.Name)).Scan(&n); err != nil {
			return fmt.Errorf("count rows of %s: %w", t.Name, mapErr(err))
		}
		if n > 0 {
			full = append(full, fmt.Sprintf("%s: %d rows", t.Name, n))
		}
	}
	if len(full) > 0 {
		return fmt.Errorf("%w (%s)", store.ErrNotEmpty, strings.Join(full, ", "))
	}
	return nil
}

// restoreTx is the store.RestoreTx of a SQLite restore.
type restoreTx struct {
	*tx
	sqlTx  *sql.Tx
	tables []store.Table
	loaded map[string]bool
}

// anonymousParam writes plain ? parameters: the driver looks a numbered
// parameter's name up in a list, which costs time quadratic in the number
// of parameters of a multi-row INSERT.
func anonymousParam(int) string { return "?" }

// loadBatch is how many rows one INSERT statement carries: enough to
// amortise the statement's overhead, far below SQLite's limit of 32766
// parameters for any table.
const loadBatch = 64

// LoadTable replaces the rows of a table with src's, loadBatch rows per
// prepared INSERT. See store.RestoreTx.
func (r *restoreTx) LoadTable(ctx context.Context, table string, columns []string, src store.RowSource) (int64, error) {
	t, err := sqlstore.CheckLoad(r.tables, r.loaded, table, columns)
	if err != nil {
		return 0, err
	}
	r.loaded[table] = true
	if _, err := r.sqlTx.ExecContext(ctx, "DELETE FROM "+sqlstore.QuoteIdent(t.Name)); err != nil {
		return 0, fmt.Errorf("load table %s: %w", table, mapErr(err))
	}
	full, err := r.sqlTx.PrepareContext(ctx, sqlstore.InsertRowsQuery(t.Name, columns, loadBatch, anonymousParam))
	if err != nil {
		return 0, fmt.Errorf("load table %s: %w", table, mapErr(err))
	}
	defer full.Close()
	args := make([]any, 0, loadBatch*len(columns))
	var n, pending int64
	flush := func() error {
		if pending == 0 {
			return nil
		}
		stmt := full
		if pending < loadBatch {
			// The last, short batch.
			short, err := r.sqlTx.PrepareContext(ctx, sqlstore.InsertRowsQuery(t.Name, columns, int(pending), anonymousParam))
			if err != nil {
				return err
			}
			defer short.Close()
			stmt = short
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return err
		}
		n += pending
		pending, args = 0, args[:0]
		return nil
	}
	for src.Next() {
		row, err := src.Values()
		if err != nil {
			return n, fmt.Errorf("load table %s: row %d: %w", table, n+pending+1, err)
		}
		if err := sqlstore.CheckRow(t, columns, row); err != nil {
			return n, fmt.Errorf("load table %s: row %d: %w", table, n+pending+1, err)
		}
		args = append(args, row...)
		pending++
		if pending == loadBatch {
			if err := flush(); err != nil {
				return n, fmt.Errorf("load table %s: rows %d to %d: %w", table, n+1, n+loadBatch, mapErr(err))
			}
		}
	}
	if err := src.Err(); err != nil {
		return n, fmt.Errorf("load table %s: %w", table, err)
	}
	if err := flush(); err != nil {
		return n, fmt.Errorf("load table %s: the last %d rows: %w", table, pending, mapErr(err))
	}
	return n, nil
}
