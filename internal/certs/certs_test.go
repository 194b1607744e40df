package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
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
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var allFiles = []string{CAFile, CAKeyFile, ServerFile, ServerKeyFile, FingerprintFile}

func newDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tls")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mustEnsure(t *testing.T, dir string, hosts []string, now time.Time) *Material {
	t.Helper()
	m, err := EnsureLocalCA(dir, hosts, now)
	if err != nil {
		t.Fatalf("EnsureLocalCA: %v", err)
	}
	return m
}

// snapshot returns the contents of every material file.
func snapshot(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, name := range allFiles {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil {
			out[name] = data
		}
	}
	return out
}

func parseOne(t *testing.T, pemData []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(pemData)
	if block == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFirstCallCreatesMaterial(t *testing.T) {
	dir := newDir(t)
	m := mustEnsure(t, dir, []string{"tiles.example.com", "192.0.2.10", "[2001:db8::1]"}, t0)
	if !m.Created || m.Renewed {
		t.Errorf("Created=%v Renewed=%v, want true false", m.Created, m.Renewed)
	}

	modes := map[string]os.FileMode{CAFile: 0o644, CAKeyFile: 0o600, ServerFile: 0o644, ServerKeyFile: 0o600, FingerprintFile: 0o644}
	for name, want := range modes {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if runtime.GOOS != "windows" && st.Mode().Perm() != want {
			t.Errorf("%s mode %04o, want %04o", name, st.Mode().Perm(), want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(modes) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only the five material files", names)
	}
	if m.CAPath != filepath.Join(dir, CAFile) || m.CertPath != filepath.Join(dir, ServerFile) || m.KeyPath != filepath.Join(dir, ServerKeyFile) {
		t.Errorf("paths %q %q %q", m.CAPath, m.CertPath, m.KeyPath)
	}

	ca := parseOne(t, m.CACertPEM)
	onDisk, _ := os.ReadFile(m.CAPath)
	if !bytes.Equal(onDisk, m.CACertPEM) {
		t.Error("CACertPEM differs from ca.pem")
	}
	if !ca.IsCA || !ca.BasicConstraintsValid || ca.MaxPathLen != 0 || !ca.MaxPathLenZero {
		t.Errorf("CA constraints: IsCA=%v MaxPathLen=%d zero=%v", ca.IsCA, ca.MaxPathLen, ca.MaxPathLenZero)
	}
	if ca.KeyUsage != x509.KeyUsageCertSign {
		t.Errorf("CA key usage %v", ca.KeyUsage)
	}
	if !regexp.MustCompile(`^Mapwright local CA [0-9a-f]{8}$`).MatchString(ca.Subject.CommonName) {
		t.Errorf("CA name %q", ca.Subject.CommonName)
	}
	if got := ca.NotAfter.Sub(ca.NotBefore); got < 3652*24*time.Hour || got > 3653*24*time.Hour {
		t.Errorf("CA validity %s, want ten years", got)
	}
	assertP256(t, "CA", ca.PublicKey)

	if !regexp.MustCompile(`^([0-9A-F]{2}:){31}[0-9A-F]{2}$`).MatchString(m.CAFingerprint) {
		t.Errorf("fingerprint format %q", m.CAFingerprint)
	}
	sum := sha256.Sum256(ca.Raw)
	if strings.ReplaceAll(m.CAFingerprint, ":", "") != strings.ToUpper(hex.EncodeToString(sum[:])) {
		t.Error("fingerprint is not SHA-256 of the CA DER")
	}
	fpFile, _ := os.ReadFile(filepath.Join(dir, FingerprintFile))
	if strings.TrimSpace(string(fpFile)) != m.CAFingerprint {
		t.Errorf("ca.fingerprint holds %q", fpFile)
	}

	leaf := m.ServerCert.Leaf
	if leaf == nil || len(m.ServerCert.Certificate) != 2 || !bytes.Equal(m.ServerCert.Certificate[1], ca.Raw) {
		t.Fatal("ServerCert must carry the leaf then the CA, with Leaf set")
	}
	assertP256(t, "server", leaf.PublicKey)
	if got := leaf.NotAfter.Sub(leaf.NotBefore); got != ServerValidity {
		t.Errorf("server validity %s, want %s", got, ServerValidity)
	}
	if leaf.IsCA || len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("server usage: IsCA=%v ext=%v", leaf.IsCA, leaf.ExtKeyUsage)
	}
	want := []string{"localhost", "127.0.0.1", "::1", "tiles.example.com", "192.0.2.10", "2001:db8::1"}
	if hn, err := os.Hostname(); err == nil {
		if _, _, err := normalizeHost(hn); err == nil {
			want = append(want, hn)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	for _, h := range want {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: pool, CurrentTime: t0}); err != nil {
			t.Errorf("server certificate does not verify for %s: %v", h, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "evil.example", Roots: pool, CurrentTime: t0}); err == nil {
		t.Error("server certificate verifies for a host it was not issued for")
	}
}

func assertP256(t *testing.T, what string, pub any) {
	t.Helper()
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		t.Errorf("%s key is %T, want ECDSA P-256", what, pub)
	}
}

func TestSecondCallReuses(t *testing.T) {
	dir := newDir(t)
	first := mustEnsure(t, dir, nil, t0)
	before := snapshot(t, dir)
	second := mustEnsure(t, dir, nil, t0.Add(24*time.Hour))
	if second.Created || second.Renewed {
		t.Errorf("second call Created=%v Renewed=%v", second.Created, second.Renewed)
	}
	if second.CAFingerprint != first.CAFingerprint {
		t.Error("fingerprint changed")
	}
	if !bytes.Equal(second.ServerCert.Certificate[0], first.ServerCert.Certificate[0]) {
		t.Error("server certificate changed")
	}
	for name, data := range snapshot(t, dir) {
		if !bytes.Equal(data, before[name]) {
			t.Errorf("%s rewritten", name)
		}
	}
}

func TestRenewal(t *testing.T) {
	tests := []struct {
		name    string
		now     time.Time
		hosts   []string
		renewed bool
	}{
		{"well before expiry", t0.Add(ServerValidity - 31*24*time.Hour), nil, false},
		{"within 30 days of expiry", t0.Add(ServerValidity - 29*24*time.Hour), nil, true},
		{"after expiry", t0.Add(ServerValidity + 24*time.Hour), nil, true},
		{"clock set back before issue", t0.Add(-48 * time.Hour), nil, false},
		{"new host", t0, []string{"new.example.com"}, true},
		{"host already covered", t0, []string{"LOCALHOST", "127.0.0.1", "[::1]", "localhost."}, false},
		{"wildcard listen addresses are no hosts", t0, []string{"0.0.0.0", "::"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newDir(t)
			first := mustEnsure(t, dir, nil, t0)
			caBefore := snapshot(t, dir)
			m := mustEnsure(t, dir, tt.hosts, tt.now)
			if m.Renewed != tt.renewed || m.Created {
				t.Fatalf("Renewed=%v Created=%v, want renewed %v", m.Renewed, m.Created, tt.renewed)
			}
			if m.CAFingerprint != first.CAFingerprint {
				t.Error("renewal changed the CA")
			}
			after := snapshot(t, dir)
			for _, name := range []string{CAFile, CAKeyFile, FingerprintFile, ServerKeyFile} {
				if !bytes.Equal(after[name], caBefore[name]) {
					t.Errorf("%s changed", name)
				}
			}
			changed := !bytes.Equal(after[ServerFile], caBefore[ServerFile])
			if changed != tt.renewed {
				t.Errorf("server.pem changed=%v, want %v", changed, tt.renewed)
			}
			if !tt.renewed {
				return
			}
			leaf := m.ServerCert.Leaf
			if !leaf.PublicKey.(*ecdsa.PublicKey).Equal(first.ServerCert.Leaf.PublicKey) {
				t.Error("renewal changed the server key")
			}
			if leaf.NotAfter.Before(tt.now.Add(RenewBefore)) {
				t.Errorf("renewed certificate expires %s, too soon after %s", leaf.NotAfter, tt.now)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(m.CACertPEM)
			for _, h := range append([]string{"localhost"}, tt.hosts...) {
				if _, err := leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: pool, CurrentTime: tt.now}); err != nil {
					t.Errorf("renewed certificate does not verify for %s: %v", h, err)
				}
			}
			// The renewed pair loads the standard way, as a daemon with
			// --tls-cert/--tls-key pointing here would.
			if _, err := tls.LoadX509KeyPair(m.CertPath, m.KeyPath); err != nil {
				t.Errorf("renewed files do not load: %v", err)
			}
			// And a third call keeps the renewed certificate.
			again := mustEnsure(t, dir, tt.hosts, tt.now)
			if again.Renewed {
				t.Error("renewed again on the next call")
			}
		})
	}
}

func TestReplacedCAReissuesServer(t *testing.T) {
	dir := newDir(t)
	first := mustEnsure(t, dir, nil, t0)
	// An operator brings their own CA: new ca.pem and ca-key.pem, and the
	// published fingerprint removed on purpose.
	other := mustEnsure(t, newDir(t), nil, t0)
	for _, name := range []string{CAFile, CAKeyFile} {
		data, _ := os.ReadFile(filepath.Join(filepath.Dir(other.CAPath), name))
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(dir, FingerprintFile)); err != nil {
		t.Fatal(err)
	}
	m := mustEnsure(t, dir, nil, t0)
	if !m.Renewed || m.CAFingerprint != other.CAFingerprint || m.CAFingerprint == first.CAFingerprint {
		t.Fatalf("Renewed=%v fingerprint %s", m.Renewed, m.CAFingerprint)
	}
	if err := m.ServerCert.Leaf.CheckSignatureFrom(parseOne(t, m.CACertPEM)); err != nil {
		t.Errorf("server certificate not signed by the new CA: %v", err)
	}
}

func TestTLSHandshake(t *testing.T) {
	now := time.Now()
	m := mustEnsure(t, newDir(t), nil, now)

	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "tile")
	}))
	ts.EnableHTTP2 = true
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.TLS = ServerTLSConfig(m.ServerCert)
	ts.StartTLS()
	defer ts.Close()
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(m.CACertPEM) {
		t.Fatal("CA PEM does not load")
	}
	tests := []struct {
		name       string
		url        string
		tlsConfig  *tls.Config
		wantErr    string
		wantProto  int
		wantCAPins bool
	}{
		{"localhost over HTTP/2", "https://localhost:" + port, &tls.Config{RootCAs: pool}, "", 2, true},
		{"127.0.0.1", "https://127.0.0.1:" + port, &tls.Config{RootCAs: pool}, "", 2, true},
		{"HTTP/1.1 client", "https://127.0.0.1:" + port, &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}}, "", 1, true},
		{"TLS 1.2 client", "https://localhost:" + port, &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12}, "", 2, true},
		{"client without the CA", "https://localhost:" + port, &tls.Config{}, "certificate", 0, false},
		{"TLS 1.1 client", "https://localhost:" + port, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, "version", 0, false},
		{"CBC-only TLS 1.2 client", "https://localhost:" + port, &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}, "handshake failure", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &http.Transport{TLSClientConfig: tt.tlsConfig, ForceAttemptHTTP2: tt.tlsConfig.NextProtos == nil}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(tt.url)
			if tt.wantErr != "" {
				if err == nil {
					resp.Body.Close()
					t.Fatal("request succeeded")
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if string(body) != "tile" || resp.ProtoMajor != tt.wantProto {
				t.Errorf("body %q proto %s", body, resp.Proto)
			}
			if resp.TLS.Version < tls.VersionTLS12 {
				t.Errorf("TLS version %x", resp.TLS.Version)
			}
			chain := resp.TLS.PeerCertificates
			if tt.wantCAPins && Fingerprint(chain[len(chain)-1].Raw) != m.CAFingerprint {
				t.Error("the handshake does not carry the CA, so its fingerprint cannot be pinned")
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherDER, _ := x509.MarshalPKCS8PrivateKey(otherKey)
	otherKeyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: otherDER})
	truncate := func(data []byte) []byte { return data[:len(data)/2] }
	garbage := func([]byte) []byte { return []byte("not a certificate\n") }

	tests := []struct {
		name    string
		file    string
		mode    os.FileMode // 0: keep
		edit    func([]byte) []byte
		remove  []string
		wantErr error
	}{
		{"corrupt ca.pem", CAFile, 0, garbage, nil, ErrCorrupt},
		{"truncated ca.pem", CAFile, 0, truncate, nil, ErrCorrupt},
		{"corrupt ca-key.pem", CAKeyFile, 0, garbage, nil, ErrCorrupt},
		{"corrupt server.pem", ServerFile, 0, garbage, nil, ErrCorrupt},
		{"truncated server-key.pem", ServerKeyFile, 0, truncate, nil, ErrCorrupt},
		{"ca.pem holds a leaf", CAFile, 0, func([]byte) []byte { return nil }, nil, ErrCorrupt},
		{"wrong CA key", CAKeyFile, 0, func([]byte) []byte { return otherKeyPEM }, nil, ErrMismatch},
		{"wrong server key", ServerKeyFile, 0, func([]byte) []byte { return otherKeyPEM }, nil, ErrMismatch},
		{"fingerprint edited", FingerprintFile, 0, func([]byte) []byte { return []byte(strings.Repeat("AB:", 31) + "AB\n") }, nil, ErrMismatch},
		{"fingerprint garbage", FingerprintFile, 0, garbage, nil, ErrMismatch},
		{"world-readable CA key", CAKeyFile, 0o644, nil, nil, ErrInsecure},
		{"group-readable server key", ServerKeyFile, 0o640, nil, nil, ErrInsecure},
		{"CA key missing", "", 0, nil, []string{CAKeyFile}, ErrIncomplete},
		{"CA certificate missing", "", 0, nil, []string{CAFile}, ErrIncomplete},
		{"whole CA missing beside server files", "", 0, nil, []string{CAFile, CAKeyFile}, ErrIncomplete},
		{"server key missing", "", 0, nil, []string{ServerKeyFile}, ErrIncomplete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.mode != 0 && runtime.GOOS == "windows" {
				t.Skip("file modes are not enforced on Windows")
			}
			dir := newDir(t)
			m := mustEnsure(t, dir, nil, t0)
			if tt.name == "ca.pem holds a leaf" {
				tt.edit = func([]byte) []byte {
					return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.ServerCert.Certificate[0]})
				}
			}
			if tt.file != "" {
				p := filepath.Join(dir, tt.file)
				if tt.edit != nil {
					data, _ := os.ReadFile(p)
					if err := os.WriteFile(p, tt.edit(data), 0o600); err != nil {
						t.Fatal(err)
					}
				}
				if tt.mode != 0 {
					if err := os.Chmod(p, tt.mode); err != nil {
						t.Fatal(err)
					}
				}
			}
			for _, name := range tt.remove {
				if err := os.Remove(filepath.Join(dir, name)); err != nil {
					t.Fatal(err)
				}
			}
			before := snapshot(t, dir)
			beforeModes := modes(t, dir)

			_, err := EnsureLocalCA(dir, nil, t0.Add(time.Hour))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.file != "" && !strings.Contains(err.Error(), tt.file) {
				t.Errorf("error %q does not name %s", err, tt.file)
			}
			after := snapshot(t, dir)
			if len(after) != len(before) {
				t.Errorf("files before %d, after %d", len(before), len(after))
			}
			for name, data := range before {
				if !bytes.Equal(after[name], data) {
					t.Errorf("%s was modified", name)
				}
			}
			for name, mode := range modes(t, dir) {
				if beforeModes[name] != mode {
					t.Errorf("%s mode changed", name)
				}
			}
		})
	}
}

