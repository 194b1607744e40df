package admin

import (
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/certs"
	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/pkg/apikey"
	"github.com/mapwright/mapwright/pkg/client"
)

// TestWireContractWithTheClient drives the admin API through the public Go
// client over real TLS, as mwctl does: every call must decode, and every
// refusal must map to the client's error predicates.
func TestWireContractWithTheClient(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	mat, err := certs.EnsureLocalCA(dir, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := e.opts
	opts.AllowedHosts = []string{ln.Addr().String()}
	a := New(opts)
	conf, err := TLSConfig(mat.ServerCert, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a.TCPHandler(), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(tls.NewListener(ln, conf))
	t.Cleanup(func() { srv.Close() })
	server := "https://" + ln.Addr().String()
	newClient := func(token, session string) *client.Client {
		c, err := client.New(client.Options{Server: server, Token: token, SessionCookie: session, CACertFile: mat.CAPath})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := t.Context()
	root := newClient(e.root.Token, "")

	st, err := root.Status(ctx)
	if err != nil || st.Version != "1.2.3" || !st.Ready {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	ops, err := root.CreateKey(ctx, client.CreateKeyRequest{Name: "ops", Kind: "secret", Scopes: []string{keys.ScopeKeysRead, keys.ScopeKeysWrite}})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	web, err := root.CreateKey(ctx, client.CreateKeyRequest{Name: "web", Labels: map[string]string{"team": "maps"}})
	if err != nil {
		t.Fatal(err)
	}
	all, err := root.ListAllKeys(ctx, client.ListKeysOptions{Limit: 1})
	if err != nil || len(all) != 3 {
		t.Fatalf("ListAllKeys = %d keys, %v", len(all), err)
	}
	if page, err := root.ListKeys(ctx, client.ListKeysOptions{Labels: map[string]string{"team": "maps"}, ExpiringWithin: 0}); err != nil || len(page.Keys) != 1 || page.Keys[0].ID != web.ID {
		t.Fatalf("ListKeys by label = %+v, %v", page, err)
	}
	if _, err := root.ListKeys(ctx, client.ListKeysOptions{State: "expiring", ExpiringWithin: 48 * time.Hour}); err != nil {
		t.Fatalf("ListKeys expiring: %v", err)
	}
	rot, err := root.RotateKey(ctx, web.ID, time.Hour)
	if err != nil || rot.Replaces != web.ID || rot.OldExpiresAt == nil {
		t.Fatalf("RotateKey = %+v, %v", rot, err)
	}
	if _, err := root.RotateKey(ctx, web.ID, 0); !client.IsConflict(err) {
		t.Errorf("second rotation: %v, want a conflict", err)
	}
	if res, err := root.RevokeKey(ctx, rot.ID, "test"); err != nil || res.AlreadyRevoked {
		t.Fatalf("RevokeKey = %+v, %v", res, err)
	}
	if res, err := root.RevokeKey(ctx, rot.ID, "test"); err != nil || !res.AlreadyRevoked {
		t.Fatalf("second RevokeKey = %+v, %v", res, err)
	}
	lr, err := root.LookupKeys(ctx, []string{apikey.HashHex(rot.Token), apikey.HashHex(ops.Token)})
	if err != nil || lr.Results[0].State != "revoked" || lr.Results[1].ID != ops.ID {
		t.Fatalf("LookupKeys = %+v, %v", lr, err)
	}
	if _, err := root.GetKey(ctx, "key_01JQ0000000000000000000000"); !client.IsNotFound(err) {
		t.Errorf("GetKey of an unknown ID: %v, want not found", err)
	}
	if _, err := root.GetKey(ctx, "../../metrics"); !client.IsNotFound(err) {
		t.Errorf("GetKey of a path: %v, want not found", err)
	}
	if _, err := root.CreateKey(ctx, client.CreateKeyRequest{Name: "x", Kind: "secret", Scopes: []string{"nope"}}); !client.IsInvalid(err) ||
		!strings.Contains(err.Error(), `unknown scope "nope"`) {
		t.Errorf("CreateKey with an unknown scope: %v", err)
	}
	if _, err := newClient(ops.Token, "").ReloadTilesets(ctx); !client.IsForbidden(err) {
		t.Errorf("reload with keys scopes only: %v, want forbidden", err)
	}
	if _, err := newClient("mpw_sk_garbage", "").Status(ctx); !client.IsUnauthorized(err) {
		t.Errorf("malformed token: %v, want unauthorized", err)
	}

	ts, err := root.ListTilesets(ctx)
	if err != nil || ts.Loaded != 1 {
		t.Fatalf("ListTilesets = %+v, %v", ts, err)
	}
	if ts, err = root.ReloadTilesets(ctx); err != nil || ts.Loaded != 1 {
		t.Fatalf("ReloadTilesets = %+v, %v", ts, err)
	}
	if m, err := root.Metrics(ctx); err != nil || !strings.Contains(string(m), "mapwright_http_requests_total") {
		t.Fatalf("Metrics: %v", err)
	}
	if err := root.Ready(ctx); err != nil {
		t.Fatalf("Ready: %v", err)
	}

	// TOTP, login and logout, as `mwctl keys totp enroll`, `login`, `logout`.
	enr, err := root.EnrollTOTP(ctx, ops.ID)
	if err != nil {
		t.Fatal(err)
	}
	opsKey := newClient(ops.Token, "")
	if _, err := opsKey.ListKeys(ctx, client.ListKeysOptions{}); !client.IsForbidden(err) {
		t.Errorf("bearer use of a TOTP key: %v, want forbidden", err)
	}
	if _, _, err := opsKey.Login(ctx, ops.Token, ""); !client.IsUnauthorized(err) {
		t.Errorf("login without code: %v, want unauthorized", err)
	}
	sess, ck, err := opsKey.Login(ctx, ops.Token, code(t, enr.URI, e.clock.Now(), 0))
	if err != nil || sess.KeyID != ops.ID || !strings.HasPrefix(ck, "mapwright_session=") {
		t.Fatalf("Login = %+v, cookie set %v, %v", sess, ck != "", err)
	}
	withSession := newClient(ops.Token, ck)
	if _, err := withSession.ListKeys(ctx, client.ListKeysOptions{}); err != nil {
		t.Fatalf("ListKeys with the session: %v", err)
	}
	if err := withSession.Logout(ctx); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if _, err := withSession.ListKeys(ctx, client.ListKeysOptions{}); !client.IsUnauthorized(err) {
		t.Errorf("after logout: %v, want unauthorized", err)
	}
}

// TestClientOverTheSocket: over the unix socket the client needs no key.
func TestClientOverTheSocket(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "admin.sock")
	serveUnix(t, e, path)
	c, err := client.New(client.Options{Server: "unix://" + path})
	if err != nil {
		t.Fatal(err)
	}
	k, err := c.CreateKey(t.Context(), client.CreateKeyRequest{Name: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.CreatedBy, "unix:") {
		t.Errorf("created by %q, want the socket's peer", k.CreatedBy)
	}
	st, err := c.Status(t.Context())
	if err != nil || st.Keys["active"] != 2 {
		t.Fatalf("Status = %+v, %v", st, err)
	}
}
