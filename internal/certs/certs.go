// Package certs manages the TLS material mapwrightd uses when the operator
// gives no certificate: a local certificate authority kept in the data
// directory and a server certificate it signs for localhost and the
// machine's names. It also holds the TLS settings of every listener and
// the loading of client CA bundles for mutual TLS.
//
// The CA is created once and never replaced automatically: clients trust
// it by its file or pin its fingerprint. The server certificate is derived
// material and is renewed, with the same key, when it nears expiry or
// lacks a requested host name.
package certs

import (
	"bytes"
	"crypto"
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
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// File names inside the material directory.
const (
	CAFile          = "ca.pem"
	CAKeyFile       = "ca-key.pem"
	ServerFile      = "server.pem"
	ServerKeyFile   = "server-key.pem"
	FingerprintFile = "ca.fingerprint"
)

// Lifetimes of the generated certificates.
const (
	// CAValidityYears is the lifetime of the local CA.
	CAValidityYears = 10
	// ServerValidity is the lifetime of a server certificate: 397 days,
	// the longest that browsers accept for a server certificate.
	ServerValidity = 397 * 24 * time.Hour
	// RenewBefore is how long before its expiry a server certificate is
	// renewed.
	RenewBefore = 30 * 24 * time.Hour
	// backdate covers clocks of clients that run slightly behind.
	backdate = time.Hour
)

// Material is the TLS material of the public and admin listeners.
type Material struct {
	// CACertPEM is the local CA certificate, PEM-encoded: what a client
	// adds to its trust store (also in CAPath).
	CACertPEM []byte
	// CAFingerprint is the SHA-256 of the CA certificate's DER encoding as
	// uppercase hex byte pairs separated by colons ("AB:CD:…", 95
	// characters), the form browsers and openssl display. Also written to
	// ca.fingerprint.
	CAFingerprint string
	// ServerCert is the server certificate and key for tls.Config. Its
	// chain holds the leaf then the CA, so a client pinning the CA
	// fingerprint finds the CA in the handshake; Leaf is set.
	ServerCert tls.Certificate
	// CAPath, CertPath and KeyPath are the CA certificate, server
	// certificate chain and server key files.
	CAPath, CertPath, KeyPath string
	// Created is true when this call created the CA.
	Created bool
	// Renewed is true when this call issued a new server certificate for
	// an existing CA (near expiry, a new host, or a replaced CA).
	Renewed bool
}

// EnsureLocalCA returns the local CA and a server certificate from dir,
// creating them on first use.
//
// dir must exist and must not be writable by group or others. On the
// first call it creates ca.pem and ca-key.pem (ECDSA P-256, valid ten
// years, named "Mapwright local CA <random suffix>", allowed to sign only
// end-entity certificates), ca.fingerprint, and server.pem with
// server-key.pem (ECDSA P-256, valid 397 days, for localhost, 127.0.0.1,
// ::1, the machine's host name and hosts; hosts may be DNS names, "*."
// wildcards or IP addresses, and 0.0.0.0 or :: are skipped). Key files
// have mode 0600; every file is written to a temporary file, synced, and
// moved into place.
//
// Later calls reuse the files. The server certificate is renewed (same CA,
// same key) when it expires within 30 days of now, was not signed by the
// current CA, or lacks one of the requested hosts.
//
// EnsureLocalCA refuses, with an error naming the file and leaving every
// file as it is, when a key file is readable by group or others, a file is
// corrupt, files disagree, only part of the CA exists, or the CA has
// expired. It never replaces a CA.
func EnsureLocalCA(dir string, hosts []string, now time.Time) (*Material, error) {
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	dns, ips, err := wantedHosts(hosts)
	if err != nil {
		return nil, err
	}
	m := &Material{
		CAPath:   filepath.Join(dir, CAFile),
		CertPath: filepath.Join(dir, ServerFile),
		KeyPath:  filepath.Join(dir, ServerKeyFile),
	}
	caCert, caKey, created, err := ensureCA(dir, now)
	if err != nil {
		return nil, err
	}
	m.Created = created
	m.CACertPEM = pemCert(caCert.Raw)
	m.CAFingerprint = Fingerprint(caCert.Raw)
	if err := ensureFingerprintFile(dir, m.CAFingerprint); err != nil {
		return nil, err
	}
	cert, renewed, err := ensureServer(dir, caCert, caKey, dns, ips, now, created)
	if err != nil {
		return nil, err
	}
	m.ServerCert = cert
	m.Renewed = renewed
	return m, nil
}

// checkDir requires an existing directory that others cannot write to,
// since whoever can replace files there can replace the CA.
func checkDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("certificate directory: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("certificate directory %s: not a directory", dir)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("certificate directory %s: %w: mode %04o lets other users replace files; run chmod go-w on it (0700 recommended)", dir, ErrInsecure, st.Mode().Perm())
	}
	return nil
}

