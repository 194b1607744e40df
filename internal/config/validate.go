package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/mapwright/mapwright/internal/certs"
)

// tilesetName is the catalog's rule for tileset names.
var tilesetName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// maxSocketPath is the longest unix socket path the platform accepts
// (sun_path less its terminating NUL).
func maxSocketPath() int {
	switch runtime.GOOS {
	case "linux", "android", "windows":
		return 107
	default:
		return 103
	}
}

// Validate checks every setting and returns all problems at once, joined,
// each a *FieldError naming its key: "listen.tls_cert: file not found:
// /etc/mapwright/cert.pem", "rate_limit.burst: must be >= 1". Files named
// by settings must exist and parse. Validate does not print or return the
// database password.
func (c Config) Validate() error {
	var errs []error
	add := func(field string, err error) {
		if err != nil {
			errs = append(errs, fieldErr(field, err))
		}
	}
	addf := func(field, format string, args ...any) {
		errs = append(errs, fieldErr(field, fmt.Errorf(format, args...)))
	}

	// Paths derived from a bad data_dir are missing; one error for the
	// cause is enough.
	dataDirOK := false
	switch {
	case c.DataDir == "":
		addf("data_dir", "not set, and neither XDG_DATA_HOME nor HOME gives a default")
	case !filepath.IsAbs(c.DataDir):
		addf("data_dir", "must be an absolute path (\"~/\" is expanded), got %q", c.DataDir)
	default:
		dataDirOK = true
	}
	add("database_url", checkDatabaseURL(c.DatabaseURL))

	// tiles
	if c.Tiles.Dir == "" && dataDirOK {
		addf("tiles.dir", "must not be empty")
	}
	for i, name := range c.Tiles.Public {
		if !tilesetName.MatchString(name) || name == "." || name == ".." {
			addf(fmt.Sprintf("tiles.public[%d]", i), "invalid tileset name %q: use letters, digits, '.', '_' and '-'", name)
		}
	}
	if hasControl(c.Tiles.CacheControl) {
		addf("tiles.cache_control", "must not contain control characters or line breaks")
	}
	if c.Tiles.Absent != 204 && c.Tiles.Absent != 404 {
		addf("tiles.absent", "must be 204 or 404, got %d", c.Tiles.Absent)
	}

	// listen
	if c.Listen.Addr == "" {
		addf("listen.addr", "must not be empty: the public listener always serves TLS")
	} else {
		add("listen.addr", checkHostPort(c.Listen.Addr))
	}
	if c.Listen.HTTPAddr != "" {
		if err := checkHostPort(c.Listen.HTTPAddr); err != nil {
			add("listen.http_addr", err)
		} else if sameListener(c.Listen.HTTPAddr, c.Listen.Addr) {
			addf("listen.http_addr", "uses the same port as listen.addr")
		}
	}
	errs = append(errs, checkKeyPair(c.Listen.TLSCert, c.Listen.TLSKey)...)
	for i, s := range c.Listen.TrustedProxies {
		add(fmt.Sprintf("listen.trusted_proxies[%d]", i), checkTrustedProxy(s))
	}
	add("listen.public_url", checkPublicURL(c.Listen.PublicURL))

	// admin
	switch {
	case c.Admin.Socket == "":
		if dataDirOK {
			addf("admin.socket", "must not be empty")
		}
	case len(c.Admin.Socket) > maxSocketPath():
		addf("admin.socket", "path is %d bytes, longer than the %d bytes a unix socket path may have; choose a shorter admin.socket or data_dir", len(c.Admin.Socket), maxSocketPath())
	}
	if c.Admin.Addr != "" {
		if err := checkHostPort(c.Admin.Addr); err != nil {
			add("admin.addr", err)
		} else {
			for _, other := range []struct{ key, addr string }{{"listen.addr", c.Listen.Addr}, {"listen.http_addr", c.Listen.HTTPAddr}} {
				if other.addr != "" && sameListener(c.Admin.Addr, other.addr) {
					addf("admin.addr", "uses the same port as %s", other.key)
				}
			}
		}
		if len(c.Admin.AllowedCIDRs) == 0 {
			addf("admin.allowed_cidrs", "must list at least one network when admin.addr is set (\"0.0.0.0/0\" and \"::/0\" allow every client)")
		}
	}
	for i, h := range c.Admin.AllowedHosts {
		add(fmt.Sprintf("admin.allowed_hosts[%d]", i), checkAllowedHost(h))
	}
	for i, s := range c.Admin.AllowedCIDRs {
		_, err := parseCIDR(s)
		add(fmt.Sprintf("admin.allowed_cidrs[%d]", i), err)
	}
	if c.Admin.ClientCA != "" {
		if err := checkFile(c.Admin.ClientCA); err != nil {
			add("admin.client_ca", err)
		} else if _, err := certs.ClientCAPool(c.Admin.ClientCA); err != nil {
			add("admin.client_ca", err)
		}
	}

	// rate_limit
	if !positive(c.RateLimit.RPS) {
		addf("rate_limit.rps", "must be a positive number, got %v", c.RateLimit.RPS)
	}
	if c.RateLimit.Burst < 1 {
		addf("rate_limit.burst", "must be >= 1, got %d", c.RateLimit.Burst)
	}
	if !positive(c.RateLimit.AuthFailRPS) {
		addf("rate_limit.auth_fail_rps", "must be a positive number, got %v", c.RateLimit.AuthFailRPS)
	}
	if c.RateLimit.AuthFailBurst < 1 {
		addf("rate_limit.auth_fail_burst", "must be >= 1, got %d", c.RateLimit.AuthFailBurst)
	}

	if c.Audit.Retention < 0 {
		addf("audit.retention", "must be >= 0 (0 keeps events forever), got %s", c.Audit.Retention)
	}

	// backup
	switch {
	case c.Backup.Schedule < 0:
		addf("backup.schedule", "must be >= 0 (0 turns scheduled backups off), got %s", c.Backup.Schedule)
	case c.Backup.Schedule > 0 && c.Backup.Schedule < time.Minute:
		addf("backup.schedule", "must be at least 1m, got %s", c.Backup.Schedule)
	case c.Backup.Schedule > 0 && len(c.Backup.Recipients) == 0:
		addf("backup.recipients", "required with backup.schedule: the age public keys (age1...) backups are encrypted to")
	}
	for _, r := range c.Backup.Recipients {
		if !strings.HasPrefix(r, "age1") {
			addf("backup.recipients", "%q is not an age X25519 public key (age1...); the daemon never holds a passphrase", r)
		}
	}
	for name, n := range map[string]int{"backup.keep_last": c.Backup.KeepLast, "backup.keep_daily": c.Backup.KeepDaily,
		"backup.keep_weekly": c.Backup.KeepWeekly, "backup.keep_monthly": c.Backup.KeepMonthly} {
		if n < 0 {
			addf(name, "must be >= 0, got %d", n)
		}
	}

	// keys
	if c.Keys.CacheSize < 0 {
		addf("keys.cache_size", "must be >= 0 (0 disables the cache), got %d", c.Keys.CacheSize)
	}
	if c.Keys.CacheTTL < 0 {
		addf("keys.cache_ttl", "must be >= 0, got %s", c.Keys.CacheTTL)
	}
	if c.Keys.OutageGrace < 0 {
		addf("keys.outage_grace", "must be >= 0 (0 fails closed at once), got %s", c.Keys.OutageGrace)
	}

	// log
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		addf("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case LogFormatText, LogFormatJSON:
	default:
		addf("log.format", "must be text or json, got %q", c.Log.Format)
	}

	// server
	for _, t := range []struct {
		key string
		d   time.Duration
	}{
		{"server.read_header_timeout", c.Server.ReadHeaderTimeout},
		{"server.read_timeout", c.Server.ReadTimeout},
		{"server.write_timeout", c.Server.WriteTimeout},
		{"server.idle_timeout", c.Server.IdleTimeout},
		{"server.shutdown_timeout", c.Server.ShutdownTimeout},
	} {
		if t.d <= 0 {
			addf(t.key, "must be > 0 (a server without timeouts can be held open forever), got %s", t.d)
		}
	}
	if c.Server.MaxHeaderBytes < 1024 {
		addf("server.max_header_bytes", "must be >= 1024, got %d", c.Server.MaxHeaderBytes)
	}
	return errors.Join(errs...)
}

