package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/pkg/apikey"
	"github.com/mapwright/mapwright/pkg/client/clienttest"
)

// runScanCmd runs `mwctl scan ARGS` like Run does, with the scan command
// added to the tree when the root does not have it yet, and the exit status
// mapped as Main maps it. It fails the test if any output holds one of
// tokens.
func (e *env) runScanCmd(tokens []string, args ...string) result {
	e.t.Helper()
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(e.stdin)
	ios.IsStdoutTTY, ios.IsStdinTTY, ios.IsStderrTTY = e.tty, e.tty, e.tty
	ios.ColorEnabled = e.color
	f := NewFactory(ios)
	f.Now = func() time.Time { return testNow }
	root := NewRootCmd(f)
	if c, _, err := root.Find([]string{"scan"}); err != nil || c == root {
		root.AddCommand(newCmdScan(f, nil))
	}
	root.SetArgs(append([]string{"scan"}, args...))
	ctx := context.Background()
	_, err := root.ExecuteContextC(ctx)
	code := exitOK
	if err != nil {
		if c, ok := exitStatusOf(err); ok {
			code = c
		} else {
			code = exitCode(ctx, err)
		}
		errOut.WriteString("mwctl: " + err.Error() + "\n")
	}
	r := result{code: code, stdout: out.String(), stderr: errOut.String(), commandLine: "scan " + strings.Join(args, " ")}
	for _, tok := range append(tokens, e.admin.Token) {
		if strings.Contains(r.stdout+r.stderr, tok[apikey.StartLen:]) {
			e.t.Errorf("mwctl %s printed a key:\n%s\n%s", r.commandLine, r.stdout, r.stderr)
		}
	}
	return r
}

