package scan

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mapwright/mapwright/pkg/apikey"
)

func write(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// zipOf builds a zip archive of name → content, in the order given.
func zipOf(t testing.TB, method uint16, files ...[2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f[0], Method: method})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(f[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tarOf builds a tar archive of name → content.
func tarOf(t testing.TB, files ...[2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1])), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipOf(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// planted is a key put into the corpus and where it must be found.
type planted struct {
	token string
	locs  []Location // Path, Line, Column, Offset, Suppressed
}

// corpus builds the test corpus in dir and returns the planted valid keys,
// the look-alike tokens, and the tokens that must not be found at all.
func corpus(t *testing.T, dir string) (keys map[string]*planted, lookAlikes, hidden []string) {
	t.Helper()
	keys = map[string]*planted{}
	plant := func(name string, k apikey.Kind) string {
		tok := mustKey(t, k)
		keys[name] = &planted{token: tok}
		return tok
	}
	at := func(name, path string, data []byte, sup Suppression) {
		tok := keys[name].token
		from := 0
		for {
			i := bytes.Index(data[from:], []byte(tok))
			if i < 0 {
				return
			}
			off := from + i
			line := bytes.Count(data[:off], []byte{'\n'}) + 1
			col := off - bytes.LastIndexByte(data[:off], '\n')
			keys[name].locs = append(keys[name].locs, Location{Path: path, Line: int64(line), Column: int64(col), Offset: int64(off), Suppressed: sup})
			from = off + len(tok)
		}
	}

	// Plain text, and the same key again in minified JS.
	text := plant("text", apikey.Public)
	notes := []byte("Deployment notes\n\nThe map key is " + text + " for now.\n")
	write(t, filepath.Join(dir, "docs", "notes.txt"), notes)
	at("text", "docs/notes.txt", notes, NotSuppressed)

	// Minified JS: one 3 MiB line, a key deep inside it.
	minified := plant("minified", apikey.Public)
	var js bytes.Buffer
	rng := rand.New(rand.NewPCG(1, 2))
	for placed := false; js.Len() < 3<<20; {
		fmt.Fprintf(&js, "var a%d=function(b){return b.map(function(c){return c*%d})};", rng.IntN(1e6), rng.IntN(100))
		if js.Len() > 2<<20 && !placed {
			placed = true
			js.WriteString(`L.tileLayer("https://tiles.example/{z}/{x}/{y}.pbf?key=` + minified + `");`)
			js.WriteString(`var k2="` + text + `";`)
		}
	}
	write(t, filepath.Join(dir, "web", "app.min.js"), js.Bytes())
	at("minified", "web/app.min.js", js.Bytes(), NotSuppressed)
	at("text", "web/app.min.js", js.Bytes(), NotSuppressed)

	// JSON with a secret key and a look-alike.
	jsonKey := plant("json", apikey.Secret)
	bad1 := lookAlike(t, apikey.Secret)
	cfg := []byte("{\n  \"admin\": {\n    \"token\": \"" + jsonKey + "\",\n    \"example\": \"" + bad1 + "\"\n  }\n}\n")
	write(t, filepath.Join(dir, "config", "settings.json"), cfg)
	at("json", "config/settings.json", cfg, NotSuppressed)

	// A .env file, git-ignored: ignored files are scanned too.
	env := plant("env", apikey.Secret)
	envData := []byte("# local\nMAPWRIGHT_URL=https://maps.local\nMAPWRIGHT_KEY=" + env + "\n")
	write(t, filepath.Join(dir, ".env"), envData)
	write(t, filepath.Join(dir, ".gitignore"), []byte(".env\n"))
	at("env", ".env", envData, NotSuppressed)

	// A binary blob.
	bin := plant("binary", apikey.Public)
	blob := make([]byte, 300<<10)
	for i := range blob {
		blob[i] = byte(rng.IntN(256))
	}
	// Non-word bytes around the key keep its boundaries.
	copy(blob[100000:], "\x00"+bin+"\x00")
	write(t, filepath.Join(dir, "build", "app.bin"), blob)
	at("binary", "build/app.bin", blob, NotSuppressed)

	// A key across the edge of two chunks (ChunkSize is 4099 in the test).
	edge := plant("edge", apikey.Secret)
	straddle := append(bytes.Repeat([]byte("#"), 4099-20), []byte(" "+edge+" \n")...)
	write(t, filepath.Join(dir, "straddle.txt"), straddle)
	at("edge", "straddle.txt", straddle, NotSuppressed)

	// A zip inside a tar.gz, and a member of the tar.gz itself.
	inZip := plant("zip-in-tgz", apikey.Public)
	inTgz := plant("tgz", apikey.Secret)
	inner := []byte("KEY=" + inZip + "\n")
	tgz := gzipOf(t, tarOf(t,
		[2]string{"inner/readme.md", "# bundle\n\nkey: " + inTgz + "\n"},
		[2]string{"inner/app.zip", string(zipOf(t, zip.Deflate, [2]string{"x.env", string(inner)}, [2]string{"y.txt", "nothing"}))},
	))
	write(t, filepath.Join(dir, "dist", "bundle.tar.gz"), tgz)
	keys["zip-in-tgz"].locs = []Location{{Path: "dist/bundle.tar.gz!inner/app.zip!x.env", Line: 1, Column: 5, Offset: 4}}
	keys["tgz"].locs = []Location{{Path: "dist/bundle.tar.gz!inner/readme.md", Line: 3, Column: 6, Offset: int64(len("# bundle\n\nkey: "))}}

	// Look-alikes: placeholders and a mistyped key.
	bad2, bad3 := lookAlike(t, apikey.Public), lookAlike(t, apikey.Public)
	write(t, filepath.Join(dir, "docs", "lookalikes.md"), []byte("Use a key like "+bad2+".\nOr "+bad3+"\nmpw_pk_short\n"))
	lookAlikes = []string{bad1, bad2, bad3}

	// A key suppressed by the baseline, and one by the inline marker.
	base := plant("baseline", apikey.Public)
	legacy := []byte("legacy = \"" + base + "\"\n")
	write(t, filepath.Join(dir, "legacy.py"), legacy)
	at("baseline", "legacy.py", legacy, SuppressedBaseline)
	inl := plant("inline", apikey.Public)
	allowed := []byte("package demo\n\nconst Demo = \"" + inl + "\" // mwctl:allow: documented demo key\n")
	write(t, filepath.Join(dir, "demo.go"), allowed)
	at("inline", "demo.go", allowed, SuppressedInline)

	// Not scanned: the insides of .git, and a link not followed.
	inGit := mustKey(t, apikey.Secret)
	write(t, filepath.Join(dir, ".git", "config"), []byte("token = "+inGit+"\n"))
	outside := mustKey(t, apikey.Secret)
	outDir := t.TempDir()
	write(t, filepath.Join(outDir, "secret.txt"), []byte(outside))
	if err := os.Symlink(filepath.Join(outDir, "secret.txt"), filepath.Join(dir, "link.txt")); err != nil {
		t.Fatal(err)
	}
	hidden = []string{inGit, outside}
	return keys, lookAlikes, hidden
}

func TestScanCorpus(t *testing.T) {
	dir := t.TempDir()
	keys, lookAlikes, hidden := corpus(t, dir)
	baseline := &Baseline{set: map[string]struct{}{
		Fingerprint(apikey.HashHex(keys["baseline"].token), "./legacy.py"): {},
	}}
	t.Chdir(dir)

	cases := []struct {
		name string
		opts Options
	}{
		{"tiny chunks one worker", Options{ChunkSize: 4099, Workers: 1}},
		{"tiny chunks four workers", Options{ChunkSize: 4099, Workers: 4}},
		{"default chunks", Options{}},
	}
	var first *Result
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Paths = []string{"."}
			opts.MaxArchiveDepth = DefaultMaxArchiveDepth
			opts.Baseline = baseline
			res, err := Scan(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			checkFound(t, res, keys)
			if res.InvalidCount != int64(len(lookAlikes)) {
				t.Errorf("InvalidCount = %d, want %d", res.InvalidCount, len(lookAlikes))
			}
			if res.SuppressedCount != 2 {
				t.Errorf("SuppressedCount = %d, want 2", res.SuppressedCount)
			}
			if res.Stats.Archives != 2 {
				t.Errorf("archives opened = %d, want 2 (tar.gz, zip)", res.Stats.Archives)
			}
			if res.Stats.Skipped < 1 {
				t.Errorf("the symbolic link was not counted as skipped: %+v", res.Stats)
			}
			failing := res.Failing(FailOnLive)
			if len(failing) != len(keys)-2 {
				t.Errorf("%d failing keys, want %d (all but the suppressed)", len(failing), len(keys)-2)
			}
			assertNoTokens(t, res, keys, lookAlikes, hidden)
			if first == nil {
				first = res
			} else if a, b := fingerprints(first), fingerprints(res); !slices.Equal(a, b) {
				t.Errorf("results differ between runs:\n%v\n%v", a, b)
			}
		})
	}

	t.Run("follow symlinks", func(t *testing.T) {
		res, err := Scan(context.Background(), Options{Paths: []string{"."}, FollowSymlinks: true})
		if err != nil {
			t.Fatal(err)
		}
		if !hasToken(res, hidden[1]) {
			t.Error("the key behind the followed link was not found")
		}
		if hasToken(res, hidden[0]) {
			t.Error("a key inside .git was found")
		}
	})
	t.Run("include invalid", func(t *testing.T) {
		res, err := Scan(context.Background(), Options{Paths: []string{"docs", "config"}, IncludeInvalid: true})
		if err != nil {
			t.Fatal(err)
		}
		var invalid int
		for _, k := range res.Keys {
			if !k.Valid {
				invalid++
				if k.Status != StatusInvalid {
					t.Errorf("look-alike status %q", k.Status)
				}
			}
		}
		if invalid != 3 || res.InvalidCount != 3 {
			t.Errorf("%d look-alikes reported, InvalidCount %d; want 3 and 3", invalid, res.InvalidCount)
		}
		if len(res.Failing(FailOnAny)) != 2 {
			t.Errorf("look-alikes count as failing: %d", len(res.Failing(FailOnAny)))
		}
	})
	t.Run("no archives", func(t *testing.T) {
		res, err := Scan(context.Background(), Options{Paths: []string{"dist"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Keys) != 0 || res.Stats.Archives != 0 {
			t.Errorf("depth 0 opened archives: %d keys, %d archives", len(res.Keys), res.Stats.Archives)
		}
	})
}

// checkFound checks that res holds exactly the planted keys, each once,
// at exactly its locations.
func checkFound(t *testing.T, res *Result, keys map[string]*planted) {
	t.Helper()
	byHash := map[string]*Key{}
	for _, k := range res.Keys {
		if !k.Valid {
			t.Errorf("look-alike %s reported as a key", k.Redacted)
			continue
		}
		if byHash[k.Hash] != nil {
			t.Errorf("key %s reported twice", k.Redacted)
		}
		byHash[k.Hash] = k
	}
	if len(byHash) != len(keys) {
		t.Errorf("found %d keys, want %d", len(byHash), len(keys))
	}
	for name, p := range keys {
		k := byHash[apikey.HashHex(p.token)]
		if k == nil {
			t.Errorf("%s key not found", name)
			continue
		}
		if k.Redacted != apikey.Redact(p.token) || k.Status != StatusUnchecked {
			t.Errorf("%s key: redacted %q status %q", name, k.Redacted, k.Status)
		}
		var got []string
		for _, l := range k.Locations {
			got = append(got, fmt.Sprintf("%s:%d:%d@%d %s", l.Path, l.Line, l.Column, l.Offset, l.Suppressed))
			if l.Fingerprint != Fingerprint(k.Hash, l.Path) {
				t.Errorf("%s: fingerprint of %s does not match Fingerprint", name, l)
			}
		}
		var want []string
		for _, l := range p.locs {
			want = append(want, fmt.Sprintf("%s:%d:%d@%d %s", l.Path, l.Line, l.Column, l.Offset, l.Suppressed))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s key locations:\ngot  %q\nwant %q", name, got, want)
		}
	}
}

func hasToken(res *Result, tok string) bool {
	h := apikey.HashHex(tok)
	for _, k := range res.Keys {
		if k.Hash == h {
			return true
		}
	}
	return false
}

func fingerprints(res *Result) []string {
	var out []string
	for _, k := range res.Keys {
		for _, l := range k.Locations {
			out = append(out, l.Fingerprint+" "+l.String())
		}
	}
	return out
}

// assertNoTokens renders res in every format and fails if any output holds
// a planted token, a look-alike or a token that must stay hidden.
func assertNoTokens(t *testing.T, res *Result, keys map[string]*planted, more ...[]string) {
	t.Helper()
	var all []string
	for _, p := range keys {
		all = append(all, p.token)
	}
	for _, m := range more {
		all = append(all, m...)
	}
	var outs = map[string]*bytes.Buffer{"text": {}, "text-suppressed": {}, "json": {}, "sarif": {}, "baseline": {}}
	if err := WriteText(outs["text"], res, TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if err := WriteText(outs["text-suppressed"], res, TextOptions{Suppressed: true}); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(outs["json"], res); err != nil {
		t.Fatal(err)
	}
	if err := WriteSARIF(outs["sarif"], res, "test"); err != nil {
		t.Fatal(err)
	}
	if err := WriteBaseline(outs["baseline"], res); err != nil {
		t.Fatal(err)
	}
	outs["summary"] = bytes.NewBufferString(Summary(res))
	for name, b := range outs {
		for _, tok := range all {
			// Beyond the redacted start, no part of the random tail
			// may appear either.
			if strings.Contains(b.String(), tok) || strings.Contains(b.String(), tok[apikey.StartLen:]) {
				t.Errorf("%s output contains a token", name)
			}
		}
	}
}

func TestScanArchiveLimits(t *testing.T) {
	dir := t.TempDir()
	pk := mustKey(t, apikey.Public)
	late := mustKey(t, apikey.Public)
	// A key early and one past 2 MiB of zeros.
	data := append([]byte(pk+"\n"), make([]byte, 2<<20)...)
	data = append(data, []byte("\n"+late+"\n")...)
	write(t, filepath.Join(dir, "logs.gz"), gzipOf(t, data))
	// 40 MiB of zeros: a tiny archive that expands hugely.
	bomb := zipOf(t, zip.Deflate, [2]string{"zeros.bin", string(make([]byte, 40<<20))}, [2]string{"after.txt", late})
	write(t, filepath.Join(dir, "bomb.zip"), bomb)

	cases := []struct {
		name      string
		path      string
		opts      Options
		want      []string
		notWant   []string
		warnMatch string
	}{
		{"within limits", "logs.gz", Options{}, []string{pk, late}, nil, ""},
		{"size limit", "logs.gz", Options{MaxArchiveBytes: 1 << 20}, []string{pk}, []string{late}, "size limit"},
		{"ratio limit", "bomb.zip", Options{}, nil, []string{late}, "ratio limit"},
		{"ratio limit raised", "bomb.zip", Options{MaxArchiveRatio: 1 << 20}, []string{late}, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Paths = []string{filepath.Join(dir, tc.path)}
			opts.MaxArchiveDepth = 2
			res, err := Scan(context.Background(), opts)
			if err != nil {
				t.Fatalf("a limit must be a warning, not an error: %v", err)
			}
			for _, tok := range tc.want {
				if !hasToken(res, tok) {
					t.Errorf("key %s not found", apikey.Redact(tok))
				}
			}
			for _, tok := range tc.notWant {
				if hasToken(res, tok) {
					t.Errorf("key %s past the limit was scanned", apikey.Redact(tok))
				}
			}
			warned := slices.ContainsFunc(res.Warnings, func(w string) bool { return tc.warnMatch != "" && strings.Contains(w, tc.warnMatch) })
			if tc.warnMatch != "" && !warned {
				t.Errorf("no warning about %q: %q", tc.warnMatch, res.Warnings)
			}
			if tc.warnMatch == "" && len(res.Warnings) > 0 {
				t.Errorf("unexpected warnings %q", res.Warnings)
			}
		})
	}
}

func TestScanArchiveDepth(t *testing.T) {
	dir := t.TempDir()
	deep := mustKey(t, apikey.Secret)
	l3 := zipOf(t, zip.Deflate, [2]string{"secret.env", "K=" + deep})
	l2 := zipOf(t, zip.Deflate, [2]string{"l3.zip", string(l3)})
	l1 := zipOf(t, zip.Deflate, [2]string{"l2.zip", string(l2)})
	write(t, filepath.Join(dir, "l1.zip"), l1)
	// A .tgz inside a .gz name that lies: not gzip at all.
	plain := mustKey(t, apikey.Public)
	write(t, filepath.Join(dir, "fake.tgz"), []byte("not an archive "+plain))
	for _, tc := range []struct {
		depth int
		found bool
	}{{1, false}, {2, false}, {3, true}} {
		t.Run(fmt.Sprintf("depth %d", tc.depth), func(t *testing.T) {
			res, err := Scan(context.Background(), Options{Paths: []string{dir}, MaxArchiveDepth: tc.depth})
			if err != nil {
				t.Fatal(err)
			}
			if hasToken(res, deep) != tc.found {
				t.Errorf("key three archives deep found = %v, want %v", !tc.found, tc.found)
			}
			if tc.found {
				k := res.Keys[slices.IndexFunc(res.Keys, func(k *Key) bool { return k.Hash == apikey.HashHex(deep) })]
				want := filepath.ToSlash(dir) + "/l1.zip!l2.zip!l3.zip!secret.env"
				if k.Locations[0].Path != want {
					t.Errorf("path %q, want %q", k.Locations[0].Path, want)
				}
			}
			if !hasToken(res, plain) {
				t.Error("a file named like an archive but not one was not scanned as bytes")
			}
		})
	}
}

func TestScanStdinAndErrors(t *testing.T) {
	pk := mustKey(t, apikey.Public)
	res, err := Scan(context.Background(), Options{Paths: []string{"-"}, Stdin: strings.NewReader("a\n " + pk)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Keys) != 1 || res.Keys[0].Locations[0].String() != "stdin:2:2" {
		t.Fatalf("stdin: %+v", res.Keys)
	}
	_, err = Scan(context.Background(), Options{Paths: []string{filepath.Join(t.TempDir(), "missing")}})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing path: err = %v", err)
	}
	_, err = Scan(context.Background(), Options{Paths: []string{"-", "-"}, Stdin: strings.NewReader("")})
	if !errors.Is(err, ErrOptions) {
		t.Errorf("stdin twice: err = %v", err)
	}
	_, err = Scan(context.Background(), Options{Git: true, Staged: true})
	if !errors.Is(err, ErrOptions) {
		t.Errorf("git and staged: err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Scan(ctx, Options{Paths: []string{t.TempDir()}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

func TestBaselineRoundTrip(t *testing.T) {
	dir := t.TempDir()
	a, b := mustKey(t, apikey.Public), mustKey(t, apikey.Secret)
	write(t, filepath.Join(dir, "one.txt"), []byte(a+"\n"+a+"\n"))
	res, err := Scan(context.Background(), Options{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteBaseline(&buf, res); err != nil {
		t.Fatal(err)
	}
	bl, err := ReadBaseline(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if bl.Len() != 1 {
		t.Errorf("two occurrences in one file: %d fingerprints, want 1", bl.Len())
	}
	// Lines added above and a new key: only the new key is reported.
	write(t, filepath.Join(dir, "one.txt"), []byte("new line\n\n"+a+"\n"+b+"\n"))
	res, err = Scan(context.Background(), Options{Paths: []string{dir}, Baseline: bl})
	if err != nil {
		t.Fatal(err)
	}
	failing := res.Failing(FailOnLive)
	if len(failing) != 1 || failing[0].Hash != apikey.HashHex(b) {
		t.Errorf("failing after baseline: %v", failing)
	}
	// The same key in another file is a new finding.
	write(t, filepath.Join(dir, "two.txt"), []byte(a))
	res, err = Scan(context.Background(), Options{Paths: []string{dir}, Baseline: bl})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failing(FailOnLive)) != 2 {
		t.Errorf("key copied to a new file was suppressed")
	}

	for _, tc := range []struct{ name, doc string }{
		{"bare list", `["` + strings.Repeat("ab", 32) + `"]`},
		{"document", `{"version":1,"tool":"mwctl","fingerprints":["` + strings.Repeat("AB", 32) + `"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bl, err := ReadBaseline(strings.NewReader(tc.doc))
			if err != nil || !bl.Has(strings.Repeat("ab", 32)) {
				t.Errorf("ReadBaseline: %v, %v", bl, err)
			}
		})
	}
	for _, bad := range []string{`{"version":2,"fingerprints":[]}`, `["abc"]`, `nope`, `[1]`} {
		if _, err := ReadBaseline(strings.NewReader(bad)); !errors.Is(err, ErrBaseline) {
			t.Errorf("ReadBaseline(%s): err = %v", bad, err)
		}
	}
}

func TestFingerprintNormalisation(t *testing.T) {
	h := strings.Repeat("0f", 32)
	same := []string{"a/b.txt", "./a/b.txt", "a//b.txt", "a/./b.txt", `a\b.txt`}
	for _, p := range same {
		if Fingerprint(h, p) != Fingerprint(h, "a/b.txt") {
			t.Errorf("Fingerprint(%q) differs from a/b.txt", p)
		}
	}
	if Fingerprint(h, "a/c.txt") == Fingerprint(h, "a/b.txt") || Fingerprint(strings.Repeat("1f", 32), "a/b.txt") == Fingerprint(h, "a/b.txt") {
		t.Error("different keys or paths share a fingerprint")
	}
	if got := Fingerprint(h, "a/b.txt"); len(got) != 64 || strings.Contains(got, h) {
		t.Errorf("fingerprint %q", got)
	}
}
