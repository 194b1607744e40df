package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/sqlite"
	"github.com/mapwright/mapwright/internal/store/storetest"
)

func openTemp(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "mapwright.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

// newDB creates a migrated database with one key, closes it and returns its
// path.
func newDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mapwright.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	// Enough rows to span several pages, so that truncation cuts data.
	if err := s.Update(t.Context(), func(tx store.Tx) error {
		for i := range 200 {
			k := store.Key{ID: testKeyID(i), Kind: "public", Hash: [32]byte{byte(i), byte(i >> 8), 1},
				Name: strings.Repeat("n", 200)}
			if err := tx.InsertKey(t.Context(), k); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func testKeyID(i int) string {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	b := []byte("key_01JQ0000000000000000000000")
	b[len(b)-1] = alphabet[i%32]
	b[len(b)-2] = alphabet[i/32%32]
	return string(b)
}

func TestOpenRefusesBadFiles(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		prepare func(t *testing.T) string
		want    error
		message string
	}{
		{
			name: "garbage bytes",
			prepare: func(t *testing.T) string {
				path := filepath.Join(t.TempDir(), "mapwright.db")
				writeFile(t, path, bytes.Repeat([]byte("not a database, just some text\n"), 200))
				return path
			},
			want:    sqlite.ErrNotSQLite,
			message: "file is not a SQLite database",
		},
		{
			name: "shorter than a header",
			prepare: func(t *testing.T) string {
				path := filepath.Join(t.TempDir(), "mapwright.db")
				writeFile(t, path, []byte("SQLite format 3\x00"))
				return path
			},
			want:    sqlite.ErrNotSQLite,
			message: "file is not a SQLite database",
		},
		{
			name: "truncated to half",
			prepare: func(t *testing.T) string {
				path := newDB(t)
				b := readFile(t, path)
				writeFile(t, path, b[:len(b)/2])
				return path
			},
			want:    sqlite.ErrCorrupt,
			message: "truncated",
		},
		{
			name: "truncated mid-page",
			prepare: func(t *testing.T) string {
				path := newDB(t)
				b := readFile(t, path)
				writeFile(t, path, b[:len(b)-100])
				return path
			},
			want:    sqlite.ErrCorrupt,
			message: "truncated",
		},
		{
			name: "pages overwritten with garbage",
			prepare: func(t *testing.T) string {
				path := newDB(t)
				b := readFile(t, path)
				page := 4096
				for i := page; i < len(b); i++ {
					b[i] = byte(i * 7)
				}
				writeFile(t, path, b)
				return path
			},
			want:    sqlite.ErrCorrupt,
			message: "database file is corrupt",
		},
		{
			name: "another application's database",
			prepare: func(t *testing.T) string {
				path := filepath.Join(t.TempDir(), "other.db")
				db, err := sql.Open("sqlite", path)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.Exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me')"); err != nil {
					t.Fatal(err)
				}
				db.Close()
				return path
			},
			want:    sqlite.ErrForeign,
			message: "notes",
		},
		{
			name: "schema newer than this binary",
			prepare: func(t *testing.T) string {
				path := newDB(t)
				db, err := sql.Open("sqlite", path)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.Exec("INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)"); err != nil {
					t.Fatal(err)
				}
				db.Close()
				return path
			},
			want:    store.ErrSchemaTooNew,
			message: "schema version 999",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.prepare(t)
			before := readFile(t, path)
			s, err := sqlite.Open(t.Context(), path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("Open: %v; want an error wrapping %v", err, tc.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "open database "+path+": ") || !strings.Contains(msg, tc.message) {
				t.Errorf("error %q should start with \"open database %s: \" and mention %q", msg, path, tc.message)
			}
			if after := readFile(t, path); !bytes.Equal(before, after) {
				t.Errorf("Open changed the file (%d bytes before, %d after)", len(before), len(after))
			}
			// A second attempt fails the same way: nothing was repaired
			// or half-migrated by the first.
			if _, err2 := sqlite.Open(t.Context(), path); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("second Open: %v, want the same error as the first", err2)
			}
		})
	}
}

func TestOpenPathProblems(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct {
		name    string
		path    string
		message string
	}{
		{"directory does not exist", filepath.Join(dir, "missing", "mapwright.db"), "does not exist"},
		{"path is a directory", dir, "is a directory"},
		{"no path", "", "no file name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlite.Open(t.Context(), tc.path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not mention %q", err, tc.message)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open created the missing directory")
	}
}

func TestOpenRefusesOrphanWAL(t *testing.T) {
	t.Parallel()
	path := newDB(t)
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Copy a live write-ahead log beside a name with no database.
	orphan := filepath.Join(t.TempDir(), "mapwright.db")
	writeFile(t, orphan+"-wal", []byte("leftover log"))
	if _, err := sqlite.Open(t.Context(), orphan); err == nil || !strings.Contains(err.Error(), "write-ahead log") {
		t.Fatalf("Open beside an orphan log: %v, want a refusal naming the log", err)
	}
	if _, err := os.Stat(orphan); !errors.Is(err, os.ErrNotExist) {
		t.Error("Open created the database file anyway")
	}
}

func TestFileMode(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "mapwright.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Update(t.Context(), func(tx store.Tx) error {
		return tx.InsertKey(t.Context(), store.Key{ID: testKeyID(1), Kind: "secret"})
	}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if mode := st.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", filepath.Base(name), mode)
		}
	}
}