// ensureCA loads the CA from dir or, when neither of its files exists,
// creates it.
func ensureCA(dir string, now time.Time) (*x509.Certificate, crypto.Signer, bool, error) {
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)
	haveCert, err := exists(certPath)
	if err != nil {
		return nil, nil, false, err
	}
	haveKey, err := exists(keyPath)
	if err != nil {
		return nil, nil, false, err
	}
	switch {
	case haveCert && haveKey:
		cert, key, err := loadCA(certPath, keyPath, now)
		return cert, key, false, err
	case haveCert:
		return nil, nil, false, fmt.Errorf("%s exists but %s does not: %w; restore the CA key, or move %s away to create a new CA (clients must then trust the new one)", certPath, CAKeyFile, ErrIncomplete, CAFile)
	case haveKey:
		return nil, nil, false, fmt.Errorf("%s exists but %s does not: %w; restore the CA certificate, or move %s away to create a new CA (clients must then trust the new one)", keyPath, CAFile, ErrIncomplete, CAKeyFile)
	}
	// A server certificate without its CA means the CA was removed; a new
	// CA would silently change what clients must trust.
	for _, name := range []string{ServerFile, ServerKeyFile, FingerprintFile} {
		if ok, err := exists(filepath.Join(dir, name)); err != nil {
			return nil, nil, false, err
		} else if ok {
			return nil, nil, false, fmt.Errorf("%s exists but the CA (%s, %s) does not: %w; restore the CA, or move %s, %s and %s away to start afresh", filepath.Join(dir, name), CAFile, CAKeyFile, ErrIncomplete, ServerFile, ServerKeyFile, FingerprintFile)
		}
	}
	cert, key, err := createCA(now)
	if err != nil {
		return nil, nil, false, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, false, fmt.Errorf("encode CA key: %w", err)
	}
	// The key goes first: a crash between the two writes leaves a key
	// without a certificate, which is reported, never a certificate whose
	// key is lost.
	if err := writeFile(dir, CAKeyFile, pemBlock("PRIVATE KEY", keyDER), 0o600, false); err != nil {
		return nil, nil, false, err
	}
	if err := writeFile(dir, CAFile, pemCert(cert.Raw), 0o644, false); err != nil {
		return nil, nil, false, err
	}
	return cert, key, true, nil
}

func createCA(now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return nil, nil, fmt.Errorf("generate CA name: %w", err)
	}
	notBefore := now.Add(-backdate)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   "Mapwright local CA " + hex.EncodeToString(suffix),
			Organization: []string{"Mapwright local CA"},
		},
		NotBefore:             notBefore,
		NotAfter:              notBefore.AddDate(CAValidityYears, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("create CA certificate: %w", err)
	}
	return cert, key, nil
}

func loadCA(certPath, keyPath string, now time.Time) (*x509.Certificate, crypto.Signer, error) {
	key, err := loadKey(keyPath)
	if err != nil {
		return nil, nil, err
	}
	chain, err := loadCerts(certPath)
	if err != nil {
		return nil, nil, err
	}
	if len(chain) != 1 {
		return nil, nil, fmt.Errorf("%s: %w: holds %d certificates, want exactly the CA", certPath, ErrCorrupt, len(chain))
	}
	cert := chain[0]
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, nil, fmt.Errorf("%s: %w: not a CA certificate", certPath, ErrCorrupt)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, nil, fmt.Errorf("%s and %s: %w: the key does not belong to the certificate", keyPath, certPath, ErrMismatch)
	}
	if now.After(cert.NotAfter) {
		return nil, nil, fmt.Errorf("%s: %w on %s; move %s, %s, %s and the server files away to create a new CA (clients must then trust the new one)", certPath, ErrExpired, cert.NotAfter.UTC().Format(time.DateOnly), CAFile, CAKeyFile, FingerprintFile)
	}
	return cert, key, nil
}

