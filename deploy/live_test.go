package deploy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/daemon"
	"github.com/mapwright/mapwright/internal/testutil/testenv"
	"github.com/mapwright/mapwright/pkg/client"
)

// liveDaemon is a mapwrightd serving in this process on a fresh data
// directory with the embedded database.
type liveDaemon struct {
	dataDir    string
	socket     string
	publicAddr string
	client     *client.Client
	logs       *testenv.Buffer
}

// startDaemon runs mapwrightd serve until the test ends and waits until its
// admin socket answers /readyz.
func startDaemon(t *testing.T) *liveDaemon {
	t.Helper()
	dir := t.TempDir()
	d := &liveDaemon{
		dataDir: filepath.Join(dir, "data"),
		socket:  filepath.Join(dir, "admin.sock"),
		logs:    &testenv.Buffer{},

		publicAddr: freeAddr(t),
	}
	args := []string{"serve",
		"--data-dir", d.dataDir,
		"--tiles", filepath.Join(dir, "tiles"),
		"--admin-socket", d.socket,
		"--addr", d.publicAddr,
		"--log-level", "warn",
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- daemon.Run(ctx, args, daemon.Streams{In: strings.NewReader(""), Out: d.logs, Err: d.logs})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("mapwrightd exited with %d\n%s", code, d.logs)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("mapwrightd did not stop\n%s", d.logs)
		}
	})

	c, err := client.New(client.Options{Server: "unix://" + d.socket})
	if err != nil {
		t.Fatal(err)
	}
	d.client = c
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case code := <-done:
			done <- code
			t.Fatalf("mapwrightd exited with %d before it was ready\n%s", code, d.logs)
		default:
		}
		pctx, pcancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := c.Ready(pctx)
		pcancel()
		if err == nil {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("mapwrightd not ready: %v\n%s", err, d.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// publicGet fetches a path of the public listener over TLS, trusting the
// daemon's local CA, and returns the status.
func (d *liveDaemon) publicGet(t *testing.T, path string) int {
	t.Helper()
	ca, err := os.ReadFile(filepath.Join(d.dataDir, "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("the local CA does not parse")
	}
	hc := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}},
	}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("https://" + d.publicAddr + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