func TestReopenKeepsDataAndVersion(t *testing.T) {
	t.Parallel()
	path := newDB(t)
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.SchemaVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v != sqlite.LatestSchemaVersion() {
		t.Errorf("SchemaVersion = %d, want %d", v, sqlite.LatestSchemaVersion())
	}
	if _, err := s.GetKey(t.Context(), testKeyID(199)); err != nil {
		t.Errorf("key written before reopening: %v", err)
	}
	var rows int
	if err := s.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != sqlite.LatestSchemaVersion() {
		t.Errorf("schema_migrations has %d rows, want one per migration (%d)", rows, sqlite.LatestSchemaVersion())
	}
	var mode string
	if err := s.DB().QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
}

func TestEmptyFileIsInitialised(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "mapwright.db")
	writeFile(t, path, nil)
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(t.Context()); err != nil || v < 1 {
		t.Fatalf("SchemaVersion = %d, %v", v, err)
	}
}

// TestConcurrentOpens opens one new file from several goroutines at once,
// as several processes starting together would: each open succeeds and the
// migrations run once.
func TestConcurrentOpens(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "mapwright.db")
	const n = 6
	stores := make(chan *sqlite.Store, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			s, err := sqlite.Open(t.Context(), path)
			errs <- err
			stores <- s
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("Open: %v", err)
		}
		if s := <-stores; s != nil {
			defer s.Close()
		}
	}
	s := openPath(t, path)
	var rows int
	if err := s.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != sqlite.LatestSchemaVersion() {
		t.Errorf("schema_migrations has %d rows, want %d", rows, sqlite.LatestSchemaVersion())
	}
}

// TestWriterBlockedElsewhere holds the write lock from another connection,
// as another process would, and expects a clear ErrUnavailable once the
// caller's deadline passes rather than a hang or a corrupt write.
func TestWriterBlockedElsewhere(t *testing.T) {
	t.Parallel()
	path := newDB(t)
	s := openPath(t, path)
	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err = s.Update(ctx, func(tx store.Tx) error {
		return tx.InsertKey(ctx, store.Key{ID: testKeyID(300), Kind: "public", Hash: [32]byte{9}})
	})
	if err == nil {
		t.Fatal("Update succeeded while another connection held the write lock")
	}
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("blocked Update: %v, want the deadline or ErrUnavailable", err)
	}
	if _, err := s.GetKey(t.Context(), testKeyID(300)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the blocked insert was written: %v", err)
	}
	// Reads still work while another writer holds the lock.
	if _, err := s.GetKey(t.Context(), testKeyID(1)); err != nil {
		t.Errorf("GetKey during another writer's transaction: %v", err)
	}
}

func openPath(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) store.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "mapwright.db"))
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}
