package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/pkg/client"
	"github.com/mapwright/mapwright/pkg/client/clienttest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testNow is the clock of every test: fixed, so outputs are stable.
var testNow = time.Date(2030, time.June, 1, 12, 0, 0, 0, time.UTC)

// env is one test's world: a fake admin API on a unix socket, a contexts
// file in a temporary directory, and buffered streams.
type env struct {
	t       *testing.T
	fake    *clienttest.Fake
	server  string
	admin   client.CreatedKey // the credential mwctl sends
	cfgPath string
	// tty sets the streams to a terminal; color turns colour on.
	tty, color bool
	// stdin is fed to the command.
	stdin string
	// secrets must never appear in any output: the credentials used.
	secrets []string
}

// useToken makes tok the credential of the following runs (MWCTL_TOKEN) and
// adds it to the secrets no output may contain.
func (e *env) useToken(tok string) {
	e.t.Setenv("MWCTL_TOKEN", tok)
	e.secrets = append(e.secrets, tok)
}

// newEnv starts a fake whose admin API requires the admin key, and points
// MWCTL_SERVER and MWCTL_TOKEN at it. Environment variables that could leak
// in from the developer's shell are cleared.
func newEnv(t *testing.T) *env {
	t.Helper()
	fake := clienttest.New(clienttest.Options{Now: func() time.Time { return testNow }})
	admin := fake.AddAdminKey("operator", "admin")
	server := fake.StartUnix(t)
	dir := t.TempDir()
	for _, kv := range globalEnv {
		t.Setenv(kv[1], "")
	}
	t.Setenv("MWCTL_CONFIG", "")
	t.Setenv("NO_COLOR", "")
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	t.Setenv("HOME", dir)
	t.Setenv("MWCTL_SERVER", server)
	t.Setenv("MWCTL_TOKEN", admin.Token)
	return &env{
		t: t, fake: fake, server: server, admin: admin,
		cfgPath: filepath.Join(dir, "config", "mwctl", "config.yaml"),
		secrets: []string{admin.Token},
	}
}

// result is one mwctl run.
type result struct {
	code        int
	stdout      string
	stderr      string
	commandLine string
}

// run executes mwctl with args and checks that the admin credential never
// appears in its output.
func (e *env) run(args ...string) result {
	e.t.Helper()
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(e.stdin)
	ios.IsStdoutTTY, ios.IsStdinTTY, ios.IsStderrTTY = e.tty, e.tty, e.tty
	ios.ColorEnabled = e.color
	f := NewFactory(ios)
	f.Now = func() time.Time { return testNow }
	code := Run(context.Background(), f, args)
	r := result{code: code, stdout: out.String(), stderr: errOut.String(), commandLine: strings.Join(args, " ")}
	for _, secret := range e.secrets {
		if secret != "" && strings.Contains(r.stdout+r.stderr, secret) {
			e.t.Errorf("mwctl %s printed a credential:\n%s\n%s", r.commandLine, r.stdout, r.stderr)
		}
	}
	return r
}

// mustRun runs and fails the test unless the exit code is 0.
func (e *env) mustRun(args ...string) result {
	e.t.Helper()
	r := e.run(args...)
	if r.code != 0 {
		e.t.Fatalf("mwctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", r.commandLine, r.code, r.stdout, r.stderr)
	}
	return r
}

// golden compares got with testdata/NAME.golden, rewriting it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test ./internal/cli -update to create it): %v", err)
	}
	if !bytes.Equal(want, []byte(got)) {
		t.Errorf("output differs from %s (run go test ./internal/cli -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
