package daemon

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/demo"
	"github.com/mapwright/mapwright/internal/testutil/testenv"
)

// TestServeBehindBalancer runs serve the way the balancer variant of the
// production example does (plain HTTP, --trusted-proxy, --public-url), with
// the test itself standing in for the balancer on loopback: TileJSON names
// the public URL, HSTS follows X-Forwarded-Proto, and failed keys are
// charged to the forwarded client's network rather than to the balancer.
func TestServeBehindBalancer(t *testing.T) {
	dir := t.TempDir()
	data, tilesDir := filepath.Join(dir, "data"), filepath.Join(dir, "tiles")
	if err := os.Mkdir(tilesDir, 0o755); err != nil {
		t.Fatal(err)
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
	httpAddr := freeAddr(t)
	var stderr testenv.Buffer
	startServe(t, &stderr, true, "--data-dir", data, "--tiles", tilesDir, "--addr", freeAddr(t),
		"--http-addr", httpAddr, "--admin-socket", filepath.Join(dir, "admin.sock"), "--public-tileset", "world",
		"--trusted-proxy", "127.0.0.1/32", "--public-url", "https://tiles.example.com")

	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string, header map[string]string) (*http.Response, error) {
		req, err := http.NewRequest(http.MethodGet, "http://"+httpAddr+path, nil)
		if err != nil {
			return nil, err
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		return resp, nil
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := get("/livez", nil)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not answer:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	t.Run("TileJSON names the public URL", func(t *testing.T) {
		resp, err := get("/v1/tiles/world.json", map[string]string{"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc struct{ Tiles []string }
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
			t.Fatalf("status %d: %v", resp.StatusCode, err)
		}
		if len(doc.Tiles) != 1 || !strings.HasPrefix(doc.Tiles[0], "https://tiles.example.com/v1/tiles/world/{z}/{x}/{y}.") {
			t.Errorf("tiles %v, want URLs under https://tiles.example.com", doc.Tiles)
		}
		if resp.Header.Get("Strict-Transport-Security") == "" {
			t.Error("no HSTS although the balancer says the client used https")
		}
	})

	t.Run("failed keys charge the forwarded client", func(t *testing.T) {
		const badKey = "/v1/tiles/world/0/0/0.mvt?key=mpw_pk_notavalidkey"
		status := func(xff string) int {
			resp, err := get(badKey, map[string]string{"X-Forwarded-For": xff})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		// The default allows a burst of 20 failures per client network.
		for i := range 25 {
			status("203.0.113.5, 198.51.100.7")
			if i == 0 && status("198.51.100.7") != http.StatusUnauthorized {
				t.Fatal("a malformed key was not refused with 401")
			}
		}
		if got := status("198.51.100.99"); got != http.StatusTooManyRequests {
			t.Errorf("the failing client's network: %d, want 429", got)
		}
		for _, other := range []string{"192.0.2.10", "203.0.113.5"} {
			if got := status(other); got != http.StatusUnauthorized {
				t.Errorf("client %s behind the same balancer: %d, want 401 (not blocked)", other, got)
			}
		}
		logs := stderr.String()
		if !strings.Contains(logs, "198.51.100.0/24") {
			t.Errorf("the request log does not show the client's network:\n%s", logs)
		}
		if strings.Contains(logs, "198.51.100.7") {
			t.Error("the log shows a full client address")
		}
	})
}