// ensureFingerprintFile writes ca.fingerprint when it is missing and
// otherwise checks it: a different fingerprint means the CA was swapped
// under a published fingerprint.
func ensureFingerprintFile(dir, fp string) error {
	path := filepath.Join(dir, FingerprintFile)
	data, err := readSmallFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return writeFile(dir, FingerprintFile, []byte(fp+"\n"), 0o644, false)
	case err != nil:
		return fmt.Errorf("read %s: %w", path, err)
	}
	got, perr := ParseFingerprint(strings.TrimSpace(string(data)))
	want, _ := ParseFingerprint(fp)
	if perr != nil || !bytes.Equal(got, want) {
		return fmt.Errorf("%s: %w: it does not hold the fingerprint of %s (%s); if the CA was replaced on purpose, delete %s", path, ErrMismatch, CAFile, fp, FingerprintFile)
	}
	return nil
}

// ensureServer loads the server certificate and key, issuing or renewing
// the certificate when needed.
func ensureServer(dir string, ca *x509.Certificate, caKey crypto.Signer, dns []string, ips []net.IP, now time.Time, caCreated bool) (tls.Certificate, bool, error) {
	certPath, keyPath := filepath.Join(dir, ServerFile), filepath.Join(dir, ServerKeyFile)
	haveCert, err := exists(certPath)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	haveKey, err := exists(keyPath)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	if haveCert && !haveKey {
		return tls.Certificate{}, false, fmt.Errorf("%s exists but %s does not: %w; move %s away to issue a new server certificate", certPath, ServerKeyFile, ErrIncomplete, ServerFile)
	}

	var key crypto.Signer
	if haveKey {
		if key, err = loadKey(keyPath); err != nil {
			return tls.Certificate{}, false, err
		}
	} else {
		ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return tls.Certificate{}, false, fmt.Errorf("generate server key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(ek)
		if err != nil {
			return tls.Certificate{}, false, fmt.Errorf("encode server key: %w", err)
		}
		if err := writeFile(dir, ServerKeyFile, pemBlock("PRIVATE KEY", der), 0o600, false); err != nil {
			return tls.Certificate{}, false, err
		}
		key = ek
	}

	if haveCert {
		chain, err := loadCerts(certPath)
		if err != nil {
			return tls.Certificate{}, false, err
		}
		leaf := chain[0]
		if !publicKeysEqual(leaf.PublicKey, key.Public()) {
			return tls.Certificate{}, false, fmt.Errorf("%s and %s: %w: the key does not belong to the certificate", keyPath, certPath, ErrMismatch)
		}
		if !needsRenewal(leaf, ca, dns, ips, now) {
			return tlsCert(leaf, ca, key), false, nil
		}
	}

	leaf, err := issueServer(ca, caKey, key, dns, ips, now)
	if err != nil {
		return tls.Certificate{}, false, err
	}
	chainPEM := append(pemCert(leaf.Raw), pemCert(ca.Raw)...)
	// Renewal replaces server.pem in one rename; the key stays, so no
	// moment exists where the pair on disk disagrees.
	if err := writeFile(dir, ServerFile, chainPEM, 0o644, haveCert); err != nil {
		return tls.Certificate{}, false, err
	}
	return tlsCert(leaf, ca, key), !caCreated, nil
}

// needsRenewal reports whether a valid server certificate should be
// replaced.
func needsRenewal(leaf, ca *x509.Certificate, dns []string, ips []net.IP, now time.Time) bool {
	if leaf.CheckSignatureFrom(ca) != nil || !bytes.Equal(leaf.RawIssuer, ca.RawSubject) {
		return true
	}
	// A certificate not yet valid (clock set back) is kept: its CA is not
	// valid yet either, so a new certificate would not help.
	if now.Add(RenewBefore).After(leaf.NotAfter) {
		return true
	}
	return !coversHosts(leaf, dns, ips)
}

func coversHosts(leaf *x509.Certificate, dns []string, ips []net.IP) bool {
	for _, d := range dns {
		found := false
		for _, have := range leaf.DNSNames {
			if strings.EqualFold(have, d) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	for _, ip := range ips {
		found := false
		for _, have := range leaf.IPAddresses {
			if have.Equal(ip) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func issueServer(ca *x509.Certificate, caKey, key crypto.Signer, dns []string, ips []net.IP, now time.Time) (*x509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	notBefore := now.Add(-backdate)
	if notBefore.Before(ca.NotBefore) {
		notBefore = ca.NotBefore
	}
	notAfter := notBefore.Add(ServerValidity)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:   "Mapwright server",
			Organization: []string{"Mapwright"},
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("issue server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("issue server certificate: %w", err)
	}
	return leaf, nil
}

func tlsCert(leaf, ca *x509.Certificate, key crypto.Signer) tls.Certificate {
	return tls.Certificate{
		Certificate: [][]byte{leaf.Raw, ca.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}
}

// wantedHosts returns the DNS names and IPs a server certificate must
// cover: localhost, 127.0.0.1, ::1, the machine's host name, and hosts
// (unspecified addresses such as 0.0.0.0 among them are skipped).
func wantedHosts(hosts []string) ([]string, []net.IP, error) {
	dns := []string{"localhost"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}
	add := func(h string) error {
		name, ip, err := normalizeHost(h)
		if err != nil {
			return err
		}
		if ip.IsValid() {
			// A wildcard listen address ("0.0.0.0", "::") is no name a
			// client connects to.
			if ip.IsUnspecified() {
				return nil
			}
			nip := net.IP(ip.AsSlice())
			for _, have := range ips {
				if have.Equal(nip) {
					return nil
				}
			}
			ips = append(ips, nip)
			return nil
		}
		for _, have := range dns {
			if have == name {
				return nil
			}
		}
		dns = append(dns, name)
		return nil
	}
	// A host name that is not a valid DNS name (possible on some systems)
	// is left out rather than failing the daemon.
	if hn, err := os.Hostname(); err == nil && hn != "" {
		_ = add(hn)
	}
	for _, h := range hosts {
		if err := add(h); err != nil {
			return nil, nil, err
		}
	}
	return dns, ips, nil
}

// normalizeHost turns a host into a lower-case DNS name or an IP address.
// A leading "*." wildcard label is allowed in names.
func normalizeHost(h string) (string, netip.Addr, error) {
	s := strings.TrimSpace(h)
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	if ip, err := netip.ParseAddr(s); err == nil {
		if ip.Zone() != "" {
			return "", netip.Addr{}, fmt.Errorf("%w: %q: a certificate cannot name an IPv6 zone", ErrInvalidHost, h)
		}
		return "", ip.Unmap(), nil
	}
	s = strings.ToLower(strings.TrimSuffix(s, "."))
	if s == "" || len(s) > 253 {
		return "", netip.Addr{}, fmt.Errorf("%w: %q", ErrInvalidHost, h)
	}
	labels := strings.Split(s, ".")
	for i, l := range labels {
		if i == 0 && l == "*" && len(labels) > 2 {
			continue
		}
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return "", netip.Addr{}, fmt.Errorf("%w: %q", ErrInvalidHost, h)
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return "", netip.Addr{}, fmt.Errorf("%w: %q", ErrInvalidHost, h)
			}
		}
	}
	return s, netip.Addr{}, nil
}

// loadKey reads a private key file, refusing one that other users can
// read.
func loadKey(path string) (crypto.Signer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w: not a regular file", path, ErrCorrupt)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: %w: mode %04o lets other users read the private key; run chmod 600 on it", path, ErrInsecure, st.Mode().Perm())
	}
	data, err := readSmallFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	key, err := parseKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// parseKey decodes one PEM private key (PKCS #8, SEC 1 or PKCS #1).
func parseKey(data []byte) (crypto.Signer, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrCorrupt)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: unexpected data after the key", ErrCorrupt)
	}
	var (
		k   any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%w: PEM block %q is not a private key", ErrCorrupt, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: unsupported key type %T", ErrCorrupt, k)
	}
	return signer, nil
}

func loadCerts(path string) ([]*x509.Certificate, error) {
	data, err := readSmallFile(path)
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	certs, err := parseCerts(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return certs, nil
}

// parseCerts decodes one or more PEM certificates and nothing else.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: PEM block %q where a certificate was expected", ErrCorrupt, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %v", ErrCorrupt, len(out)+1, err)
		}
		out = append(out, c)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%w: data that is not PEM after certificate %d", ErrCorrupt, len(out))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no PEM certificate", ErrCorrupt)
	}
	return out, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ka, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ka.Equal(b)
}

