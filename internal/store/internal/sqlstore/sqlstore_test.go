package sqlstore

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/mapwright/mapwright/internal/store"
)

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	cases := []struct {
		name     string
		files    fstest.MapFS
		versions []int
		err      string
	}{
		{"in order", fstest.MapFS{"0002_sessions.sql": file("B"), "0001_init.sql": file("A")}, []int{1, 2}, ""},
		{"gap", fstest.MapFS{"0001_init.sql": file("A"), "0003_x.sql": file("C")}, nil, "want version 2"},
		{"duplicate version", fstest.MapFS{"0001_init.sql": file("A"), "0001_again.sql": file("B")}, nil, "want version 2"},
		{"does not start at 1", fstest.MapFS{"0002_init.sql": file("A")}, nil, "want version 1"},
		{"misnamed file", fstest.MapFS{"0001_init.sql": file("A"), "2_sessions.sql": file("B")}, nil, "not named"},
		{"other extension", fstest.MapFS{"0001_init.sql": file("A"), "0002_notes.txt": file("B")}, nil, "not named"},
		{"upper case name", fstest.MapFS{"0001_Init.sql": file("A")}, nil, "not named"},
		{"directory", fstest.MapFS{"0001_init.sql": file("A"), "0002_dir/x": file("B")}, nil, "directory"},
		{"empty", fstest.MapFS{}, nil, "no migrations"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := LoadMigrations(tc.files)
			if tc.err != "" {
				if !errors.Is(err, ErrBadMigration) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want ErrBadMigration mentioning %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var vs []int
			for _, m := range ms {
				vs = append(vs, m.Version)
			}
			if !reflect.DeepEqual(vs, tc.versions) {
				t.Errorf("versions %v, want %v", vs, tc.versions)
			}
			if ms[0].SQL != "A" {
				t.Errorf("first migration holds %q, want the content of 0001", ms[0].SQL)
			}
		})
	}
}

