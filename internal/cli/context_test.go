package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/cli/contexts"
	"github.com/mapwright/mapwright/pkg/client/clienttest"
)

func TestContextLifecycle(t *testing.T) {
	e := newEnv(t)
	// The commands under test must not depend on the server settings of the
	// environment.
	t.Setenv("MWCTL_SERVER", "")
	t.Setenv("MWCTL_TOKEN", "")

	tokenFile := filepath.Join(t.TempDir(), "ci.key")
	if err := os.WriteFile(tokenFile, []byte(e.admin.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.mustRun("context", "add", "local", "--server", e.server, "--token-file", tokenFile)
	if !strings.Contains(r.stderr, "it is the current context") {
		t.Errorf("first context not made current: %q", r.stderr)
	}
	e.stdin = e.admin.Token + "\n"
	e.mustRun("context", "add", "prod", "--server", "https://tiles.example.com:9443/", "--token-stdin",
		"--fingerprint", "SHA256:"+strings.Repeat("AB", 32))
	e.stdin = ""

	fi, err := os.Stat(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("contexts file mode %04o, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(e.cfgPath)); di.Mode().Perm() != 0o700 {
		t.Errorf("contexts dir mode %04o, want 0700", di.Mode().Perm())
	}
	cfg, err := contexts.Load(e.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	prod, _ := cfg.Get("prod")
	if prod.Token != e.admin.Token || prod.Server != "https://tiles.example.com:9443" || prod.Fingerprint != strings.Repeat("ab", 32) {
		t.Errorf("stored prod = %+v", prod)
	}

	// The current context reaches the fake with the token from its file.
	st := e.mustRun("status", "-o", "json")
	if !strings.Contains(st.stdout, `"backend": "sqlite"`) {
		t.Errorf("status through the context: %s", st.stdout)
	}

	r = e.mustRun("context", "list")
	golden(t, "context_list.plain", strings.ReplaceAll(r.stdout, e.server, "unix:///SOCKET"))
	r = e.mustRun("context", "list", "-o", "json")
	views := decode[[]contextView](t, r.stdout)
	if len(views) != 2 || !views[0].Current || views[1].Token != "set" || views[0].Token != "file" {
		t.Errorf("json views = %+v", views)
	}

	e.mustRun("context", "use", "prod")
	if cfg, _ := contexts.Load(e.cfgPath); cfg.CurrentContext != "prod" {
		t.Errorf("current = %q", cfg.CurrentContext)
	}
	r = e.mustRun("context", "remove", "prod")
	if !strings.Contains(r.stderr, "no context is current now") {
		t.Errorf("remove: %q", r.stderr)
	}
	if cfg, _ := contexts.Load(e.cfgPath); len(cfg.Contexts) != 1 || cfg.CurrentContext != "" {
		t.Errorf("after remove: %+v", cfg)
	}
	if r := e.run("context", "remove", "prod"); r.code != exitNotFound {
		t.Errorf("removing twice: exit %d", r.code)
	}
}

func TestContextAddRefusesBadInput(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  string
	}{
		{"no server", []string{"x"}, "", "--server is required"},
		{"bad name", []string{"-x", "--server", "https://h"}, "", "unknown shorthand flag"},
		{"bad name chars", []string{"a/b", "--server", "https://h"}, "", "context name"},
		{"plain http", []string{"x", "--server", "http://h:1"}, "", "always TLS"},
		{"both token sources", []string{"x", "--server", "https://h", "--token-file", "f", "--token-stdin"}, "", "not both"},
		{"public key on stdin", []string{"x", "--server", "https://h", "--token-stdin"}, "mpw_pk_abc\n", "not a valid secret key"},
		{"no key on stdin", []string{"x", "--server", "https://h", "--token-stdin"}, "", "read the key from standard input"},
		{"bad fingerprint", []string{"x", "--server", "https://h", "--fingerprint", "abc"}, "", "64 hexadecimal digits"},
		{"fingerprint for a socket", []string{"x", "--server", "unix:///run/a.sock", "--fingerprint", strings.Repeat("a", 64)}, "", "not to a unix socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.stdin = tt.stdin
			r := e.run(append([]string{"context", "add"}, tt.args...)...)
			if r.code == 0 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want failure mentioning %q", r.code, r.stderr, tt.want)
			}
			if _, err := os.Stat(e.cfgPath); err == nil {
				t.Error("the contexts file was written")
			}
		})
	}
}

func TestContextListNeverShowsSecrets(t *testing.T) {
	e := newEnv(t)
	exp := testNow.Add(time.Hour)
	cfg := &contexts.File{CurrentContext: "a", Contexts: []contexts.Context{
		{Name: "a", Server: e.server, Token: e.admin.Token, Session: "mpw_session=SESSIONSECRET", SessionExpiresAt: &exp},
	}}
	if err := cfg.Save(e.cfgPath); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"table", "json", "yaml", "jsonl"} {
		r := e.mustRun("context", "list", "-o", format)
		if strings.Contains(r.stdout, "SESSIONSECRET") || !strings.Contains(r.stdout, "active") {
			t.Errorf("-o %s:\n%s", format, r.stdout)
		}
	}
}

