package sqlstore

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/mapwright/mapwright/internal/store"
)

// MigrationsTable is the migrations' bookkeeping table: it is in every
// database but not in [store.SchemaTables], because a snapshot carries the
// schema version instead of its rows.
const MigrationsTable = "schema_migrations"

// QuoteIdent quotes a table or column name for both SQL dialects.
func QuoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// SelectTableQuery selects every column of t in primary key order.
// byteOrder is appended to every text key column (PostgreSQL: COLLATE "C")
// so that both backends return rows in the same, byte-wise order.
func SelectTableQuery(t store.Table, byteOrder string) string {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = QuoteIdent(c.Name)
	}
	order := make([]string, len(t.Key))
	for i, k := range t.Key {
		order[i] = QuoteIdent(k)
		if c, ok := t.Column(k); ok && c.Type == store.TypeText && byteOrder != "" {
			order[i] += " " + byteOrder
		}
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + QuoteIdent(t.Name)
	if len(order) > 0 {
		q += " ORDER BY " + strings.Join(order, ", ")
	}
	return q
}

// InsertQuery inserts one row of columns into table, with parameters
// written by param (1-based).
func InsertQuery(table string, columns []string, param func(int) string) string {
	cols := make([]string, len(columns))
	params := make([]string, len(columns))
	for i, c := range columns {
		cols[i] = QuoteIdent(c)
		params[i] = param(i + 1)
	}
	return "INSERT INTO " + QuoteIdent(table) + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(params, ", ") + ")"
}

// InsertRowsQuery inserts rows rows of columns into table in one
// statement, with parameters numbered row by row.
func InsertRowsQuery(table string, columns []string, rows int, param func(int) string) string {
	cols := make([]string, len(columns))
	for i, c := range columns {
		cols[i] = QuoteIdent(c)
	}
	var b strings.Builder
	b.WriteString("INSERT INTO " + QuoteIdent(table) + " (" + strings.Join(cols, ", ") + ") VALUES ")
	n := 0
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range columns {
			if c > 0 {
				b.WriteString(", ")
			}
			n++
			b.WriteString(param(n))
		}
		b.WriteByte(')')
	}
	return b.String()
}

// NormalizeValue converts a value as a driver returned it for column c
// into the Go type c.Type stands for (nil stays nil), or fails when the
// stored value has another type: a snapshot must not carry a value a
// restore would store differently.
func NormalizeValue(c store.Column, v any) (any, error) {
	if v == nil {
		if !c.Nullable {
			return nil, fmt.Errorf("column %s: NULL in a NOT NULL column", c.Name)
		}
		return nil, nil
	}
	switch c.Type {
	case store.TypeInt:
		switch x := v.(type) {
		case int64:
			return x, nil
		case int32:
			return int64(x), nil
		case int16:
			return int64(x), nil
		case int:
			return int64(x), nil
		}
	case store.TypeFloat:
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		case int64:
			// SQLite stores a REAL that is a whole number as an integer
			// on disk and may hand it back as one.
			return float64(x), nil
		}
	case store.TypeText:
		switch x := v.(type) {
		case string:
			if !utf8.ValidString(x) {
				return nil, fmt.Errorf("column %s: text that is not valid UTF-8", c.Name)
			}
			return x, nil
		case []byte:
			if !utf8.Valid(x) {
				return nil, fmt.Errorf("column %s: text that is not valid UTF-8", c.Name)
			}
			return string(x), nil
		}
	case store.TypeBlob:
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return []byte(x), nil
		}
	}
	return nil, fmt.Errorf("column %s of type %s holds a %T", c.Name, c.Type, v)
}

// CatalogColumn is a column as a database's catalog describes it, its type
// already mapped to a portable type ("" when it has none).
type CatalogColumn struct {
	Name     string
	Type     store.ColumnType
	Nullable bool
	// Declared is the catalog's own type name, for messages.
	Declared string
}

