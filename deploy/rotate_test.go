package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/pkg/apikey"
)

const rotateScript = "examples/ci/rotate-key.sh"

// scriptRun is the result of one run of the rotation script.
type scriptRun struct {
	code        int
	out, errOut string
}

// runRotateScript runs the script with sh, mwctl from PATH (this test
// binary, see TestMain) and the daemon's socket as the server.
func runRotateScript(t *testing.T, d *liveDaemon, dir string, env []string, args ...string) scriptRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", append([]string{repoFile(t, rotateScript)}, args...)...)
	cmd.Dir = dir
	home := t.TempDir()
	cmd.Env = append([]string{
		"PATH=" + mwctlShim(t) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"MWCTL_SERVER=unix://" + d.socket,
	}, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run %s: %v", rotateScript, err)
	}
	return scriptRun{code: code, out: out.String(), errOut: errOut.String()}
}

// mwctlJSON runs mwctl (in this process's binary) and decodes its JSON
// output.
func mwctlJSON(t *testing.T, d *liveDaemon, v any, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(mwctlShim(t), "mwctl"), args...)
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"MWCTL_SERVER=unix://"+d.socket)
	out, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			t.Fatalf("mwctl %s: %v\n%s", strings.Join(args, " "), err, exit.Stderr)
		}
		t.Fatalf("mwctl %s: %v", strings.Join(args, " "), err)
	}
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			t.Fatalf("mwctl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

type createdKey struct {
	ID    string `json:"id"`
	Token string `json:"key"`
}

// TestRotateKeyScript runs examples/ci/rotate-key.sh against a live daemon:
// a rotation hands over the new token in a private file and reports the
// lineage without printing the token, and each failure exits with mwctl's
// documented status.
func TestRotateKeyScript(t *testing.T) {
	d := startDaemon(t)
	var key createdKey
	mwctlJSON(t, d, &key, "keys", "create", "--name", "web", "--origin", "https://maps.example.com", "-o", "json")

	t.Run("rotates and hands over the token", func(t *testing.T) {
		dir := t.TempDir()
		r := runRotateScript(t, d, dir, []string{"GRACE=2h"}, key.ID, "tiles.token")
		if r.code != 0 {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.errOut)
		}
		fields := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(r.out), "\n") {
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("output line %q is not name=value", line)
			}
			fields[k] = v
		}
		if fields["replaces"] != key.ID {
			t.Errorf("replaces=%q, want %s", fields["replaces"], key.ID)
		}
		if fields["new_id"] == "" || fields["new_id"] == key.ID {
			t.Errorf("new_id=%q, want a new key's id", fields["new_id"])
		}
		if fields["token_file"] != "tiles.token" {
			t.Errorf("token_file=%q", fields["token_file"])
		}
		expires, err := time.Parse(time.RFC3339, fields["old_expires_at"])
		if err != nil {
			t.Errorf("old_expires_at=%q: %v", fields["old_expires_at"], err)
		} else if left := time.Until(expires); left < 90*time.Minute || left > 2*time.Hour+time.Minute {
			t.Errorf("the old key ends in %s, want the 2h grace", left)
		}

		path := filepath.Join(dir, "tiles.token")
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("token file mode %04o, want 0600", perm)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		token := strings.TrimSpace(string(data))
		if _, err := apikey.Parse(token); err != nil {
			t.Fatalf("the token file does not hold a key: %v", err)
		}
		if strings.Contains(r.out+r.errOut, token) {
			t.Error("the script printed the new token")
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 {
			t.Errorf("the script left %d entries in its directory, want the token file alone", len(entries))
		}

		var got struct {
			Replaces string `json:"replaces"`
			State    string `json:"state"`
		}
		mwctlJSON(t, d, &got, "keys", "get", fields["new_id"], "-o", "json")
		if got.Replaces != key.ID || got.State != "active" {
			t.Errorf("the server has the new key as %+v, want an active successor of %s", got, key.ID)
		}
	})

	var revoked createdKey
	mwctlJSON(t, d, &revoked, "keys", "create", "--name", "old", "--origin", "https://maps.example.com", "-o", "json")
	mwctlJSON(t, d, nil, "keys", "revoke", revoked.ID, "--reason", "test", "--yes", "-o", "json")

	failures := []struct {
		name string
		args []string
		env  []string
		code int
		say  string
	}{
		{"no argument", nil, nil, 2, "usage: rotate-key.sh"},
		{"a bad grace", []string{key.ID}, []string{"GRACE=soon"}, 2, "usage error"},
		{"an unknown key", []string{"key_01J9Z8Q4V6W2T0M3N5P7R9S1B2"}, nil, 3, "no key has the id"},
		{"a revoked key", []string{revoked.ID}, nil, 5, "conflict"},
		{"an unreachable server", []string{key.ID}, []string{"MWCTL_SERVER=unix://" + filepath.Join(t.TempDir(), "none.sock")}, 1, "failed"},
	}
	for _, tt := range failures {
		t.Run("exits "+tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r := runRotateScript(t, d, dir, tt.env, tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tt.code, r.out, r.errOut)
			}
			if !strings.Contains(r.errOut, tt.say) {
				t.Errorf("stderr does not say %q:\n%s", tt.say, r.errOut)
			}
			if r.out != "" {
				t.Errorf("stdout is not empty on failure: %q", r.out)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a failed run left %d entries behind", len(entries))
			}
		})
	}
}