func modes(t *testing.T, dir string) map[string]os.FileMode {
	t.Helper()
	out := map[string]os.FileMode{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = info.Mode()
	}
	return out
}

func TestRecoversDerivedFiles(t *testing.T) {
	tests := []struct {
		name    string
		remove  string
		renewed bool
	}{
		{"server certificate missing", ServerFile, true},
		{"fingerprint file missing", FingerprintFile, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newDir(t)
			first := mustEnsure(t, dir, nil, t0)
			keyBefore, _ := os.ReadFile(first.KeyPath)
			if err := os.Remove(filepath.Join(dir, tt.remove)); err != nil {
				t.Fatal(err)
			}
			m := mustEnsure(t, dir, nil, t0)
			if m.Renewed != tt.renewed || m.Created || m.CAFingerprint != first.CAFingerprint {
				t.Errorf("Renewed=%v Created=%v", m.Renewed, m.Created)
			}
			if _, err := os.Stat(filepath.Join(dir, tt.remove)); err != nil {
				t.Errorf("%s not recreated: %v", tt.remove, err)
			}
			keyAfter, _ := os.ReadFile(m.KeyPath)
			if !bytes.Equal(keyBefore, keyAfter) {
				t.Error("server key replaced")
			}
		})
	}
}

func TestExpiredCAIsNotReplaced(t *testing.T) {
	dir := newDir(t)
	mustEnsure(t, dir, nil, t0)
	before := snapshot(t, dir)
	_, err := EnsureLocalCA(dir, nil, t0.AddDate(CAValidityYears, 1, 0))
	if !errors.Is(err, ErrExpired) {
		t.Fatalf("err = %v, want ErrExpired", err)
	}
	for name, data := range snapshot(t, dir) {
		if !bytes.Equal(data, before[name]) {
			t.Errorf("%s modified", name)
		}
	}
}

