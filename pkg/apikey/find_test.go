package apikey_test

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/mapwright/mapwright/pkg/apikey"
)

var (
	testPub = refKey("mpw_pk_", "AbCdefghijABCDEFGHIJ0123456789")
	testSec = refKey("mpw_sk_", "WxYzefghijABCDEFGHIJ0123456789")
	// testFake is well formed with a wrong checksum.
	testFake = "mpw_pk_" + strings.Repeat("X", 30) + "000000"
)

// pubAt, secAt and fakeAt are the expected matches of testPub, testSec and
// testFake at an offset.
func pubAt(off int) apikey.Match {
	return apikey.Match{Offset: off, Kind: apikey.Public, Valid: true}
}

func secAt(off int) apikey.Match {
	return apikey.Match{Offset: off, Kind: apikey.Secret, Valid: true}
}

func fakeAt(off int) apikey.Match {
	return apikey.Match{Offset: off, Kind: apikey.Public, Valid: false}
}

var findCases = []struct {
	name string
	in   string
	want []apikey.Match
}{
	{name: "empty", in: ""},
	{name: "key alone", in: testPub, want: []apikey.Match{pubAt(0)}},
	{name: "secret key alone", in: testSec, want: []apikey.Match{secAt(0)}},
	{name: "key at end", in: "token: " + testPub, want: []apikey.Match{pubAt(7)}},
	{name: "key at start", in: testSec + " is the secret", want: []apikey.Match{secAt(0)}},
	{name: "quoted in JSON", in: `{"key":"` + testPub + `"}`, want: []apikey.Match{pubAt(8)}},
	{name: "in a URL query", in: "https://tiles.example/v1/tiles/a/1/2/3.pbf?key=" + testPub + "&x=1", want: []apikey.Match{pubAt(47)}},
	{name: "adjacent keys one space apart", in: testPub + " " + testSec, want: []apikey.Match{pubAt(0), secAt(44)}},
	{name: "adjacent keys no separator", in: testPub + testSec},
	{name: "letter before", in: "x" + testPub},
	{name: "digit before", in: "7" + testPub},
	{name: "letter before, text after", in: "x" + testPub + " y"},
	{name: "underscore before, text after", in: "a_" + testPub + "\n"},
	{name: "underscore before", in: "_" + testPub},
	{name: "letter after", in: testPub + "x"},
	{name: "underscore after", in: testPub + "_"},
	{name: "37 character run", in: testPub + "0"},
	{name: "35 character run", in: testPub[:42]},
	{name: "35 character run then space", in: testPub[:42] + " "},
	{name: "doubled prefix", in: "mpw_" + testPub},
	{name: "doubled prefix after space", in: "mpw_ " + testPub, want: []apikey.Match{pubAt(5)}},
	{name: "dash before and after", in: "-" + testPub + "-", want: []apikey.Match{pubAt(1)}},
	{name: "non-ASCII neighbours", in: "é" + testPub + "é", want: []apikey.Match{pubAt(2)}},
	{name: "invalid UTF-8 neighbours", in: "\xff" + testPub + "\x80", want: []apikey.Match{pubAt(1)}},
	{name: "look-alike with bad checksum", in: "example: " + testFake + "\n", want: []apikey.Match{fakeAt(9)}},
	{name: "look-alike and real key", in: testFake + "\n" + testSec, want: []apikey.Match{fakeAt(0), secAt(44)}},
	{name: "unknown kind", in: "mpw_xk_" + testPub[7:]},
	{name: "upper case prefix", in: "MPW_PK_" + testPub[7:]},
	{name: "symbol inside", in: testPub[:20] + "." + testPub[21:]},
	{name: "prefix at end of input", in: "see mpw_pk_"},
	{name: "needle at end of input", in: "see mpw_"},
	{name: "many keys on lines", in: testPub + "\n" + testSec + "\n" + testPub, want: []apikey.Match{pubAt(0), secAt(44), pubAt(88)}},
}

func TestAppendMatches(t *testing.T) {
	for _, tc := range findCases {
		t.Run(tc.name, func(t *testing.T) {
			got := apikey.AppendMatches(nil, []byte(tc.in))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("AppendMatches = %v, want %v", got, tc.want)
			}
			// The reference regexp agrees on every named case.
			if ref := refMatches([]byte(tc.in)); !reflect.DeepEqual(ref, tc.want) {
				t.Errorf("reference = %v, want %v", ref, tc.want)
			}
		})
	}
}

func TestAppendMatchesAppends(t *testing.T) {
	dst := []apikey.Match{{Offset: 99}}
	got := apikey.AppendMatches(dst, []byte(testSec))
	want := []apikey.Match{{Offset: 99}, secAt(0)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AppendMatches = %v, want %v", got, want)
	}
}

// found is a match reported by a Finder with a copy of its token.
type found struct {
	m     apikey.Match
	token string
}

// runFinder feeds in to a Finder in chunks of the given sizes (the last size
// repeats) and returns what it reports.
func runFinder(f *apikey.Finder, in []byte, sizes []int) []found {
	var out []found
	fn := func(m apikey.Match, token []byte) { out = append(out, found{m, string(token)}) }
	for i := 0; len(in) > 0; i++ {
		n := min(sizes[min(i, len(sizes)-1)], len(in))
		f.Write(in[:n], fn)
		in = in[n:]
	}
	f.Flush(fn)
	return out
}

