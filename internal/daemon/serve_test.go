package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/demo"
	"github.com/mapwright/mapwright/internal/testutil/testenv"
	"github.com/mapwright/mapwright/pkg/client"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServe runs "mapwrightd serve" with args in-process, its output in
// logs, until the test ends; then it stops the daemon and, with checkExit,
// fails the test unless it exited 0. The channel yields the exit code of a
// daemon that stopped by itself.
func startServe(t *testing.T, logs *testenv.Buffer, checkExit bool, args ...string) <-chan int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, append([]string{"serve"}, args...), Streams{Out: logs, Err: logs})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if checkExit && code != 0 {
				t.Errorf("serve exited %d\n%s", code, logs.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	})
	return done
}

// waitReady waits until the admin API of the daemon started by startServe
// says ready, failing the test if the daemon exits or takes too long.
func waitReady(t *testing.T, admin *client.Client, done <-chan int, logs *testenv.Buffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for admin.Ready(context.Background()) != nil {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d:\n%s", code, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSIGHUPReloadsTilesets runs serve in-process, adds a tileset and
// sends the process SIGHUP: the new tileset is served without a restart.
func TestSIGHUPReloadsTilesets(t *testing.T) {
	dir := t.TempDir()
	data, tilesDir := filepath.Join(dir, "data"), filepath.Join(dir, "tiles")
	if err := os.Mkdir(tilesDir, 0o755); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	var stderr testenv.Buffer
	startServe(t, &stderr, true, "--data-dir", data, "--tiles", tilesDir, "--addr", addr,
		"--admin-socket", filepath.Join(dir, "admin.sock"), "--public-tileset", "world")

	caPath := filepath.Join(data, "tls", "ca.pem")
	var client *http.Client
	get := func() int {
		resp, err := client.Get("https://" + addr + "/v1/tiles/world/0/0/0.mvt")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(15 * time.Second)
	for client == nil {
		if pem, err := os.ReadFile(caPath); err == nil {
			pool := x509.NewCertPool()
			if pool.AppendCertsFromPEM(pem) {
				client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
					TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not start:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for get() != http.StatusNotFound {
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not answer:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	src, err := demo.WriteTileset(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tilesDir, "world.pmtiles"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for get() != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("tileset not served after SIGHUP:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
