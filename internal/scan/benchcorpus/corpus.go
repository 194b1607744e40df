// Package benchcorpus generates reproducible corpora for measuring the
// scanner: a tree of mixed files (source code, JSON, logs, minified
// JavaScript, binaries) and a git history, with a few keys and look-alikes
// planted. The tokens are generated afresh and never printed.
package benchcorpus

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/mapwright/mapwright/pkg/apikey"
)

// Summary describes a generated corpus.
type Summary struct {
	// Files and Bytes count what was written (for a history: blobs and
	// their bytes).
	Files int64
	Bytes int64
	// Keys counts the valid keys planted, LookAlikes the tokens with a bad
	// checksum.
	Keys       int
	LookAlikes int
}

// words are identifiers of a tile server's code and data, rich in the
// letters and underscores that make a literal search stumble.
var words = []string{
	"tile", "map", "zoom", "layer", "metadata", "vector", "raster", "source",
	"commit", "summary", "mercator", "style", "min_zoom", "max_zoom", "index",
	"mapwright", "format", "bounds", "center", "name", "request", "cache",
	"mpw", "mp_w", "user_id", "__init__", "http_client", "row_count",
}

// gen writes content of the kinds a repository and its build output hold.
type gen struct {
	rng  *rand.Rand
	sum  Summary
	keys func() string
	bad  func() string
}

func newGen(seed uint64) *gen {
	g := &gen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	g.keys = func() string {
		k := apikey.Public
		if g.rng.IntN(3) == 0 {
			k = apikey.Secret
		}
		tok, err := apikey.Generate(k)
		if err != nil {
			panic(err)
		}
		g.sum.Keys++
		return tok
	}
	g.bad = func() string {
		tok, err := apikey.Generate(apikey.Public)
		if err != nil {
			panic(err)
		}
		g.sum.LookAlikes++
		// A zero checksum is wrong for all but one key in 62^6.
		return tok[:apikey.TokenLen-apikey.ChecksumLen] + "000000"
	}
	return g
}

func (g *gen) word() string { return words[g.rng.IntN(len(words))] }

// code writes about n bytes of Go-like source and JSON, a key every few
// MiB.
func (g *gen) code(w *bytes.Buffer, n int) {
	for line := 0; w.Len() < n; line++ {
		switch g.rng.IntN(6) {
		case 0:
			fmt.Fprintf(w, "func (s *Server) handle_%s(w http.ResponseWriter, r *http.Request) error {\n", g.word())
		case 1:
			fmt.Fprintf(w, "\tif err := s.store.Lookup(ctx, %s_%d); err != nil {\n\t\treturn fmt.Errorf(\"lookup %%q: %%w\", name, err)\n\t}\n", g.word(), g.rng.IntN(1000))
		case 2:
			fmt.Fprintf(w, "  {\"id\": %d, \"name\": \"%s-%d\", \"minzoom\": %d, \"bounds\": [%.4f, %.4f]},\n", g.rng.IntN(1e6), g.word(), g.rng.IntN(100), g.rng.IntN(5), g.rng.Float64()*180, g.rng.Float64()*90)
		case 3:
			fmt.Fprintf(w, "\t%s_%s := time.Duration(%d) * time.Millisecond // %s %s\n", g.word(), g.word(), g.rng.IntN(5000), g.word(), g.word())
		case 4:
			fmt.Fprintf(w, "2024-05-01T12:%02d:%02dZ INFO request path=/v1/tiles/%s/%d/%d/%d.pbf status=200 bytes=%d\n", g.rng.IntN(60), g.rng.IntN(60), g.word(), g.rng.IntN(15), g.rng.IntN(1<<14), g.rng.IntN(1<<14), g.rng.IntN(1<<16))
		default:
			fmt.Fprintf(w, "// %s %s %s: see mpw_%s for the %s.\n", g.word(), g.word(), g.word(), g.word(), g.word())
		}
		if g.rng.IntN(40000) == 0 {
			fmt.Fprintf(w, "\tapiKey := %q\n", g.keys())
		}
		if g.rng.IntN(40000) == 0 {
			fmt.Fprintf(w, "\texample := %q\n", g.bad())
		}
	}
}

// minified writes about n bytes of JavaScript on one line.
func (g *gen) minified(w *bytes.Buffer, n int) {
	for w.Len() < n {
		fmt.Fprintf(w, "var %s%d=function(e,t){return e.%s(t,%d)||t.%s_%s};", g.word(), g.rng.IntN(1e5), g.word(), g.rng.IntN(100), g.word(), g.word())
		if g.rng.IntN(100000) == 0 {
			fmt.Fprintf(w, "L.key=%q;", g.keys())
		}
	}
}

