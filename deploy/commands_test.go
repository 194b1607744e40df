package deploy

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/cli"
	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/config"
	"github.com/mapwright/mapwright/internal/daemon"
)

// kitDocs are the documents whose commands, settings and environment
// variables must be real.
var kitDocs = []string{
	"docs/operations.md",
	"SECURITY.md",
	"README.md",
	"examples/ci/rotate-key.sh",
	"examples/mapwrightd-production.yaml",
	"deploy/systemd/mapwrightd.service",
	"deploy/prometheus/prometheus.yml",
	"deploy/prometheus/alerts.yml",
}

func mwctlRoot() *cobra.Command {
	ios, _, _, _ := iostreams.Test()
	return cli.NewRootCmd(cli.NewFactory(ios))
}

func mapwrightdRoot() *cobra.Command {
	var b bytes.Buffer
	return daemon.NewRootCmd(daemon.Streams{In: strings.NewReader(""), Out: &b, Err: &b})
}

// invocation is one run of mwctl or mapwrightd found in a text.
type invocation struct {
	line    int
	program string // "mwctl" or "mapwrightd"
	args    []string
}

// shellWords splits one logical shell line into words and operators.
// Quotes are removed from words; operators (| || && ; & ( ) $( and
// redirections) are returned as they are, each its own element, prefixed
// by "\x00" so that no word can be mistaken for one.
func shellWords(line string) []string {
	var out []string
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			out = append(out, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	op := func(s string) { flush(); out = append(out, "\x00"+s) }
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '#' && !inWord:
			return out
		case c == ' ' || c == '\t':
			flush()
		case c == '\'':
			inWord = true
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				cur.WriteString(line[i+1:])
				i = len(line)
				break
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			inWord = true
			for i++; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) {
					i++
				}
				cur.WriteByte(line[i])
			}
		case c == '$' && i+1 < len(line) && line[i+1] == '(':
			op("$(")
			i++
		case strings.IndexByte("|&;()<>`", c) >= 0:
			// A digit right before a redirection is its file descriptor.
			if (c == '>' || c == '<') && inWord && cur.Len() == 1 && cur.String()[0] >= '0' && cur.String()[0] <= '9' {
				cur.Reset()
				inWord = false
			}
			j := i + 1
			for j < len(line) && strings.IndexByte("|&>", line[j]) >= 0 && (line[j] == c || c == '>' && line[j] == '&') {
				j++
			}
			op(line[i:j])
			i = j - 1
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

var assignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// invocations finds every run of mwctl or mapwrightd in shell text: a word
// in command position that is "mwctl", "mapwrightd", a path ending in one
// of them, or the rotation script's "$mwctl". Lines ending in a backslash
// continue on the next.
func invocations(text string) []invocation {
	var out []invocation
	lines := strings.Split(text, "\n")
	for n := 0; n < len(lines); n++ {
		start := n
		line := lines[n]
		for strings.HasSuffix(line, "\\") && n+1 < len(lines) {
			n++
			line = strings.TrimSuffix(line, "\\") + " " + lines[n]
		}
		words := shellWords(line)
		cmdPos := true
		for i := 0; i < len(words); i++ {
			w := words[i]
			if strings.HasPrefix(w, "\x00") {
				o := w[1:]
				if strings.ContainsAny(o, "<>") {
					i++ // the redirection's target
					continue
				}
				cmdPos = true
				continue
			}
			if !cmdPos {
				continue
			}
			switch {
			case assignment.MatchString(w), slices.Contains([]string{"sudo", "exec", "env", "time", "!", "then", "do", "else", "if", "while", "until"}, w):
				continue
			}
			cmdPos = false
			program := ""
			switch {
			case w == "mwctl" || strings.HasSuffix(w, "/mwctl") || w == "$mwctl":
				program = "mwctl"
			case w == "mapwrightd" || strings.HasSuffix(w, "/mapwrightd"):
				program = "mapwrightd"
			default:
				continue
			}
			inv := invocation{line: start + 1, program: program}
			for i++; i < len(words) && !strings.HasPrefix(words[i], "\x00"); i++ {
				inv.args = append(inv.args, words[i])
			}
			i--
			out = append(out, inv)
		}
	}
	return out
}

// lookupFlag finds a flag of cmd, its own or inherited, by long name or
// shorthand.
func lookupFlag(cmd *cobra.Command, name string, short bool) *pflag.Flag {
	cmd.InitDefaultHelpFlag()
	cmd.InitDefaultVersionFlag()
	for _, fs := range []*pflag.FlagSet{cmd.Flags(), cmd.InheritedFlags()} {
		var f *pflag.Flag
		if short {
			f = fs.ShorthandLookup(name)
		} else {
			f = fs.Lookup(name)
		}
		if f != nil {
			return f
		}
	}
	return nil
}

