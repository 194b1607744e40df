// Package tiletest holds helpers shared by the tests of the tile packages:
// locating the third-party fixture tilesets and building MBTiles files.
package tiletest

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	// The pure-Go SQLite driver, registered as "sqlite".
	_ "modernc.org/sqlite"
)

// FixtureDir returns the directory of third-party fixture tilesets: the
// shared/fixtures folder beside the module root (or found walking up from
// the working directory). When it is absent the test is skipped, except
// with CI=true, where it fails: CI always has the fixtures.
func FixtureDir(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("working directory: %v", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		cands := []string{filepath.Join(dir, "shared", "fixtures")}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			cands = append(cands, filepath.Join(dir, "..", "shared", "fixtures"))
		}
		for _, cand := range cands {
			if st, err := os.Stat(cand); err == nil && st.IsDir() {
				return filepath.Clean(cand)
			}
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("fixture tilesets not found (looked for shared/fixtures above %s and beside the module root); CI must provide them", wd)
	}
	t.Skip("fixture tilesets not found (shared/fixtures beside the module root); skipping interoperability tests")
	return ""
}

// Fixture returns the path of the fixture called name, skipping or failing
// like FixtureDir when the fixtures are absent, and failing when the folder
// exists but lacks name.
func Fixture(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(FixtureDir(t), name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return p
}

// Tile is one tile for WriteMBTiles, addressed in the XYZ scheme.
type Tile struct {
	Z, X, Y int
	Data    []byte
}

// WriteMBTiles creates an MBTiles file at path with the plain layout (a
// tiles table with TMS rows and a metadata table) holding meta and tiles. A
// nil Data writes a NULL tile_data.
func WriteMBTiles(t testing.TB, path string, meta map[string]string, tiles []Tile) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
	defer db.Close()
	stmts := []string{
		"CREATE TABLE metadata (name text, value text)",
		"CREATE UNIQUE INDEX name ON metadata (name)",
		"CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, tile_data blob)",
		"CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)",
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range meta {
		if _, err := tx.Exec("INSERT INTO metadata (name, value) VALUES (?, ?)", k, v); err != nil {
			t.Fatalf("insert metadata %s: %v", k, err)
		}
	}
	ins, err := tx.Prepare("INSERT INTO tiles (zoom_level, tile_column, tile_row, tile_data) VALUES (?, ?, ?, ?)")
	if err != nil {
		t.Fatal(err)
	}
	for _, tl := range tiles {
		var data any
		if tl.Data != nil {
			data = tl.Data
		}
		row := (1 << tl.Z) - 1 - tl.Y
		if _, err := ins.Exec(tl.Z, tl.X, row, data); err != nil {
			t.Fatalf("insert tile %d/%d/%d: %v", tl.Z, tl.X, tl.Y, err)
		}
	}
	if err := ins.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
