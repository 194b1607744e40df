package sqlstore

import (
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
)

// Migration is one embedded schema change.
type Migration struct {
	// Version is the number the file name starts with: 1 for 0001_init.sql.
	Version int
	// Name is the file name.
	Name string
	// SQL is the file's content, run in the migration transaction.
	SQL string
}

var migrationName = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)

// LoadMigrations reads the *.sql files at the root of fsys. Each must be
// named NNNN_name.sql (four digits, lower-case words joined by underscores)
// and the versions must run 1, 2, 3 ... without gaps or duplicates; any
// other file is an error, so that a misnamed migration can never be skipped
// silently.
func LoadMigrations(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w: %w", ErrBadMigration, err)
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() {
			return nil, fmt.Errorf("migration %s is a directory: %w", e.Name(), ErrBadMigration)
		}
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %q is not named NNNN_name.sql: %w", e.Name(), ErrBadMigration)
		}
		v, _ := strconv.Atoi(m[1])
		b, err := fs.ReadFile(fsys, path.Clean(e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w: %w", e.Name(), ErrBadMigration, err)
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: want version %d (versions must run 1, 2, 3 ... without gaps or duplicates): %w",
				m.Name, i+1, ErrBadMigration)
		}
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("no migrations: %w", ErrBadMigration)
	}
	return ms, nil
}

// Pending returns the migrations above version current.
func Pending(ms []Migration, current int) []Migration {
	for i, m := range ms {
		if m.Version > current {
			return ms[i:]
		}
	}
	return nil
}

// Latest is the highest version in ms.
func Latest(ms []Migration) int {
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].Version
}
