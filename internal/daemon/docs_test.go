package daemon

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mapwright/mapwright/internal/cli/docgen"
)

// TestGeneratedDocsAreFresh regenerates mapwrightd's completions and man
// pages and compares them with the committed ones.
func TestGeneratedDocsAreFresh(t *testing.T) {
	const fix = "run: go run ./internal/cli/gendocs"
	tmp := t.TempDir()
	if err := docgen.GenerateDocs(tmp, DocRoot()); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join("..", "..")
	for _, sub := range []string{"completions", "man"} {
		want := daemonFiles(t, filepath.Join(tmp, sub))
		got := daemonFiles(t, filepath.Join(root, sub))
		if len(want) == 0 {
			t.Fatalf("nothing generated under %s", sub)
		}
		for name, content := range want {
			if !bytes.Equal(got[name], content) {
				t.Errorf("%s/%s is missing or stale; %s", sub, name, fix)
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("%s/%s is committed but no longer generated; %s", sub, name, fix)
			}
		}
	}
	page := string(daemonFiles(t, filepath.Join(tmp, "man"))["mapwrightd.8"])
	for _, want := range []string{`"MAPWRIGHTD" "8"`, "EXIT STATUS"} {
		if !strings.Contains(page, want) {
			t.Errorf("mapwrightd.8 lacks %q", want)
		}
	}
}

func daemonFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "mapwrightd") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}
