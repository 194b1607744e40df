package sqlite

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/mapwright/mapwright/internal/store/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// loadMigrations returns the embedded migrations in version order.
func loadMigrations() ([]sqlstore.Migration, error) {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	return sqlstore.LoadMigrations(sub)
}

// LatestSchemaVersion is the schema version this binary migrates databases
// to.
func LatestSchemaVersion() int {
	ms, err := loadMigrations()
	if err != nil {
		return 0
	}
	return sqlstore.Latest(ms)
}

// migrate applies the pending migrations in one immediate transaction, so
// that two processes opening a new file at once apply them exactly once:
// the second waits for the write lock and then finds nothing to do.
func (s *Store) migrate(ctx context.Context, migrations []sqlstore.Migration) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", mapErr(err))
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("migrate: %w", mapErr(err))
	}
	var current int
	if err := tx.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("migrate: read schema version: %w", mapErr(err))
	}
	if err := checkVersion(current, migrations); err != nil {
		return err
	}
	pending := sqlstore.Pending(migrations, current)
	if len(pending) == 0 {
		return nil
	}
	now := sqlstore.Micros(time.Now())
	for _, m := range pending {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("migrate: apply %s: %w", m.Name, mapErr(err))
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)", m.Version, now); err != nil {
			return fmt.Errorf("migrate: record %s: %w", m.Name, mapErr(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", mapErr(err))
	}
	return nil
}