// checkArgs walks args down root's command tree and checks every flag
// exists on the command reached, and that the command runs (is not a mere
// group).
//
// With strict false (a command named inline in prose, such as "mwctl keys
// rotate"), missing arguments are not an error.
func checkArgs(root *cobra.Command, args []string, strict bool) error {
	cmd := root
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			positional = append(positional, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(a, "--"):
			name, _, hasValue := strings.Cut(a[2:], "=")
			f := lookupFlag(cmd, name, false)
			if f == nil {
				return fmt.Errorf("%s has no flag --%s", cmd.CommandPath(), name)
			}
			if !hasValue && f.NoOptDefVal == "" {
				i++
			}
		case strings.HasPrefix(a, "-") && len(a) > 1:
			f := lookupFlag(cmd, a[1:2], true)
			if f == nil {
				return fmt.Errorf("%s has no flag %s", cmd.CommandPath(), a[:2])
			}
			if len(a) == 2 && f.NoOptDefVal == "" {
				i++
			}
		default:
			if len(positional) == 0 {
				if sub := findSub(cmd, a); sub != nil {
					cmd = sub
					continue
				}
			}
			positional = append(positional, a)
		}
	}
	if asksHelp(args) {
		return nil
	}
	if !cmd.Runnable() || cmd.HasAvailableSubCommands() {
		return fmt.Errorf("%s is not a command that runs, only a group", cmd.CommandPath())
	}
	if strict && cmd.Args != nil {
		if err := cmd.Args(cmd, positional); err != nil {
			return fmt.Errorf("%s %q: %w", cmd.CommandPath(), positional, err)
		}
	}
	return nil
}

func asksHelp(args []string) bool {
	return slices.ContainsFunc(args, func(a string) bool {
		return a == "--help" || a == "-h" || a == "--version" || a == "-v"
	})
}

func findSub(cmd *cobra.Command, name string) *cobra.Command {
	for _, c := range cmd.Commands() {
		if c.Name() == name || slices.Contains(c.Aliases, name) {
			return c
		}
	}
	return nil
}

// checkCommands fails the test for every mwctl or mapwrightd command line
// in text that names an unknown command or flag (or, when strict, lacks
// its arguments).
func checkCommands(t *testing.T, source, text string, strict bool) int {
	t.Helper()
	roots := map[string]*cobra.Command{"mwctl": mwctlRoot(), "mapwrightd": mapwrightdRoot()}
	n := 0
	for _, inv := range invocations(text) {
		if len(inv.args) == 0 {
			continue // the program's name in prose, not a run
		}
		n++
		if err := checkArgs(roots[inv.program], inv.args, strict); err != nil {
			t.Errorf("%s:%d: %s %s: %v", source, inv.line, inv.program, strings.Join(inv.args, " "), err)
		}
	}
	return n
}

// codeOf returns the shell text of a document, keeping line numbers: code
// holds complete command lines (a script's or a unit's own lines, their
// comment lines indented as examples, "#   mwctl keys create ...", and the
// fenced blocks of Markdown), inline the `code spans` of prose, one per
// line.
func codeOf(name, text string) (code, inline string) {
	var c, in strings.Builder
	spans := func(line string) {
		parts := strings.Split(line, "`")
		for i := 1; i < len(parts); i += 2 {
			in.WriteString(parts[i])
			in.WriteString(" ;")
		}
	}
	inFence := false
	markdown := strings.HasSuffix(name, ".md")
	for _, line := range strings.Split(text, "\n") {
		switch {
		case markdown && strings.HasPrefix(strings.TrimSpace(line), "```"):
			inFence = !inFence
		case markdown && inFence:
			c.WriteString(line)
		case markdown:
			spans(line)
		case strings.HasPrefix(strings.TrimSpace(line), "#"):
			body := strings.TrimPrefix(strings.TrimSpace(line), "#")
			if strings.HasPrefix(body, "  ") || strings.HasPrefix(body, "\t") {
				c.WriteString(body)
			} else {
				spans(body)
			}
		default:
			c.WriteString(line)
		}
		c.WriteByte('\n')
		in.WriteByte('\n')
	}
	return c.String(), in.String()
}

// TestKitCommandsAreReal checks every mwctl and mapwrightd command line of
// the deployment kit and its documents against the real command trees.
func TestKitCommandsAreReal(t *testing.T) {
	total := 0
	for _, name := range kitDocs {
		code, inline := codeOf(name, readRepoFile(t, name))
		total += checkCommands(t, name, code, true)
		total += checkCommands(t, name, inline, false)
	}
	// The operations guide alone runs dozens; a count this low means the
	// scanner has stopped finding them.
	if total < 30 {
		t.Errorf("found only %d command lines in the kit's documents", total)
	}
}