// CompareCatalog checks that the tables a database holds (catalog, by
// name, without the migrations table) are exactly tables, column for
// column. Any difference is an error wrapping store.ErrSchemaMismatch
// that names it.
func CompareCatalog(version int, tables []store.Table, catalog map[string][]CatalogColumn) error {
	var problems []string
	for _, t := range tables {
		cols, ok := catalog[t.Name]
		if !ok {
			problems = append(problems, fmt.Sprintf("table %s is missing from the database", t.Name))
			continue
		}
		byName := make(map[string]CatalogColumn, len(cols))
		for _, c := range cols {
			byName[c.Name] = c
		}
		for _, want := range t.Columns {
			got, ok := byName[want.Name]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("column %s.%s is missing from the database", t.Name, want.Name))
			case got.Type != want.Type:
				problems = append(problems, fmt.Sprintf("column %s.%s is %s in the database, the table list says %s", t.Name, want.Name, got.Declared, want.Type))
			case got.Nullable != want.Nullable:
				problems = append(problems, fmt.Sprintf("column %s.%s: nullable is %t in the database, the table list says %t", t.Name, want.Name, got.Nullable, want.Nullable))
			}
			delete(byName, want.Name)
		}
		extra := make([]string, 0, len(byName))
		for name := range byName {
			extra = append(extra, name)
		}
		sort.Strings(extra)
		for _, name := range extra {
			problems = append(problems, fmt.Sprintf("column %s.%s is not in the table list", t.Name, name))
		}
	}
	var extra []string
	for name := range catalog {
		if name == MigrationsTable {
			continue
		}
		if _, ok := store.FindTable(tables, name); !ok {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		problems = append(problems, fmt.Sprintf("table %s is not in the table list", name))
	}
	if len(problems) > 0 {
		return fmt.Errorf("schema version %d: %s (update store.SchemaTables with the migration): %w",
			version, strings.Join(problems, "; "), store.ErrSchemaMismatch)
	}
	return nil
}

// CheckLoad checks a restore's request to load columns into table against
// the database's tables: the table must exist and not be loaded yet, and
// every column must exist, once. Columns left out take their defaults (a
// NOT NULL column without one makes the insert fail). It returns the
// table.
func CheckLoad(tables []store.Table, loaded map[string]bool, table string, columns []string) (store.Table, error) {
	t, ok := store.FindTable(tables, table)
	if !ok {
		return store.Table{}, fmt.Errorf("load table %q: no such table: %w", table, store.ErrSchemaMismatch)
	}
	if loaded[table] {
		return store.Table{}, fmt.Errorf("load table %s: already loaded in this restore: %w", table, store.ErrInvalid)
	}
	if len(columns) == 0 {
		return store.Table{}, fmt.Errorf("load table %s: no columns: %w", table, store.ErrInvalid)
	}
	for i, c := range columns {
		if _, ok := t.Column(c); !ok {
			return store.Table{}, fmt.Errorf("load table %s: no column %q: %w", table, c, store.ErrSchemaMismatch)
		}
		if slices.Contains(columns[:i], c) {
			return store.Table{}, fmt.Errorf("load table %s: column %s given twice: %w", table, c, store.ErrInvalid)
		}
	}
	return t, nil
}

// CheckRow checks that a row to load has one value per column, each of the
// Go type of its column's portable type (or nil where NULL is allowed).
func CheckRow(t store.Table, columns []string, row []any) error {
	if len(row) != len(columns) {
		return fmt.Errorf("row has %d values for %d columns: %w", len(row), len(columns), store.ErrInvalid)
	}
	for i, name := range columns {
		c, _ := t.Column(name)
		v := row[i]
		ok := false
		switch v.(type) {
		case nil:
			ok = c.Nullable
		case int64:
			ok = c.Type == store.TypeInt
		case float64:
			ok = c.Type == store.TypeFloat
		case string:
			ok = c.Type == store.TypeText
		case []byte:
			ok = c.Type == store.TypeBlob
		}
		if !ok {
			return fmt.Errorf("column %s (%s, nullable %t) cannot take a %T: %w", name, c.Type, c.Nullable, v, store.ErrInvalid)
		}
	}
	return nil
}