func positive(f float64) bool {
	return f > 0 && !math.IsInf(f, 0) && !math.IsNaN(f)
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return true
		}
	}
	return false
}

// parseCIDR parses a network such as "10.0.0.0/24"; a bare address gets
// a hint at the /32 or /128 form.
func parseCIDR(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		hint := ""
		if a, aerr := netip.ParseAddr(s); aerr == nil {
			hint = fmt.Sprintf(" (for one address write %s/%d)", s, a.BitLen())
		}
		return netip.Prefix{}, fmt.Errorf("invalid CIDR %q%s", s, hint)
	}
	return p, nil
}

// checkTrustedProxy accepts the network of a load balancer or proxy, but
// not one that holds every address: then any client could say it is
// anyone.
func checkTrustedProxy(s string) error {
	p, err := parseCIDR(s)
	if err != nil {
		return err
	}
	if p.Bits() == 0 {
		return fmt.Errorf("%q trusts every address, so any client could claim any address; list only the networks of your load balancers or proxies", s)
	}
	return nil
}

// checkPublicURL accepts an empty string or the base URL clients use:
// absolute, https (http only for a loopback host, for local testing), a
// valid host, no user info, query or fragment, and a plain path prefix.
func checkPublicURL(raw string) error {
	if raw == "" {
		return nil
	}
	const example = "https://tiles.example.com"
	if hasControl(raw) || strings.ContainsAny(raw, " \t") {
		return errors.New("must not contain spaces or control characters")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Opaque != "" || u.Host == "" {
		return fmt.Errorf("must be an absolute URL such as %s, got %q", example, raw)
	}
	if u.User != nil {
		// The value is not repeated: it may hold a password.
		return errors.New("must not contain a user name or password")
	}
	if u.RawQuery != "" || u.ForceQuery {
		return fmt.Errorf("must not have a query (?...): tile URLs append their own, got %q", raw)
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return fmt.Errorf("must not have a fragment (#...), got %q", raw)
	}
	host := u.Hostname()
	if !validHost(host) || strings.Contains(host, "%") {
		return fmt.Errorf("invalid host %q", host)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("invalid port %q", p)
		}
	}
	for _, r := range u.Path {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~/", r)) {
			return fmt.Errorf("path %q may hold only letters, digits and - . _ ~ /", u.Path)
		}
	}
	if prefix := strings.Trim(u.Path, "/"); prefix != "" {
		for seg := range strings.SplitSeq(prefix, "/") {
			if seg == "" || seg == "." || seg == ".." {
				return fmt.Errorf("path %q must not hold empty, . or .. segments", u.Path)
			}
		}
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopbackHost(host) {
			return fmt.Errorf("must use https: clients reach the tiles over TLS (http only for a loopback host such as http://localhost:8080), got %q", raw)
		}
	default:
		return fmt.Errorf("scheme must be https, got %q", u.Scheme)
	}
	return nil
}

