package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/cli/iostreams"
)

// TestDash runs the dashboard command on a fake server with q typed as
// the first key, and its refusals.
func TestDash(t *testing.T) {
	cases := []struct {
		name     string
		tty      bool
		args     []string
		server   string
		code     int
		stdout   []string
		stderr   string
		logLines []string
	}{
		{
			// Without a real terminal there is no size to draw in; the
			// program runs on the alternate screen and leaves it.
			name: "runs and quits on q", tty: true, args: []string{"dash"},
			code: 0, stdout: []string{"\x1b[?1049h", "\x1b[?1049l"},
		},
		{
			name: "logs to the file given", tty: true, args: []string{"dash", "--log-file", "LOG"},
			code: 0, logLines: []string{"dashboard started", "dashboard stopped"},
		},
		{
			name: "not a terminal", tty: false, args: []string{"dash"},
			code: 2, stderr: "mwctl dash needs a terminal",
		},
		{
			name: "interval too short", tty: true, args: []string{"dash", "--interval", "100ms"},
			code: 2, stderr: "--interval 100ms: the shortest is 500ms",
		},
		{
			name: "server unreachable fails at once", tty: true, args: []string{"dash"}, server: "unix:///nonexistent/admin.sock",
			code: 1, stderr: "connect to admin API",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.tty = tc.tty
			e.stdin = "q"
			if tc.server != "" {
				t.Setenv("MWCTL_SERVER", tc.server)
			}
			logPath := filepath.Join(t.TempDir(), "dash.log")
			args := make([]string, len(tc.args))
			for i, a := range tc.args {
				args[i] = strings.ReplaceAll(a, "LOG", logPath)
			}
			r := e.run(args...)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstderr: %s", r.code, tc.code, r.stderr)
			}
			for _, w := range tc.stdout {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("the screen lacks %q", w)
				}
			}
			if tc.stderr != "" && !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("stderr = %q, want %q", r.stderr, tc.stderr)
			}
			if tc.code == 0 && r.stderr != "" {
				t.Errorf("the dashboard wrote to stderr: %q", r.stderr)
			}
			if len(tc.logLines) > 0 {
				b, err := os.ReadFile(logPath)
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range tc.logLines {
					if !strings.Contains(string(b), w) {
						t.Errorf("log lacks %q:\n%s", w, b)
					}
				}
				if strings.Contains(string(b), e.admin.Token) {
					t.Error("the log holds the credential")
				}
				if fi, err := os.Stat(logPath); err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("log file mode %v, %v", fi.Mode().Perm(), err)
				}
			}
		})
	}
}

// TestDashOptions checks that the flags reach the options.
func TestDashOptions(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	var got *dashOptions
	f := NewFactory(ios)
	cmd := newCmdDash(f, func(_ context.Context, o *dashOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--interval", "5s", "--log-file", "dash.log"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got.Interval != 5*time.Second || got.LogFile != "dash.log" {
		t.Errorf("options = %+v", got)
	}
}
