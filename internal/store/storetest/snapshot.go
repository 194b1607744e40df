package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/store"
)

// RunSnapshot runs the conformance tests of Store.Snapshot and
// Store.Restore. open must return a new, empty, migrated store for each
// call, like the open given to [Run]; the suite closes what it opens.
func RunSnapshot(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(t *testing.T) store.Store)
	}{
		{"TablesMatchCatalog", testSnapshotTables},
		{"ValueTypes", testSnapshotValueTypes},
		{"ConsistentDespiteWriters", testSnapshotConsistent},
		{"RoundTripEveryTable", testRestoreRoundTrip},
		{"RefusesNonEmpty", testRestoreRefusesNonEmpty},
		{"ForceReplaces", testRestoreForce},
		{"FailureLeavesTargetAsItWas", testRestoreRollsBack},
		{"LoadTableChecks", testLoadTableChecks},
		{"AuditChainContinues", testRestoreAuditContinues},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, func(t *testing.T) store.Store {
				s := open(t)
				t.Cleanup(func() { s.Close() })
				return s
			})
		})
	}
}

// dump is every row of every table of a snapshot, values copied.
type dump struct {
	version int
	tables  []store.Table
	rows    map[string][][]any
}

// takeDump snapshots s.
func takeDump(t *testing.T, s store.Store) dump {
	t.Helper()
	d := dump{rows: map[string][][]any{}}
	err := s.Snapshot(t.Context(), func(snap store.Snapshot) error {
		d.version = snap.SchemaVersion()
		d.tables = snap.Tables()
		for _, tb := range d.tables {
			d.rows[tb.Name] = [][]any{}
			err := snap.ScanTable(t.Context(), tb.Name, func(row []any) error {
				d.rows[tb.Name] = append(d.rows[tb.Name], cloneRow(row))
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	return d
}

func cloneRow(row []any) []any {
	out := make([]any, len(row))
	for i, v := range row {
		if b, ok := v.([]byte); ok {
			v = slices.Clone(b)
		}
		out[i] = v
	}
	return out
}

// sliceSource is a store.RowSource over rows in memory.
type sliceSource struct {
	rows [][]any
	i    int
	err  error
}

func (s *sliceSource) Next() bool {
	if s.i >= len(s.rows) {
		return false
	}
	s.i++
	return true
}

func (s *sliceSource) Values() ([]any, error) { return s.rows[s.i-1], nil }
func (s *sliceSource) Err() error             { return s.err }

// loadDump restores d into s.
func loadDump(ctx context.Context, s store.Store, d dump, opts store.RestoreOptions) error {
	return s.Restore(ctx, opts, func(rt store.RestoreTx) error {
		for _, tb := range d.tables {
			n, err := rt.LoadTable(ctx, tb.Name, tb.ColumnNames(), &sliceSource{rows: d.rows[tb.Name]})
			if err != nil {
				return err
			}
			if n != int64(len(d.rows[tb.Name])) {
				return fmt.Errorf("LoadTable(%s) = %d rows, want %d", tb.Name, n, len(d.rows[tb.Name]))
			}
		}
		return nil
	})
}

// populate writes rows into every table of schema version 2 through the
// Store's own methods: keys, sessions, TOTP secrets, audit events.
func populate(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	insertKeys(t, s, fullKey(1), minimalKey(2), fullKey(3))
	appendEvents(t, s, 5)
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.InsertSession(ctx, session(1, 1)); err != nil {
			return err
		}
		return tx.PutTOTP(ctx, store.TOTPSecret{KeyID: keyID(3), Sealed: []byte{0, 1, 2, 0xff}, CreatedAt: t0, LastStep: 7})
	})
	if err != nil {
		t.Fatalf("populate sessions: %v", err)
	}
}

func testSnapshotTables(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	v, err := s.SchemaVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want, err := store.SchemaTables(v)
	if err != nil {
		t.Fatalf("SchemaTables(%d) for the version this binary migrates to: %v", v, err)
	}
	// Snapshot compares the list with the database's catalog and fails on
	// any table or column missing on either side.
	d := takeDump(t, s)
	if d.version != v {
		t.Errorf("snapshot schema version %d, store says %d", d.version, v)
	}
	if !reflect.DeepEqual(d.tables, want) {
		t.Errorf("snapshot tables %v, want %v", d.tables, want)
	}
	for _, tb := range want {
		if len(tb.Key) == 0 {
			t.Errorf("table %s has no key columns: its rows would come in no defined order", tb.Name)
		}
		for _, k := range tb.Key {
			if _, ok := tb.Column(k); !ok {
				t.Errorf("table %s: key column %s is not a column", tb.Name, k)
			}
		}
	}
}

func testSnapshotValueTypes(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	populate(t, s)
	d := takeDump(t, s)
	for _, tb := range d.tables {
		if len(d.rows[tb.Name]) == 0 {
			t.Errorf("table %s has no rows after populate: extend populate so every table's round trip is checked", tb.Name)
		}
		for _, row := range d.rows[tb.Name] {
			if len(row) != len(tb.Columns) {
				t.Fatalf("table %s: row of %d values, want %d", tb.Name, len(row), len(tb.Columns))
			}
			for i, c := range tb.Columns {
				ok := false
				switch row[i].(type) {
				case nil:
					ok = c.Nullable
				case int64:
					ok = c.Type == store.TypeInt
				case float64:
					ok = c.Type == store.TypeFloat
				case string:
					ok = c.Type == store.TypeText
				case []byte:
					ok = c.Type == store.TypeBlob
				}
				if !ok {
					t.Errorf("%s.%s (%s, nullable %t): got %T", tb.Name, c.Name, c.Type, c.Nullable, row[i])
				}
			}
		}
	}
	keys := d.rows["keys"]
	if len(keys) != 3 {
		t.Fatalf("keys: %d rows, want 3", len(keys))
	}
	// Rows come in key order; key 3 sorts after key 1 and 2.
	tb, _ := store.FindTable(d.tables, "keys")
	col := func(row []any, name string) any { return row[slices.Index(tb.ColumnNames(), name)] }
	if got := col(keys[0], "id"); got != keyID(1) {
		t.Errorf("first key %v, want %s", got, keyID(1))
	}
	if got := col(keys[0], "rate"); got != 12.5 {
		t.Errorf("rate %v (%T), want 12.5", got, got)
	}
	h := tokenHash(1)
	if got := col(keys[0], "hash"); !reflect.DeepEqual(got, h[:]) {
		t.Errorf("hash %x, want %x", got, h)
	}
	if got := col(keys[1], "not_before"); got != nil {
		t.Errorf("minimal key not_before = %v, want NULL", got)
	}
	if got := col(keys[0], "created_at"); got != fullKey(1).CreatedAt.UnixMicro() {
		t.Errorf("created_at %v, want %d", got, fullKey(1).CreatedAt.UnixMicro())
	}
}

func testSnapshotConsistent(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	insertKeys(t, s, minimalKey(1), minimalKey(2))
	var keysSeen, eventsSeen int
	err := s.Snapshot(ctx, func(snap store.Snapshot) error {
		// A writer commits between the snapshot's start and its reads; it
		// must not wait for the snapshot, and the snapshot must not see it.
		done := make(chan error, 1)
		go func() {
			wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			done <- s.Update(wctx, func(tx store.Tx) error {
				if err := tx.InsertKey(wctx, minimalKey(3)); err != nil {
					return err
				}
				_, err := appendEvent(wctx, tx, event(1))
				return err
			})
		}()
		if err := <-done; err != nil {
			return fmt.Errorf("write during snapshot: %w", err)
		}
		if err := snap.ScanTable(ctx, "keys", func([]any) error { keysSeen++; return nil }); err != nil {
			return err
		}
		return snap.ScanTable(ctx, "audit_events", func([]any) error { eventsSeen++; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	if keysSeen != 2 || eventsSeen != 0 {
		t.Errorf("snapshot saw %d keys and %d events, want the 2 keys and 0 events of its start", keysSeen, eventsSeen)
	}
	if got := len(takeDump(t, s).rows["keys"]); got != 3 {
		t.Errorf("after the snapshot: %d keys, want 3", got)
	}
}

func testRestoreRoundTrip(t *testing.T, open func(t *testing.T) store.Store) {
	src, dst := open(t), open(t)
	populate(t, src)
	want := takeDump(t, src)
	if err := loadDump(t.Context(), dst, want, store.RestoreOptions{}); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	got := takeDump(t, dst)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("restored dump differs:\n got %v\nwant %v", got.rows, want.rows)
	}
	// The restored rows read back through the ordinary API too.
	for _, n := range []int{1, 2, 3} {
		k := getKey(t, dst, keyID(n))
		wk := fullKey(n)
		if n == 2 {
			wk = minimalKey(n)
		}
		if d := diffKeys(wk, k); d != "" {
			t.Errorf("key %d after restore: %s", n, d)
		}
	}
	if wh, gh := mustHead(t, src), mustHead(t, dst); wh.Seq != gh.Seq || !reflect.DeepEqual(wh.Hash, gh.Hash) {
		t.Errorf("audit head after restore %+v, want %+v", gh, wh)
	}
	checkChain(t, scanAll(t, dst), 5)
}

func mustHead(t *testing.T, r store.Reader) store.AuditHead {
	t.Helper()
	h, err := r.AuditHead(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func testRestoreRefusesNonEmpty(t *testing.T, open func(t *testing.T) store.Store) {
	src, dst := open(t), open(t)
	populate(t, src)
	d := takeDump(t, src)
	insertKeys(t, dst, minimalKey(50))
	err := loadDump(t.Context(), dst, d, store.RestoreOptions{})
	if !errors.Is(err, store.ErrNotEmpty) {
		t.Fatalf("Restore into a store with a key: %v, want ErrNotEmpty", err)
	}
	keys, _, err := dst.ListKeys(t.Context(), store.KeyFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(keys); !reflect.DeepEqual(got, []string{keyID(50)}) {
		t.Errorf("keys after a refused restore: %v, want only %s", got, keyID(50))
	}

	// Audit events alone make a database non-empty too.
	dst2 := open(t)
	appendEvents(t, dst2, 1)
	if err := loadDump(t.Context(), dst2, d, store.RestoreOptions{}); !errors.Is(err, store.ErrNotEmpty) {
		t.Errorf("Restore into a store with an audit event: %v, want ErrNotEmpty", err)
	}
}

func testRestoreForce(t *testing.T, open func(t *testing.T) store.Store) {
	src, dst := open(t), open(t)
	populate(t, src)
	want := takeDump(t, src)
	insertKeys(t, dst, minimalKey(50))
	appendEvents(t, dst, 9)
	if err := loadDump(t.Context(), dst, want, store.RestoreOptions{Force: true}); err != nil {
		t.Fatalf("Restore with Force: %v", err)
	}
	if got := takeDump(t, dst); !reflect.DeepEqual(got, want) {
		t.Errorf("after a forced restore the store differs from the source:\n got %v\nwant %v", got.rows, want.rows)
	}
}

func testRestoreRollsBack(t *testing.T, open func(t *testing.T) store.Store) {
	src := open(t)
	populate(t, src)
	d := takeDump(t, src)
	loadAll := func(ctx context.Context, rt store.RestoreTx) error {
		for _, tb := range d.tables {
			if _, err := rt.LoadTable(ctx, tb.Name, tb.ColumnNames(), &sliceSource{rows: d.rows[tb.Name]}); err != nil {
				return err
			}
		}
		return nil
	}
	keysTable, _ := store.FindTable(d.tables, "keys")
	cases := []struct {
		name    string
		force   bool
		prep    func(t *testing.T, s store.Store)
		body    func(ctx context.Context, rt store.RestoreTx) error
		wantErr error
	}{
		{"error after loading", false, nil, func(ctx context.Context, rt store.RestoreTx) error {
			if err := loadAll(ctx, rt); err != nil {
				return err
			}
			return errBoom
		}, errBoom},
		{"forced, error after loading", true, func(t *testing.T, s store.Store) {
			insertKeys(t, s, minimalKey(60))
			appendEvents(t, s, 2)
		}, func(ctx context.Context, rt store.RestoreTx) error {
			if err := loadAll(ctx, rt); err != nil {
				return err
			}
			return errBoom
		}, errBoom},
		{"row source fails midway", false, nil, func(ctx context.Context, rt store.RestoreTx) error {
			_, err := rt.LoadTable(ctx, "keys", keysTable.ColumnNames(), &sliceSource{rows: d.rows["keys"][:2], err: errBoom})
			return err
		}, errBoom},
		{"duplicate key", false, nil, func(ctx context.Context, rt store.RestoreTx) error {
			rows := [][]any{d.rows["keys"][0], d.rows["keys"][0]}
			_, err := rt.LoadTable(ctx, "keys", keysTable.ColumnNames(), &sliceSource{rows: rows})
			return err
		}, store.ErrConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := open(t)
			if tc.prep != nil {
				tc.prep(t, dst)
			}
			before := takeDump(t, dst)
			err := dst.Restore(t.Context(), store.RestoreOptions{Force: tc.force}, func(rt store.RestoreTx) error {
				return tc.body(t.Context(), rt)
			})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Restore: %v, want %v", err, tc.wantErr)
			}
			if after := takeDump(t, dst); !reflect.DeepEqual(after, before) {
				t.Errorf("a failed restore changed the store:\n got %v\nwant %v", after.rows, before.rows)
			}
		})
	}
}

func testLoadTableChecks(t *testing.T, open func(t *testing.T) store.Store) {
	s := open(t)
	ctx := t.Context()
	k := minimalKey(1)
	goodRow := []any{k.ID, "public", k.Start, k.Hash[:], k.CreatedAt.UnixMicro()}
	goodCols := []string{"id", "kind", "start", "hash", "created_at"}
	cases := []struct {
		name    string
		table   string
		cols    []string
		rows    [][]any
		wantErr error
	}{
		{"unknown table", "schema_migrations", []string{"version"}, nil, store.ErrSchemaMismatch},
		{"unknown column", "keys", []string{"id", "secret"}, nil, store.ErrSchemaMismatch},
		{"column twice", "keys", []string{"id", "id"}, nil, store.ErrInvalid},
		{"text where a blob goes", "keys", goodCols, [][]any{{k.ID, "public", k.Start, "not bytes", int64(1)}}, store.ErrInvalid},
		{"NULL in a NOT NULL column", "keys", goodCols, [][]any{{k.ID, "public", k.Start, k.Hash[:], nil}}, store.ErrInvalid},
		{"too few values", "keys", goodCols, [][]any{{k.ID}}, store.ErrInvalid},
		{"int where a float goes", "keys", []string{"id", "kind", "start", "hash", "created_at", "rate"},
			[][]any{append(slices.Clone(goodRow), int64(3))}, store.ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Restore(ctx, store.RestoreOptions{}, func(rt store.RestoreTx) error {
				_, err := rt.LoadTable(ctx, tc.table, tc.cols, &sliceSource{rows: tc.rows})
				return err
			})
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("got %v, want %v", err, tc.wantErr)
			}
		})
	}
	t.Run("same table twice", func(t *testing.T) {
		err := s.Restore(ctx, store.RestoreOptions{}, func(rt store.RestoreTx) error {
			if _, err := rt.LoadTable(ctx, "keys", goodCols, &sliceSource{rows: [][]any{goodRow}}); err != nil {
				return fmt.Errorf("first load: %w", err)
			}
			_, err := rt.LoadTable(ctx, "keys", goodCols, &sliceSource{})
			return err
		})
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("got %v, want ErrInvalid", err)
		}
	})
	t.Run("defaults fill left-out columns", func(t *testing.T) {
		err := s.Restore(ctx, store.RestoreOptions{}, func(rt store.RestoreTx) error {
			_, err := rt.LoadTable(ctx, "keys", goodCols, &sliceSource{rows: [][]any{goodRow}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if d := diffKeys(k, getKey(t, s, k.ID)); d != "" {
			t.Errorf("restored key: %s", d)
		}
	})
}

func testRestoreAuditContinues(t *testing.T, open func(t *testing.T) store.Store) {
	src, dst := open(t), open(t)
	populate(t, src)
	d := takeDump(t, src)
	ctx := t.Context()
	// The restore appends its own event after the loaded chain, in the
	// same transaction, as a backup restore records itself.
	err := dst.Restore(ctx, store.RestoreOptions{}, func(rt store.RestoreTx) error {
		for _, tb := range d.tables {
			if _, err := rt.LoadTable(ctx, tb.Name, tb.ColumnNames(), &sliceSource{rows: d.rows[tb.Name]}); err != nil {
				return err
			}
		}
		_, err := appendEvent(ctx, rt, event(6))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// And ordinary appends carry on after it.
	if err := dst.Update(ctx, func(tx store.Tx) error { _, err := appendEvent(ctx, tx, event(7)); return err }); err != nil {
		t.Fatal(err)
	}
	checkChain(t, scanAll(t, dst), 7)
}
