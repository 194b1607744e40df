package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/internal/sqlstore"
)

// byteOrder sorts text keys byte-wise, as SQLite does, whatever the
// database's collation: both backends then stream rows in the same order.
const byteOrder = `COLLATE "C"`

// Snapshot calls fn with a consistent view of every table. See
// store.Store. The view is a REPEATABLE READ, READ ONLY transaction: one
// snapshot of the whole database, taken at its first query, that blocks no
// writer.
func (s *Store) Snapshot(ctx context.Context, fn func(store.Snapshot) error) error {
	pgTx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("snapshot: begin: %w", mapErr(err))
	}
	// Nothing to commit; it must run even when ctx is already cancelled.
	defer pgTx.Rollback(context.WithoutCancel(ctx))
	version, err := schemaVersion(ctx, pgTx)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	tables, err := checkedTables(ctx, pgTx, version)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return fn(&snapshot{q: pgTx, version: version, tables: tables})
}

func schemaVersion(ctx context.Context, q querier) (int, error) {
	var v int
	if err := q.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM "+sqlstore.MigrationsTable).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", mapErr(err))
	}
	return v, nil
}

// checkedTables returns the tables of schema version after checking them
// against the catalog of the current schema.
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

// readCatalog lists the ordinary tables of the current schema and their
// columns.
func readCatalog(ctx context.Context, q querier) (map[string][]sqlstore.CatalogColumn, error) {
	rows, err := q.Query(ctx, `SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
		ORDER BY c.relname, a.attnum`)
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

// portableType maps a column type as format_type writes it.
func portableType(declared string) store.ColumnType {
	switch {
	case declared == "bigint", declared == "integer", declared == "smallint":
		return store.TypeInt
	case declared == "double precision", declared == "real":
		return store.TypeFloat
	case declared == "text":
		return store.TypeText
	case declared == "bytea":
		return store.TypeBlob
	}
	return ""
}

// snapshot is a store.Snapshot on a repeatable-read transaction.
type snapshot struct {
	q       querier
	version int
	tables  []store.Table
}

func (s *snapshot) Backend() string       { return store.BackendPostgres }
func (s *snapshot) SchemaVersion() int    { return s.version }
func (s *snapshot) Tables() []store.Table { return slices.Clone(s.tables) }

// ScanTable streams the rows of a table in key order. See store.Snapshot.
func (s *snapshot) ScanTable(ctx context.Context, name string, fn func(row []any) error) error {
	t, ok := store.FindTable(s.tables, name)
	if !ok {
		return fmt.Errorf("scan table %q: not a table of schema version %d: %w", name, s.version, store.ErrInvalid)
	}
	rows, err := s.q.Query(ctx, sqlstore.SelectTableQuery(t, byteOrder))
	if err != nil {
		return fmt.Errorf("scan table %s: %w", name, mapErr(err))
	}
	defer rows.Close()
	row := make([]any, len(t.Columns))
	var n int64
	for rows.Next() {
		n++
		raw, err := rows.Values()
		if err != nil {
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

// Restore runs fn in one transaction on an empty (or, with opts.Force,
// emptied) database. See store.Store. Every table is locked ACCESS
// EXCLUSIVE first, so no replica reads or writes a half-restored database
// and the emptiness check cannot race with a writer.
func (s *Store) Restore(ctx context.Context, opts store.RestoreOptions, fn func(store.RestoreTx) error) error {
	pgTx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("restore: begin transaction: %w", mapErr(err))
	}
	defer pgTx.Rollback(context.WithoutCancel(ctx))
	version, err := schemaVersion(ctx, pgTx)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	tables, err := checkedTables(ctx, pgTx, version)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = sqlstore.QuoteIdent(t.Name)
	}
	if _, err := pgTx.Exec(ctx, "LOCK TABLE "+strings.Join(names, ", ")+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		return fmt.Errorf("restore: lock tables: %w", mapErr(err))
	}
	if opts.Force {
		var doomed []string
		for _, t := range tables {
			if !t.Seeded {
				doomed = append(doomed, sqlstore.QuoteIdent(t.Name))
			}
		}
		// One statement, so references between the tables do not matter;
		// the tables are already locked as TRUNCATE needs.
		if _, err := pgTx.Exec(ctx, "TRUNCATE "+strings.Join(doomed, ", ")); err != nil {
			return fmt.Errorf("restore: empty tables: %w", mapErr(err))
		}
	} else if err := checkEmpty(ctx, pgTx, tables); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	rt := &restoreTx{tx: &tx{reader: reader{q: pgTx, inTx: true}}, pgTx: pgTx, tables: tables, loaded: map[string]bool{}}
	if err := fn(rt); err != nil {
		return err
	}
	if err := resetSequences(ctx, pgTx, tables); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	// Every replica's verify cache describes the database as it was.
	if _, err := pgTx.Exec(ctx, "SELECT pg_notify($1, $2)", keyChannel, allKeys); err != nil {
		return fmt.Errorf("restore: notify key change: %w", mapErr(err))
	}
	if err := pgTx.Commit(ctx); err != nil {
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
		if err := q.QueryRow(ctx, "SELECT count(*) FROM "+sqlstore.QuoteIdent(t.Name)).Scan(&n); err != nil {
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

// resetSequences moves every sequence owned by an integer column past the
// largest value loaded, so that the next generated value cannot collide
// with a restored row. Columns without a sequence are skipped.
func resetSequences(ctx context.Context, q querier, tables []store.Table) error {
	for _, t := range tables {
		for _, c := range t.Columns {
			if c.Type != store.TypeInt {
				continue
			}
			var seq *string
			if err := q.QueryRow(ctx, "SELECT pg_get_serial_sequence($1, $2)", sqlstore.QuoteIdent(t.Name), c.Name).Scan(&seq); err != nil {
				return fmt.Errorf("find sequence of %s.%s: %w", t.Name, c.Name, mapErr(err))
			}
			if seq == nil {
				continue
			}
			query := fmt.Sprintf("SELECT setval($1::regclass, coalesce((SELECT max(%s) FROM %s), 0) + 1, false)",
				sqlstore.QuoteIdent(c.Name), sqlstore.QuoteIdent(t.Name))
			if _, err := q.Exec(ctx, query, *seq); err != nil {
				return fmt.Errorf("reset sequence of %s.%s: %w", t.Name, c.Name, mapErr(err))
			}
		}
	}
	return nil
}

// restoreTx is the store.RestoreTx of a PostgreSQL restore.
type restoreTx struct {
	*tx
	pgTx   pgx.Tx
	tables []store.Table
	loaded map[string]bool
}

// LoadTable replaces the rows of a table with src's through COPY. See
// store.RestoreTx.
func (r *restoreTx) LoadTable(ctx context.Context, table string, columns []string, src store.RowSource) (int64, error) {
	t, err := sqlstore.CheckLoad(r.tables, r.loaded, table, columns)
	if err != nil {
		return 0, err
	}
	r.loaded[table] = true
	if _, err := r.pgTx.Exec(ctx, "DELETE FROM "+sqlstore.QuoteIdent(t.Name)); err != nil {
		return 0, fmt.Errorf("load table %s: %w", table, mapErr(err))
	}
	cs := &checkedSource{src: src, t: t, columns: columns}
	n, err := r.pgTx.CopyFrom(ctx, pgx.Identifier{t.Name}, columns, cs)
	if err != nil {
		if cs.err != nil {
			// The source's own error, not COPY's report of it.
			return n, fmt.Errorf("load table %s: row %d: %w", table, cs.n, cs.err)
		}
		return n, fmt.Errorf("load table %s: %w", table, mapErr(err))
	}
	return n, nil
}

// checkedSource checks every row of a RowSource before COPY sends it.
type checkedSource struct {
	src     store.RowSource
	t       store.Table
	columns []string
	n       int64
	err     error
}

func (c *checkedSource) Next() bool {
	if !c.src.Next() {
		return false
	}
	c.n++
	return true
}

func (c *checkedSource) Values() ([]any, error) {
	row, err := c.src.Values()
	if err == nil {
		err = sqlstore.CheckRow(c.t, c.columns, row)
	}
	if err != nil {
		c.err = err
		return nil, err
	}
	return row, nil
}

func (c *checkedSource) Err() error {
	if err := c.src.Err(); err != nil {
		c.err = err
		return err
	}
	return nil
}