// scanTree writes files holding the seeded keys: the web key (active), the
// revoked demo key, a key of no server (unknown) and a look-alike.
func scanTree(t *testing.T) (dir string, tokens []string) {
	t.Helper()
	web := clienttest.TokenFor("public", 2)
	old := clienttest.TokenFor("public", 4)
	foreign, err := apikey.Generate(apikey.Secret)
	if err != nil {
		t.Fatal(err)
	}
	// A look-alike: the web key with its last character changed.
	bad := web[:apikey.TokenLen-1] + "0"
	if apikey.Valid(bad) {
		bad = web[:apikey.TokenLen-1] + "1"
	}
	dir = t.TempDir()
	files := map[string]string{
		"site/index.html": "<script>\nL.key = '" + web + "';\n</script>\n",
		"old/demo.txt":    "demo key " + old + "\n",
		"ci/.env":         "ADMIN=" + foreign + "\n",
		"docs/example.md": "a key looks like " + bad + "\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, []string{web, old, foreign, bad}
}

func TestScanCommand(t *testing.T) {
	e := newEnv(t)
	seed(e)
	dir, tokens := scanTree(t)
	t.Chdir(dir)

	r := e.runScanCmd(tokens)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (an active and an unknown key)\n%s%s", r.code, r.stdout, r.stderr)
	}
	want := []string{
		"ci/.env:1:7: secret key " + apikey.Redact(tokens[2]) + " unknown",
		"old/demo.txt:1:10: public key " + apikey.Redact(tokens[1]) + " revoked (key_0004 \"old-demo\")",
		"site/index.html:2:10: public key " + apikey.Redact(tokens[0]) + " active (key_0002 \"web-prod\")",
	}
	if got := strings.Split(strings.TrimSpace(r.stdout), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, strings.Join(want, "\n"))
	}
	if !strings.Contains(r.stderr, "3 keys found (1 active, 1 revoked, 1 unknown) at 3 locations; 1 look-alike with a bad checksum ignored") ||
		!strings.Contains(r.stderr, "leaked keys found: 2 keys (1 active, 1 unknown)") {
		t.Errorf("stderr: %s", r.stderr)
	}
	for _, req := range e.fake.Requests() {
		for _, tok := range tokens {
			if strings.Contains(string(req.Body), tok) {
				t.Errorf("a key travelled to the admin API in %s %s", req.Method, req.Path)
			}
		}
	}

	t.Run("json", func(t *testing.T) {
		r := e.runScanCmd(tokens, "-o", "json", "--include-invalid")
		var doc struct {
			Version int `json:"version"`
			Keys    []struct {
				Hash, Key, Kind, Status, ID string
				Valid                       bool
				Locations                   []struct {
					Path         string
					Line, Column int
					Fingerprint  string
				}
			}
			InvalidCount int `json:"invalid_count"`
			Checked      bool
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		if r.code != 1 || doc.Version != 1 || len(doc.Keys) != 4 || doc.InvalidCount != 1 || !doc.Checked {
			t.Errorf("exit %d, doc %+v", r.code, doc)
		}
		if doc.Keys[3].Valid || doc.Keys[3].Status != "invalid" || doc.Keys[0].Hash != apikey.HashHex(tokens[2]) {
			t.Errorf("keys %+v", doc.Keys)
		}
	})
	t.Run("sarif", func(t *testing.T) {
		r := e.runScanCmd(tokens, "-o", "sarif")
		var doc struct {
			Version string
			Runs    []struct {
				Results []struct{ RuleID, Level string }
			}
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
			t.Fatalf("%v\n%s", err, r.stdout)
		}
		if doc.Version != "2.1.0" || len(doc.Runs) != 1 || len(doc.Runs[0].Results) != 3 {
			t.Errorf("sarif %+v", doc)
		}
	})
	t.Run("offline", func(t *testing.T) {
		before := len(e.fake.Requests())
		r := e.runScanCmd(tokens, "--offline", "old")
		if r.code != 1 || !strings.Contains(r.stdout, "unchecked") || len(e.fake.Requests()) != before {
			t.Errorf("exit %d, stdout %q, %d requests", r.code, r.stdout, len(e.fake.Requests())-before)
		}
	})
	t.Run("revoked only", func(t *testing.T) {
		if r := e.runScanCmd(tokens, "old"); r.code != 0 {
			t.Errorf("a revoked key alone: exit %d, want 0\n%s", r.code, r.stderr)
		}
		if r := e.runScanCmd(tokens, "old", "--fail-on", "revoked"); r.code != 1 {
			t.Errorf("--fail-on revoked: exit %d, want 1", r.code)
		}
	})
	t.Run("baseline", func(t *testing.T) {
		bl := filepath.Join(t.TempDir(), "baseline.json")
		if r := e.runScanCmd(tokens, "--write-baseline", bl); r.code != 1 {
			t.Errorf("write baseline: exit %d", r.code)
		}
		r := e.runScanCmd(tokens, "--baseline", bl)
		if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "no keys found") || !strings.Contains(r.stderr, "3 suppressed") {
			t.Errorf("with baseline: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("clean tree needs no server", func(t *testing.T) {
		t.Setenv("MWCTL_SERVER", "unix:///nonexistent/admin.sock")
		clean := t.TempDir()
		if err := os.WriteFile(filepath.Join(clean, "a.txt"), []byte("nothing here"), 0o644); err != nil {
			t.Fatal(err)
		}
		if r := e.runScanCmd(nil, clean); r.code != 0 {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
		if r := e.runScanCmd(tokens, "site"); r.code != 2 || !strings.Contains(r.stderr, "--offline") {
			t.Errorf("server unreachable: exit %d, want 2 with a hint: %s", r.code, r.stderr)
		}
	})
	t.Run("stdin", func(t *testing.T) {
		e.stdin = "x\n" + tokens[0] + "\n"
		defer func() { e.stdin = "" }()
		r := e.runScanCmd(tokens, "-")
		if r.code != 1 || !strings.HasPrefix(r.stdout, "stdin:2:1: public key") {
			t.Errorf("exit %d, stdout %q", r.code, r.stdout)
		}
	})
}

func TestScanRevoke(t *testing.T) {
	cases := []struct {
		name      string
		tty       bool
		answer    string
		args      []string
		wantCode  int
		wantState string
		wantErr   string
	}{
		{"yes flag", false, "", []string{"--revoke", "--yes"}, 1, "revoked", "Revoked key key_0002"},
		{"terminal yes", true, "y\n", []string{"--revoke"}, 1, "revoked", "Revoke 1 key(s)?"},
		{"terminal no", true, "n\n", []string{"--revoke"}, 1, "active", "Nothing revoked."},
		{"no terminal", false, "", []string{"--revoke"}, 2, "active", "pass --yes"},
		{"offline", false, "", []string{"--revoke", "--yes", "--offline"}, 2, "active", "--offline"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			seed(e)
			dir, tokens := scanTree(t)
			t.Chdir(dir)
			e.tty, e.stdin = tc.tty, tc.answer
			r := e.runScanCmd(tokens, tc.args...)
			if r.code != tc.wantCode || !strings.Contains(r.stderr, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, tc.wantCode, tc.wantErr)
			}
			k, _ := e.fake.Key("key_0002")
			if k.State != tc.wantState {
				t.Errorf("key state %q, want %q", k.State, tc.wantState)
			}
			if tc.wantState == "revoked" {
				if k.RevokeReason != "leaked: site/index.html:2:10" {
					t.Errorf("reason %q", k.RevokeReason)
				}
				// The other keys are untouched: one revoked before, one
				// unknown to the server.
				if old, _ := e.fake.Key("key_0004"); old.RevokeReason != "demo over" {
					t.Errorf("the already revoked key was revoked again: %q", old.RevokeReason)
				}
				e.tty = false
				r := e.runScanCmd(tokens, "site")
				if r.code != 0 || !strings.Contains(r.stdout, "revoked (key_0002") {
					t.Errorf("second scan: exit %d, stdout %q", r.code, r.stdout)
				}
			}
		})
	}
}

