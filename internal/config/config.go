// Package config holds the typed configuration of mapwrightd: its
// conservative defaults, loading from a YAML file, MAPWRIGHT_* environment
// variables and command-line flags through one viper instance, and
// validation that names the bad field.
//
// Precedence, lowest to highest: built-in defaults, the YAML file given
// with --config (or MAPWRIGHT_CONFIG), environment variables, and flags the
// user actually set. The environment variable of a key is MAPWRIGHT_
// followed by the key in upper case with dots replaced by underscores:
// listen.addr is MAPWRIGHT_LISTEN_ADDR, rate_limit.rps is
// MAPWRIGHT_RATE_LIMIT_RPS. List values in the environment are
// comma-separated. An empty environment variable is ignored.
//
// Empty path and list settings mean "derive the default": data_dir falls
// back to $XDG_DATA_HOME/mapwright, tiles.dir and admin.socket to places in
// the data directory, admin.allowed_hosts to the loopback names with the
// admin port.
//
// No config file is searched for: only the file named by --config or
// MAPWRIGHT_CONFIG is read, so what runs is what the operator asked for.
package config

import (
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Config is the whole configuration of mapwrightd. Commands read this
// struct, never viper. Each field's comment gives its key, default, and
// environment variable.
type Config struct {
	// DataDir (data_dir) is the directory holding the SQLite database, the
	// audit key, the local CA and the admin socket. Default:
	// $XDG_DATA_HOME/mapwright, else ~/.local/share/mapwright. A leading
	// "~/" is expanded; after expansion the path must be absolute.
	// Env MAPWRIGHT_DATA_DIR, flag --data-dir.
	DataDir string `mapstructure:"data_dir" yaml:"data_dir"`

	// DatabaseURL (database_url) selects PostgreSQL
	// ("postgres://user:pass@host/db"). Default empty: the embedded SQLite
	// database in DataDir. It may hold a password: print it only through
	// RedactURL. Env MAPWRIGHT_DATABASE_URL, flag --database-url.
	DatabaseURL string `mapstructure:"database_url" yaml:"database_url"`

	// Tiles configures where tilesets come from and how tiles are served.
	Tiles TilesConfig `mapstructure:"tiles" yaml:"tiles"`

	// Listen configures the public tile listener.
	Listen ListenConfig `mapstructure:"listen" yaml:"listen"`

	// Admin configures the admin API listeners.
	Admin AdminConfig `mapstructure:"admin" yaml:"admin"`

	// RateLimit configures the default per-key and per-client limits.
	RateLimit RateLimitConfig `mapstructure:"rate_limit" yaml:"rate_limit"`

	// Audit configures the audit log.
	Audit AuditConfig `mapstructure:"audit" yaml:"audit"`

	// Keys configures the API key verification cache.
	Keys KeysConfig `mapstructure:"keys" yaml:"keys"`

	// Log configures the daemon's log output.
	Log LogConfig `mapstructure:"log" yaml:"log"`

	// Server holds the HTTP server timeouts and limits, applied to every
	// listener.
	Server ServerTimeouts `mapstructure:"server" yaml:"server"`

	// Backup configures scheduled backups, off by default.
	Backup BackupConfig `mapstructure:"backup" yaml:"backup"`
}

// BackupConfig is the backup section: scheduled, encrypted backups written
// by the daemon itself. The daemon holds only public keys, never anything
// that decrypts its backups.
type BackupConfig struct {
	// Schedule is the interval between backups (backup.schedule, env
	// MAPWRIGHT_BACKUP_SCHEDULE); 0, the default, turns scheduled backups
	// off. At least one minute.
	Schedule time.Duration `mapstructure:"schedule" yaml:"schedule"`
	// Dir receives the backup files (backup.dir, env MAPWRIGHT_BACKUP_DIR;
	// default DATA_DIR/backups).
	Dir string `mapstructure:"dir" yaml:"dir"`
	// Recipients are the age X25519 public keys ("age1...") backups are
	// encrypted to (backup.recipients, env MAPWRIGHT_BACKUP_RECIPIENTS);
	// required when Schedule is set.
	Recipients []string `mapstructure:"recipients" yaml:"recipients"`
	// KeepLast, KeepDaily, KeepWeekly and KeepMonthly prune the backup
	// directory after each backup: the N newest backups, and the newest of
	// each of the last N days, weeks and months (backup.keep_last, ...,
	// env MAPWRIGHT_BACKUP_KEEP_LAST, ...). All zero keeps every backup.
	KeepLast    int `mapstructure:"keep_last" yaml:"keep_last"`
	KeepDaily   int `mapstructure:"keep_daily" yaml:"keep_daily"`
	KeepWeekly  int `mapstructure:"keep_weekly" yaml:"keep_weekly"`
	KeepMonthly int `mapstructure:"keep_monthly" yaml:"keep_monthly"`
}

// TilesConfig is the tiles section.
type TilesConfig struct {
	// Dir (tiles.dir) is the directory scanned for .pmtiles and .mbtiles
	// files; a tileset's name is its file name without the extension.
	// Default: "tiles" inside DataDir. Env MAPWRIGHT_TILES_DIR, flag
	// --tiles.
	Dir string `mapstructure:"dir" yaml:"dir"`

	// Public (tiles.public) lists tileset names served without an API key.
	// Default: none, so every tileset needs a key. Names use only
	// [A-Za-z0-9._-]. Env MAPWRIGHT_TILES_PUBLIC (comma-separated), flag
	// --public-tileset (repeatable).
	Public []string `mapstructure:"public" yaml:"public"`

	// CacheControl (tiles.cache_control) is the Cache-Control header sent
	// with tiles. Default "public, max-age=3600". Empty sends no header.
	// Env MAPWRIGHT_TILES_CACHE_CONTROL.
	CacheControl string `mapstructure:"cache_control" yaml:"cache_control"`

	// Absent (tiles.absent) is the status of a request for a tile the
	// tileset does not hold: 204 (No Content, the default: web maps treat
	// it as an empty tile and log nothing) or 404. Env
	// MAPWRIGHT_TILES_ABSENT.
	Absent int `mapstructure:"absent" yaml:"absent"`
}

// ListenConfig is the listen section: the public tile listener.
type ListenConfig struct {
	// Addr (listen.addr) is the host:port of the HTTPS listener (HTTP/2
	// and HTTP/1.1). Default ":8443". Env MAPWRIGHT_LISTEN_ADDR, flag
	// --addr.
	Addr string `mapstructure:"addr" yaml:"addr"`

	// HTTPAddr (listen.http_addr) is an optional host:port for plain HTTP,
	// meant only behind a TLS-terminating proxy. Default empty: off.
	// Env MAPWRIGHT_LISTEN_HTTP_ADDR, flag --http-addr.
	HTTPAddr string `mapstructure:"http_addr" yaml:"http_addr"`

	// TLSCert (listen.tls_cert) is a PEM certificate chain file. Give it
	// together with TLSKey, or neither: then a local CA and a server
	// certificate are created in DataDir. Default empty. Env
	// MAPWRIGHT_LISTEN_TLS_CERT, flag --tls-cert.
	TLSCert string `mapstructure:"tls_cert" yaml:"tls_cert"`

	// TLSKey (listen.tls_key) is the PEM private key of TLSCert. Default
	// empty. Env MAPWRIGHT_LISTEN_TLS_KEY, flag --tls-key.
	TLSKey string `mapstructure:"tls_key" yaml:"tls_key"`

	// HSTS (listen.hsts) sends Strict-Transport-Security on TLS responses.
	// Default true. Env MAPWRIGHT_LISTEN_HSTS.
	HSTS bool `mapstructure:"hsts" yaml:"hsts"`

	// TrustedProxies (listen.trusted_proxies) lists the networks (CIDRs)
	// of the load balancers and reverse proxies in front of the public
	// listeners. Only a request whose immediate peer is inside one of them
	// has its X-Forwarded-For read (the client is the right-most entry
	// that is not itself a trusted proxy) and its X-Forwarded-Proto and
	// X-Forwarded-Host believed; the failure limit, audit events and logs
	// then see that client. List the proxies' own addresses only: any
	// client inside a listed network could claim any address. Default
	// empty: no forwarding header is read. Env
	// MAPWRIGHT_LISTEN_TRUSTED_PROXIES (comma-separated), flag
	// --trusted-proxy (repeatable).
	TrustedProxies []string `mapstructure:"trusted_proxies" yaml:"trusted_proxies"`

	// PublicURL (listen.public_url) is the base URL clients reach the
	// public listener at, such as "https://tiles.example.com" behind a
	// load balancer; TileJSON and tileset list URLs start with it instead
	// of the request's scheme and host. An absolute https URL without
	// query or fragment (http only for a loopback host); a path is kept
	// as a prefix. Default empty: the request's own. Env
	// MAPWRIGHT_LISTEN_PUBLIC_URL, flag --public-url.
	PublicURL string `mapstructure:"public_url" yaml:"public_url"`
}

// AdminConfig is the admin section: the control-plane listeners.
type AdminConfig struct {
	// Socket (admin.socket) is the path of the admin unix socket (mode
	// 0660; access to it is admin access). Default "admin.sock" inside
	// DataDir. Env MAPWRIGHT_ADMIN_SOCKET, flag --admin-socket.
	Socket string `mapstructure:"socket" yaml:"socket"`

	// Addr (admin.addr) is an optional host:port for the admin API over
	// TCP, always TLS. Default empty: no TCP listener. Env
	// MAPWRIGHT_ADMIN_ADDR, flag --admin-addr.
	Addr string `mapstructure:"addr" yaml:"addr"`

	// AllowedHosts (admin.allowed_hosts) lists the Host header values the
	// TCP admin listener accepts, which stops DNS rebinding. Default:
	// localhost, 127.0.0.1 and [::1] with the port of Addr (see
	// LoopbackHosts); when Addr's port is 0 the list stays empty and the
	// daemon derives it from the bound port. Env
	// MAPWRIGHT_ADMIN_ALLOWED_HOSTS (comma-separated), flag
	// --admin-allowed-host (repeatable).
	AllowedHosts []string `mapstructure:"allowed_hosts" yaml:"allowed_hosts"`

	// AllowedCIDRs (admin.allowed_cidrs) lists the client networks the TCP
	// admin listener accepts. Default ["127.0.0.0/8", "::1/128"]. Env
	// MAPWRIGHT_ADMIN_ALLOWED_CIDRS (comma-separated), flag
	// --admin-allowed-cidr (repeatable).
	AllowedCIDRs []string `mapstructure:"allowed_cidrs" yaml:"allowed_cidrs"`

	// ClientCA (admin.client_ca) is a PEM file of CA certificates; when
	// set, the TCP admin listener requires client certificates signed by
	// one of them (mutual TLS). Default empty. Env
	// MAPWRIGHT_ADMIN_CLIENT_CA, flag --admin-client-ca.
	ClientCA string `mapstructure:"client_ca" yaml:"client_ca"`
}

// RateLimitConfig is the rate_limit section. Limits are per replica.
type RateLimitConfig struct {
	// RPS (rate_limit.rps) is the default sustained requests per second of
	// a key without its own rate. Default 100. Env
	// MAPWRIGHT_RATE_LIMIT_RPS.
	RPS float64 `mapstructure:"rps" yaml:"rps"`

	// Burst (rate_limit.burst) is the default token bucket size of a key
	// without its own burst. Default 400. Env MAPWRIGHT_RATE_LIMIT_BURST.
	Burst int `mapstructure:"burst" yaml:"burst"`

	// AuthFailRPS (rate_limit.auth_fail_rps) is the sustained rate of
	// failed authentications allowed per client IP. Default 1. Env
	// MAPWRIGHT_RATE_LIMIT_AUTH_FAIL_RPS.
	AuthFailRPS float64 `mapstructure:"auth_fail_rps" yaml:"auth_fail_rps"`

	// AuthFailBurst (rate_limit.auth_fail_burst) is the bucket size of
	// failed authentications per client IP. Default 20. Env
	// MAPWRIGHT_RATE_LIMIT_AUTH_FAIL_BURST.
	AuthFailBurst int `mapstructure:"auth_fail_burst" yaml:"auth_fail_burst"`
}

// AuditConfig is the audit section.
type AuditConfig struct {
	// Retention (audit.retention) is how long audit events are kept before
	// pruning (a checkpoint keeps the chain verifiable). Go durations
	// ("2160h") and days ("90d", "1d12h") are accepted. Default 90 days;
	// 0 keeps events forever. Env MAPWRIGHT_AUDIT_RETENTION.
	Retention time.Duration `mapstructure:"retention" yaml:"retention"`
}

// KeysConfig is the keys section: the verify cache of API keys.
type KeysConfig struct {
	// CacheSize (keys.cache_size) is the number of verified keys kept in
	// memory. Default 10000; 0 disables the cache. Env
	// MAPWRIGHT_KEYS_CACHE_SIZE.
	CacheSize int `mapstructure:"cache_size" yaml:"cache_size"`

	// CacheTTL (keys.cache_ttl) is how long a cached verification is
	// trusted before the store is asked again. Revocations also evict
	// entries at once. Default 30s. Env MAPWRIGHT_KEYS_CACHE_TTL.
	CacheTTL time.Duration `mapstructure:"cache_ttl" yaml:"cache_ttl"`

	// OutageGrace (keys.outage_grace) is how long cached verifications keep
	// serving while the store is unreachable; after it, requests fail
	// closed. Default 5m; 0 fails closed at once. Env
	// MAPWRIGHT_KEYS_OUTAGE_GRACE.
	OutageGrace time.Duration `mapstructure:"outage_grace" yaml:"outage_grace"`
}

// LogConfig is the log section.
type LogConfig struct {
	// Level (log.level) is the minimum level logged: debug, info, warn or
	// error. Default info. Env MAPWRIGHT_LOG_LEVEL, flag --log-level.
	Level string `mapstructure:"level" yaml:"level"`

	// Format (log.format) is text (logfmt-style lines) or json. Default
	// text. Env MAPWRIGHT_LOG_FORMAT, flag --log-format.
	Format string `mapstructure:"format" yaml:"format"`
}

// ServerTimeouts is the server section, applied to every http.Server.
type ServerTimeouts struct {
	// ReadHeaderTimeout (server.read_header_timeout) bounds reading request
	// headers. Default 5s. Env MAPWRIGHT_SERVER_READ_HEADER_TIMEOUT.
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout" yaml:"read_header_timeout"`

	// ReadTimeout (server.read_timeout) bounds reading a whole request.
	// Default 30s. Env MAPWRIGHT_SERVER_READ_TIMEOUT.
	ReadTimeout time.Duration `mapstructure:"read_timeout" yaml:"read_timeout"`

	// WriteTimeout (server.write_timeout) bounds writing a response.
	// Default 60s. Env MAPWRIGHT_SERVER_WRITE_TIMEOUT.
	WriteTimeout time.Duration `mapstructure:"write_timeout" yaml:"write_timeout"`

	// IdleTimeout (server.idle_timeout) closes idle keep-alive connections.
	// Default 120s. Env MAPWRIGHT_SERVER_IDLE_TIMEOUT.
	IdleTimeout time.Duration `mapstructure:"idle_timeout" yaml:"idle_timeout"`

	// MaxHeaderBytes (server.max_header_bytes) caps the size of request
	// headers. Default 16384. Env MAPWRIGHT_SERVER_MAX_HEADER_BYTES.
	MaxHeaderBytes int `mapstructure:"max_header_bytes" yaml:"max_header_bytes"`

	// ShutdownTimeout (server.shutdown_timeout) is how long a graceful
	// shutdown waits for requests in flight. Default 20s. Env
	// MAPWRIGHT_SERVER_SHUTDOWN_TIMEOUT.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout" yaml:"shutdown_timeout"`
}

// Log levels and formats accepted by LogConfig.
const (
	LogFormatText = "text"
	LogFormatJSON = "json"
)

// Defaults returns the built-in configuration, with the derived paths
// resolved against the process environment (XDG_DATA_HOME, HOME). It is
// what Load returns when nothing is set.
func Defaults() Config {
	c := baseDefaults()
	c.resolve(envMap(os.Environ()))
	return c
}

// baseDefaults are the defaults before derivation: the derived settings
// are empty so that a data_dir given later moves them along.
func baseDefaults() Config {
	return Config{
		Tiles: TilesConfig{
			CacheControl: "public, max-age=3600",
			Absent:       204,
		},
		Listen: ListenConfig{
			Addr: ":8443",
			HSTS: true,
		},
		Admin: AdminConfig{
			AllowedCIDRs: []string{"127.0.0.0/8", "::1/128"},
		},
		RateLimit: RateLimitConfig{
			RPS:           100,
			Burst:         400,
			AuthFailRPS:   1,
			AuthFailBurst: 20,
		},
		Audit: AuditConfig{Retention: 90 * 24 * time.Hour},
		Keys: KeysConfig{
			CacheSize:   10000,
			CacheTTL:    30 * time.Second,
			OutageGrace: 5 * time.Minute,
		},
		Log: LogConfig{Level: "info", Format: LogFormatText},
		Server: ServerTimeouts{
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    16384,
			ShutdownTimeout:   20 * time.Second,
		},
	}
}

// resolve fills the derived settings and expands "~" in paths. env is the
// environment the defaults come from.
func (c *Config) resolve(env map[string]string) {
	home := env["HOME"]
	if c.DataDir == "" {
		c.DataDir = defaultDataDir(env)
	}
	c.DataDir = expandHome(c.DataDir, home)
	if c.DataDir != "" && filepath.IsAbs(c.DataDir) {
		c.DataDir = filepath.Clean(c.DataDir)
		if c.Tiles.Dir == "" {
			c.Tiles.Dir = filepath.Join(c.DataDir, "tiles")
		}
		if c.Admin.Socket == "" {
			c.Admin.Socket = filepath.Join(c.DataDir, "admin.sock")
		}
		if c.Backup.Dir == "" {
			c.Backup.Dir = filepath.Join(c.DataDir, "backups")
		}
	}
	// Other paths may be relative ("--tls-cert cert.pem"): they are made
	// absolute now, so the daemon's later working directory cannot change
	// their meaning and logs show where they point.
	for _, p := range []*string{&c.Tiles.Dir, &c.Admin.Socket, &c.Backup.Dir, &c.Admin.ClientCA, &c.Listen.TLSCert, &c.Listen.TLSKey} {
		*p = absPath(expandHome(*p, home))
	}

	c.Tiles.Public = trimList(c.Tiles.Public)
	c.Backup.Recipients = trimList(c.Backup.Recipients)
	c.Admin.AllowedCIDRs = trimList(c.Admin.AllowedCIDRs)
	c.Listen.TrustedProxies = trimList(c.Listen.TrustedProxies)
	c.Admin.AllowedHosts = trimList(c.Admin.AllowedHosts)
	if len(c.Admin.AllowedHosts) == 0 && c.Admin.Addr != "" {
		if _, port, err := net.SplitHostPort(c.Admin.Addr); err == nil && port != "0" {
			c.Admin.AllowedHosts = LoopbackHosts(port)
		}
	}
}

// defaultDataDir follows the XDG base directory rules: XDG_DATA_HOME when
// it is set and absolute, else ~/.local/share. Empty when neither is known.
func defaultDataDir(env map[string]string) string {
	if x := env["XDG_DATA_HOME"]; x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "mapwright")
	}
	if h := env["HOME"]; h != "" && filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "share", "mapwright")
	}
	return ""
}