// binary writes n random bytes, with a key in about one file in ten.
func (g *gen) binary(w *bytes.Buffer, n int) {
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := g.rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	if n > 1024 && g.rng.IntN(10) == 0 {
		at := g.rng.IntN(n - 100)
		copy(b[at:], "\x00"+g.keys()+"\x00")
	}
	w.Write(b)
}

// next returns a file of a kind drawn by weight, its name and content.
func (g *gen) next(buf *bytes.Buffer, i int) string {
	buf.Reset()
	switch r := g.rng.IntN(100); {
	case r < 55:
		g.code(buf, 4<<10+g.rng.IntN(192<<10))
		return fmt.Sprintf("src/pkg%03d/file%05d.go", i%300, i)
	case r < 70:
		g.minified(buf, 256<<10+g.rng.IntN(4<<20))
		return fmt.Sprintf("web/dist/chunk%05d.min.js", i)
	case r < 90:
		g.binary(buf, 64<<10+g.rng.IntN(4<<20))
		return fmt.Sprintf("build/bin%03d/blob%05d.bin", i%50, i)
	default:
		g.code(buf, 1<<20+g.rng.IntN(16<<20))
		return fmt.Sprintf("logs/app%05d.log", i)
	}
}

// Tree writes about total bytes of mixed files under dir.
func Tree(dir string, total int64, seed uint64) (Summary, error) {
	g := newGen(seed)
	var buf bytes.Buffer
	for i := 0; g.sum.Bytes < total; i++ {
		name := g.next(&buf, i)
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return g.sum, err
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			return g.sum, err
		}
		g.sum.Files++
		g.sum.Bytes += int64(buf.Len())
	}
	return g.sum, nil
}

// History creates a git repository in dir whose history holds about total
// bytes of distinct blobs: commits that add and rewrite source files, and
// delete some (with keys in them). It feeds git fast-import.
func History(ctx context.Context, dir string, total int64, seed uint64) (Summary, error) {
	g := newGen(seed)
	if out, err := exec.CommandContext(ctx, "git", "init", "-q", dir).CombinedOutput(); err != nil {
		return g.sum, fmt.Errorf("git init: %v: %s", err, out)
	}
	cmd := exec.CommandContext(ctx, "git", "-C", dir, "fast-import", "--quiet")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return g.sum, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return g.sum, err
	}
	w := bufio.NewWriterSize(stdin, 1<<20)
	werr := g.history(w, total)
	if werr == nil {
		werr = w.Flush()
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		return g.sum, fmt.Errorf("git fast-import: %v: %s", err, stderr.String())
	}
	if werr != nil {
		return g.sum, werr
	}
	if out, err := exec.CommandContext(ctx, "git", "-C", dir, "reset", "-q", "--hard", "main").CombinedOutput(); err != nil {
		return g.sum, fmt.Errorf("git reset: %v: %s", err, out)
	}
	return g.sum, nil
}

func (g *gen) history(w io.Writer, total int64) error {
	var buf bytes.Buffer
	var live []string
	when := int64(1700000000)
	files := 0
	for c := 0; g.sum.Bytes < total; c++ {
		// A path written twice in one commit would leave a blob in no
		// tree; every blob written must be reachable.
		touched := map[string]bool{}
		when += 3600
		fmt.Fprintf(w, "commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\ndata <<EOM\ncommit %d\nEOM\n", when, c)
		if c == 0 {
			fmt.Fprintf(w, "deleteall\n")
		}
		for range 1 + g.rng.IntN(8) {
			var name string
			if len(live) > 0 && g.rng.IntN(3) == 0 {
				name = live[g.rng.IntN(len(live))]
			}
			if name == "" || touched[name] {
				files++
				name = fmt.Sprintf("src/pkg%02d/file%06d.go", c%40, files)
				live = append(live, name)
			}
			touched[name] = true
			buf.Reset()
			if g.rng.IntN(10) == 0 {
				g.minified(&buf, 64<<10+g.rng.IntN(1<<20))
			} else {
				g.code(&buf, 2<<10+g.rng.IntN(128<<10))
			}
			fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n", name, buf.Len())
			if _, err := w.Write(buf.Bytes()); err != nil {
				return err
			}
			fmt.Fprintln(w)
			g.sum.Files++
			g.sum.Bytes += int64(buf.Len())
		}
		if i := g.rng.IntN(max(len(live), 1)); len(live) > 10 && g.rng.IntN(5) == 0 && !touched[live[i]] {
			fmt.Fprintf(w, "D %s\n", live[i])
			live = append(live[:i], live[i+1:]...)
		}
		fmt.Fprintln(w)
	}
	return nil
}

// Code returns about n bytes of source text with keys and look-alikes, as
// the tree's source files hold.
func Code(n int, seed uint64) []byte {
	g := newGen(seed)
	var buf bytes.Buffer
	g.code(&buf, n)
	return buf.Bytes()
}