// isLoopbackHost reports whether host is localhost or a loopback address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// checkDatabaseURL accepts an empty string (embedded SQLite) or a
// PostgreSQL URL. Its messages show the URL only redacted.
func checkDatabaseURL(raw string) error {
	if raw == "" {
		return nil
	}
	if !strings.Contains(raw, "://") {
		return fmt.Errorf("must be a URL such as postgres://user@host:5432/mapwright, got %q", RedactURL(raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the whole input, password included, so its
		// message is not passed on.
		return fmt.Errorf("not a valid URL: %q (characters such as @ / ? # in the password must be percent-encoded)", RedactURL(raw))
	}
	switch strings.ToLower(u.Scheme) {
	case "postgres", "postgresql":
	default:
		return fmt.Errorf("scheme must be postgres or postgresql, got %q", u.Scheme)
	}
	// An "@" outside the user info means a password with an unescaped
	// special character, which makes the URL point somewhere else.
	if ats := strings.Count(raw, "@"); ats > 1 || (ats == 1 && u.User == nil) {
		return fmt.Errorf("ambiguous URL %q: percent-encode characters such as @ / ? # in the user name and password", RedactURL(raw))
	}
	return nil
}

// checkHostPort accepts "host:port" where host may be empty (all
// interfaces), an IP or a DNS name, and port is 0–65535.
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("must be host:port such as \":8443\" or \"127.0.0.1:8443\", got %q", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port must be a number from 0 to 65535, got %q", port)
	}
	if host != "" && !validHost(host) {
		return fmt.Errorf("invalid host %q", host)
	}
	return nil
}

// validHost accepts an IP address (with zone) or a DNS name.
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// checkAllowedHost accepts a Host header value: a name or IP, optionally
// with a port; IPv6 in brackets.
func checkAllowedHost(h string) error {
	if strings.Contains(h, "*") {
		return fmt.Errorf("wildcards are not allowed, list each name: %q", h)
	}
	host := h
	if hh, port, err := net.SplitHostPort(h); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("invalid port in %q", h)
		}
		host = hh
	} else if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		host = h[1 : len(h)-1]
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("invalid host %q", h)
		}
	} else if strings.Contains(h, ":") {
		return fmt.Errorf("invalid host %q (write IPv6 addresses in brackets: [::1]:9443)", h)
	}
	if !validHost(host) {
		return fmt.Errorf("invalid host %q: a Host header value is a name or address, optionally with :port", h)
	}
	return nil
}

