// Package open picks and opens the store backend named by the
// configuration: the embedded SQLite file in the data directory by default,
// PostgreSQL when a database URL is given.
package open

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/postgres"
	"github.com/mapwright/mapwright/internal/store/sqlite"
)

// SQLiteFile is the name of the embedded database in the data directory.
const SQLiteFile = "mapwright.db"

// Open opens the store: with an empty databaseURL, the SQLite database
// SQLiteFile in dataDir (created when missing; dataDir must exist); with a
// postgres:// or postgresql:// URL (scheme in any case), that PostgreSQL
// database. Any other URL
// is an error. No error message ever contains the URL's password.
func Open(ctx context.Context, dataDir, databaseURL string) (store.Store, error) {
	switch {
	case databaseURL == "":
		if dataDir == "" {
			return nil, errors.New("open database: no data directory and no database URL given")
		}
		s, err := sqlite.Open(ctx, filepath.Join(dataDir, SQLiteFile))
		if err != nil {
			return nil, err
		}
		return s, nil
	case isPostgres(databaseURL):
		// URL schemes are case-insensitive; the driver wants lower case.
		_, rest, _ := strings.Cut(databaseURL, "://")
		s, err := postgres.Open(ctx, "postgres://"+rest)
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		return nil, fmt.Errorf("open database: unsupported database URL %s: want postgres:// or postgresql://, or no URL for the embedded SQLite database in the data directory",
			describeURL(databaseURL))
	}
}

func isPostgres(url string) bool {
	scheme, _, found := strings.Cut(url, "://")
	return found && (strings.EqualFold(scheme, "postgres") || strings.EqualFold(scheme, "postgresql"))
}

// describeURL names an unsupported URL by its scheme only: whatever else it
// holds may be a password, in a syntax this package cannot parse reliably.
func describeURL(raw string) string {
	scheme, _, found := strings.Cut(raw, "://")
	if !found || scheme == "" || strings.ContainsAny(scheme, ":@/?#% \t") {
		return "(not a URL with a scheme)"
	}
	return fmt.Sprintf("with scheme %q", scheme)
}
