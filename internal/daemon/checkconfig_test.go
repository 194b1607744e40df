package daemon

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// balancerVariant turns the production example into its "TLS ends at the
// balancer" variant as an operator would: drop the active listen block and
// uncomment the commented one.
func balancerVariant(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "mapwrightd-production.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	state := ""
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "# --- variant A"):
			state = "A"
		case strings.HasPrefix(line, "# --- variant B"):
			state = "B"
		case strings.HasPrefix(line, "# --- end of variant"):
			state = ""
		case state == "B":
			if rest, ok := strings.CutPrefix(line, "# "); ok && (strings.HasPrefix(rest, "listen:") || strings.HasPrefix(rest, "  ")) {
				out = append(out, rest)
			}
		case state == "":
			out = append(out, line)
		}
	}
	text := strings.Join(out, "\n")
	if !strings.Contains(text, "\nlisten:\n") || !strings.Contains(text, "trusted_proxies:") || !strings.Contains(text, "public_url:") {
		t.Fatal("the production example's balancer variant has lost its listen block, trusted_proxies or public_url")
	}
	path := filepath.Join(t.TempDir(), "mapwrightd.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCheckConfigBalancerVariant runs check-config on the production
// example's balancer variant, as the operator guide says to, and on broken
// forms of its trusted_proxies and public_url.
func TestCheckConfigBalancerVariant(t *testing.T) {
	const password = "s3cret-pw"
	tests := []struct {
		name      string
		env       []string
		args      []string
		wantCode  int
		wantField string // named in the error when wantCode is not 0
	}{
		{name: "as shipped", wantCode: exitOK},
		{name: "another balancer added by flag", args: []string{"--trusted-proxy", "10.0.1.0/28", "--trusted-proxy", "fd00:1::/64"}, wantCode: exitOK},
		{name: "public url over plain http", env: []string{"MAPWRIGHT_LISTEN_PUBLIC_URL=http://tiles.example.com"},
			wantCode: exitUsage, wantField: "listen.public_url"},
		{name: "public url with a query", args: []string{"--public-url", "https://tiles.example.com/?v=1"},
			wantCode: exitUsage, wantField: "listen.public_url"},
		{name: "balancer named by host name", args: []string{"--trusted-proxy", "lb.internal"},
			wantCode: exitUsage, wantField: "listen.trusted_proxies[0]"},
		{name: "every address trusted", env: []string{"MAPWRIGHT_LISTEN_TRUSTED_PROXIES=10.0.1.0/28,0.0.0.0/0"},
			wantCode: exitUsage, wantField: "listen.trusted_proxies[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			t.Setenv("HOME", home)
			t.Setenv("XDG_DATA_HOME", "")
			t.Setenv("MAPWRIGHT_DATABASE_URL", "postgres://mapwright:"+password+"@db.internal:5432/mapwright?sslmode=verify-full")
			for _, kv := range tt.env {
				k, v, _ := strings.Cut(kv, "=")
				t.Setenv(k, v)
			}
			var out, errOut bytes.Buffer
			args := append([]string{"check-config", "--config", balancerVariant(t)}, tt.args...)
			code := Run(context.Background(), args, Streams{Out: &out, Err: &errOut})
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, tt.wantCode, out.String(), errOut.String())
			}
			if tt.wantCode == exitOK && !strings.Contains(out.String(), "configuration ok") {
				t.Errorf("stdout %q, want the ok line", out.String())
			}
			if tt.wantField != "" && !strings.Contains(errOut.String(), tt.wantField+":") {
				t.Errorf("stderr %q does not name %s", errOut.String(), tt.wantField)
			}
			if strings.Contains(out.String()+errOut.String(), password) {
				t.Error("check-config printed the database password")
			}
		})
	}
}
