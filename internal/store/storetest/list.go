package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/store"
)

var listTests = []test{
	{"Filters", testListFilters},
	{"StatesMatchKeyState", testListStatesMatchModel},
	{"BadFilters", testListBadFilters},
	{"Pagination", testPagination},
	{"CountKeys", testCountKeys},
	{"KeysDueToExpire", testKeysDueToExpire},
}

// fixture is a set of named keys whose states at t0 cover every rule of
// Key.State, including the boundaries.
type fixture struct {
	keys   []store.Key
	byName map[string]store.Key
	names  map[string]string // ID to name
}

func newFixture() *fixture {
	f := &fixture{byName: map[string]store.Key{}, names: map[string]string{}}
	n := 0
	add := func(name, kind string, edit func(k *store.Key)) {
		n++
		k := minimalKey(n)
		k.Name = name
		k.Kind = kind
		if edit != nil {
			edit(&k)
		}
		f.keys = append(f.keys, k)
		f.byName[name] = k
		f.names[k.ID] = name
	}
	add("active-public", "public", func(k *store.Key) {
		k.Tilesets = []string{"osm"}
		k.Labels = map[string]string{"env": "prod", "team": "maps"}
	})
	add("active-secret", "secret", func(k *store.Key) {
		k.Labels = map[string]string{"env": "prod"}
	})
	add("pending", "public", func(k *store.Key) {
		k.NotBefore = ptr(t0.Add(time.Hour))
		k.Tilesets = []string{"terrain", "osm"}
	})
	add("not-before-now", "public", func(k *store.Key) {
		k.NotBefore = ptr(t0)
	})
	add("expired", "public", func(k *store.Key) {
		k.ExpiresAt = ptr(t0.Add(-time.Hour))
	})
	add("expires-now", "secret", func(k *store.Key) {
		k.ExpiresAt = ptr(t0)
	})
	add("expired-before-start", "public", func(k *store.Key) {
		k.NotBefore = ptr(t0.Add(time.Hour))
		k.ExpiresAt = ptr(t0.Add(-2 * time.Hour))
	})
	add("expired-recorded", "public", func(k *store.Key) {
		k.ExpiresAt = ptr(t0.Add(-3 * time.Hour))
		k.ExpiredAt = ptr(t0.Add(-3 * time.Hour).Add(time.Second))
	})
	add("revoked", "secret", func(k *store.Key) {
		k.ExpiresAt = ptr(t0.Add(-time.Hour))
		k.RevokedAt = ptr(t0.Add(-time.Minute))
		k.Labels = map[string]string{"env": "prod", "team": "maps"}
	})
	add("revoked-now", "public", func(k *store.Key) {
		k.RevokedAt = ptr(t0)
	})
	add("revocation-scheduled", "secret", func(k *store.Key) {
		k.RevokedAt = ptr(t0.Add(time.Hour))
		k.ExpiresAt = ptr(t0.Add(48 * time.Hour))
	})
	add("expired-revocation-scheduled", "public", func(k *store.Key) {
		k.ExpiresAt = ptr(t0.Add(-30 * time.Minute))
		k.RevokedAt = ptr(t0.Add(time.Hour))
	})
	add("expiring-soon", "public", func(k *store.Key) {
		k.ExpiresAt = ptr(t0.Add(time.Hour))
		k.Tilesets = []string{"osm"}
	})
	add("expiring-at-window-end", "secret", func(k *store.Key) {
		k.ExpiresAt = ptr(t0.Add(24 * time.Hour))
	})
	add("expiring-after-window", "public", func(k *store.Key) {
		k.ExpiresAt = ptr(t0.Add(24*time.Hour + time.Microsecond))
	})
	add("pending-expiring-soon", "public", func(k *store.Key) {
		k.NotBefore = ptr(t0.Add(time.Minute))
		k.ExpiresAt = ptr(t0.Add(2 * time.Hour))
	})
	add("look-alikes", "public", func(k *store.Key) {
		k.Tilesets = []string{"osm-extra", "OSM"}
		k.Labels = map[string]string{"env": "production", "a.b": `q"x`, "team": "maps"}
	})
	return f
}

// namesOf maps keys to fixture names, keeping order.
func (f *fixture) namesOf(keys []store.Key) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = f.names[k.ID]
	}
	return out
}

// ordered returns the named keys' names in ID order, as ListKeys returns
// them.
func (f *fixture) ordered(names ...string) []string {
	sort.Slice(names, func(i, j int) bool { return f.byName[names[i]].ID < f.byName[names[j]].ID })
	return names
}