func TestPending(t *testing.T) {
	ms := []Migration{{Version: 1}, {Version: 2}, {Version: 3}}
	cases := []struct {
		name    string
		current int
		want    []int
	}{
		{"new database", 0, []int{1, 2, 3}},
		{"one behind", 2, []int{3}},
		{"up to date", 3, nil},
		{"newer", 7, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []int
			for _, m := range Pending(ms, tc.current) {
				got = append(got, m.Version)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidKeyID(t *testing.T) {
	cases := []struct {
		name string
		id   string
		want bool
	}{
		{"ULID", "key_01ARZ3NDEKTSV4RRFFQ69G5FAV", true},
		{"largest ULID", "key_7ZZZZZZZZZZZZZZZZZZZZZZZZZ", true},
		{"above 128 bits", "key_8ZZZZZZZZZZZZZZZZZZZZZZZZZ", false},
		{"lower case", "key_01arz3ndektsv4rrffq69g5fav", false},
		{"excluded letter I", "key_01ARZ3NDEKTSV4RRFFQ69G5FAI", false},
		{"excluded letter U", "key_01ARZ3NDEKTSV4RRFFQ69G5FAU", false},
		{"short", "key_01ARZ3NDEKTSV4RRFFQ69G5FA", false},
		{"long", "key_01ARZ3NDEKTSV4RRFFQ69G5FAVV", false},
		{"no prefix", "01ARZ3NDEKTSV4RRFFQ69G5FAV", false},
		{"other prefix", "kex_01ARZ3NDEKTSV4RRFFQ69G5FAV", false},
		{"multi-byte", "key_01ARZ3NDEKTSV4RRFFQ69G5FÄ", false},
		{"empty", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidKeyID(tc.id); got != tc.want {
				t.Errorf("ValidKeyID(%q) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}

func TestLimit(t *testing.T) {
	cases := []struct{ in, want int }{{-5, 100}, {0, 100}, {1, 1}, {999, 999}, {1000, 1000}, {1001, 1000}}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.in), func(t *testing.T) {
			if got := Limit(tc.in); got != tc.want {
				t.Errorf("Limit(%d) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

func TestEmptyValuesNormalised(t *testing.T) {
	for _, l := range [][]string{nil, {}} {
		enc, err := EncodeList(l)
		if err != nil || enc != "[]" {
			t.Errorf("EncodeList(%#v) = %q, %v; want []", l, enc, err)
		}
		if dec, err := DecodeList(enc); err != nil || dec != nil {
			t.Errorf("DecodeList(%q) = %#v, %v; want nil", enc, dec, err)
		}
	}
	for _, m := range []map[string]string{nil, {}} {
		enc, err := EncodeMap(m)
		if err != nil || enc != "{}" {
			t.Errorf("EncodeMap(%#v) = %q, %v; want {}", m, enc, err)
		}
		if dec, err := DecodeMap(enc); err != nil || dec != nil {
			t.Errorf("DecodeMap(%q) = %#v, %v; want nil", enc, dec, err)
		}
	}
	if enc, _ := EncodeMap(map[string]string{"b": "2", "a": "1"}); enc != `{"a":"1","b":"2"}` {
		t.Errorf("EncodeMap does not sort keys: %s", enc)
	}
}

// TestScanAuditBatches drives ScanAudit over a fake log of n events and
// checks that it visits exactly from..to, in order, across batch
// boundaries.
func TestScanAuditBatches(t *testing.T) {
	const n = 2*AuditBatch + 7
	batch := func(from, to int64, limit int) ([]AuditRow, error) {
		var out []AuditRow
		for seq := from; seq <= n && (to <= 0 || seq <= to) && len(out) < limit; seq++ {
			out = append(out, AuditRow{Seq: seq, Details: "{}"})
		}
		return out, nil
	}
	cases := []struct {
		name        string
		from, to    int64
		first, last int64
	}{
		{"everything", 1, 0, 1, n},
		{"from zero", 0, 0, 1, n},
		{"exactly one batch", 1, AuditBatch, 1, AuditBatch},
		{"across a boundary", AuditBatch - 2, AuditBatch + 3, AuditBatch - 2, AuditBatch + 3},
		{"last batch only", 2*AuditBatch + 1, 0, 2*AuditBatch + 1, n},
		{"past the end", n + 1, 0, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []int64
			err := ScanAudit(tc.from, tc.to, batch, func(ev store.AuditEvent) error {
				got = append(got, ev.Seq)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if tc.first == 0 {
				if len(got) != 0 {
					t.Fatalf("got %d events, want none", len(got))
				}
				return
			}
			if int64(len(got)) != tc.last-tc.first+1 || got[0] != tc.first || got[len(got)-1] != tc.last {
				t.Fatalf("got %d events from %d to %d, want %d..%d", len(got), got[0], got[len(got)-1], tc.first, tc.last)
			}
			for i := 1; i < len(got); i++ {
				if got[i] != got[i-1]+1 {
					t.Fatalf("event %d follows %d", got[i], got[i-1])
				}
			}
		})
	}
}

func TestListKeysQueryIsDeterministic(t *testing.T) {
	f := store.KeyFilter{Labels: map[string]string{"z": "1", "a": "2", "m": "3"}}
	first, args1, _, err := ListKeysQuery(fakeDialect{}, f)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		q, args, _, _ := ListKeysQuery(fakeDialect{}, f)
		if q != first || !reflect.DeepEqual(args, args1) {
			t.Fatalf("query changed between calls:\n%s\n%s", first, q)
		}
	}
}

type fakeDialect struct{}

func (fakeDialect) Param(n int) string         { return fmt.Sprintf("$%d", n) }
func (fakeDialect) TilesetHas(p string) string { return "has(" + p + ")" }
func (fakeDialect) LabelsHave(l map[string]string, bind func(any) string) (string, error) {
	var c []string
	for _, k := range SortedLabelKeys(l) {
		c = append(c, bind(k)+"="+bind(l[k]))
	}
	return strings.Join(c, " AND "), nil
}

// FuzzCheckCursor feeds arbitrary cursors to the query builder: a cursor is
// accepted exactly when it is a well-formed key ID, and an accepted cursor
// only ever reaches the query as a bound argument.
func FuzzCheckCursor(f *testing.F) {
	for _, s := range []string{"", "key_01ARZ3NDEKTSV4RRFFQ69G5FAV", "key_", "key_' OR 1=1 --", "key_01ARZ3NDEKTSV4RRFFQ69G5FA\x00", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cursor string) {
		q, args, _, err := ListKeysQuery(fakeDialect{}, store.KeyFilter{Cursor: cursor})
		if cursor != "" && ValidKeyID(cursor) != (err == nil) {
			t.Fatalf("cursor %q: ValidKeyID %v, error %v", cursor, ValidKeyID(cursor), err)
		}
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("cursor %q: error %v does not wrap ErrInvalid", cursor, err)
			}
			return
		}
		if cursor != "" && strings.Contains(q, cursor) {
			t.Fatalf("cursor %q was spliced into the query %q", cursor, q)
		}
		if cursor != "" && args[len(args)-2] != cursor {
			t.Fatalf("cursor %q is not bound: %v", cursor, args)
		}
	})
}
