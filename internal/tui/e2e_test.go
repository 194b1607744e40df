package tui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/testutil/testenv"
)

// TestEndToEndRevoke drives the real mwctl dash in a terminal (tmux)
// against a real mapwrightd: it opens the Keys page, revokes a key with x,
// a reason and y, checks with mwctl that the server has revoked it, and
// that the Audit page shows the key.revoke event. Without tmux it is
// skipped, except when CI=true, where it fails.
func TestEndToEndRevoke(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is needed for the end-to-end dashboard test and CI=true")
		}
		t.Skip("tmux not installed: end-to-end dashboard test skipped")
	}
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	root := testenv.ModuleRoot(t)
	bin := t.TempDir()
	// go test puts the toolchain that runs it first on PATH.
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("find the go command: %v", err)
	}
	build := exec.Command(goCmd, "build", "-o", bin, "./cmd/mwctl", "./cmd/mapwrightd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	mwctl, daemon := filepath.Join(bin, "mwctl"), filepath.Join(bin, "mapwrightd")

	// The admin socket lives in the data directory, and socket paths are
	// limited to about 100 bytes: a short directory of its own.
	data, err := os.MkdirTemp("", "mwe2e")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(data) })
	socket := "unix://" + filepath.Join(data, "admin.sock")
	env := append(os.Environ(), "MWCTL_SERVER="+socket, "MWCTL_TOKEN=", "MWCTL_TOKEN_FILE=", "MWCTL_CONTEXT=", "MWCTL_CONFIG="+filepath.Join(bin, "none.yaml"), "NO_COLOR=1")
	run := func(name string, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out, stderr.Bytes())
		}
		return out
	}

	run(daemon, "init", "--data-dir", data, "--admin-key-file", filepath.Join(bin, "admin.key"))
	serveLog, err := os.Create(filepath.Join(bin, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	serve := exec.Command(daemon, "serve", "--data-dir", data, "--addr", "127.0.0.1:"+freePort(t))
	serve.Env = env
	serve.Stdout, serve.Stderr = serveLog, serveLog
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = serve.Process.Signal(syscall.SIGTERM)
		_ = serve.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(serveLog.Name())
			t.Logf("mapwrightd log:\n%s", b)
		}
	})
	waitUntil(t, 10*time.Second, "mapwrightd to answer", func() bool {
		cmd := exec.Command(mwctl, "status")
		cmd.Env = env
		return cmd.Run() == nil
	})

	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(run(mwctl, "keys", "create", "--name", "e2e-victim", "-o", "json"), &created); err != nil || created.ID == "" {
		t.Fatalf("created key: %v %+v", err, created)
	}

	// A tmux server of this test's own, on a terminal of 100×30.
	sock := fmt.Sprintf("mwdash-%d", os.Getpid())
	tm := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(tmux, append([]string{"-L", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	tm("new-session", "-d", "-s", "dash", "-x", "100", "-y", "30",
		"-e", "MWCTL_SERVER="+socket, "-e", "NO_COLOR=1", "-e", "MWCTL_CONFIG="+filepath.Join(bin, "none.yaml"),
		"-e", "MWCTL_TOKEN=", "-e", "MWCTL_TOKEN_FILE=", "-e", "MWCTL_CONTEXT=",
		mwctl, "dash", "--log-file", filepath.Join(bin, "dash.log"))
	t.Cleanup(func() { _ = exec.Command(tmux, "-L", sock, "kill-server").Run() })
	screen := func() string { return tm("capture-pane", "-p", "-t", "dash") }
	waitFor := func(text string) {
		t.Helper()
		var last string
		waitUntil(t, 10*time.Second, fmt.Sprintf("the screen to show %q", text), func() bool {
			last = screen()
			return strings.Contains(last, text)
		}, func() { t.Logf("screen:\n%s", last) })
	}
	keys := func(k ...string) { tm(append([]string{"send-keys", "-t", "dash"}, k...)...) }
	text := func(s string) { tm("send-keys", "-t", "dash", "-l", s) }

	waitFor("● connected")
	keys("2")
	waitFor("e2e-victim")
	keys("/")
	text("e2e-victim")
	keys("Enter")
	waitFor(`filter "e2e-victim"`)
	keys("x")
	waitFor("Reason for revoking")
	text("end-to-end test")
	keys("Enter")
	waitFor("[y/N]")
	keys("y")
	waitFor(`Revoked key "e2e-victim"`)

	var got struct {
		State        string `json:"state"`
		RevokeReason string `json:"revoke_reason"`
	}
	if err := json.Unmarshal(run(mwctl, "keys", "get", created.ID, "-o", "json"), &got); err != nil {
		t.Fatal(err)
	}
	if got.State != "revoked" || got.RevokeReason != "end-to-end test" {
		t.Errorf("on the server the key is %q with reason %q", got.State, got.RevokeReason)
	}

	keys("3")
	waitFor("key.revoke")
	if s := screen(); !strings.Contains(s, created.ID[:12]) {
		t.Errorf("the Audit page does not show the revoked key:\n%s", s)
	}
	keys("q")
	waitUntil(t, 5*time.Second, "the dashboard to quit", func() bool {
		return exec.Command(tmux, "-L", sock, "has-session", "-t", "dash").Run() != nil
	})
}

// freePort returns a loopback TCP port free at the time of the call.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// waitUntil polls cond until it holds or timeout passes; onFail runs
// before the test fails.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool, onFail ...func()) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			for _, f := range onFail {
				f()
			}
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
