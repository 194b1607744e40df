// Package docgen writes the shell completions and man pages of Mapwright's
// commands, deterministically: the same command tree always gives the same
// bytes (a fixed date, no generator stamp), so the generated files can be
// committed and a test can tell when they are stale.
package docgen

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// Root is one command tree to document.
type Root struct {
	// Command is the root command, e.g. mwctl.
	Command *cobra.Command
	// Section is its man section: "1" for user commands (mwctl), "8" for
	// daemons (mapwrightd).
	Section string
}

// Date is the date every man page carries. It is fixed so that
// regenerating changes nothing; move it when a release changes the pages.
func Date() time.Time { return time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC) }

// Completion scripts written for each root, by file extension.
var shells = []struct {
	ext string
	gen func(*cobra.Command, *bytes.Buffer) error
}{
	{"bash", func(c *cobra.Command, b *bytes.Buffer) error { return c.GenBashCompletionV2(b, true) }},
	{"zsh", func(c *cobra.Command, b *bytes.Buffer) error { return c.GenZshCompletion(b) }},
	{"fish", func(c *cobra.Command, b *bytes.Buffer) error { return c.GenFishCompletion(b, true) }},
	{"ps1", func(c *cobra.Command, b *bytes.Buffer) error { return c.GenPowerShellCompletionWithDesc(b) }},
}

// GenerateDocs writes, for each root, dir/completions/NAME.{bash,zsh,fish,ps1}
// and one man page per visible command, dir/man/NAME[-SUB...].SECTION. Man
// pages of a root left over from removed commands are deleted first.
func GenerateDocs(dir string, roots ...Root) error {
	compDir, manDir := filepath.Join(dir, "completions"), filepath.Join(dir, "man")
	for _, d := range []string{compDir, manDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	for _, r := range roots {
		if r.Command == nil || r.Section == "" {
			return errors.New("docgen: a root needs a command and a man section")
		}
		name := r.Command.Name()
		for _, sh := range shells {
			var buf bytes.Buffer
			if err := sh.gen(r.Command, &buf); err != nil {
				return fmt.Errorf("%s completion for %s: %w", sh.ext, name, err)
			}
			if err := os.WriteFile(filepath.Join(compDir, name+"."+sh.ext), buf.Bytes(), 0o644); err != nil {
				return fmt.Errorf("write %s completion for %s: %w", sh.ext, name, err)
			}
		}
		if err := removeManPages(manDir, name, r.Section); err != nil {
			return err
		}
		if err := genMan(r, manDir); err != nil {
			return err
		}
	}
	return nil
}

// removeManPages deletes NAME.SECTION and NAME-*.SECTION in dir.
func removeManPages(dir, name, section string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, "."+section) {
			continue
		}
		base := strings.TrimSuffix(n, "."+section)
		if base == name || strings.HasPrefix(base, name+"-") {
			if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove stale man page: %w", err)
			}
		}
	}
	return nil
}

// genMan writes the man pages of a root. Long help texts are rewritten into
// man page markdown for the time of the generation (see manText) and
// restored afterwards.
func genMan(r Root, dir string) error {
	saved := map[*cobra.Command]string{}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.DisableAutoGenTag = true
		saved[c] = c.Long
		c.Long = manText(c.Long)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(r.Command)
	defer func() {
		for c, long := range saved {
			c.Long = long
		}
	}()
	date := Date()
	header := &doc.GenManHeader{
		Section: r.Section,
		Date:    &date,
		Source:  "Mapwright",
		Manual:  "Mapwright Manual",
	}
	if err := doc.GenManTree(r.Command, header, dir); err != nil {
		return fmt.Errorf("man pages of %s: %w", r.Command.Name(), err)
	}
	return nil
}

var (
	heading   = regexp.MustCompile(`^[A-Z][A-Z ]+[A-Z]$`)
	mdSpecial = strings.NewReplacer(`\`, `\\`, "`", "\\`", `*`, `\*`, `_`, `\_`, `[`, `\[`, `]`, `\]`, `<`, `\<`, `>`, `\>`, `#`, `\#`)
)

// manText turns a help text written for the terminal into markdown for a
// man page: an upper-case line becomes a section (EXIT STATUS, ENVIRONMENT),
// indented lines keep their layout as a preformatted block, and other text
// flows as paragraphs with markdown's special characters escaped.
func manText(long string) string {
	if long == "" {
		return ""
	}
	var out []string
	inBlock := false
	for _, line := range strings.Split(long, "\n") {
		indented := strings.HasPrefix(line, "  ")
		switch {
		case indented:
			if !inBlock {
				out = append(out, "")
				inBlock = true
			}
			out = append(out, "    "+line)
			continue
		case inBlock && strings.TrimSpace(line) == "":
			// A blank line may separate two parts of one block; the next
			// line decides.
			out = append(out, "")
			continue
		}
		if inBlock {
			out = append(out, "")
			inBlock = false
		}
		if heading.MatchString(line) {
			out = append(out, "", "# "+line, "")
			continue
		}
		out = append(out, mdSpecial.Replace(line))
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
