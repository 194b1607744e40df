package docgen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestManText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"prose is escaped", "Keys look like mpw_pk_<36> or *.example.com.", `Keys look like mpw\_pk\_\<36\> or \*.example.com.`},
		{"heading becomes a section", "Intro.\n\nEXIT STATUS\n  0  ok\n  1  failure", "Intro.\n\n\n# EXIT STATUS\n\n\n      0  ok\n      1  failure"},
		{"a blank line inside a block keeps it", "A\n  x\n\n  y\nB", "A\n\n      x\n\n      y\n\nB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := manText(tt.in); got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func tree() *cobra.Command {
	root := &cobra.Command{Use: "tool", Short: "A tool", Long: "Does things.\n\nEXIT STATUS\n  0  ok"}
	root.AddCommand(&cobra.Command{Use: "sub", Short: "A sub", Run: func(*cobra.Command, []string) {}})
	root.AddCommand(&cobra.Command{Use: "secret", Short: "Hidden", Hidden: true, Run: func(*cobra.Command, []string) {}})
	return root
}

func TestGenerateDocs(t *testing.T) {
	dir := t.TempDir()
	man := filepath.Join(dir, "man")
	if err := os.MkdirAll(man, 0o755); err != nil {
		t.Fatal(err)
	}
	// A page of a command that no longer exists, and another tool's page.
	for _, n := range []string{"tool-gone.8", "other.1"} {
		if err := os.WriteFile(filepath.Join(man, n), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root := tree()
	long := root.Long
	if err := GenerateDocs(dir, Root{Command: root, Section: "8"}); err != nil {
		t.Fatal(err)
	}
	if root.Long != long {
		t.Error("the command's help text was not restored")
	}
	entries, _ := os.ReadDir(man)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "other.1 tool-sub.8 tool.8" {
		t.Errorf("man pages = %s", got)
	}
	page, _ := os.ReadFile(filepath.Join(man, "tool.8"))
	if !strings.Contains(string(page), `.TH "TOOL" "8" "Jan 2025" "Mapwright" "Mapwright Manual"`) || !strings.Contains(string(page), ".SH EXIT STATUS") {
		t.Errorf("tool.8:\n%s", page)
	}
	for _, ext := range []string{"bash", "zsh", "fish", "ps1"} {
		if b, err := os.ReadFile(filepath.Join(dir, "completions", "tool."+ext)); err != nil || len(b) == 0 {
			t.Errorf("completion %s: %v", ext, err)
		}
	}
	if err := GenerateDocs(dir, Root{Command: tree()}); err == nil {
		t.Error("a root without a section was accepted")
	}
}