func testListFilters(t *testing.T, s store.Store) {
	f := newFixture()
	insertKeys(t, s, f.keys...)
	later := t0.Add(90 * time.Minute)
	cases := []struct {
		name   string
		filter store.KeyFilter
		want   []string
	}{
		{"no filter", store.KeyFilter{}, f.ordered(f.namesOf(f.keys)...)},
		{"kind public", store.KeyFilter{Kind: "public"}, f.ordered("active-public", "pending", "not-before-now",
			"expired", "expired-before-start", "expired-recorded", "revoked-now", "expired-revocation-scheduled",
			"expiring-soon", "expiring-after-window", "pending-expiring-soon", "look-alikes")},
		{"Now set without a filter that uses it", store.KeyFilter{Kind: "secret", Now: t0}, f.ordered("active-secret",
			"expires-now", "revoked", "revocation-scheduled", "expiring-at-window-end")},
		{"kind secret", store.KeyFilter{Kind: "secret"}, f.ordered("active-secret", "expires-now", "revoked",
			"revocation-scheduled", "expiring-at-window-end")},
		{"state active", store.KeyFilter{State: store.StateActive, Now: t0}, f.ordered("active-public",
			"active-secret", "not-before-now", "revocation-scheduled", "expiring-soon", "expiring-at-window-end",
			"expiring-after-window", "look-alikes")},
		{"state pending", store.KeyFilter{State: store.StatePending, Now: t0}, f.ordered("pending",
			"pending-expiring-soon")},
		{"state expired: expiry beats pending, revocation only once due", store.KeyFilter{State: store.StateExpired, Now: t0},
			f.ordered("expired", "expires-now", "expired-before-start", "expired-recorded", "expired-revocation-scheduled")},
		{"state revoked: revocation beats expiry", store.KeyFilter{State: store.StateRevoked, Now: t0},
			f.ordered("revoked", "revoked-now")},
		{"state evaluated at a later Now", store.KeyFilter{State: store.StateRevoked, Now: later},
			f.ordered("revoked", "revoked-now", "revocation-scheduled", "expired-revocation-scheduled")},
		{"pending at a later Now", store.KeyFilter{State: store.StatePending, Now: later}, nil},
		{"expiring within a day", store.KeyFilter{ExpiringWithin: 24 * time.Hour, Now: t0},
			f.ordered("expiring-soon", "expiring-at-window-end")},
		{"expiring within a day, secret", store.KeyFilter{ExpiringWithin: 24 * time.Hour, Now: t0, Kind: "secret"},
			f.ordered("expiring-at-window-end")},
		{"expiring within three hours, later", store.KeyFilter{ExpiringWithin: 3 * time.Hour, Now: later},
			f.ordered("pending-expiring-soon")},
		{"expiring and expired: nothing", store.KeyFilter{ExpiringWithin: 24 * time.Hour, State: store.StateExpired, Now: t0}, nil},
		{"tileset osm, exact match only", store.KeyFilter{Tileset: "osm"},
			f.ordered("active-public", "pending", "expiring-soon")},
		{"tileset terrain", store.KeyFilter{Tileset: "terrain"}, f.ordered("pending")},
		{"tileset nobody lists", store.KeyFilter{Tileset: "satellite"}, nil},
		{"label env=prod", store.KeyFilter{Labels: map[string]string{"env": "prod"}},
			f.ordered("active-public", "active-secret", "revoked")},
		{"labels env=prod and team=maps", store.KeyFilter{Labels: map[string]string{"env": "prod", "team": "maps"}},
			f.ordered("active-public", "revoked")},
		{"label with a dot and a quote", store.KeyFilter{Labels: map[string]string{"a.b": `q"x`}},
			f.ordered("look-alikes")},
		{"label value differs", store.KeyFilter{Labels: map[string]string{"env": "staging"}}, nil},
		{"label key nobody has", store.KeyFilter{Labels: map[string]string{"owner": "prod"}}, nil},
		{"everything at once", store.KeyFilter{Kind: "public", State: store.StateActive, Now: t0, Tileset: "osm",
			Labels: map[string]string{"team": "maps"}}, f.ordered("active-public")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := s.ListKeys(t.Context(), tc.filter)
			if err != nil {
				t.Fatalf("ListKeys: %v", err)
			}
			if next != "" {
				t.Errorf("next = %q, want \"\" (everything fits one page)", next)
			}
			if names := f.namesOf(got); !reflect.DeepEqual(names, tc.want) && !(len(names) == 0 && len(tc.want) == 0) {
				t.Errorf("got %v\nwant %v", names, tc.want)
			}
		})
	}
	t.Run("inside a transaction", func(t *testing.T) {
		err := s.Update(t.Context(), func(tx store.Tx) error {
			got, _, err := tx.ListKeys(t.Context(), store.KeyFilter{Tileset: "terrain"})
			if err != nil {
				return err
			}
			if names := f.namesOf(got); !reflect.DeepEqual(names, []string{"pending"}) {
				t.Errorf("got %v, want [pending]", names)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// testListStatesMatchModel checks the State filter against Key.State at
// several instants, including every boundary of the fixture.
func testListStatesMatchModel(t *testing.T, s store.Store) {
	f := newFixture()
	insertKeys(t, s, f.keys...)
	instants := map[time.Time]bool{t0: true}
	for _, k := range f.keys {
		for _, p := range []*time.Time{k.NotBefore, k.ExpiresAt, k.RevokedAt} {
			if p != nil {
				instants[*p] = true
				instants[p.Add(-time.Microsecond)] = true
			}
		}
	}
	for now := range instants {
		for _, state := range []store.KeyState{store.StateActive, store.StatePending, store.StateExpired, store.StateRevoked} {
			var want []string
			for _, k := range f.keys {
				if k.State(now) == state {
					want = append(want, f.names[k.ID])
				}
			}
			want = f.ordered(want...)
			got, _, err := s.ListKeys(t.Context(), store.KeyFilter{State: state, Now: now})
			if err != nil {
				t.Fatalf("ListKeys(%s at %s): %v", state, now, err)
			}
			if names := f.namesOf(got); fmt.Sprint(names) != fmt.Sprint(want) {
				t.Errorf("%s at %s: got %v, want %v", state, now.Format(time.RFC3339Nano), names, want)
			}
		}
	}
}

func testListBadFilters(t *testing.T, s store.Store) {
	insertKeys(t, s, minimalKey(1), minimalKey(2))
	cases := []struct {
		name   string
		filter store.KeyFilter
	}{
		{"state without Now", store.KeyFilter{State: store.StateActive}},
		{"expiring without Now", store.KeyFilter{ExpiringWithin: time.Hour}},
		{"unknown state", store.KeyFilter{State: "dormant", Now: t0}},
		{"negative window", store.KeyFilter{ExpiringWithin: -time.Hour, Now: t0}},
		{"cursor of garbage", store.KeyFilter{Cursor: "not a cursor"}},
		{"cursor with SQL in it", store.KeyFilter{Cursor: "key_' OR '1'='1"}},
		{"cursor prefix only", store.KeyFilter{Cursor: "key_"}},
		{"cursor one character short", store.KeyFilter{Cursor: keyID(1)[:29]}},
		{"cursor in lower case", store.KeyFilter{Cursor: "key_01jq" + keyID(1)[8:]}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			keys, next, err := s.ListKeys(t.Context(), tc.filter)
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("got %d keys, next %q, error %v; want ErrInvalid", len(keys), next, err)
			}
		})
	}
}

func testPagination(t *testing.T, s store.Store) {
	const total = 1005
	keys := make([]store.Key, total)
	var all, public []string
	for i := range keys {
		// Inserted out of ID order, so that the order comes from the query.
		n := (i*7)%total + 1
		k := minimalKey(n)
		if n%3 == 0 {
			k.Kind = "secret"
		} else {
			public = append(public, k.ID)
		}
		keys[i] = k
		all = append(all, k.ID)
	}
	insertKeys(t, s, keys...)
	all, public = sortedCopy(all), sortedCopy(public)

	cases := []struct {
		name      string
		filter    store.KeyFilter
		want      []string
		pageSizes []int
	}{
		{"pages of 100", store.KeyFilter{Limit: 100}, all, []int{100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 5}},
		{"default page size is 100", store.KeyFilter{}, all, []int{100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 5}},
		{"page size capped at 1000", store.KeyFilter{Limit: 5000}, all, []int{1000, 5}},
		{"pages that end exactly at the last key", store.KeyFilter{Limit: 335}, all, []int{335, 335, 335}},
		{"filtered pages", store.KeyFilter{Kind: "public", Limit: 250}, public, []int{250, 250, 170}},
		{"one key per page, filtered, from a cursor", store.KeyFilter{Kind: "secret", Limit: 1, Cursor: all[total-7]},
			[]string{all[total-4], all[total-1]}, []int{1, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			var sizes []int
			f := tc.filter
			for page := 0; ; page++ {
				if page > len(tc.pageSizes)+1 {
					t.Fatalf("more than %d pages", page)
				}
				keys, next, err := s.ListKeys(t.Context(), f)
				if err != nil {
					t.Fatalf("page %d: %v", page, err)
				}
				got = append(got, ids(keys)...)
				sizes = append(sizes, len(keys))
				if next == "" {
					break
				}
				if len(keys) == 0 || next != keys[len(keys)-1].ID {
					t.Fatalf("page %d: next %q is not the last ID of the page", page, next)
				}
				f.Cursor = next
			}
			if !reflect.DeepEqual(sizes, tc.pageSizes) {
				t.Errorf("page sizes %v, want %v", sizes, tc.pageSizes)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %d IDs (first %v), want %d in order with no duplicates or gaps", len(got), first(got, 3), len(tc.want))
			}
		})
	}
	t.Run("cursor after the last key", func(t *testing.T) {
		keys, next, err := s.ListKeys(t.Context(), store.KeyFilter{Cursor: all[total-1]})
		if err != nil || len(keys) != 0 || next != "" {
			t.Fatalf("got %d keys, next %q, error %v; want an empty last page", len(keys), next, err)
		}
	})
	t.Run("cursor of a key that does not exist", func(t *testing.T) {
		// A cursor is a position, not a row: the key it names may have
		// been deleted since.
		keys, _, err := s.ListKeys(t.Context(), store.KeyFilter{Cursor: keyID(0), Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(keys); !reflect.DeepEqual(got, all[:2]) {
			t.Fatalf("got %v, want %v", got, all[:2])
		}
	})
}

func first(s []string, n int) []string {
	if len(s) < n {
		return s
	}
	return s[:n]
}

func testCountKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	empty, err := s.CountKeys(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	zero := map[store.KeyState]int{store.StateActive: 0, store.StatePending: 0, store.StateExpired: 0, store.StateRevoked: 0}
	if !reflect.DeepEqual(empty, zero) {
		t.Errorf("empty store: got %v, want every state at zero %v", empty, zero)
	}

	f := newFixture()
	insertKeys(t, s, f.keys...)
	cases := []struct {
		name string
		now  time.Time
	}{
		{"at t0", t0},
		{"an hour and a half later", t0.Add(90 * time.Minute)},
		{"a year earlier", t0.AddDate(-1, 0, 0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := map[store.KeyState]int{store.StateActive: 0, store.StatePending: 0, store.StateExpired: 0, store.StateRevoked: 0}
			for _, k := range f.keys {
				want[k.State(tc.now)]++
			}
			got, err := s.CountKeys(ctx, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
	t.Run("explicit counts at t0", func(t *testing.T) {
		got, err := s.CountKeys(ctx, t0)
		if err != nil {
			t.Fatal(err)
		}
		want := map[store.KeyState]int{store.StateActive: 8, store.StatePending: 2, store.StateExpired: 5, store.StateRevoked: 2}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
}

func testKeysDueToExpire(t *testing.T, s store.Store) {
	ctx := t.Context()
	f := newFixture()
	insertKeys(t, s, f.keys...)
	cases := []struct {
		name  string
		now   time.Time
		limit int
		want  []string
	}{
		// Oldest expiry first; recorded expiries and revoked keys are left
		// out; a key whose revocation is still scheduled is expired now.
		{"at t0", t0, 0, []string{"expired-before-start", "expired", "expired-revocation-scheduled", "expires-now"}},
		{"limit", t0, 2, []string{"expired-before-start", "expired"}},
		{"two days later, when the scheduled revocations have happened", t0.Add(48 * time.Hour), 100,
			[]string{"expired-before-start", "expired", "expires-now", "expiring-soon", "pending-expiring-soon",
				"expiring-at-window-end", "expiring-after-window"}},
		{"before anything expired", t0.Add(-4 * time.Hour), 10, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.KeysDueToExpire(ctx, tc.now, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if names := f.namesOf(got); fmt.Sprint(names) != fmt.Sprint(tc.want) {
				t.Errorf("got %v\nwant %v", names, tc.want)
			}
		})
	}
	t.Run("recording the expiry removes the key", func(t *testing.T) {
		k := f.byName["expired"]
		k.ExpiredAt = ptr(t0)
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.UpdateKey(ctx, k) }); err != nil {
			t.Fatal(err)
		}
		got, err := s.KeysDueToExpire(ctx, t0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if names := f.namesOf(got); fmt.Sprint(names) != fmt.Sprint([]string{"expired-before-start", "expired-revocation-scheduled", "expires-now"}) {
			t.Errorf("got %v", names)
		}
	})
}