// sameListener reports whether two valid host:port addresses would
// collide: the same non-zero port on the same or an all-interfaces host.
func sameListener(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb || pa == "0" {
		return false
	}
	wild := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return wild(ha) || wild(hb) || strings.EqualFold(ha, hb)
}

// checkFile reports a path that does not name a readable regular file.
func checkFile(path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %s", ErrNotFound, path)
	case err != nil:
		return fmt.Errorf("cannot read %s: %w", path, err)
	case st.IsDir():
		return fmt.Errorf("%s is a directory, not a file", path)
	case !st.Mode().IsRegular():
		// Devices and pipes could block or never end when read.
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}

// checkKeyPair validates listen.tls_cert and listen.tls_key: both or
// neither, both files present, and the key matching the certificate.
func checkKeyPair(cert, key string) []error {
	switch {
	case cert == "" && key == "":
		return nil
	case key == "":
		return []error{fieldErr("listen.tls_key", errors.New("required when listen.tls_cert is set (give both or neither)"))}
	case cert == "":
		return []error{fieldErr("listen.tls_cert", errors.New("required when listen.tls_key is set (give both or neither)"))}
	}
	var errs []error
	if err := checkFile(cert); err != nil {
		errs = append(errs, fieldErr("listen.tls_cert", err))
	}
	if err := checkFile(key); err != nil {
		errs = append(errs, fieldErr("listen.tls_key", err))
	}
	if len(errs) > 0 {
		return errs
	}
	certPEM, err := readBounded(cert)
	if err != nil {
		return []error{fieldErr("listen.tls_cert", err)}
	}
	keyPEM, err := readBounded(key)
	if err != nil {
		return []error{fieldErr("listen.tls_key", err)}
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return []error{fieldErr("listen.tls_key", fmt.Errorf("does not load with listen.tls_cert: %w", err))}
	}
	return nil
}

// maxPEMSize bounds the certificate and key files read; real ones are a
// few kilobytes.
const maxPEMSize = 1 << 20

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPEMSize+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	if len(data) > maxPEMSize {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a PEM file", path, maxPEMSize)
	}
	return data, nil
}
