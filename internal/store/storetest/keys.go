package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/store"
)

var keyTests = []test{
	{"RoundTrip", testKeyRoundTrip},
	{"InsertConflict", testInsertConflict},
	{"InsertInvalid", testInsertInvalid},
	{"UpdateKeyMutableFieldsOnly", testUpdateKeyMutableOnly},
	{"UpdateKeyClearsOptionalFields", testUpdateKeyClears},
	{"NotFound", testKeyNotFound},
	{"TouchKeysMonotonic", testTouchKeys},
	{"ConcurrentReadModifyWrite", testConcurrentReadModifyWrite},
}

func testKeyRoundTrip(t *testing.T, s store.Store) {
	emptyLists := minimalKey(3)
	emptyLists.Scopes, emptyLists.Tilesets, emptyLists.Origins = []string{}, []string{}, []string{}
	emptyLists.Labels = map[string]string{}
	emptyListsWant := minimalKey(3)

	beforeEpoch := minimalKey(4)
	beforeEpoch.CreatedAt = time.Date(1969, 7, 20, 20, 17, 40, 123456000, time.UTC)
	beforeEpoch.ExpiresAt = ptr(time.Date(2199, 12, 31, 23, 59, 59, 999999000, time.UTC))

	otherZone := minimalKey(5)
	paris := time.FixedZone("CET", 3600)
	otherZone.CreatedAt = t0.In(paris)
	otherZone.NotBefore = ptr(t0.Add(time.Minute).In(paris))
	otherZoneWant := otherZone
	otherZoneWant.CreatedAt = t0
	otherZoneWant.NotBefore = ptr(t0.Add(time.Minute))

	cases := []struct {
		name     string
		in, want store.Key
	}{
		{"every field set", fullKey(1), fullKey(1)},
		{"only required fields", minimalKey(2), minimalKey(2)},
		{"empty lists and maps come back nil", emptyLists, emptyListsWant},
		{"times far from now", beforeEpoch, beforeEpoch},
		{"times come back in UTC", otherZone, otherZoneWant},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			err := s.Update(ctx, func(tx store.Tx) error {
				if err := tx.InsertKey(ctx, tc.in); err != nil {
					return err
				}
				got, err := tx.GetKey(ctx, tc.in.ID)
				if err != nil {
					return err
				}
				if d := diffKeys(tc.want, got); d != "" {
					t.Errorf("GetKey inside the transaction: %s", d)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			if d := diffKeys(tc.want, getKey(t, s, tc.in.ID)); d != "" {
				t.Errorf("GetKey: %s", d)
			}
			got, err := s.GetKeyByHash(ctx, tc.in.Hash)
			if err != nil {
				t.Fatalf("GetKeyByHash: %v", err)
			}
			if d := diffKeys(tc.want, got); d != "" {
				t.Errorf("GetKeyByHash: %s", d)
			}
			list, _, err := s.ListKeys(ctx, store.KeyFilter{Limit: 1000})
			if err != nil {
				t.Fatalf("ListKeys: %v", err)
			}
			found := false
			for _, k := range list {
				if k.ID == tc.in.ID {
					found = true
					if d := diffKeys(tc.want, k); d != "" {
						t.Errorf("ListKeys: %s", d)
					}
				}
			}
			if !found {
				t.Errorf("ListKeys does not return %s", tc.in.ID)
			}
		})
	}
}

func testInsertConflict(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := fullKey(1)
	insertKeys(t, s, orig)

	sameID := minimalKey(2)
	sameID.ID = orig.ID
	sameHash := minimalKey(3)
	sameHash.Hash = orig.Hash

	cases := []struct {
		name string
		key  store.Key
	}{
		{"same ID", sameID},
		{"same token hash", sameHash},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(ctx, func(tx store.Tx) error { return tx.InsertKey(ctx, tc.key) })
			if !errors.Is(err, store.ErrConflict) {
				t.Fatalf("InsertKey: got %v, want ErrConflict", err)
			}
			if d := diffKeys(orig, getKey(t, s, orig.ID)); d != "" {
				t.Errorf("the original key changed: %s", d)
			}
			counts, err := s.CountKeys(ctx, t0)
			if err != nil {
				t.Fatal(err)
			}
			if total := sum(counts); total != 1 {
				t.Errorf("store holds %d keys after the conflict, want 1", total)
			}
		})
	}
}