func TestDirectoryChecks(t *testing.T) {
	t.Run("missing", func(t *testing.T) {
		if _, err := EnsureLocalCA(filepath.Join(t.TempDir(), "nope"), nil, t0); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("writable by others", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("file modes are not enforced on Windows")
		}
		dir := newDir(t)
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		if _, err := EnsureLocalCA(dir, nil, t0); !errors.Is(err, ErrInsecure) {
			t.Errorf("err = %v, want ErrInsecure", err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("files created in an insecure directory")
		}
	})
	t.Run("invalid host creates nothing", func(t *testing.T) {
		dir := newDir(t)
		for _, h := range []string{"bad host", "", "-x.example", "a..b", "fe80::1%eth0", "http://x"} {
			if _, err := EnsureLocalCA(dir, []string{h}, t0); !errors.Is(err, ErrInvalidHost) {
				t.Errorf("host %q: err = %v, want ErrInvalidHost", h, err)
			}
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("files created despite an invalid host")
		}
	})
}

func TestParseFingerprint(t *testing.T) {
	der := []byte("certificate bytes")
	sum := sha256.Sum256(der)
	fp := Fingerprint(der)
	plain := hex.EncodeToString(sum[:])
	tests := []struct {
		in string
		ok bool
	}{
		{fp, true},
		{strings.ToLower(fp), true},
		{plain, true},
		{strings.ToUpper(plain), true},
		{"sha256:" + plain, true},
		{"SHA256 Fingerprint=" + fp, true},
		{"  " + fp + "\n", true},
		{fp[:len(fp)-3], false},
		{plain + "00", false},
		{"zz" + plain[2:], false},
		{"", false},
	}
	for _, tt := range tests {
		got, err := ParseFingerprint(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseFingerprint(%q) err = %v, want ok %v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && !bytes.Equal(got, sum[:]) {
			t.Errorf("ParseFingerprint(%q) = %x", tt.in, got)
		}
	}
}

func TestClientCAPool(t *testing.T) {
	dir := t.TempDir()
	m := mustEnsure(t, newDir(t), nil, time.Now())
	caKeyPEM, _ := os.ReadFile(filepath.Join(filepath.Dir(m.CAPath), CAKeyFile))
	caKey, err := parseKey(caKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	ca := parseOne(t, m.CACertPEM)

	// A client certificate signed by the CA must verify against the pool.
	clientKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "ops"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca, clientKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	client, _ := x509.ParseCertificate(der)

	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("valid bundle", func(t *testing.T) {
		pool, err := ClientCAPool(write("ok.pem", append(append([]byte{}, m.CACertPEM...), m.CACertPEM...)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("client certificate does not verify: %v", err)
		}
	})
	bad := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"a private key", caKeyPEM},
		{"a leaf certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})},
		{"trailing garbage", append(append([]byte{}, m.CACertPEM...), "junk"...)},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			if _, err := ClientCAPool(write(b.name+".pem", b.data)); !errors.Is(err, ErrCorrupt) {
				t.Errorf("err = %v, want ErrCorrupt", err)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		if _, err := ClientCAPool(filepath.Join(dir, "nope.pem")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("not a regular file", func(t *testing.T) {
		if _, err := ClientCAPool(dir); err == nil {
			t.Error("a directory was accepted")
		}
	})
}

func TestServerTLSConfig(t *testing.T) {
	m := mustEnsure(t, newDir(t), nil, time.Now())
	c := ServerTLSConfig(m.ServerCert)
	if c.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x", c.MinVersion)
	}
	if len(c.NextProtos) != 2 || c.NextProtos[0] != "h2" || c.NextProtos[1] != "http/1.1" {
		t.Errorf("NextProtos %v", c.NextProtos)
	}
	insecure := map[uint16]bool{}
	for _, s := range tls.InsecureCipherSuites() {
		insecure[s.ID] = true
	}
	for _, id := range c.CipherSuites {
		name := tls.CipherSuiteName(id)
		if insecure[id] || !strings.HasPrefix(name, "TLS_ECDHE_") || !(strings.Contains(name, "GCM") || strings.Contains(name, "CHACHA20")) {
			t.Errorf("cipher suite %s is not a forward-secret AEAD suite", name)
		}
	}
}

// FuzzParsePEM feeds arbitrary bytes to the decoders of files an operator
// or an attacker with access to the data directory could write.
func FuzzParsePEM(f *testing.F) {
	m, err := EnsureLocalCA(func() string {
		d := filepath.Join(f.TempDir(), "tls")
		if err := os.Mkdir(d, 0o700); err != nil {
			f.Fatal(err)
		}
		return d
	}(), nil, t0)
	if err != nil {
		f.Fatal(err)
	}
	keyPEM, _ := os.ReadFile(m.KeyPath)
	chainPEM, _ := os.ReadFile(m.CertPath)
	f.Add(m.CACertPEM)
	f.Add(keyPEM)
	f.Add(chainPEM)
	f.Add([]byte(m.CAFingerprint))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if certs, err := parseCerts(data); err == nil && len(certs) == 0 {
			t.Fatal("parseCerts accepted no certificate")
		}
		if k, err := parseKey(data); err == nil && k == nil {
			t.Fatal("parseKey returned no key and no error")
		}
		if pool, err := parseCAPool(data); err == nil && pool == nil {
			t.Fatal("parseCAPool returned no pool and no error")
		}
		if fp, err := ParseFingerprint(string(data)); err == nil && len(fp) != sha256.Size {
			t.Fatalf("ParseFingerprint returned %d bytes", len(fp))
		}
	})
}

// TestConcurrentFirstCalls: replicas starting at once on one directory
// never end up with a key from one and a certificate from another. Each
// call either succeeds or reports the race; afterwards the material is
// consistent and every success saw the CA now on disk.
func TestConcurrentFirstCalls(t *testing.T) {
	dir := newDir(t)
	const n = 4
	type result struct {
		m   *Material
		err error
	}
	results := make(chan result, n)
	for range n {
		go func() {
			m, err := EnsureLocalCA(dir, nil, t0)
			results <- result{m, err}
		}()
	}
	var done []result
	for range n {
		done = append(done, <-results)
	}
	final := mustEnsure(t, dir, nil, t0)
	var ok int
	for _, r := range done {
		if r.err != nil {
			if !errors.Is(r.err, ErrIncomplete) {
				t.Errorf("unexpected error: %v", r.err)
			}
			continue
		}
		ok++
		if r.m.CAFingerprint != final.CAFingerprint {
			t.Error("a call returned a CA that is not the one on disk")
		}
	}
	if _, err := tls.LoadX509KeyPair(final.CertPath, final.KeyPath); err != nil {
		t.Errorf("server files on disk do not form a pair: %v", err)
	}
	if ok == 0 {
		t.Log("every concurrent call lost the race; the follow-up call succeeded")
	}
}