// checkFinder compares a Finder's reports with AppendMatches over the whole input.
func checkFinder(t *testing.T, in []byte, got []found) {
	t.Helper()
	want := apikey.AppendMatches(nil, in)
	if len(got) != len(want) {
		t.Fatalf("Finder reported %d matches %v, want %v", len(got), got, want)
	}
	for i := range got {
		if got[i].m != want[i] {
			t.Fatalf("Finder match %d = %+v, want %+v", i, got[i].m, want[i])
		}
		if off := want[i].Offset; got[i].token != string(in[off:off+apikey.TokenLen]) {
			t.Fatalf("Finder token %d = %q, want %q", i, got[i].token, in[off:off+apikey.TokenLen])
		}
	}
}

func TestFinderChunkEdges(t *testing.T) {
	f := apikey.NewFinder()
	for _, tc := range findCases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			for size := 1; size <= len(in)+1; size++ {
				got := runFinder(f, in, []int{size})
				checkFinder(t, in, got)
			}
			// One cut at every position, with an empty write at the cut.
			for cut := 0; cut <= len(in); cut++ {
				got := runFinder(f, in, []int{cut, 0, len(in)})
				checkFinder(t, in, got)
			}
			if got := runFinder(f, in, []int{len(in)}); len(got) != len(tc.want) {
				t.Errorf("whole-buffer Finder found %d, want %d", len(got), len(tc.want))
			}
		})
	}
}

func TestFinderBoundaryInOtherChunk(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		want   []apikey.Match
	}{
		{name: "word char ends previous chunk", chunks: []string{"abc", testPub}},
		{name: "space ends previous chunk", chunks: []string{"abc ", testPub}, want: []apikey.Match{pubAt(4)}},
		{name: "word char starts next chunk", chunks: []string{testPub, "x"}},
		{name: "space starts next chunk", chunks: []string{testPub, " x"}, want: []apikey.Match{pubAt(0)}},
		{name: "key then empty writes", chunks: []string{testPub, "", ""}, want: []apikey.Match{pubAt(0)}},
		{name: "split in the prefix", chunks: []string{"= " + testSec[:5], testSec[5:], ";"}, want: []apikey.Match{secAt(2)}},
		{name: "split in the needle", chunks: []string{"= mp", testSec[2:] + "\n"}, want: []apikey.Match{secAt(2)}},
		{name: "split before checksum", chunks: []string{"=" + testPub[:37], testPub[37:], "\n" + testSec}, want: []apikey.Match{pubAt(1), secAt(45)}},
		{name: "byte by byte 37 run", chunks: strings.Split(" "+testPub+"0 ", "")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f apikey.Finder // the zero value is ready
			var got []apikey.Match
			fn := func(m apikey.Match, _ []byte) { got = append(got, m) }
			for _, c := range tc.chunks {
				f.Write([]byte(c), fn)
			}
			f.Flush(fn)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Finder = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFinderOffsetsAreAbsolute(t *testing.T) {
	// Keys at many distances from chunk edges in a long stream, fed in
	// chunks of a size unrelated to the layout.
	var buf bytes.Buffer
	var want []apikey.Match
	for i := range 300 {
		fmt.Fprintf(&buf, "line %d %s\n", i, strings.Repeat("ab ", i%17))
		want = append(want, secAt(buf.Len()))
		buf.WriteString(testSec)
		buf.WriteString("\n")
	}
	f := apikey.NewFinder()
	for _, size := range []int{1, 7, 43, 44, 45, 1000, 4096} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			got := runFinder(f, buf.Bytes(), []int{size})
			if len(got) != len(want) {
				t.Fatalf("found %d keys, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i].m != want[i] || got[i].token != testSec {
					t.Fatalf("match %d = %+v %q, want %+v", i, got[i].m, got[i].token, want[i])
				}
			}
		})
	}
}

func TestFinderResetAndReuse(t *testing.T) {
	f := apikey.NewFinder()
	var got []apikey.Match
	fn := func(m apikey.Match, _ []byte) { got = append(got, m) }

	f.Write([]byte("abc "+testPub[:20]), fn)
	if f.Offset() != 24 {
		t.Errorf("Offset = %d, want 24", f.Offset())
	}
	// A discarded stream reports nothing, and the next starts at offset 0.
	f.Reset()
	f.Write([]byte(testPub[20:]+" "), fn)
	f.Flush(fn)
	if len(got) != 0 {
		t.Fatalf("after Reset found %v", got)
	}
	f.Write([]byte(testSec), fn)
	f.Flush(fn)
	f.Write([]byte(" "+testPub), fn)
	f.Flush(fn)
	want := []apikey.Match{secAt(0), pubAt(1)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after Flush found %v, want %v", got, want)
	}
	if f.Offset() != 0 {
		t.Errorf("Offset after Flush = %d, want 0", f.Offset())
	}
}

func TestFinderDoesNotAllocate(t *testing.T) {
	chunk := []byte(strings.Repeat("x = "+testPub+"\n", 100))
	f := apikey.NewFinder()
	n := 0
	fn := func(apikey.Match, []byte) { n++ }
	if a := testing.AllocsPerRun(20, func() { f.Write(chunk[:1000], fn); f.Write(chunk[1000:], fn) }); a != 0 {
		t.Errorf("Write allocates %v times", a)
	}
	if n == 0 {
		t.Error("no keys found")
	}
}
