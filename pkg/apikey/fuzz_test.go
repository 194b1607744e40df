package apikey_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mapwright/mapwright/pkg/apikey"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "mpw_pk_", testPub, testSec, testFake, katBody + katChecksum, katPadBody + katPadChecksum,
		testPub[:42], testPub + "\n", "mpw_sk_" + testPub[7:], "MPW_PK_" + testPub[7:],
		testPub[:20] + "é" + testPub[22:], "mpw_pk_Ab", "mpw_pk_\x00\x00\x00\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := apikey.Parse(s)
		if (err == nil) != refValid(s) {
			t.Fatalf("Parse(%q) = %v, reference validity %v", s, err, refValid(s))
		}
		if err == nil {
			if !refWhole.MatchString(s) {
				t.Fatalf("Parse accepted %q, which the pattern rejects", s)
			}
			if got := apikey.Checksum(s[:37]); got != s[37:] || got != refChecksum(s[:37]) {
				t.Fatalf("Checksum(%q) = %q, token ends in %q", s[:37], got, s[37:])
			}
			if k.Prefix() != s[:7] {
				t.Fatalf("Parse(%q) kind %v", s, k)
			}
			if got := apikey.AppendMatches(nil, []byte(s)); len(got) != 1 || got[0] != (apikey.Match{Offset: 0, Kind: k, Valid: true}) {
				t.Fatalf("AppendMatches(valid token) = %v", got)
			}
		} else {
			if k != 0 {
				t.Fatalf("Parse(%q) failed with kind %v", s, k)
			}
			switch err {
			case apikey.ErrPrefix, apikey.ErrLength, apikey.ErrAlphabet, apikey.ErrChecksum:
			default:
				t.Fatalf("Parse(%q) returned unexpected error %v", s, err)
			}
			// A fixed sentinel message: it cannot hold the input.
			if len(s) > len(err.Error()) && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q holds the input", err)
			}
		}
		if apikey.Valid(s) != (err == nil) {
			t.Fatalf("Valid(%q) disagrees with Parse", s)
		}
		checkRedaction(t, s)
	})
}

func FuzzFinder(f *testing.F) {
	for _, tc := range findCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := apikey.AppendMatches(nil, b)
		if want := refMatches(b); !reflect.DeepEqual(got, want) {
			t.Fatalf("AppendMatches(%q) = %v, reference %v", b, got, want)
		}
	})
}

func FuzzFinderChunked(f *testing.F) {
	for i, tc := range findCases {
		f.Add([]byte(tc.in), []byte{byte(i), 1, 43, 44, 0, 7})
	}
	f.Add([]byte(strings.Repeat(" "+testPub, 20)), []byte{1})
	f.Fuzz(func(t *testing.T, b, sizes []byte) {
		var chunks []int
		for _, s := range sizes {
			chunks = append(chunks, int(s))
		}
		// Chunk sizes cycle; a cycle of empty writes must still end.
		cycle := 0
		for _, c := range chunks {
			cycle += c
		}
		if cycle == 0 {
			chunks = []int{len(b)}
		}
		var fnd apikey.Finder
		var got []found
		fn := func(m apikey.Match, token []byte) { got = append(got, found{m, string(token)}) }
		rest := b
		for i := 0; len(rest) > 0; i++ {
			n := min(chunks[i%len(chunks)], len(rest))
			fnd.Write(rest[:n], fn)
			rest = rest[n:]
		}
		fnd.Flush(fn)
		checkFinder(t, b, got)
	})
}
