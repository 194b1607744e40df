package apikey_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/mapwright/mapwright/pkg/apikey"
)

const corpusSize = 64 << 20

// corpusWords are identifiers of the kind found in a tile server's code and
// data, rich in 'm' so the search for "mpw_" meets many false starts.
var corpusWords = []string{
	"tile", "map", "zoom", "layer", "metadata", "vector", "raster", "source",
	"commit", "summary", "mercator", "style", "minzoom", "maxzoom", "index",
	"mapwright", "format", "bounds", "center", "name", "request", "cache",
}

// corpus is 64 MiB of source code, JSON and configuration text with a valid
// key about every 100 KiB, look-alikes and near misses ("mpw_" that starts no
// key), built once per test binary from a fixed seed.
var corpus = sync.OnceValue(func() []byte {
	rng := rand.New(rand.NewPCG(20240601, 43))
	word := func() string { return corpusWords[rng.IntN(len(corpusWords))] }
	random := func() string {
		b := make([]byte, 30)
		for i := range b {
			b[i] = refAlphabet[rng.IntN(62)]
		}
		return string(b)
	}
	var buf bytes.Buffer
	buf.Grow(corpusSize + 512)
	for line := 0; buf.Len() < corpusSize; line++ {
		switch {
		case line%2000 == 1999:
			fmt.Fprintf(&buf, "\tapi_key = %q\n", refKey("mpw_pk_", random()))
		case line%5000 == 4999:
			fmt.Fprintf(&buf, "MAPWRIGHT_ADMIN_KEY=%s\n", refKey("mpw_sk_", random()))
		case line%7000 == 6999:
			// Look-alike: well formed, checksum wrong.
			fmt.Fprintf(&buf, "  \"example\": \"mpw_pk_%s000000\",\n", random())
		case line%1000 == 999:
			fmt.Fprintf(&buf, "// Keys look like mpw_pk_<random>; see mpw_%s.\n", word())
		}
		switch rng.IntN(7) {
		case 0:
			fmt.Fprintf(&buf, "func (s *Server) handle%s(w http.ResponseWriter, r *http.Request) error {\n", word())
		case 1:
			fmt.Fprintf(&buf, "\tif err := s.store.Lookup(ctx, %s%d); err != nil {\n\t\treturn fmt.Errorf(\"lookup %s %%q: %%w\", name, err)\n\t}\n", word(), rng.IntN(1000), word())
		case 2:
			fmt.Fprintf(&buf, "  {\"id\": %d, \"name\": \"%s-%d\", \"minzoom\": %d, \"maxzoom\": %d, \"bounds\": [%.4f, %.4f, %.4f, %.4f]},\n",
				rng.IntN(1e6), word(), rng.IntN(100), rng.IntN(5), 10+rng.IntN(8), rng.Float64()*-180, rng.Float64()*-90, rng.Float64()*180, rng.Float64()*90)
		case 3:
			fmt.Fprintf(&buf, "\t%s_%s := time.Duration(%d) * time.Millisecond // %s %s budget\n", word(), word(), rng.IntN(5000), word(), word())
		case 4:
			buf.WriteString("  \"metadata\": {\"format\": \"pbf\", \"compression\": \"gzip\", \"mime\": \"application/x-protobuf\", \"attribution\": \"© map data contributors\"},\n")
		case 5:
			fmt.Fprintf(&buf, "MAPWRIGHT_%s_DIR=/var/lib/mapwright/%s/%s\n", word(), word(), word())
		default:
			buf.WriteString("\n")
		}
	}
	return buf.Bytes()[:corpusSize]
})

func BenchmarkParse(b *testing.B) {
	good := refKey("mpw_pk_", "abcdefghijABCDEFGHIJ0123456789")
	tests := []struct {
		name  string
		token string
	}{
		{name: "valid", token: good},
		{name: "bad checksum", token: good[:37] + "000000"},
		{name: "bad prefix", token: "ghp_abcdefghijABCDEFGHIJ0123456789abcdefghi"},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = apikey.Parse(tc.token)
			}
		})
	}
}

func BenchmarkHash(b *testing.B) {
	tok := refKey("mpw_sk_", "abcdefghijABCDEFGHIJ0123456789")
	b.ReportAllocs()
	for b.Loop() {
		_ = apikey.Hash(tok)
	}
}

func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := apikey.Generate(apikey.Public); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendMatches64MiB(b *testing.B) {
	data := corpus()
	dst := apikey.AppendMatches(nil, data)
	if len(dst) == 0 {
		b.Fatal("corpus has no keys")
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		dst = apikey.AppendMatches(dst[:0], data)
	}
	b.ReportMetric(float64(len(dst)), "matches")
}

func BenchmarkFinderStream64MiB(b *testing.B) {
	data := corpus()
	const chunk = 1 << 20
	want := len(apikey.AppendMatches(nil, data))
	f := apikey.NewFinder()
	n := 0
	fn := func(apikey.Match, []byte) { n++ }
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		n = 0
		for off := 0; off < len(data); off += chunk {
			f.Write(data[off:min(off+chunk, len(data))], fn)
		}
		f.Flush(fn)
	}
	if n != want {
		b.Fatalf("Finder found %d, AppendMatches %d", n, want)
	}
	b.ReportMetric(float64(n), "matches")
}