func TestLoginLogout(t *testing.T) {
	e := newEnv(t)
	e.fake.RequireTOTP(e.admin.Token, "246810")
	t.Setenv("MWCTL_SERVER", "")
	t.Setenv("MWCTL_TOKEN", "")
	e.stdin = e.admin.Token + "\n"
	e.mustRun("context", "add", "local", "--server", e.server, "--token-stdin")
	e.stdin = ""

	r := e.run("login")
	if r.code != exitNotAllowed || !strings.Contains(r.stderr, "pass --totp CODE") {
		t.Errorf("login without TOTP: exit %d, %q", r.code, r.stderr)
	}
	r = e.run("login", "--totp", "000000")
	if r.code != exitNotAllowed {
		t.Errorf("login with a bad code: exit %d", r.code)
	}
	r = e.mustRun("login", "--totp", "246810")
	if !strings.HasPrefix(r.stdout, "Logged in to local (") || !strings.Contains(r.stdout, "ends in 12 hours, or after 30 minutes idle") {
		t.Errorf("login output = %q", r.stdout)
	}
	cfg, _ := contexts.Load(e.cfgPath)
	local, _ := cfg.Get("local")
	if !strings.HasPrefix(local.Session, clienttest.SessionCookieName+"=") || local.SessionExpiresAt == nil {
		t.Fatalf("session not stored: %+v", local)
	}
	if strings.Contains(r.stdout+r.stderr, strings.TrimPrefix(local.Session, clienttest.SessionCookieName+"=")) {
		t.Error("login printed the session cookie")
	}
	if fi, _ := os.Stat(e.cfgPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o after login", fi.Mode().Perm())
	}

	// The next command uses the session, not the key.
	before := len(e.fake.Requests())
	e.mustRun("keys", "list", "-o", "json")
	req := e.fake.Requests()[before]
	if req.Header.Get("Authorization") != "" || !strings.HasPrefix(req.Header.Get("Cookie"), clienttest.SessionCookieName+"=") {
		t.Errorf("request after login sent Authorization %q, Cookie %q", req.Header.Get("Authorization"), req.Header.Get("Cookie"))
	}

	r = e.mustRun("logout")
	if !strings.Contains(r.stderr, "Logged out of local.") || e.fake.Sessions() != 0 {
		t.Errorf("logout: %q, %d sessions left", r.stderr, e.fake.Sessions())
	}
	cfg, _ = contexts.Load(e.cfgPath)
	if local, _ := cfg.Get("local"); local.Session != "" || local.SessionExpiresAt != nil {
		t.Errorf("session kept after logout: %+v", local)
	}
	if r := e.mustRun("logout"); !strings.Contains(r.stderr, "Not logged in") {
		t.Errorf("second logout: %q", r.stderr)
	}
}

func TestLoginNeedsAContext(t *testing.T) {
	e := newEnv(t)
	r := e.run("login", "-o", "json")
	if r.code != exitUsage || !strings.Contains(r.stderr, "login keeps the session in a context") {
		t.Errorf("exit %d, %q", r.code, r.stderr)
	}
}

func TestExpiredSessionFallsBackToTheKey(t *testing.T) {
	e := newEnv(t)
	past := testNow.Add(-time.Minute)
	cfg := &contexts.File{CurrentContext: "a", Contexts: []contexts.Context{
		{Name: "a", Server: e.server, Token: e.admin.Token, Session: "mpw_session=old", SessionExpiresAt: &past},
	}}
	if err := cfg.Save(e.cfgPath); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MWCTL_SERVER", "")
	t.Setenv("MWCTL_TOKEN", "")
	e.mustRun("status")
	req := e.fake.Requests()[len(e.fake.Requests())-1]
	if req.Header.Get("Cookie") != "" || req.Header.Get("Authorization") != "Bearer "+e.admin.Token {
		t.Errorf("sent Cookie %q, Authorization set: %v", req.Header.Get("Cookie"), req.Header.Get("Authorization") != "")
	}
}

func TestInsecureContextsFileWarns(t *testing.T) {
	e := newEnv(t)
	cfg := &contexts.File{Contexts: []contexts.Context{{Name: "a", Server: e.server}}}
	if err := cfg.Save(e.cfgPath); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(e.cfgPath, 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.mustRun("context", "list")
	if !strings.Contains(r.stderr, "mwctl: warning:") || !strings.Contains(r.stderr, "chmod 600") {
		t.Errorf("no warning: %q", r.stderr)
	}
}