func exists(path string) (bool, error) {
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("check %s: %w", path, err)
	}
}

func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	// Serial numbers must be positive; adding one also rules out zero.
	return n.Add(n, big.NewInt(1)), nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pemCert(der []byte) []byte { return pemBlock("CERTIFICATE", der) }

// writeFile writes data to dir/name through a synced temporary file. With
// replace false the final step refuses to overwrite an existing file (a
// hard link fails on an existing name), so two processes creating the
// material at once cannot end up with one's key and the other's
// certificate.
func writeFile(dir, name string, data []byte, perm os.FileMode, replace bool) (err error) {
	final := filepath.Join(dir, name)
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", final, err)
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmpName)
		}
	}()
	if err = tmp.Chmod(perm); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return fmt.Errorf("write %s: %w", final, err)
	}
	if _, err = tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", final, err)
	}
	if err = tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", final, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", final, err)
	}
	if replace {
		if err = os.Rename(tmpName, final); err != nil {
			return fmt.Errorf("write %s: %w", final, err)
		}
	} else {
		if err = os.Link(tmpName, final); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("write %s: %w: it appeared while being created (another process creating the same material?)", final, ErrIncomplete)
			}
			// Some filesystems have no hard links; fall back to a rename
			// after checking the name is still free.
			if ok, xerr := exists(final); xerr != nil || ok {
				return fmt.Errorf("write %s: %w: it appeared while being created", final, ErrIncomplete)
			}
			if err = os.Rename(tmpName, final); err != nil {
				return fmt.Errorf("write %s: %w", final, err)
			}
		} else {
			_ = os.Remove(tmpName)
		}
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename durable. Some platforms cannot sync a directory;
// the file contents are already synced, so that failure is ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// Fingerprint returns the SHA-256 of a DER certificate as uppercase hex
// byte pairs separated by colons ("AB:CD:…"), as browsers and openssl
// display it.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	var b strings.Builder
	b.Grow(len(sum)*3 - 1)
	const digits = "0123456789ABCDEF"
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteByte(digits[c>>4])
		b.WriteByte(digits[c&0x0f])
	}
	return b.String()
}