func TestInvocations(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"plain", "mwctl keys list --state active", []string{"mwctl keys list --state active"}},
		{"env, sudo and redirection", "sudo MWCTL_SERVER=x mwctl status -o json > s.json 2>&1", []string{"mwctl status -o json"}},
		{"pipe and continuation", "mapwrightd check-config \\\n  --config c.yaml | grep ok", []string{"mapwrightd check-config --config c.yaml"}},
		{"quoted variable", `"$mwctl" keys rotate "$key_id" --grace "$grace"`, []string{"mwctl keys rotate $key_id --grace $grace"}},
		{"path and substitution", `id=$(/usr/local/bin/mwctl keys create --name 'a b' -q)`, []string{"mwctl keys create --name a b -q"}},
		{"not in command position", "systemctl reload mapwrightd; journalctl -u mapwrightd -f", nil},
		{"comment", "echo hi # mwctl nope", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, inv := range invocations(tt.text) {
				got = append(got, strings.Join(append([]string{inv.program}, inv.args...), " "))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("invocations = %q, want %q", got, tt.want)
			}
		})
	}

	bad := []struct{ name, line string }{
		{"unknown flag", "mwctl keys rotate key_1 --grace-period 2h"},
		{"unknown command", "mwctl keys renew key_1"},
		{"group only", "mwctl backup"},
		{"missing argument", "mwctl keys rotate --grace 2h"},
		{"daemon flag", "mapwrightd serve --listen :8443"},
	}
	for _, tt := range bad {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			inv := invocations(tt.line)
			if len(inv) != 1 {
				t.Fatalf("found %d invocations", len(inv))
			}
			roots := map[string]*cobra.Command{"mwctl": mwctlRoot(), "mapwrightd": mapwrightdRoot()}
			if err := checkArgs(roots[inv[0].program], inv[0].args, true); err == nil {
				t.Errorf("%q passed the check", tt.line)
			}
		})
	}
}

var (
	mapwrightEnv = regexp.MustCompile(`\bMAPWRIGHT_[A-Z0-9_]*[A-Z0-9]\b`)
	mwctlEnv     = regexp.MustCompile(`\bMWCTL_[A-Z0-9_]*[A-Z0-9]\b`)
	// settingLike matches a dotted config key; audit actions and the data
	// directory's file names look the same and are accepted as well.
	settingLike = regexp.MustCompile(`\b(?:tiles|listen|admin|rate_limit|audit|keys|log|server|backup)\.[a-z_]+\b`)
)

// checkEnvNames fails for every MAPWRIGHT_* or MWCTL_* name in text that
// neither mapwrightd's configuration nor mwctl's help knows.
func checkEnvNames(t *testing.T, source, text string) {
	t.Helper()
	known := map[string]bool{config.ConfigEnv: true, "MAPWRIGHT_TEST_POSTGRES": true}
	for _, k := range config.Keys() {
		known[config.EnvName(k)] = true
	}
	var help strings.Builder
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		help.WriteString(c.Long)
		help.WriteString(c.Example)
		c.Flags().VisitAll(func(f *pflag.Flag) { help.WriteString(f.Usage + "\n") })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { help.WriteString(f.Usage + "\n") })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(mwctlRoot())
	for _, name := range mwctlEnv.FindAllString(help.String(), -1) {
		known[name] = true
	}
	for _, re := range []*regexp.Regexp{mapwrightEnv, mwctlEnv} {
		for _, name := range re.FindAllString(text, -1) {
			if !known[name] {
				t.Errorf("%s names %s, which no Mapwright program reads", source, name)
			}
		}
	}
}

// fileExtensions end names that are files, not settings.
var fileExtensions = map[string]bool{
	"key": true, "sock": true, "pem": true, "tar": true, "token": true, "json": true,
	"yaml": true, "yml": true, "env": true, "txt": true, "db": true, "mwbak": true,
}

// checkSettings fails for every dotted setting in text that is no config
// key, audit action or data-directory file.
func checkSettings(t *testing.T, source, text string) {
	t.Helper()
	known := map[string]bool{}
	for _, k := range config.Keys() {
		known[k] = true
	}
	for _, a := range audit.Actions() {
		known[a] = true
	}
	for _, loc := range settingLike.FindAllStringIndex(text, -1) {
		word := text[loc[0]:loc[1]]
		if loc[1] < len(text) && text[loc[1]] == '.' && loc[1]+1 < len(text) && isIdentChar(text[loc[1]+1]) {
			continue // a host name such as tiles.example.com
		}
		if loc[0] > 0 && strings.IndexByte("/-_.", text[loc[0]-1]) >= 0 {
			continue // part of a path or a longer name
		}
		if _, ext, _ := strings.Cut(word, "."); fileExtensions[ext] {
			continue // a file name such as audit.key or tiles.token
		}
		if !known[word] {
			t.Errorf("%s names %s, which is no setting of mapwrightd", source, word)
		}
	}
}

// TestKitNamesAreReal checks the environment variables and settings the
// kit's documents name.
func TestKitNamesAreReal(t *testing.T) {
	for _, name := range kitDocs {
		text := readRepoFile(t, name)
		checkEnvNames(t, name, text)
		if name != "README.md" {
			checkSettings(t, name, text)
		}
	}
}
