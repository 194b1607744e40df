package keys

import (
	"bytes"
	"crypto/rand"
	"slices"
	"testing"
	"time"
)

func TestNewIDFormat(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_123)
	id, err := newID(now, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if !ValidID(id) || len(id) != 30 {
		t.Fatalf("%q is not a valid key ID", id)
	}
	got, err := idTime(id)
	if err != nil || !got.Equal(now) {
		t.Fatalf("ID time %v, %v; want %v", got, err, now)
	}
}

func TestNewIDKnownValue(t *testing.T) {
	// All-zero randomness at the ULID specification's example time
	// 1469918176385 ms encodes as 01ARYZ6S41 followed by zeros.
	id, err := newID(time.UnixMilli(1469918176385), bytes.NewReader(make([]byte, 10)))
	if err != nil {
		t.Fatal(err)
	}
	if want := "key_01ARYZ6S410000000000000000"; id != want {
		t.Fatalf("id %q, want %q", id, want)
	}
	id, err = newID(time.UnixMilli(0), bytes.NewReader(bytes.Repeat([]byte{0xff}, 10)))
	if err != nil {
		t.Fatal(err)
	}
	if want := "key_0000000000ZZZZZZZZZZZZZZZZ"; id != want {
		t.Fatalf("id %q, want %q", id, want)
	}
}

func TestIDsSortByTime(t *testing.T) {
	base := time.Now()
	var ids []string
	for i := range 200 {
		id, err := newID(base.Add(time.Duration(i)*time.Millisecond), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if !slices.IsSorted(ids) {
		t.Fatal("IDs made in increasing milliseconds do not sort in that order")
	}
	if len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Fatal("duplicate IDs")
	}
}

func TestValidID(t *testing.T) {
	cases := []struct {
		name, id string
		want     bool
	}{
		{"valid", "key_01ARYZ6S41TSV4RRFFQ69G5FAV", true},
		{"no prefix", "01ARYZ6S41TSV4RRFFQ69G5FAV", false},
		{"short", "key_01ARYZ6S41TSV4RRFFQ69G5FA", false},
		{"long", "key_01ARYZ6S41TSV4RRFFQ69G5FAVX", false},
		{"lower case", "key_01aryz6s41tsv4rrffq69g5fav", false},
		{"letter I is not Crockford", "key_01ARYZ6S41TSV4RRFFQ69G5FAI", false},
		{"overflow", "key_81ARYZ6S41TSV4RRFFQ69G5FAV", false},
		{"token pasted", "mpw_sk_0123456789012345678901", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidID(tc.id); got != tc.want {
				t.Fatalf("ValidID(%q) = %v", tc.id, got)
			}
		})
	}
}