func testInsertInvalid(t *testing.T, s store.Store) {
	ctx := t.Context()
	badKind := minimalKey(1)
	badKind.Kind = "private"
	cases := []struct {
		name string
		id   string
		key  store.Key
	}{
		{"empty ID", "", minimalKey(2)},
		{"ID without prefix", "01JQ0000000000000000000003", minimalKey(3)},
		{"ID too short", "key_01JQ", minimalKey(4)},
		{"ID in lower case", "key_" + strings.ToLower(keyID(5)[4:]), minimalKey(5)},
		{"ID with a letter outside the alphabet", keyID(6)[:29] + "U", minimalKey(6)},
		{"ID above the ULID range", "key_8" + keyID(7)[5:], minimalKey(7)},
		{"ID too long", keyID(8) + "0", minimalKey(8)},
		{"unknown kind", badKind.ID, badKind},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := tc.key
			k.ID = tc.id
			err := s.Update(ctx, func(tx store.Tx) error { return tx.InsertKey(ctx, k) })
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("InsertKey(%q, kind %q): got %v, want ErrInvalid", k.ID, k.Kind, err)
			}
		})
	}
	counts, err := s.CountKeys(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if total := sum(counts); total != 0 {
		t.Errorf("store holds %d keys, want none", total)
	}
}

func testUpdateKeyMutableOnly(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := fullKey(1)
	insertKeys(t, s, orig)

	changed := store.Key{
		// Identity fields: must be ignored.
		ID:        orig.ID,
		Kind:      "public",
		Start:     "mpw_pk_ZZZZ",
		Hash:      tokenHash(77),
		CreatedAt: t0.Add(time.Hour),
		CreatedBy: "someone else",
		Replaces:  keyID(55),
		// Only TouchKeys moves LastUsedAt.
		LastUsedAt: ptr(t0.Add(-time.Hour)),
		// Mutable fields.
		Name:         "renamed",
		Scopes:       []string{"tiles:read"},
		Tilesets:     []string{"satellite"},
		Origins:      []string{"https://new.example.com"},
		Rate:         7,
		Burst:        9,
		Labels:       map[string]string{"env": "staging"},
		NotBefore:    ptr(t0.Add(2 * time.Hour)),
		ExpiresAt:    ptr(t0.Add(3 * time.Hour)),
		ExpiredAt:    ptr(t0.Add(4 * time.Hour)),
		RevokedAt:    ptr(t0.Add(5 * time.Hour)),
		RevokedBy:    "unix:0(root)",
		RevokeReason: "rotated",
		ReplacedBy:   keyID(66),
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.UpdateKey(ctx, changed) }); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	want := changed
	want.Kind, want.Start, want.Hash = orig.Kind, orig.Start, orig.Hash
	want.CreatedAt, want.CreatedBy, want.Replaces = orig.CreatedAt, orig.CreatedBy, orig.Replaces
	want.LastUsedAt = orig.LastUsedAt
	if d := diffKeys(want, getKey(t, s, orig.ID)); d != "" {
		t.Errorf("after UpdateKey: %s", d)
	}
	if _, err := s.GetKeyByHash(ctx, changed.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetKeyByHash(new hash): got %v, want ErrNotFound (the hash is an identity field)", err)
	}
}

func testUpdateKeyClears(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := fullKey(1)
	insertKeys(t, s, orig)
	cleared := minimalKey(1)
	cleared.Kind = orig.Kind
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.UpdateKey(ctx, cleared) }); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	want := cleared
	want.CreatedAt, want.CreatedBy, want.Replaces = orig.CreatedAt, orig.CreatedBy, orig.Replaces
	want.Start, want.Hash = orig.Start, orig.Hash
	want.LastUsedAt = orig.LastUsedAt
	if d := diffKeys(want, getKey(t, s, orig.ID)); d != "" {
		t.Errorf("after clearing: %s", d)
	}
}

func testKeyNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	insertKeys(t, s, minimalKey(1))
	cases := []struct {
		name string
		do   func() error
	}{
		{"GetKey", func() error { _, err := s.GetKey(ctx, keyID(2)); return err }},
		{"GetKeyByHash", func() error { _, err := s.GetKeyByHash(ctx, tokenHash(2)); return err }},
		{"GetKey in a transaction", func() error {
			return s.Update(ctx, func(tx store.Tx) error { _, err := tx.GetKey(ctx, keyID(2)); return err })
		}},
		{"GetKeyByHash in a transaction", func() error {
			return s.Update(ctx, func(tx store.Tx) error { _, err := tx.GetKeyByHash(ctx, tokenHash(2)); return err })
		}},
		{"UpdateKey", func() error {
			return s.Update(ctx, func(tx store.Tx) error { return tx.UpdateKey(ctx, minimalKey(2)) })
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
		})
	}
	if _, err := s.GetKey(ctx, keyID(2)); err == nil || !strings.Contains(err.Error(), keyID(2)) {
		t.Errorf("GetKey error %q does not name the key", err)
	}
}

func testTouchKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b, c := minimalKey(1), minimalKey(2), fullKey(3)
	insertKeys(t, s, a, b, c)
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)
	lastUsed := func(id string) *time.Time { return getKey(t, s, id).LastUsedAt }

	steps := []struct {
		name  string
		touch map[string]time.Time
		want  map[string]*time.Time
	}{
		{"first use, unknown IDs ignored",
			map[string]time.Time{a.ID: t1, b.ID: t1, keyID(99): t1},
			map[string]*time.Time{a.ID: &t1, b.ID: &t1, c.ID: c.LastUsedAt}},
		{"an older time never moves it back",
			map[string]time.Time{a.ID: t0, b.ID: t2, c.ID: t0.Add(-time.Hour)},
			map[string]*time.Time{a.ID: &t1, b.ID: &t2, c.ID: c.LastUsedAt}},
		{"a newer time moves it forward",
			map[string]time.Time{a.ID: t2, c.ID: t2},
			map[string]*time.Time{a.ID: &t2, b.ID: &t2, c.ID: &t2}},
		{"empty batch", map[string]time.Time{},
			map[string]*time.Time{a.ID: &t2, b.ID: &t2, c.ID: &t2}},
		{"zero times are ignored", map[string]time.Time{a.ID: {}},
			map[string]*time.Time{a.ID: &t2, b.ID: &t2, c.ID: &t2}},
	}
	for _, st := range steps {
		if err := s.TouchKeys(ctx, st.touch); err != nil {
			t.Fatalf("%s: TouchKeys: %v", st.name, err)
		}
		for id, want := range st.want {
			if got := lastUsed(id); show(got) != show(want) {
				t.Errorf("%s: %s LastUsedAt = %s, want %s", st.name, id, show(got), show(want))
			}
		}
	}
	if err := s.TouchKeys(ctx, nil); err != nil {
		t.Errorf("TouchKeys(nil): %v", err)
	}
}

// testConcurrentReadModifyWrite checks that GetKey inside a transaction
// reads the latest committed row and keeps it from changing until the
// transaction ends: no increment may be lost.
func testConcurrentReadModifyWrite(t *testing.T, s store.Store) {
	ctx := t.Context()
	k := minimalKey(1)
	insertKeys(t, s, k)
	const workers, rounds = 8, 10
	errs := make(chan error, workers)
	for range workers {
		go func() {
			for range rounds {
				err := s.Update(ctx, func(tx store.Tx) error {
					cur, err := tx.GetKey(ctx, k.ID)
					if err != nil {
						return err
					}
					cur.Burst++
					return tx.UpdateKey(ctx, cur)
				})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatalf("Update: %v", err)
		}
	}
	if got := getKey(t, s, k.ID).Burst; got != workers*rounds {
		t.Fatalf("Burst = %d after %d increments: updates were lost", got, workers*rounds)
	}
}

func sum(m map[store.KeyState]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
