package admin

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/certs"
	"github.com/mapwright/mapwright/pkg/client"
)

// serveUnix runs the unix handler on a real socket and returns a client of
// it.
func serveUnix(t *testing.T, e *env, path string) (*http.Client, net.Listener) {
	t.Helper()
	ln, err := ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e.admin.UnixHandler(), ConnContext: ConnContext, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
	t.Cleanup(hc.CloseIdleConnections)
	return hc, ln
}

func TestUnixSocketActorIsThePeer(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" && runtime.GOOS != "freebsd" {
		t.Skip("peer credentials are not supported here")
	}
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "admin.sock")
	hc, _ := serveUnix(t, e, path)

	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Type() != fs.ModeSocket || st.Mode().Perm() != SocketMode {
		t.Errorf("socket mode %v, want a socket with %04o", st.Mode(), SocketMode)
	}

	body, _ := json.Marshal(client.CreateKeyRequest{Name: "from the socket"})
	resp, err := hc.Post("http://admin/admin/v1/keys", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create over the socket: %d %s", resp.StatusCode, raw)
	}
	var ck client.CreatedKey
	if err := json.Unmarshal(raw, &ck); err != nil {
		t.Fatal(err)
	}

	uid := os.Getuid()
	want := "unix:" + strconv.Itoa(uid)
	if u, err := user.Current(); err == nil && u.Username != "" {
		want += "(" + u.Username + ")"
	}
	evs := e.events(t, audit.ActionKeyCreate)
	last := evs[len(evs)-1]
	if last.Actor != want || last.Target != ck.ID || last.ClientIP != "" {
		t.Errorf("key.create event by %q for %s (client %q), want by %q", last.Actor, last.Target, last.ClientIP, want)
	}
	if ck.CreatedBy != want {
		t.Errorf("created_by %q, want %q", ck.CreatedBy, want)
	}
}

func TestListenUnixStaleAndLiveSockets(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()

	t.Run("a live server is left alone", func(t *testing.T) {
		path := filepath.Join(dir, "live.sock")
		serveUnix(t, e, path)
		if _, err := ListenUnix(path); !errors.Is(err, ErrSocketInUse) {
			t.Fatalf("second listener: got %v, want ErrSocketInUse", err)
		}
		if _, err := os.Lstat(path); err != nil {
			t.Fatalf("the live socket was removed: %v", err)
		}
	})
	t.Run("a stale socket is replaced", func(t *testing.T) {
		path := filepath.Join(dir, "stale.sock")
		old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		old.SetUnlinkOnClose(false)
		old.Close()
		ln, err := ListenUnix(path)
		if err != nil {
			t.Fatalf("ListenUnix over a stale socket: %v", err)
		}
		if err := ln.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Close left the socket file: %v", err)
		}
	})
	t.Run("a regular file is never removed", func(t *testing.T) {
		path := filepath.Join(dir, "file.sock")
		if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ListenUnix(path); !errors.Is(err, ErrNotSocket) {
			t.Fatalf("got %v, want ErrNotSocket", err)
		}
		if b, _ := os.ReadFile(path); string(b) != "precious" {
			t.Error("the file was changed")
		}
	})
	t.Run("a path too long for the detour binds in place", func(t *testing.T) {
		base := t.TempDir()
		pad := 100 - len(base) - len("/x.sock") - 1
		if pad < 1 {
			t.Skip("the temporary directory's path is too long")
		}
		sub := filepath.Join(base, strings.Repeat("d", pad))
		if err := os.Mkdir(sub, 0o700); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(sub, "x.sock")
		ln, err := ListenUnix(path)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		st, err := os.Lstat(path)
		if err != nil || st.Mode().Perm() != SocketMode {
			t.Fatalf("socket %v, %v; want mode %04o", st, err, SocketMode)
		}
	})
	entries, _ := os.ReadDir(dir)
	for _, en := range entries {
		if en.IsDir() {
			t.Errorf("ListenUnix left the directory %s behind", en.Name())
		}
	}
}

func TestUnixHandlerNeedsPeerCredentials(t *testing.T) {
	e := newEnv(t)
	w := do(t, e.admin.UnixHandler(), http.MethodGet, "/admin/v1/status", nil)
	p := problem(t, w, http.StatusInternalServerError, probInternal)
	if p.Detail == "" {
		t.Error("no detail says why")
	}
}

func TestMutualTLS(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	mat, err := certs.EnsureLocalCA(dir, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	caPEM, clientCert := clientCA(t)
	caFile := filepath.Join(dir, "clients.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	conf, err := TLSConfig(mat.ServerCert, caFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// The refused handshake is expected; keep its log line out of the
	// test output.
	srv := &http.Server{Handler: e.admin.TCPHandler(), TLSConfig: conf, ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(tls.NewListener(ln, conf))
	t.Cleanup(func() { srv.Close() })

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(mat.CACertPEM)
	get := func(certs []tls.Certificate) (*http.Response, error) {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs, ServerName: "localhost"}}
		defer tr.CloseIdleConnections()
		req, _ := http.NewRequest(http.MethodGet, "https://"+ln.Addr().String()+"/livez", nil)
		req.Host = testHost
		return (&http.Client{Transport: tr}).Do(req)
	}
	if _, err := get(nil); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	resp, err := get([]tls.Certificate{clientCert})
	if err != nil {
		t.Fatalf("a client with a certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("status %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}

	if _, err := TLSConfig(mat.ServerCert, filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("TLSConfig accepted a missing client CA file")
	}
	plain, err := TLSConfig(mat.ServerCert, "")
	if err != nil || plain.ClientAuth != tls.NoClientCert {
		t.Errorf("without a client CA: %v, client auth %v", err, plain.ClientAuth)
	}
}

// clientCA makes a CA and a client certificate it signed.
func clientCA(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test client CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "operator"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestBeyondLoopback(t *testing.T) {
	cases := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:9443", false},
		{"[::1]:9443", false},
		{"0.0.0.0:9443", true},
		{"[::]:9443", true},
		{"192.0.2.1:9443", true},
	}
	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			a, err := net.ResolveTCPAddr("tcp", tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			if got := BeyondLoopback(a); got != tc.want {
				t.Errorf("BeyondLoopback(%s) = %v, want %v", tc.addr, got, tc.want)
			}
		})
	}
}
