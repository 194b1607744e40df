package audit

import (
	"context"
	"database/sql"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/sqlite"
)

// backend opens a fresh store and a second, raw handle on the same
// database through which a test plays the attacker who can write to the
// database but does not hold the audit key.
type backend struct {
	name string
	open func(t *testing.T) (store.Store, *sql.DB)
}

// backends lists the stores the audit tests run against; PostgreSQL joins
// when a test database is available (see postgres_test.go).
func backends() []backend {
	return append([]backend{{name: "sqlite", open: openSQLite}}, extraBackends...)
}

func openSQLite(t *testing.T) (store.Store, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mapwright.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	raw, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return st, raw
}

func exec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("tamper %q: %v", s, err)
		}
	}
}
