package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mapwright/mapwright/internal/cli/docgen"
	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/testutil/testenv"
)

// mwctlFiles reads the generated files of mwctl under dir/sub.
func mwctlFiles(t *testing.T, dir, sub string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, sub))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "mwctl.") && !strings.HasPrefix(e.Name(), "mwctl-") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, sub, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}

// TestGeneratedDocsAreFresh regenerates completions and man pages into a
// temporary directory and compares them with the committed ones.
func TestGeneratedDocsAreFresh(t *testing.T) {
	const fix = "run: go run ./internal/cli/gendocs"
	tmp := t.TempDir()
	ios, _, _, _ := iostreams.Test()
	if err := docgen.GenerateDocs(tmp, DocRoots(ios)...); err != nil {
		t.Fatal(err)
	}
	root := testenv.ModuleRoot(t)
	for _, sub := range []string{"completions", "man"} {
		want := mwctlFiles(t, tmp, sub)
		got := mwctlFiles(t, root, sub)
		if len(want) == 0 {
			t.Fatalf("nothing generated under %s", sub)
		}
		var names []string
		for n := range want {
			names = append(names, n)
		}
		for n := range got {
			if _, ok := want[n]; !ok {
				t.Errorf("%s/%s is committed but no longer generated; %s", sub, n, fix)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			g, ok := got[n]
			switch {
			case !ok:
				t.Errorf("%s/%s is missing; %s", sub, n, fix)
			case !bytes.Equal(g, want[n]):
				t.Errorf("%s/%s is stale; %s", sub, n, fix)
			}
		}
	}
}

// TestGeneratedDocsAreDeterministic generates twice and expects the same
// bytes, and checks the man pages carry the fixed date and no generator
// stamp.
func TestGeneratedDocsAreDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	for _, dir := range []string{a, b} {
		ios, _, _, _ := iostreams.Test()
		if err := docgen.GenerateDocs(dir, DocRoots(ios)...); err != nil {
			t.Fatal(err)
		}
	}
	for _, sub := range []string{"completions", "man"} {
		fa, fb := mwctlFiles(t, a, sub), mwctlFiles(t, b, sub)
		for n, content := range fa {
			if !bytes.Equal(content, fb[n]) {
				t.Errorf("%s/%s differs between two runs", sub, n)
			}
		}
	}
	page := string(mwctlFiles(t, a, "man")["mwctl.1"])
	for _, want := range []string{`.TH "MWCTL" "1" "Jan 2025" "Mapwright" "Mapwright Manual"`, ".SH EXIT STATUS", ".SH ENVIRONMENT"} {
		if !strings.Contains(page, want) {
			t.Errorf("mwctl.1 lacks %q", want)
		}
	}
	if strings.Contains(page, "Auto generated") {
		t.Error("mwctl.1 carries the generator stamp")
	}
	if _, ok := mwctlFiles(t, a, "man")["mwctl-keys-create.1"]; !ok {
		t.Error("no page for mwctl keys create")
	}
}
