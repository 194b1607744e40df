package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockID is the pg_advisory_xact_lock key that serialises
// migrations across every process sharing the database ("mapwrigh" in
// ASCII).
const migrationLockID int64 = 0x6d61707772696768

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

// migrate applies the pending migrations in one transaction holding an
// advisory lock, so that replicas starting together apply them exactly
// once: the others wait for the lock, then find nothing to do. A database
// newer than this binary is left untouched.
func (s *Store) migrate(ctx context.Context) error {
	migrations, err := loadMigrations()
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockID); err != nil {
			return fmt.Errorf("migrate: take the migration lock: %w", mapErr(err))
		}
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT to_regclass('schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
			return fmt.Errorf("migrate: %w", mapErr(err))
		}
		current := 0
		if exists {
			if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&current); err != nil {
				return fmt.Errorf("migrate: read schema version: %w", mapErr(err))
			}
		}
		if latest := sqlstore.Latest(migrations); current > latest {
			return fmt.Errorf("schema version %d, this binary knows up to %d: %w", current, latest, store.ErrSchemaTooNew)
		}
		pending := sqlstore.Pending(migrations, current)
		if len(pending) == 0 {
			return nil
		}
		if !exists {
			if _, err := tx.Exec(ctx, `CREATE TABLE schema_migrations (
				version    integer NOT NULL PRIMARY KEY,
				applied_at bigint  NOT NULL
			)`); err != nil {
				return fmt.Errorf("migrate: %w", mapErr(err))
			}
		}
		now := sqlstore.Micros(time.Now())
		for _, m := range pending {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migrate: apply %s: %w", m.Name, mapErr(err))
			}
			if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", m.Version, now); err != nil {
				return fmt.Errorf("migrate: record %s: %w", m.Name, mapErr(err))
			}
		}
		return nil
	})
}
