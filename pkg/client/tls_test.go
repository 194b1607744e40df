package client_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/pkg/client"
)

// pki is a CA and a server certificate it signed for 127.0.0.1.
type pki struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	leaf   *x509.Certificate
	tlsCrt tls.Certificate
}

func newPKI(t *testing.T, name string) pki {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name + " CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	return pki{ca: ca, caKey: caKey}.withLeaf(t, ca, caKey)
}

// withLeaf returns p with a fresh server certificate signed by signer.
func (p pki) withLeaf(t *testing.T, signer *x509.Certificate, signerKey *ecdsa.PrivateKey) pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "mapwright"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	p.leaf, _ = x509.ParseCertificate(der)
	p.tlsCrt = tls.Certificate{Certificate: [][]byte{der, p.ca.Raw}, PrivateKey: key}
	return p
}

func startTLS(t *testing.T, crt tls.Certificate) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"version":"9.9.9"}`))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{crt}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func startUnix(t *testing.T, path string, h http.Handler) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	return srv
}

func writeCert(t *testing.T, der []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestTLSVerification(t *testing.T) {
	good := newPKI(t, "good")
	rogue := newPKI(t, "rogue")
	// impostor presents the good CA in its chain, but its leaf is signed by
	// the rogue CA: a pin of the good CA must not accept it.
	impostor := rogue.withLeaf(t, rogue.ca, rogue.caKey)
	impostor.tlsCrt.Certificate[1] = good.ca.Raw

	tests := []struct {
		name    string
		serve   tls.Certificate
		caFile  []byte
		pin     string
		wantErr error
		hint    string
	}{
		{name: "CA file", serve: good.tlsCrt, caFile: good.ca.Raw},
		{name: "leaf pin", serve: good.tlsCrt, pin: client.Fingerprint(good.leaf.Raw)},
		{name: "CA pin", serve: good.tlsCrt, pin: client.Fingerprint(good.ca.Raw)},
		{name: "CA pin with colons and prefix", serve: good.tlsCrt, pin: "SHA256:" + colons(client.Fingerprint(good.ca.Raw))},
		{name: "CA file and matching pin", serve: good.tlsCrt, caFile: good.ca.Raw, pin: client.Fingerprint(good.ca.Raw)},
		{name: "system roots refuse a private CA", serve: good.tlsCrt, wantErr: client.ErrConnect, hint: "--ca-cert FILE or pin it with --fingerprint"},
		{name: "wrong pin", serve: good.tlsCrt, pin: client.Fingerprint(rogue.ca.Raw), wantErr: client.ErrPinMismatch, hint: "fingerprint"},
		{name: "CA file and wrong pin", serve: good.tlsCrt, caFile: good.ca.Raw, pin: client.Fingerprint(rogue.leaf.Raw), wantErr: client.ErrPinMismatch},
		{name: "pinned CA presented by an impostor", serve: impostor.tlsCrt, pin: client.Fingerprint(good.ca.Raw), wantErr: client.ErrPinMismatch},
		{name: "CA file refuses another CA's leaf", serve: rogue.tlsCrt, caFile: good.ca.Raw, wantErr: client.ErrConnect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startTLS(t, tt.serve)
			opts := client.Options{Server: srv.URL, Token: testToken, PinnedFingerprint: tt.pin}
			if tt.caFile != nil {
				opts.CACertFile = writeCert(t, tt.caFile)
			}
			c, err := client.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			st, err := c.Status(context.Background())
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("status: %v", err)
				}
				if st.Version != "9.9.9" {
					t.Errorf("version = %q", st.Version)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !errors.Is(err, client.ErrConnect) {
				t.Errorf("err = %v does not wrap ErrConnect", err)
			}
			if !strings.Contains(err.Error(), srv.URL) || !strings.Contains(err.Error(), tt.hint) {
				t.Errorf("message %q lacks the server or the hint %q", err, tt.hint)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Error("message leaks the token")
			}
		})
	}
}

func TestTLSMinimumVersion(t *testing.T) {
	good := newPKI(t, "good")
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{good.tlsCrt}, MaxVersion: tls.VersionTLS11}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	c, err := client.New(client.Options{Server: srv.URL, PinnedFingerprint: client.Fingerprint(good.leaf.Raw)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status(context.Background()); err == nil {
		t.Fatal("connected with TLS 1.1")
	}
}

func TestPlainHTTPServerIsExplained(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	c, err := client.New(client.Options{Server: strings.Replace(srv.URL, "http://", "https://", 1)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Status(context.Background())
	if !errors.Is(err, client.ErrConnect) || !strings.Contains(err.Error(), "did not answer with TLS") {
		t.Errorf("err = %v", err)
	}
}

func colons(hex string) string {
	var b strings.Builder
	for i := 0; i < len(hex); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(hex[i : i+2])
	}
	return b.String()
}
