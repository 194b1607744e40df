package postgres_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/storetest"
	"github.com/mapwright/mapwright/internal/testutil/pgtest"
)

func TestSnapshotConformance(t *testing.T) {
	pgtest.AdminURL(t)
	storetest.RunSnapshot(t, func(t *testing.T) store.Store { return openFresh(t) })
}

// TestSnapshotRefusesUnlistedSchema checks that a table or column a
// migration added without listing it in store.SchemaTables stops every
// snapshot, naming it, instead of being left out of backups.
func TestSnapshotRefusesUnlistedSchema(t *testing.T) {
	pgtest.AdminURL(t)
	cases := []struct {
		name, ddl, want string
	}{
		{"extra table", "CREATE TABLE webhooks (id bigint PRIMARY KEY)", "table webhooks is not in the table list"},
		{"extra column", "ALTER TABLE keys ADD COLUMN owner text", "column keys.owner is not in the table list"},
		{"changed type", "ALTER TABLE keys ALTER COLUMN burst TYPE numeric", "column keys.burst is numeric in the database"},
		{"dropped table", "DROP TABLE key_totp", "table key_totp is missing from the database"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := openFresh(t)
			if _, err := s.Pool().Exec(t.Context(), tc.ddl); err != nil {
				t.Fatal(err)
			}
			err := s.Snapshot(t.Context(), func(store.Snapshot) error { return nil })
			if !errors.Is(err, store.ErrSchemaMismatch) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Snapshot: %v, want ErrSchemaMismatch naming %q", err, tc.want)
			}
			err = s.Restore(t.Context(), store.RestoreOptions{}, func(store.RestoreTx) error { return nil })
			if !errors.Is(err, store.ErrSchemaMismatch) {
				t.Errorf("Restore: %v, want ErrSchemaMismatch", err)
			}
		})
	}
}
