package scan

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/mapwright/mapwright/pkg/apikey"
)

// found is a hit as the tests compare it.
type found struct {
	off, line, col int64
	kind           apikey.Kind
	valid          bool
	inline         bool
	hash           [32]byte
}

// scanChunked runs a streamer with the given chunk size over data, fed
// through a reader that returns one byte at a time when oneByte is set.
func scanChunked(t testing.TB, data []byte, chunk int, oneByte bool) (got []found, invalid int64) {
	t.Helper()
	s := newStreamer(chunk, true, func(_ *source, h hit, inline bool) {
		got = append(got, found{h.off, h.line, h.col, h.kind, h.valid, inline, h.hash})
	})
	var r = bytes.NewReader(data)
	var rd interface{ Read([]byte) (int, error) } = r
	if oneByte {
		rd = iotest.OneByteReader(r)
	}
	n, invalid, err := s.scan(context.Background(), rd, &source{path: "x"})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	if n != int64(len(data)) {
		t.Fatalf("read %d bytes of %d", n, len(data))
	}
	return got, invalid
}

// reference computes the expected hits over the whole buffer with
// apikey.AppendMatches and a naive line, column and marker search.
func reference(data []byte) []found {
	var out []found
	for _, m := range apikey.AppendMatches(nil, data) {
		off := m.Offset
		before := data[:off]
		line := int64(bytes.Count(before, []byte{'\n'})) + 1
		col := int64(off - bytes.LastIndexByte(before, '\n'))
		lo := max(0, off-MarkerWindow)
		if j := bytes.LastIndexByte(data[lo:off], '\n'); j >= 0 {
			lo += j + 1
		}
		end := off + apikey.TokenLen
		hi := min(len(data), end+MarkerWindow)
		if j := bytes.IndexByte(data[end:hi], '\n'); j >= 0 {
			hi = end + j
		}
		inline := bytes.Contains(data[lo:off], marker) || bytes.Contains(data[end:hi], marker)
		out = append(out, found{int64(off), line, col, m.Kind, m.Valid, inline, apikey.Hash(string(data[off:end]))})
	}
	return out
}

func compareFound(t *testing.T, got, want []found) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("found %d tokens, want %d\ngot  %v\nwant %v", len(got), len(want), got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("token %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func mustKey(t testing.TB, k apikey.Kind) string {
	t.Helper()
	tok, err := apikey.Generate(k)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// lookAlike returns a well-formed token whose checksum fails.
func lookAlike(t testing.TB, k apikey.Kind) string {
	t.Helper()
	tok := mustKey(t, k)
	last := tok[len(tok)-1]
	for _, c := range []byte("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
		if c != last {
			bad := tok[:len(tok)-1] + string(c)
			if !apikey.Valid(bad) {
				return bad
			}
		}
	}
	t.Fatal("no look-alike")
	return ""
}

func TestStreamerChunkEdges(t *testing.T) {
	pk, sk := mustKey(t, apikey.Public), mustKey(t, apikey.Secret)
	bad := lookAlike(t, apikey.Public)
	longLine := strings.Repeat("x=1;", 3000)
	cases := []struct {
		name string
		data string
	}{
		{"key at start", pk + "\n"},
		{"key at end without newline", "a\nb " + pk},
		{"key alone", sk},
		{"two keys one line", pk + " " + sk},
		{"lines before", "one\ntwo\r\nthree\n\tkey=" + pk + "\n"},
		{"look-alike and key", bad + "\n" + pk},
		{"marker after", "k = '" + pk + "' // mwctl:allow\n" + sk},
		{"marker before", "# mwctl:allow\t" + sk + "\n" + pk},
		{"marker on next line only", pk + "\n// mwctl:allow\n"},
		{"marker on previous line only", "mwctl:allow\n" + pk},
		{"marker far on a long line", pk + longLine + AllowMarker},
		{"marker near on a long line", longLine + AllowMarker + " " + pk + longLine},
		{"word before", "x" + pk + " " + sk},
		{"word after", pk + "_ " + sk},
		{"binary", "\x00\xff\x01" + pk + "\x00" + strings.Repeat("\x00\x80", 100) + sk + "\xff"},
		{"empty", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := reference([]byte(tc.data))
			for _, chunk := range []int{1, 2, 3, 7, 42, 43, 44, 100, 4096, 1 << 20} {
				for _, oneByte := range []bool{false, true} {
					t.Run(fmt.Sprintf("chunk %d onebyte %v", chunk, oneByte), func(t *testing.T) {
						got, _ := scanChunked(t, []byte(tc.data), chunk, oneByte)
						compareFound(t, got, want)
					})
				}
			}
		})
	}
}

func TestStreamerStraddleMarker(t *testing.T) {
	// The token spans the edge between two 64-byte chunks and the marker
	// lies in the chunk after it.
	pk := mustKey(t, apikey.Public)
	data := strings.Repeat("a", 40) + " " + pk + " " + strings.Repeat("b", 50) + " mwctl:allow\n" + pk + "\n"
	got, _ := scanChunked(t, []byte(data), 64, false)
	if len(got) != 2 || !got[0].inline || got[1].inline {
		t.Fatalf("got %+v: want the first suppressed, the second not", got)
	}
	if got[0].off != 41 || got[0].line != 1 || got[0].col != 42 || got[1].line != 2 || got[1].col != 1 {
		t.Errorf("positions %+v", got)
	}
}

func TestStreamerCountsLookAlikes(t *testing.T) {
	bad := lookAlike(t, apikey.Secret)
	data := []byte(bad + "\n" + bad + " " + mustKey(t, apikey.Public))
	var hits int
	s := newStreamer(16, false, func(*source, hit, bool) { hits++ })
	_, invalid, err := s.scan(context.Background(), bytes.NewReader(data), &source{})
	if err != nil {
		t.Fatal(err)
	}
	if invalid != 2 || hits != 1 {
		t.Errorf("invalid = %d, hits = %d; want 2 and 1", invalid, hits)
	}
}

// FuzzChunkedScan checks that the chunked scanner finds exactly what
// apikey.AppendMatches finds in the whole buffer, with the same lines,
// columns and inline suppression, for any input and chunk size.
func FuzzChunkedScan(f *testing.F) {
	pk := mustKey(f, apikey.Public)
	sk := mustKey(f, apikey.Secret)
	bad := lookAlike(f, apikey.Public)
	f.Add([]byte(pk), uint16(1))
	f.Add([]byte("x "+pk+"\n"+sk+" // mwctl:allow"), uint16(7))
	f.Add([]byte(strings.Repeat("mpw_", 20)+pk+bad), uint16(43))
	f.Add([]byte("a\nb\nc mwctl:allow "+sk+"\n"+strings.Repeat("z", 5000)+pk), uint16(4096))
	f.Add([]byte(strings.Repeat(sk+"\n", 10)), uint16(44))
	f.Add([]byte("\x00\xffmpw_pk_"+pk[7:]+"\x00"), uint16(3))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16) {
		c := int(chunk%8192) + 1
		got, _ := scanChunked(t, data, c, false)
		compareFound(t, got, reference(data))
	})
}
