package sqlite

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// validHeader returns the header of a database of pages pages of 4096
// bytes whose in-header size is trustworthy.
func validHeader(pages uint32) []byte {
	h := make([]byte, headerSize)
	copy(h, magic)
	binary.BigEndian.PutUint16(h[16:], 4096)
	h[18], h[19] = 2, 2
	h[21], h[22], h[23] = 64, 32, 32
	binary.BigEndian.PutUint32(h[24:], 7) // change counter
	binary.BigEndian.PutUint32(h[28:], pages)
	binary.BigEndian.PutUint32(h[92:], 7) // version-valid-for
	return h
}

func TestCheckHeader(t *testing.T) {
	edit := func(f func(h []byte)) []byte {
		h := validHeader(10)
		f(h)
		return h
	}
	cases := []struct {
		name string
		hdr  []byte
		size int64
		wal  bool
		want error
	}{
		{"sound", validHeader(10), 10 * 4096, false, nil},
		{"file longer than the header says", validHeader(10), 12 * 4096, false, nil},
		{"page size 65536 written as 1", edit(func(h []byte) { binary.BigEndian.PutUint16(h[16:], 1); binary.BigEndian.PutUint32(h[28:], 1) }), 65536, false, nil},
		{"stale in-header size is ignored", edit(func(h []byte) { binary.BigEndian.PutUint32(h[92:], 6) }), 5 * 4096, false, nil},
		{"shorter than the header says, with a log beside it", validHeader(10), 5 * 4096, true, nil},
		{"truncated to half", validHeader(10), 5 * 4096, false, ErrCorrupt},
		{"truncated mid-page", validHeader(10), 10*4096 - 100, false, ErrCorrupt},
		{"text file", bytes.Repeat([]byte("hello "), 20), 4096, false, ErrNotSQLite},
		{"too short", []byte("SQLite format 3\x00"), 16, false, ErrNotSQLite},
		{"page size not a power of two", edit(func(h []byte) { binary.BigEndian.PutUint16(h[16:], 3000) }), 10 * 4096, false, ErrCorrupt},
		{"page size too small", edit(func(h []byte) { binary.BigEndian.PutUint16(h[16:], 256) }), 10 * 4096, false, ErrCorrupt},
		{"unknown write format", edit(func(h []byte) { h[18] = 9 }), 10 * 4096, false, ErrCorrupt},
		{"bad payload fractions", edit(func(h []byte) { h[21] = 10 }), 10 * 4096, false, ErrCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkHeader(tc.hdr, tc.size, tc.wal)
			if tc.want == nil && err != nil {
				t.Fatalf("checkHeader: %v, want nil", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("checkHeader: %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzCheckHeader feeds arbitrary bytes as a database file's start: the
// check never panics, and whatever it accepts starts with the SQLite magic
// and names a valid page size.
func FuzzCheckHeader(f *testing.F) {
	f.Add(validHeader(10), int64(10*4096), false)
	f.Add(validHeader(10), int64(5*4096), false)
	f.Add([]byte("not a database"), int64(14), false)
	f.Add(make([]byte, headerSize), int64(4096), true)
	f.Fuzz(func(t *testing.T, hdr []byte, size int64, wal bool) {
		err := checkHeader(hdr, size, wal)
		if err != nil {
			if !errors.Is(err, ErrNotSQLite) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v wraps neither ErrNotSQLite nor ErrCorrupt", err)
			}
			return
		}
		if len(hdr) < headerSize || !bytes.Equal(hdr[:len(magic)], magic) {
			t.Fatalf("accepted a header without the magic: %q", hdr)
		}
		ps := int(binary.BigEndian.Uint16(hdr[16:18]))
		if ps == 1 {
			ps = 65536
		}
		if ps < 512 || ps&(ps-1) != 0 {
			t.Fatalf("accepted page size %d", ps)
		}
	})
}