// expandHome replaces a leading "~" or "~/" with home. "~user" forms are
// left alone (and then fail the absolute-path check where one applies).
func expandHome(p, home string) string {
	if home == "" || p == "" || p[0] != '~' {
		return p
	}
	if p == "~" {
		return home
	}
	if strings.HasPrefix(p, "~/") {
		return filepath.Join(home, p[2:])
	}
	return p
}

// absPath makes a non-empty path absolute against the working directory;
// "~user" forms and paths that cannot be resolved are left as given.
func absPath(p string) string {
	if p == "" || filepath.IsAbs(p) || strings.HasPrefix(p, "~") {
		return p
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// trimList trims entries, drops empty ones and returns nil for an empty
// list, so that "[]" in a file and an absent key compare equal.
func trimList(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// LoopbackHosts returns the Host header values that reach a loopback
// listener on port: localhost, 127.0.0.1 and [::1] with the port, and also
// without it when the port is 443 (clients omit the default port).
func LoopbackHosts(port string) []string {
	names := []string{"localhost", "127.0.0.1", "[::1]"}
	var out []string
	for _, n := range names {
		out = append(out, n+":"+port)
	}
	if port == "443" {
		out = append(out, names...)
	}
	return out
}

// SlogLevel returns the slog level of Level. Call it on a validated
// config; an unknown level yields info.
func (l LogConfig) SlogLevel() slog.Level {
	switch strings.ToLower(l.Level) {
	case "debug":
		return slog.LevelDebug
	case "warn", "warning":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// Prefixes returns AllowedCIDRs parsed. Call it on a validated config;
// entries that do not parse are skipped.
func (a AdminConfig) Prefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range a.AllowedCIDRs {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// TrustedProxyPrefixes returns TrustedProxies parsed and masked. Call it
// on a validated config; entries that do not parse are skipped.
func (l ListenConfig) TrustedProxyPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range l.TrustedProxies {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// Redacted returns a copy of c whose DatabaseURL has its password hidden,
// safe to print or log.
func (c Config) Redacted() Config {
	c.DatabaseURL = RedactURL(c.DatabaseURL)
	return c
}

// LogValue makes a Config safe to hand to slog: the database password is
// redacted.
func (c Config) LogValue() slog.Value {
	r := c.Redacted()
	return slog.GroupValue(
		slog.String("data_dir", r.DataDir),
		slog.String("database_url", r.DatabaseURL),
		slog.String("tiles_dir", r.Tiles.Dir),
		slog.Any("public_tilesets", r.Tiles.Public),
		slog.String("listen_addr", r.Listen.Addr),
		slog.String("http_addr", r.Listen.HTTPAddr),
		slog.Any("trusted_proxies", r.Listen.TrustedProxies),
		slog.String("public_url", r.Listen.PublicURL),
		slog.String("admin_socket", r.Admin.Socket),
		slog.String("admin_addr", r.Admin.Addr),
		slog.String("log_level", r.Log.Level),
	)
}
