package sqlite_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/storetest"
)

func TestSnapshotConformance(t *testing.T) {
	storetest.RunSnapshot(t, func(t *testing.T) store.Store { return openTemp(t) })
}

// TestSnapshotRefusesUnlistedSchema checks that a table or column a
// migration added without listing it in store.SchemaTables stops every
// snapshot, naming it, instead of being left out of backups.
func TestSnapshotRefusesUnlistedSchema(t *testing.T) {
	cases := []struct {
		name, ddl, want string
	}{
		{"extra table", "CREATE TABLE webhooks (id INTEGER PRIMARY KEY) STRICT", "table webhooks is not in the table list"},
		{"extra column", "ALTER TABLE keys ADD COLUMN owner TEXT", "column keys.owner is not in the table list"},
		{"dropped table", "DROP TABLE key_totp", "table key_totp is missing from the database"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openTemp(t)
			if _, err := s.DB().ExecContext(t.Context(), tc.ddl); err != nil {
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