func TestScanUsage(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"bad format", []string{"-o", "table"}, "want text, json or sarif"},
		{"bad fail-on", []string{"--fail-on", "all"}, "--fail-on"},
		{"git and staged", []string{"--git", "--staged"}, "exclude each other"},
		{"two repositories", []string{"--git", "a", "b"}, "one repository"},
		{"negative depth", []string{"--max-archive-depth", "-1"}, "--max-archive-depth"},
		{"missing path", []string{filepath.Join(t.TempDir(), "nope")}, "no such file"},
		{"not a repository", []string{"--git", t.TempDir()}, "not a git repository"},
		{"bad baseline", []string{"--baseline", filepath.Join(t.TempDir(), "nope.json")}, "baseline"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.runScanCmd(nil, tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, tc.want)
			}
		})
	}
}

func TestScanOptionsCapture(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := NewFactory(ios)
	var got *scanOptions
	cmd := newCmdScan(f, func(_ context.Context, o *scanOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"a", "b", "--offline", "--include-invalid", "--baseline", "bl.json", "--write-baseline", "out.json",
		"--max-archive-depth", "3", "--follow-symlinks", "--fail-on", "revoked", "-o", "sarif"})
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf("%v", err) })
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.Paths, " ") != "a b" || !got.Offline || !got.IncludeInvalid || got.Baseline != "bl.json" ||
		got.WriteBaseline != "out.json" || got.MaxArchiveDepth != 3 || !got.FollowSymlinks || got.FailOn != "revoked" ||
		got.Format != "sarif" || got.Revoke || got.Yes || got.Git || got.Staged {
		t.Errorf("options = %+v", got)
	}
	cmd = newCmdScan(f, func(_ context.Context, o *scanOptions) error { got = o; return nil })
	cmd.SetArgs(nil)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(got.Paths) != 0 || got.MaxArchiveDepth != 2 || got.FailOn != "active" || got.Format != "text" {
		t.Errorf("defaults = %+v", got)
	}
}
