package open_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/open"
	"github.com/mapwright/mapwright/internal/testutil/pgtest"
)

func TestEmptyURLOpensSQLiteInDataDir(t *testing.T) {
	dir := t.TempDir()
	s, err := open.Open(t.Context(), dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Backend() != store.BackendSQLite {
		t.Errorf("Backend() = %q, want sqlite", s.Backend())
	}
	if _, err := os.Stat(filepath.Join(dir, open.SQLiteFile)); err != nil {
		t.Errorf("database file not in the data directory: %v", err)
	}
}

func TestPostgresURL(t *testing.T) {
	url := pgtest.URL(t)
	rest := strings.TrimPrefix(url, "postgres://")
	for _, u := range []string{url, "postgresql://" + rest, "PostgreSQL://" + rest} {
		s, err := open.Open(t.Context(), t.TempDir(), u)
		if err != nil {
			t.Fatal(err)
		}
		if s.Backend() != store.BackendPostgres {
			t.Errorf("Backend() = %q, want postgres", s.Backend())
		}
		s.Close()
	}
}

func TestRejectedURLs(t *testing.T) {
	cases := []struct {
		name    string
		dataDir string
		url     string
		message string
	}{
		{"other scheme", "d", "mysql://root:hunter2pw@db:3306/mapwright", `scheme "mysql"`},
		{"look-alike scheme", "d", "postgres+tls://root:hunter2pw@db/mapwright", `scheme "postgres+tls"`},
		{"sqlite URL", "d", "sqlite:///var/lib/mapwright/db?password=hunter2pw", `scheme "sqlite"`},
		{"driver DSN", "d", "root:hunter2pw@tcp(db:3306)/mapwright", "not a URL with a scheme"},
		{"key=value string", "d", "host=db user=root password=hunter2pw", "not a URL with a scheme"},
		{"password in the scheme position", "d", "hunter2pw:x@host://db", "not a URL with a scheme"},
		{"nothing at all", "", "", "no data directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := open.Open(t.Context(), tc.dataDir, tc.url)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not mention %q", err, tc.message)
			}
			if strings.Contains(err.Error(), "hunter2pw") {
				t.Errorf("error shows the password: %q", err)
			}
		})
	}
}

func TestPostgresErrorsHidePassword(t *testing.T) {
	_, err := open.Open(t.Context(), t.TempDir(), "postgres://root:hunter2pw@127.0.0.1:1/mapwright?connect_timeout=2&sslmode=disable")
	if err == nil {
		t.Fatal("Open succeeded")
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Open: %v; want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "hunter2pw") {
		t.Errorf("error shows the password: %q", err)
	}
}
