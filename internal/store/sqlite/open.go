package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	// The pure-Go SQLite driver, registered as "sqlite".
	_ "modernc.org/sqlite"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/internal/sqlstore"
)

// busyTimeoutMillis is how long a connection waits for another writer (in
// this or another process) before giving up with "database is locked".
const busyTimeoutMillis = 5000

// maxConns bounds the connection pool. WAL lets readers run side by side;
// writers are serialised anyway.
const maxConns = 8

// Open opens the SQLite database at path, creating it with mode 0600 when it
// does not exist, and migrates it to the schema this binary knows.
//
// An existing file is checked before anything is written to it: a file
// without a SQLite header, one shorter than its header says, one that fails
// PRAGMA quick_check, one holding other applications' tables, or one
// migrated by a newer Mapwright (ErrSchemaTooNew) is reported and left
// exactly as it was. The directory must exist.
func Open(ctx context.Context, path string) (*Store, error) {
	s, err := open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return s, nil
}

func open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("no file name given")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	migrations, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	existing, err := prepareFile(abs)
	if err != nil {
		return nil, err
	}
	if existing {
		if err := checkContent(ctx, abs, migrations); err != nil {
			return nil, err
		}
	}

	db, err := sql.Open("sqlite", dsn(abs,
		"_txlock=immediate",
		fmt.Sprintf("_busy_timeout=%d", busyTimeoutMillis),
		"_foreign_keys=1",
		"_synchronous=NORMAL",
	))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	// journal_mode is stored in the file, so setting it once is enough;
	// it is not a per-connection DSN setting because it writes to the file
	// and must come after the checks above.
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		db.Close()
		return nil, fmt.Errorf("enable write-ahead logging: %w", mapErr(err))
	}
	if !strings.EqualFold(mode, "wal") {
		db.Close()
		return nil, fmt.Errorf("enable write-ahead logging: journal mode is still %q (is the file system shared or read-only?)", mode)
	}
	s := &Store{db: db, path: abs, writer: make(chan struct{}, 1)}
	s.reader = reader{q: db}
	if err := s.migrate(ctx, migrations); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// dsn builds the driver's name for the file at abs: a file: URI, so that
// any character in the path is escaped, and mode=rw, so that a file removed
// after the checks is never silently re-created empty.
func dsn(abs string, params ...string) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		// A drive-letter path becomes file:///C:/...
		p = "/" + p
	}
	u := url.URL{Path: p}
	return "file:" + u.EscapedPath() + "?" + strings.Join(append([]string{"mode=rw"}, params...), "&")
}

// prepareFile creates the database file with mode 0600 when it is missing,
// and otherwise checks its header. It reports whether the file existed with
// content to check.
func prepareFile(abs string) (existing bool, err error) {
	st, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		created, cerr := createFile(abs)
		if cerr != nil || created {
			return false, cerr
		}
		// Another process created it between the Stat and the create;
		// its content is checked like any existing file's.
		st, err = os.Stat(abs)
	}
	if err != nil {
		return false, err
	}
	if st.IsDir() {
		return false, errors.New("it is a directory")
	}
	if !st.Mode().IsRegular() {
		return false, errors.New("it is not a regular file")
	}
	if st.Size() == 0 {
		// An empty file is an empty database to SQLite; nothing to lose.
		return false, nil
	}
	f, err := os.Open(abs)
	if err != nil {
		return false, err
	}
	defer f.Close()
	hdr := make([]byte, headerSize)
	n, err := io.ReadFull(f, hdr)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return false, fmt.Errorf("read header: %w", err)
	}
	walPresent := false
	if wst, err := os.Stat(abs + "-wal"); err == nil && wst.Size() > 0 {
		walPresent = true
	}
	if err := checkHeader(hdr[:n], st.Size(), walPresent); err != nil {
		return false, err
	}
	return true, nil
}

// createFile creates an empty database file with mode 0600. It reports
// false, and no error, when the file appeared meanwhile.
func createFile(abs string) (created bool, err error) {
	dir := filepath.Dir(abs)
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("directory %s does not exist", dir)
	}
	if err != nil {
		return false, err
	}
	if !st.IsDir() {
		return false, fmt.Errorf("%s is not a directory", dir)
	}
	// A write-ahead log without its database belongs to a database that
	// was moved or deleted; SQLite would replay it into the new file.
	if _, err := os.Stat(abs + "-wal"); err == nil {
		return false, fmt.Errorf("the file is missing but its write-ahead log %s-wal exists; move the log away or restore the database", abs)
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, f.Close()
}

// checkContent runs SQLite's own checks on an existing file through a
// separate connection that changes nothing: no journal mode, no migration.
// It rejects a corrupt file, a file of another application and a schema
// newer than this binary.
func checkContent(ctx context.Context, abs string, migrations []sqlstore.Migration) error {
	db, err := sql.Open("sqlite", dsn(abs, fmt.Sprintf("_busy_timeout=%d", busyTimeoutMillis)))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	problems, err := quickCheck(ctx, db)
	if err != nil {
		return classifyOpenErr(err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: integrity check failed: %s", ErrCorrupt, strings.Join(problems, "; "))
	}

	rows, err := db.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
	if err != nil {
		return classifyOpenErr(err)
	}
	var tables []string
	hasMigrations := false
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return classifyOpenErr(err)
		}
		if name == "schema_migrations" {
			hasMigrations = true
		}
		tables = append(tables, name)
	}
	if err := rows.Close(); err != nil {
		return classifyOpenErr(err)
	}
	if err := rows.Err(); err != nil {
		return classifyOpenErr(err)
	}
	if !hasMigrations {
		if len(tables) > 0 {
			return fmt.Errorf("%w: it holds tables (%s) but no schema_migrations; refusing to change it",
				ErrForeign, strings.Join(tables, ", "))
		}
		return nil
	}
	var version int
	if err := db.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&version); err != nil {
		return classifyOpenErr(err)
	}
	return checkVersion(version, migrations)
}

// quickCheck runs PRAGMA quick_check and returns its complaints, nil when
// the file is sound.
func quickCheck(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check(10)")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	return problems, rows.Err()
}

// classifyOpenErr turns SQLite's not-a-database and corruption codes into
// this package's sentinels, keeping SQLite's message.
func classifyOpenErr(err error) error {
	switch sqliteCode(err) & 0xff {
	case codeNotADB:
		return fmt.Errorf("%w: %w", ErrNotSQLite, err)
	case codeCorrupt:
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return mapErr(err)
}

func checkVersion(version int, migrations []sqlstore.Migration) error {
	if latest := sqlstore.Latest(migrations); version > latest {
		return fmt.Errorf("schema version %d, this binary knows up to %d: %w", version, latest, store.ErrSchemaTooNew)
	}
	return nil
}