// ParseFingerprint decodes a SHA-256 fingerprint written as Fingerprint
// does, or as plain hex, in either case, optionally prefixed "sha256:" or
// "SHA256 Fingerprint=". It returns the 32 bytes, for comparing with
// sha256.Sum256 of a certificate.
func ParseFingerprint(s string) ([]byte, error) {
	t := strings.TrimSpace(s)
	low := strings.ToLower(t)
	for _, p := range []string{"sha256 fingerprint=", "sha256:", "sha256="} {
		if strings.HasPrefix(low, p) {
			t = t[len(p):]
			break
		}
	}
	t = strings.ReplaceAll(t, ":", "")
	b, err := hex.DecodeString(t)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("invalid SHA-256 fingerprint %q: want 64 hex digits, optionally in colon-separated pairs", s)
	}
	return b, nil
}

// ServerTLSConfig returns the TLS settings of every Mapwright listener:
// TLS 1.2 or later, HTTP/2 and HTTP/1.1 by ALPN, and for TLS 1.2 only
// forward-secret AEAD cipher suites (TLS 1.3 suites are all modern and
// not configurable).
func ServerTLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}
}

// ClientCAPool reads a PEM file of CA certificates for verifying client
// certificates (mutual TLS). Every block must be a CA certificate; a file
// with none, or with anything else (a key, a leaf certificate), is
// refused.
func ClientCAPool(path string) (*x509.CertPool, error) {
	data, err := readSmallFile(path)
	if err != nil {
		return nil, fmt.Errorf("read client CA file: %w", err)
	}
	pool, err := parseCAPool(data)
	if err != nil {
		return nil, fmt.Errorf("client CA file %s: %w", path, err)
	}
	return pool, nil
}

// maxPEMFile bounds the PEM files read; real ones are a few kilobytes.
const maxPEMFile = 1 << 20

// readSmallFile reads a regular file of at most maxPEMFile bytes, so a
// path naming a device or pipe cannot block or exhaust memory.
func readSmallFile(path string) ([]byte, error) {
	// Checked before opening: opening a pipe would block.
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxPEMFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxPEMFile)
	}
	return data, nil
}

func parseCAPool(data []byte) (*x509.CertPool, error) {
	certs, err := parseCerts(data)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for i, c := range certs {
		if !c.BasicConstraintsValid || !c.IsCA {
			return nil, fmt.Errorf("%w: certificate %d (%s) is not a CA certificate", ErrCorrupt, i+1, c.Subject.CommonName)
		}
		pool.AddCert(c)
	}
	return pool, nil
}
