package cli

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/mapwright/mapwright/internal/cli/contexts"
	"github.com/mapwright/mapwright/pkg/client/clienttest"
)

func TestResolveTarget(t *testing.T) {
	tokA := clienttest.TokenFor("secret", 1)
	tokB := clienttest.TokenFor("secret", 2)
	tokC := clienttest.TokenFor("secret", 3)
	fileC := filepath.Join(t.TempDir(), "c.key")
	if err := os.WriteFile(fileC, []byte("  "+tokC+"\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	later, earlier := testNow.Add(time.Hour), testNow.Add(-time.Hour)
	cfg := &contexts.File{CurrentContext: "prod", Contexts: []contexts.Context{
		{Name: "prod", Server: "https://prod.example.com:9443", Token: tokA, Fingerprint: "aa", Session: "s=1", SessionExpiresAt: &later},
		{Name: "staging", Server: "https://staging.example.com", TokenFile: fileC, CACert: "/etc/ca.pem", Session: "s=2", SessionExpiresAt: &earlier},
	}}
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	tests := []struct {
		name string
		g    Globals
		cfg  *contexts.File
		env  map[string]string
		want Target
	}{
		{
			name: "nothing set: the default socket under XDG_DATA_HOME",
			cfg:  &contexts.File{}, env: map[string]string{"XDG_DATA_HOME": "/xdg/data", "HOME": "/home/u"},
			want: Target{Server: "unix:///xdg/data/mapwright/admin.sock", DefaultSocket: true},
		},
		{
			name: "nothing set, no XDG_DATA_HOME: under HOME",
			cfg:  &contexts.File{}, env: map[string]string{"HOME": "/home/u"},
			want: Target{Server: "unix:///home/u/.local/share/mapwright/admin.sock", DefaultSocket: true},
		},
		{
			name: "the current context with its stored token and live session",
			cfg:  cfg,
			want: Target{Server: "https://prod.example.com:9443", ContextName: "prod", Token: tokA, Session: "s=1", Fingerprint: "aa"},
		},
		{
			name: "--context picks another; its expired session is dropped; token from its file",
			g:    Globals{Context: "staging"}, cfg: cfg,
			want: Target{Server: "https://staging.example.com", ContextName: "staging", Token: tokC, CACert: "/etc/ca.pem"},
		},
		{
			name: "an explicit token wins over the context's",
			g:    Globals{Token: tokB}, cfg: cfg,
			want: Target{Server: "https://prod.example.com:9443", ContextName: "prod", Token: tokB, ExplicitToken: true, Session: "s=1", Fingerprint: "aa"},
		},
		{
			name: "--server elsewhere drops the context's credentials",
			g:    Globals{Server: "https://evil.example.com"}, cfg: cfg,
			want: Target{Server: "https://evil.example.com"},
		},
		{
			name: "--server equal to the context's keeps them",
			g:    Globals{Server: "https://prod.example.com:9443/"}, cfg: cfg,
			want: Target{Server: "https://prod.example.com:9443/", ContextName: "prod", Token: tokA, Session: "s=1", Fingerprint: "aa"},
		},
		{
			name: "flags override the context's TLS settings",
			g:    Globals{CACert: "/my/ca.pem", Fingerprint: "bb", TokenFile: fileC}, cfg: cfg,
			want: Target{Server: "https://prod.example.com:9443", ContextName: "prod", Token: tokC, ExplicitToken: true, Session: "s=1", CACert: "/my/ca.pem", Fingerprint: "bb"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolveTarget(tt.g, tt.cfg, testNow, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if *got != tt.want {
				t.Errorf("target =\n%+v\nwant\n%+v", *got, tt.want)
			}
		})
	}
	if _, err := resolveTarget(Globals{Context: "nope"}, cfg, testNow, env(nil)); !errors.Is(err, contexts.ErrNotFound) {
		t.Errorf("unknown context: err = %v", err)
	}
	if _, err := resolveTarget(Globals{TokenFile: filepath.Join(t.TempDir(), "missing")}, cfg, testNow, env(nil)); err == nil {
		t.Error("a missing token file was accepted")
	}
}

func TestLoadGlobalsPrecedence(t *testing.T) {
	for _, kv := range globalEnv {
		t.Setenv(kv[1], "")
	}
	t.Setenv("MWCTL_SERVER", "https://from-env.example.com")
	t.Setenv("MWCTL_CONTEXT", "envctx")
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("server", "", "")
	fs.String("token", "", "")
	fs.String("token-file", "", "")
	fs.String("ca-cert", "", "")
	fs.String("fingerprint", "", "")
	fs.String("context", "", "")
	fs.Bool("no-color", false, "")
	if err := fs.Parse([]string{"--context", "flagctx", "--no-color"}); err != nil {
		t.Fatal(err)
	}
	g, err := loadGlobals(fs)
	if err != nil {
		t.Fatal(err)
	}
	want := Globals{Server: "https://from-env.example.com", Context: "flagctx", NoColor: true}
	if g != want {
		t.Errorf("globals = %+v, want %+v", g, want)
	}
}

func TestCredentialsStayWithTheirServer(t *testing.T) {
	e := newEnv(t)
	other := clienttest.New(clienttest.Options{})
	otherAddr := other.StartUnix(t)
	cfg := &contexts.File{CurrentContext: "a", Contexts: []contexts.Context{{Name: "a", Server: e.server, Token: e.admin.Token}}}
	if err := cfg.Save(e.cfgPath); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MWCTL_TOKEN", "")
	t.Setenv("MWCTL_SERVER", "")
	e.mustRun("--server", otherAddr, "status")
	for _, r := range other.Requests() {
		if r.Header.Get("Authorization") != "" || r.Header.Get("Cookie") != "" {
			t.Errorf("the context's credentials went to another server: %s %s", r.Method, r.Path)
		}
	}
}
