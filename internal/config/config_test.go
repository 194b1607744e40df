package config

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// testHome is the HOME every test environment uses, so default paths are
// predictable and never the machine's.
const testHome = "/home/mapper"

// writeConfig writes a config file into a fresh directory and returns its
// path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mapwrightd.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// loadWith loads a config from file content (none when empty), extra
// environment entries and command-line arguments.
func loadWith(t *testing.T, file string, env []string, args []string) (Config, error) {
	t.Helper()
	opts := LoadOptions{Environ: append([]string{"HOME=" + testHome}, env...)}
	if file != "" {
		opts.File = writeConfig(t, file)
	}
	if args != nil {
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		BindFlags(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatalf("parse flags %v: %v", args, err)
		}
		opts.Flags = fs
	}
	return Load(opts)
}

func mustLoad(t *testing.T, file string, env []string, args []string) Config {
	t.Helper()
	cfg, err := loadWith(t, file, env, args)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg
}

func TestLoadNothingGivesDefaults(t *testing.T) {
	t.Setenv("HOME", testHome)
	t.Setenv("XDG_DATA_HOME", "")
	got := mustLoad(t, "", nil, nil)
	if want := Defaults(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Load with nothing set:\n got %+v\nwant %+v", got, want)
	}
	dd := filepath.Join(testHome, ".local", "share", "mapwright")
	if got.DataDir != dd || got.Admin.Socket != filepath.Join(dd, "admin.sock") || got.Tiles.Dir != filepath.Join(dd, "tiles") {
		t.Errorf("derived paths: data_dir %q socket %q tiles %q", got.DataDir, got.Admin.Socket, got.Tiles.Dir)
	}
	if got.Listen.Addr != ":8443" || !got.Listen.HSTS || got.Listen.HTTPAddr != "" || got.Admin.Addr != "" {
		t.Errorf("listening surfaces are not the conservative defaults: %+v %+v", got.Listen, got.Admin)
	}
	if got.Audit.Retention != 90*24*time.Hour || got.RateLimit.RPS != 100 || got.RateLimit.Burst != 400 {
		t.Errorf("limits: %+v %+v", got.Audit, got.RateLimit)
	}
}

func TestDefaultDataDir(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"xdg data home wins", []string{"HOME=/h", "XDG_DATA_HOME=/xdg"}, "/xdg/mapwright"},
		{"relative xdg is ignored", []string{"HOME=/h", "XDG_DATA_HOME=rel"}, "/h/.local/share/mapwright"},
		{"empty xdg is ignored", []string{"HOME=/h", "XDG_DATA_HOME="}, "/h/.local/share/mapwright"},
		{"home only", []string{"HOME=/h"}, "/h/.local/share/mapwright"},
		{"data dir env overrides both", []string{"HOME=/h", "XDG_DATA_HOME=/xdg", "MAPWRIGHT_DATA_DIR=/srv/mw"}, "/srv/mw"},
		{"tilde expands with HOME", []string{"HOME=/h", "MAPWRIGHT_DATA_DIR=~/mw"}, "/h/mw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(LoadOptions{Environ: tt.env})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.DataDir != tt.want {
				t.Errorf("data_dir = %q, want %q", cfg.DataDir, tt.want)
			}
		})
	}
}

func TestBadDataDirIsOneError(t *testing.T) {
	tests := []struct {
		name string
		opts LoadOptions
		msg  string
	}{
		{"no HOME and no XDG_DATA_HOME", LoadOptions{Environ: []string{}}, "neither XDG_DATA_HOME nor HOME"},
		{"relative", LoadOptions{Environ: []string{"HOME=/h", "MAPWRIGHT_DATA_DIR=data"}}, "absolute"},
		{"tilde without HOME", LoadOptions{Environ: []string{"MAPWRIGHT_DATA_DIR=~/mw"}}, "absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.opts)
			assertFieldError(t, err, "data_dir", tt.msg)
			if n := len(FieldErrors(err)); n != 1 {
				t.Errorf("%d errors for one cause: %v", n, err)
			}
		})
	}
}

func TestManyUnknownKeysAreCapped(t *testing.T) {
	var b strings.Builder
	for i := range 100 {
		fmt.Fprintf(&b, "key%d: 1\n", i)
	}
	_, err := loadWith(t, b.String(), nil, nil)
	if n := len(FieldErrors(err)); n != maxFileErrors {
		t.Errorf("%d field errors listed, want %d", n, maxFileErrors)
	}
	if !strings.Contains(err.Error(), "and 80 more problems") {
		t.Errorf("error does not say how many were left out: %v", err)
	}
}

func TestPrecedence(t *testing.T) {
	const file = `
listen:
  addr: ":9000"
tiles:
  public: [from-file]
audit:
  retention: 30d
rate_limit:
  rps: 10
`
	tests := []struct {
		name  string
		file  string
		env   []string
		args  []string
		check func(t *testing.T, c Config)
	}{
		{"default", "", nil, []string{}, func(t *testing.T, c Config) {
			eq(t, "listen.addr", c.Listen.Addr, ":8443")
			eq(t, "tiles.public", c.Tiles.Public, []string(nil))
		}},
		{"file over default", file, nil, []string{}, func(t *testing.T, c Config) {
			eq(t, "listen.addr", c.Listen.Addr, ":9000")
			eq(t, "tiles.public", c.Tiles.Public, []string{"from-file"})
			eq(t, "audit.retention", c.Audit.Retention, 30*24*time.Hour)
			eq(t, "rate_limit.rps", c.RateLimit.RPS, 10.0)
			eq(t, "rate_limit.burst (untouched)", c.RateLimit.Burst, 400)
		}},
		{"env over file", file, []string{
			"MAPWRIGHT_LISTEN_ADDR=:9001",
			"MAPWRIGHT_TILES_PUBLIC=env-a, env-b",
			"MAPWRIGHT_AUDIT_RETENTION=1d12h",
			"MAPWRIGHT_RATE_LIMIT_RPS=2.5",
		}, []string{}, func(t *testing.T, c Config) {
			eq(t, "listen.addr", c.Listen.Addr, ":9001")
			eq(t, "tiles.public", c.Tiles.Public, []string{"env-a", "env-b"})
			eq(t, "audit.retention", c.Audit.Retention, 36*time.Hour)
			eq(t, "rate_limit.rps", c.RateLimit.RPS, 2.5)
		}},
		{"flag over env and file", file, []string{
			"MAPWRIGHT_LISTEN_ADDR=:9001",
			"MAPWRIGHT_TILES_PUBLIC=env-a",
		}, []string{"--addr", ":9002", "--public-tileset", "flag-a", "--public-tileset=flag-b,flag-c"}, func(t *testing.T, c Config) {
			eq(t, "listen.addr", c.Listen.Addr, ":9002")
			eq(t, "tiles.public", c.Tiles.Public, []string{"flag-a", "flag-b", "flag-c"})
		}},
		{"unset flag does not override env", file, []string{"MAPWRIGHT_LISTEN_ADDR=:9001"}, []string{"--log-level", "debug"}, func(t *testing.T, c Config) {
			eq(t, "listen.addr", c.Listen.Addr, ":9001")
			eq(t, "log.level", c.Log.Level, "debug")
		}},
		{"flag set to the default value still wins", file, []string{"MAPWRIGHT_LISTEN_ADDR=:9001"}, []string{"--addr", ":8443"}, func(t *testing.T, c Config) {
			eq(t, "listen.addr", c.Listen.Addr, ":8443")
		}},
		{"empty env value is ignored", file, []string{"MAPWRIGHT_LISTEN_ADDR="}, nil, func(t *testing.T, c Config) {
			eq(t, "listen.addr", c.Listen.Addr, ":9000")
		}},
		{"env bool and int", "", []string{"MAPWRIGHT_LISTEN_HSTS=false", "MAPWRIGHT_KEYS_CACHE_SIZE=0"}, nil, func(t *testing.T, c Config) {
			eq(t, "listen.hsts", c.Listen.HSTS, false)
			eq(t, "keys.cache_size", c.Keys.CacheSize, 0)
		}},
		{"data dir moves derived paths", "data_dir: /srv/mapwright\n", nil, nil, func(t *testing.T, c Config) {
			eq(t, "admin.socket", c.Admin.Socket, "/srv/mapwright/admin.sock")
			eq(t, "tiles.dir", c.Tiles.Dir, "/srv/mapwright/tiles")
		}},
		{"explicit socket stays when data dir changes", "admin:\n  socket: /run/mapwright/admin.sock\n", []string{"MAPWRIGHT_DATA_DIR=/srv/mw"}, nil, func(t *testing.T, c Config) {
			eq(t, "admin.socket", c.Admin.Socket, "/run/mapwright/admin.sock")
			eq(t, "tiles.dir", c.Tiles.Dir, "/srv/mw/tiles")
		}},
		{"admin allowed hosts derive from admin addr", "", []string{"MAPWRIGHT_ADMIN_ADDR=127.0.0.1:9443"}, nil, func(t *testing.T, c Config) {
			eq(t, "admin.allowed_hosts", c.Admin.AllowedHosts, []string{"localhost:9443", "127.0.0.1:9443", "[::1]:9443"})
		}},
		{"admin allowed hosts given replace the derived ones", "", []string{"MAPWRIGHT_ADMIN_ADDR=127.0.0.1:9443"}, []string{"--admin-allowed-host", "admin.example.com:9443"}, func(t *testing.T, c Config) {
			eq(t, "admin.allowed_hosts", c.Admin.AllowedHosts, []string{"admin.example.com:9443"})
		}},
		{"admin port 0 leaves hosts to the daemon", "", nil, []string{"--admin-addr", "127.0.0.1:0"}, func(t *testing.T, c Config) {
			eq(t, "admin.allowed_hosts", c.Admin.AllowedHosts, []string(nil))
		}},
		{"commented-out section keeps defaults", "listen:\n  # addr: \":1\"\nkeys:\n", nil, nil, func(t *testing.T, c Config) {
			eq(t, "listen.addr", c.Listen.Addr, ":8443")
			eq(t, "listen.hsts", c.Listen.HSTS, true)
			eq(t, "keys.cache_ttl", c.Keys.CacheTTL, 30*time.Second)
		}},
		{"null value keeps default", "listen:\n  addr: ~\n", nil, nil, func(t *testing.T, c Config) {
			eq(t, "listen.addr", c.Listen.Addr, ":8443")
		}},
		{"trusted proxies and public url from the file", "listen:\n  trusted_proxies: [\"10.0.0.0/24\", \"2001:db8::/48\"]\n  public_url: https://tiles.example.com\n", nil, nil, func(t *testing.T, c Config) {
			eq(t, "listen.trusted_proxies", c.Listen.TrustedProxies, []string{"10.0.0.0/24", "2001:db8::/48"})
			eq(t, "listen.public_url", c.Listen.PublicURL, "https://tiles.example.com")
		}},
		{"trusted proxies from the env, comma-separated", "", []string{"MAPWRIGHT_LISTEN_TRUSTED_PROXIES=10.0.0.0/24, 10.1.0.0/24", "MAPWRIGHT_LISTEN_PUBLIC_URL=https://maps.example.org/tiles"}, nil, func(t *testing.T, c Config) {
			eq(t, "listen.trusted_proxies", c.Listen.TrustedProxies, []string{"10.0.0.0/24", "10.1.0.0/24"})
			eq(t, "listen.public_url", c.Listen.PublicURL, "https://maps.example.org/tiles")
		}},
		{"repeated --trusted-proxy flags over the env", "", []string{"MAPWRIGHT_LISTEN_TRUSTED_PROXIES=10.0.0.0/24"}, []string{"--trusted-proxy", "192.168.1.10/32", "--trusted-proxy", "fd00::/64", "--public-url", "https://tiles.example.com:8443"}, func(t *testing.T, c Config) {
			eq(t, "listen.trusted_proxies", c.Listen.TrustedProxies, []string{"192.168.1.10/32", "fd00::/64"})
			eq(t, "listen.public_url", c.Listen.PublicURL, "https://tiles.example.com:8443")
			eq(t, "listen.TrustedProxyPrefixes", c.Listen.TrustedProxyPrefixes(), []netip.Prefix{netip.MustParsePrefix("192.168.1.10/32"), netip.MustParsePrefix("fd00::/64")})
		}},
		{"no forwarding header trusted by default", "", nil, nil, func(t *testing.T, c Config) {
			eq(t, "listen.trusted_proxies", c.Listen.TrustedProxies, []string(nil))
			eq(t, "listen.public_url", c.Listen.PublicURL, "")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustLoad(t, tt.file, tt.env, tt.args))
		})
	}
}

func TestConfigFileSources(t *testing.T) {
	fromFlag := writeConfig(t, "listen:\n  addr: \":7001\"\n")
	fromEnv := writeConfig(t, "listen:\n  addr: \":7002\"\n")
	tests := []struct {
		name string
		opts func() LoadOptions
		want string
	}{
		{"--config flag", func() LoadOptions {
			fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			BindFlags(fs)
			if err := fs.Parse([]string{"--config", fromFlag}); err != nil {
				t.Fatal(err)
			}
			return LoadOptions{Flags: fs, Environ: []string{"HOME=/h", "MAPWRIGHT_CONFIG=" + fromEnv}}
		}, ":7001"},
		{"MAPWRIGHT_CONFIG", func() LoadOptions {
			return LoadOptions{Environ: []string{"HOME=/h", "MAPWRIGHT_CONFIG=" + fromEnv}}
		}, ":7002"},
		{"File option wins", func() LoadOptions {
			return LoadOptions{File: fromFlag, Environ: []string{"HOME=/h", "MAPWRIGHT_CONFIG=" + fromEnv}}
		}, ":7001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(tt.opts())
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "listen.addr", cfg.Listen.Addr, tt.want)
		})
	}

	t.Run("missing file is an error", func(t *testing.T) {
		_, err := Load(LoadOptions{File: filepath.Join(t.TempDir(), "nope.yaml"), Environ: []string{"HOME=/h"}})
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err = %v, want not-exist", err)
		}
	})
}

func TestCustomFlagKeys(t *testing.T) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.String("listen", "", "")
	fs.Duration("retention", 0, "")
	if err := fs.Parse([]string{"--listen", ":6000", "--retention", "48h"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(LoadOptions{Flags: fs, Environ: []string{"HOME=/h"}, FlagKeys: map[string]string{
		"listen": "listen.addr", "retention": "audit.retention",
	}})
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "listen.addr", cfg.Listen.Addr, ":6000")
	eq(t, "audit.retention", cfg.Audit.Retention, 48*time.Hour)

	_, err = Load(LoadOptions{Flags: fs, Environ: []string{"HOME=/h"}, FlagKeys: map[string]string{"listen": "listen.adr"}})
	if err == nil || !strings.Contains(err.Error(), `unknown config key "listen.adr"`) {
		t.Fatalf("mapping to an unknown key: err = %v", err)
	}
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// assertFieldError checks that err holds a FieldError for field whose
// text contains msg.
func assertFieldError(t *testing.T, err error, field, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %s: ...%s...", field, msg)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error does not match ErrInvalid: %v", err)
	}
	for _, fe := range FieldErrors(err) {
		if fe.Field == field && strings.Contains(fe.Error(), msg) {
			if !strings.HasPrefix(fe.Error(), field+": ") {
				t.Errorf("message %q does not start with the field", fe.Error())
			}
			return
		}
	}
	t.Fatalf("error %q has no field error %s containing %q", err, field, msg)
}

func TestLoadErrorsNameTheSource(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		env    []string
		args   []string
		field  string
		source string
	}{
		{"file", "rate_limit:\n  rps: 5\n  burst: 0\n", nil, nil, "rate_limit.burst", "mapwrightd.yaml line 3"},
		{"env", "", []string{"MAPWRIGHT_RATE_LIMIT_BURST=0"}, nil, "rate_limit.burst", "MAPWRIGHT_RATE_LIMIT_BURST"},
		{"flag", "", nil, []string{"--log-format", "xml"}, "log.format", "flag --log-format"},
		{"list entry from env", "", []string{"MAPWRIGHT_ADMIN_ALLOWED_CIDRS=127.0.0.0/8,nonsense"}, nil, "admin.allowed_cidrs[1]", "MAPWRIGHT_ADMIN_ALLOWED_CIDRS"},
		{"trusted proxy from env", "", []string{"MAPWRIGHT_LISTEN_TRUSTED_PROXIES=10.0.0.0/24,nonsense"}, nil, "listen.trusted_proxies[1]", "MAPWRIGHT_LISTEN_TRUSTED_PROXIES"},
		{"trusted proxy from flag", "", nil, []string{"--trusted-proxy", "0.0.0.0/0"}, "listen.trusted_proxies[0]", "flag --trusted-proxy"},
		{"public url from file", "listen:\n  public_url: http://tiles.example.com\n", nil, nil, "listen.public_url", "mapwrightd.yaml line 2"},
		{"public url from flag", "", nil, []string{"--public-url", "tiles.example.com"}, "listen.public_url", "flag --public-url"},
		{"decode error from file", "keys:\n  cache_ttl: soon\n", nil, nil, "keys.cache_ttl", "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadWith(t, tt.file, tt.env, tt.args)
			fes := FieldErrors(err)
			if len(fes) != 1 {
				t.Fatalf("want one field error, got %v", err)
			}
			if fes[0].Field != tt.field || !strings.Contains(fes[0].Source, tt.source) {
				t.Errorf("field %q source %q; want %q from %q", fes[0].Field, fes[0].Source, tt.field, tt.source)
			}
			if !strings.Contains(err.Error(), "(from ") {
				t.Errorf("message does not say where the value came from: %v", err)
			}
		})
	}
}

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		key     string
		line    string
		suggest string
	}{
		{"top-level typo", "listn:\n  addr: \":1\"\n", "listn", "line 1", `did you mean "listen"`},
		{"nested typo", "tiles:\n  dir: /t\n  cache_contol: none\n", "tiles.cache_contol", "line 3", `did you mean "tiles.cache_control"`},
		{"wrong case", "Listen:\n  addr: \":1\"\n", "Listen", "line 1", `did you mean "listen"`},
		{"unrelated", "telemetry: true\n", "telemetry", "line 1", ""},
		{"key in the wrong section", "listen:\n  retention: 1d\n", "listen.retention", "line 2", ""},
		{"dotted key", "listen.addr: \":1\"\n", "listen.addr", "line 1", ""},
		{"unknown key merged in", "base: &b\n  rps: 1\n", "base", "line 1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadWith(t, tt.file, nil, nil)
			if !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("err = %v, want ErrUnknownKey", err)
			}
			assertFieldError(t, err, tt.key, "unknown key")
			msg := err.Error()
			if !strings.Contains(msg, tt.line) || !strings.Contains(msg, tt.suggest) {
				t.Errorf("message %q lacks %q or %q", msg, tt.line, tt.suggest)
			}
		})
	}
}

func TestYAMLStructureErrors(t *testing.T) {
	tests := []struct {
		name string
		file string
		want string // in the message
	}{
		{"unclosed list", "listen:\n  addr: [\n", "line 2"},
		{"tab indentation", "listen:\n\taddr: \":1\"\n", "line 2"},
		{"bad indentation", "listen:\n  addr: \":1\"\n hsts: true\n", "line 2"},
		{"duplicate key", "log:\n  level: info\n  level: debug\n", `line 3: key "level" given twice (first on line 2)`},
		{"two documents", "log:\n  level: info\n---\nlog:\n  level: debug\n", "second"},
		{"top-level list", "- listen\n", "top level must be a mapping"},
		{"top-level scalar", "hello\n", "top level must be a mapping"},
		{"section as scalar", "listen: \":8443\"\n", "listen: must be a mapping"},
		{"leaf as mapping", "listen:\n  addr:\n    host: x\n", "listen.addr: must be a single value"},
		{"list where a value belongs", "log:\n  level: [debug]\n", "log.level: must be a single value, not a list"},
		{"self-merging anchor", "listen: &a\n  <<: *a\n", ""},
		{"non-scalar key", "? [a, b]\n: 1\n", "keys must be plain names"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadWith(t, tt.file, nil, nil)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestYAMLSyntaxErrorHasLine(t *testing.T) {
	_, err := loadWith(t, "log:\n  level: info\nlisten:\n  addr: \":1\n", nil, nil)
	if !errors.Is(err, ErrSyntax) {
		t.Fatalf("err = %v, want ErrSyntax", err)
	}
	if !strings.Contains(err.Error(), "line ") || !strings.Contains(err.Error(), "mapwrightd.yaml") {
		t.Errorf("syntax error %q names no line or file", err)
	}
}

func TestMergeKeys(t *testing.T) {
	cfg := mustLoad(t, `
<<: {log: {level: debug}, listen: {addr: ":9100"}}
listen:
  addr: ":9200"
rate_limit: &rl
  rps: 5
`, nil, nil)
	eq(t, "log.level (merged in)", cfg.Log.Level, "debug")
	eq(t, "listen.addr (explicit beats merged)", cfg.Listen.Addr, ":9200")
	eq(t, "rate_limit.rps", cfg.RateLimit.RPS, 5.0)

	// A merge brings keys like any other: one the section lacks is unknown.
	_, err := loadWith(t, "listen: &l\n  hsts: false\nadmin:\n  <<: *l\n", nil, nil)
	assertFieldError(t, err, "admin.hsts", "unknown key")
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, file, field, msg string
	}{
		{"number", "rate_limit:\n  rps: fast\n", "rate_limit.rps", "must be a number"},
		{"whole number", "rate_limit:\n  burst: 1.5\n", "rate_limit.burst", "whole number"},
		{"bool", "listen:\n  hsts: maybe\n", "listen.hsts", "boolean"},
		{"duration without unit", "keys:\n  cache_ttl: 30\n", "keys.cache_ttl", "needs a unit"},
		{"bad duration", "audit:\n  retention: 3 months\n", "audit.retention", "invalid duration"},
		{"int for status", "tiles:\n  absent: none\n", "tiles.absent", "whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadWith(t, tt.file, nil, nil)
			assertFieldError(t, err, tt.field, tt.msg)
		})
	}
	t.Run("zero duration needs no unit", func(t *testing.T) {
		cfg := mustLoad(t, "audit:\n  retention: 0\n", nil, nil)
		eq(t, "audit.retention", cfg.Audit.Retention, time.Duration(0))
	})
}

// validConfig is a configuration that passes Validate, for tests that
// break one field.
func validConfig(t *testing.T) Config {
	t.Helper()
	c := baseDefaults()
	c.DataDir = t.TempDir()
	c.resolve(map[string]string{"HOME": testHome})
	if err := c.Validate(); err != nil {
		t.Fatalf("base config invalid: %v", err)
	}
	return c
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	cert := filepath.Join(dir, "cert.pem")
	key := filepath.Join(dir, "key.pem")
	otherKey := filepath.Join(dir, "other-key.pem")
	_, otherKeyPEM := selfSigned(t)
	for p, data := range map[string][]byte{cert: certPEM, key: keyPEM, otherKey: otherKeyPEM} {
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "missing.pem")

	tests := []struct {
		name   string
		mutate func(c *Config)
		field  string
		msg    string
	}{
		{"relative data dir", func(c *Config) { c.DataDir = "data" }, "data_dir", "must be an absolute path"},
		{"unexpanded user dir", func(c *Config) { c.DataDir = "~bob/mw" }, "data_dir", "absolute"},
		{"database scheme", func(c *Config) { c.DatabaseURL = "mysql://u:p@h/db" }, "database_url", "postgres"},
		{"database not a url", func(c *Config) { c.DatabaseURL = "host=db password=hunter2" }, "database_url", "must be a URL"},
		{"tileset name", func(c *Config) { c.Tiles.Public = []string{"ok", "bad/name"} }, "tiles.public[1]", "invalid tileset name"},
		{"cache control injection", func(c *Config) { c.Tiles.CacheControl = "public\r\nSet-Cookie: x=1" }, "tiles.cache_control", "control characters"},
		{"absent status", func(c *Config) { c.Tiles.Absent = 200 }, "tiles.absent", "204 or 404"},
		{"listen addr empty", func(c *Config) { c.Listen.Addr = "" }, "listen.addr", "must not be empty"},
		{"listen addr no port", func(c *Config) { c.Listen.Addr = "localhost" }, "listen.addr", "host:port"},
		{"listen addr bad port", func(c *Config) { c.Listen.Addr = ":99999" }, "listen.addr", "port"},
		{"listen addr bad host", func(c *Config) { c.Listen.Addr = "exa mple:80" }, "listen.addr", "invalid host"},
		{"http addr bad", func(c *Config) { c.Listen.HTTPAddr = "8080" }, "listen.http_addr", "host:port"},
		{"http addr same port", func(c *Config) { c.Listen.HTTPAddr = "0.0.0.0:8443" }, "listen.http_addr", "same port as listen.addr"},
		{"cert without key", func(c *Config) { c.Listen.TLSCert = cert }, "listen.tls_key", "both or neither"},
		{"key without cert", func(c *Config) { c.Listen.TLSKey = key }, "listen.tls_cert", "both or neither"},
		{"cert missing", func(c *Config) { c.Listen.TLSCert, c.Listen.TLSKey = missing, key }, "listen.tls_cert", "file not found"},
		{"key missing", func(c *Config) { c.Listen.TLSCert, c.Listen.TLSKey = cert, missing }, "listen.tls_key", "file not found"},
		{"cert is a directory", func(c *Config) { c.Listen.TLSCert, c.Listen.TLSKey = dir, key }, "listen.tls_cert", "directory"},
		{"key does not match cert", func(c *Config) { c.Listen.TLSCert, c.Listen.TLSKey = cert, otherKey }, "listen.tls_key", "does not load"},
		{"socket empty", func(c *Config) { c.Admin.Socket = "" }, "admin.socket", "must not be empty"},
		{"socket too long", func(c *Config) { c.Admin.Socket = "/" + strings.Repeat("s", 200) }, "admin.socket", "unix socket path"},
		{"admin addr bad", func(c *Config) { c.Admin.Addr = "127.0.0.1" }, "admin.addr", "host:port"},
		{"admin addr collides", func(c *Config) { c.Admin.Addr = "127.0.0.1:8443" }, "admin.addr", "same port as listen.addr"},
		{"admin cidrs empty with tcp", func(c *Config) { c.Admin.Addr, c.Admin.AllowedCIDRs = "127.0.0.1:9443", nil }, "admin.allowed_cidrs", "at least one"},
		{"admin cidr bad", func(c *Config) { c.Admin.AllowedCIDRs = []string{"127.0.0.0/8", "10.0.0.1"} }, "admin.allowed_cidrs[1]", "10.0.0.1/32"},
		{"trusted proxy not a cidr", func(c *Config) { c.Listen.TrustedProxies = []string{"10.0.0.0/24", "balancer.internal"} }, "listen.trusted_proxies[1]", "invalid CIDR"},
		{"trusted proxy bare address", func(c *Config) { c.Listen.TrustedProxies = []string{"10.0.0.5"} }, "listen.trusted_proxies[0]", "10.0.0.5/32"},
		{"trusted proxy bare ipv6 address", func(c *Config) { c.Listen.TrustedProxies = []string{"2001:db8::5"} }, "listen.trusted_proxies[0]", "2001:db8::5/128"},
		{"trusted proxy everyone ipv4", func(c *Config) { c.Listen.TrustedProxies = []string{"0.0.0.0/0"} }, "listen.trusted_proxies[0]", "trusts every address"},
		{"trusted proxy everyone ipv6", func(c *Config) { c.Listen.TrustedProxies = []string{"10.0.0.0/8", "::/0"} }, "listen.trusted_proxies[1]", "trusts every address"},
		{"public url plain http", func(c *Config) { c.Listen.PublicURL = "http://tiles.example.com" }, "listen.public_url", "must use https"},
		{"public url relative", func(c *Config) { c.Listen.PublicURL = "/tiles" }, "listen.public_url", "absolute URL"},
		{"public url without scheme", func(c *Config) { c.Listen.PublicURL = "tiles.example.com" }, "listen.public_url", "absolute URL"},
		{"public url other scheme", func(c *Config) { c.Listen.PublicURL = "ftp://tiles.example.com" }, "listen.public_url", "scheme must be https"},
		{"public url query", func(c *Config) { c.Listen.PublicURL = "https://tiles.example.com/?x=1" }, "listen.public_url", "query"},
		{"public url empty query", func(c *Config) { c.Listen.PublicURL = "https://tiles.example.com?" }, "listen.public_url", "query"},
		{"public url fragment", func(c *Config) { c.Listen.PublicURL = "https://tiles.example.com/#top" }, "listen.public_url", "fragment"},
		{"public url user info", func(c *Config) { c.Listen.PublicURL = "https://user:hunter2@tiles.example.com" }, "listen.public_url", "user name or password"},
		{"public url bad host", func(c *Config) { c.Listen.PublicURL = "https://tiles_.exa$mple.com" }, "listen.public_url", "invalid host"},
		{"public url bad port", func(c *Config) { c.Listen.PublicURL = "https://tiles.example.com:99999" }, "listen.public_url", "invalid port"},
		{"public url dot segment", func(c *Config) { c.Listen.PublicURL = "https://tiles.example.com/a/../b" }, "listen.public_url", ". or .."},
		{"public url odd path", func(c *Config) { c.Listen.PublicURL = "https://tiles.example.com/a\"b" }, "listen.public_url", "path"},
		{"public url with space", func(c *Config) { c.Listen.PublicURL = "https://tiles.example.com/a b" }, "listen.public_url", "spaces"},
		{"admin host wildcard", func(c *Config) { c.Admin.AllowedHosts = []string{"*"} }, "admin.allowed_hosts[0]", "wildcards"},
		{"admin host with path", func(c *Config) { c.Admin.AllowedHosts = []string{"localhost/admin"} }, "admin.allowed_hosts[0]", "invalid host"},
		{"admin host bare ipv6", func(c *Config) { c.Admin.AllowedHosts = []string{"::1"} }, "admin.allowed_hosts[0]", "brackets"},
		{"client ca missing", func(c *Config) { c.Admin.ClientCA = missing }, "admin.client_ca", "file not found"},
		{"client ca not a ca", func(c *Config) { c.Admin.ClientCA = key }, "admin.client_ca", "client CA"},
		{"rps zero", func(c *Config) { c.RateLimit.RPS = 0 }, "rate_limit.rps", "positive"},
		{"burst zero", func(c *Config) { c.RateLimit.Burst = 0 }, "rate_limit.burst", "must be >= 1"},
		{"auth fail rps negative", func(c *Config) { c.RateLimit.AuthFailRPS = -1 }, "rate_limit.auth_fail_rps", "positive"},
		{"auth fail burst zero", func(c *Config) { c.RateLimit.AuthFailBurst = 0 }, "rate_limit.auth_fail_burst", "must be >= 1"},
		{"retention negative", func(c *Config) { c.Audit.Retention = -time.Hour }, "audit.retention", "must be >= 0"},
		{"cache size negative", func(c *Config) { c.Keys.CacheSize = -1 }, "keys.cache_size", "must be >= 0"},
		{"cache ttl negative", func(c *Config) { c.Keys.CacheTTL = -time.Second }, "keys.cache_ttl", "must be >= 0"},
		{"outage grace negative", func(c *Config) { c.Keys.OutageGrace = -time.Second }, "keys.outage_grace", "must be >= 0"},
		{"log level", func(c *Config) { c.Log.Level = "verbose" }, "log.level", "debug, info, warn or error"},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, "log.format", "text or json"},
		{"read header timeout", func(c *Config) { c.Server.ReadHeaderTimeout = 0 }, "server.read_header_timeout", "must be > 0"},
		{"write timeout", func(c *Config) { c.Server.WriteTimeout = -1 }, "server.write_timeout", "must be > 0"},
		{"shutdown timeout", func(c *Config) { c.Server.ShutdownTimeout = 0 }, "server.shutdown_timeout", "must be > 0"},
		{"max header bytes", func(c *Config) { c.Server.MaxHeaderBytes = 10 }, "server.max_header_bytes", ">= 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig(t)
			tt.mutate(&c)
			err := c.Validate()
			assertFieldError(t, err, tt.field, tt.msg)
			if n := len(FieldErrors(err)); n != 1 {
				t.Errorf("one bad field gave %d errors: %v", n, err)
			}
		})
	}

	t.Run("a password in the public url is not repeated", func(t *testing.T) {
		c := validConfig(t)
		c.Listen.PublicURL = "https://user:hunter2@tiles.example.com"
		if err := c.Validate(); err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error %v, want one that does not show the password", err)
		}
	})
	t.Run("public urls that pass", func(t *testing.T) {
		for _, u := range []string{
			"https://tiles.example.com", "https://tiles.example.com/", "https://tiles.example.com:8443",
			"https://example.com/maps/tiles", "https://[2001:db8::1]", "https://203.0.113.5:443",
			"http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080", "HTTPS://Tiles.Example.com",
		} {
			c := validConfig(t)
			c.Listen.PublicURL = u
			if err := c.Validate(); err != nil {
				t.Errorf("%s: %v", u, err)
			}
		}
	})
	t.Run("valid key pair and client CA pass", func(t *testing.T) {
		c := validConfig(t)
		c.Listen.TLSCert, c.Listen.TLSKey, c.Admin.ClientCA = cert, key, cert
		c.Admin.Addr = "127.0.0.1:9443"
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("all problems reported at once", func(t *testing.T) {
		c := validConfig(t)
		c.RateLimit.Burst, c.Log.Level, c.Listen.Addr = 0, "loud", "nope"
		if n := len(FieldErrors(c.Validate())); n != 3 {
			t.Errorf("got %d field errors, want 3", n)
		}
	})
}

func TestDatabasePasswordNeverShown(t *testing.T) {
	const secret = "hunter2-s3cret"
	urls := []string{
		"mysql://app:" + secret + "@db/mw",
		"postgres://app:" + secret + "@db:bad-port/mw",
		"postgres://app:p@ss/" + secret + "@db/mw",
		"app:" + secret + "@db/mw",
		"host=db password=" + secret,
	}
	for _, u := range urls {
		_, err := loadWith(t, "", []string{"MAPWRIGHT_DATABASE_URL=" + u}, nil)
		if err == nil {
			t.Errorf("%s: accepted", RedactURL(u))
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows the password: %v", err)
		}
	}

	cfg := mustLoad(t, "", []string{"MAPWRIGHT_DATABASE_URL=postgres://app:" + secret + "@db/mw"}, nil)
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "config", cfg)
	if strings.Contains(buf.String(), secret) || !strings.Contains(buf.String(), "postgres://app:xxxxx@db/mw") {
		t.Errorf("logged config: %s", buf.String())
	}
	if r := cfg.Redacted(); strings.Contains(r.DatabaseURL, secret) || cfg.DatabaseURL != "postgres://app:"+secret+"@db/mw" {
		t.Errorf("Redacted: %q, original %q", r.DatabaseURL, cfg.DatabaseURL)
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"no password", "postgres://app@db:5432/mw", "postgres://app@db:5432/mw"},
		{"password", "postgres://app:s3cret@db:5432/mw?sslmode=verify-full", "postgres://app:xxxxx@db:5432/mw?sslmode=verify-full"},
		{"escaped password", "postgres://app:p%40ss%2Fw@db/mw", "postgres://app:xxxxx@db/mw"},
		{"password query param", "postgres://db/mw?user=app&password=s3cret", "postgres://db/mw?password=xxxxx&user=app"},
		{"sslpassword", "postgres://app@db/mw?sslpassword=s3cret", "postgres://app@db/mw?sslpassword=xxxxx"},
		{"unescaped @ in password", "postgres://app:p@ss@db/mw", "postgres://app:xxxxx@db/mw"},
		{"unescaped / in password", "postgres://app:12/ss@db/mw", "postgres://app:xxxxx@db/mw"},
		{"unescaped # in password", "postgres://app:pa#ss@db/mw", "postgres://app:xxxxx@db/mw"},
		{"unparseable with query secret", "postgres://app:pa#ss@db:x/mw?password=q", "postgres://app:xxxxx@db:x/mw?password=xxxxx"},
		{"user info without scheme", "app:s3cret@db/mw", "app:xxxxx@db/mw"},
		{"keyword form", "host=db user=app password=s3cret dbname=mw", "host=db user=app password=xxxxx dbname=mw"},
		{"keyword quoted", "host=db password='s3 cr\\'et' dbname=mw", "host=db password=xxxxx dbname=mw"},
		{"keyword spaced", "host=db password = s3cret", "host=db password=xxxxx"},
		{"unix socket url", "postgres:///mw?host=/run/postgresql", "postgres:///mw?host=/run/postgresql"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RedactURL(tt.in); got != tt.want {
				t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"90d", 90 * 24 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"1.5d", 36 * time.Hour, false},
		{"0", 0, false},
		{"0d", 0, false},
		{"30s", 30 * time.Second, false},
		{"2160h", 2160 * time.Hour, false},
		{"1h30m", 90 * time.Minute, false},
		{" 7d ", 7 * 24 * time.Hour, false},
		{"-1d", -24 * time.Hour, false},
		{"", 0, true},
		{"d", 0, true},
		{"90", 0, true},
		{"1h2d", 0, true},
		{"1d-2h", 0, true},
		{"1.2.3d", 0, true},
		{"90D", 0, true},
		{"3 months", 0, true},
		{"999999999d", 0, true},
		{"106751d23h47m16.854775807s", 1<<63 - 1, false},
		{"106751d23h47m17s", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if (err != nil) != tt.err {
				t.Fatalf("ParseDuration(%q) error = %v, want error %v", tt.in, err, tt.err)
			}
			if !tt.err && got != tt.want {
				t.Errorf("ParseDuration(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestBindFlags(t *testing.T) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	BindFlags(fs)
	want := []string{"config", "data-dir", "database-url", "addr", "http-addr", "tls-cert", "tls-key", "tiles",
		"public-tileset", "admin-socket", "admin-addr", "admin-allowed-host", "admin-allowed-cidr", "trusted-proxy", "public-url",
		"admin-client-ca", "log-level", "log-format"}
	for _, name := range want {
		if fs.Lookup(name) == nil {
			t.Errorf("flag --%s not registered", name)
		}
	}
	keys := FlagKeys()
	fs.VisitAll(func(f *pflag.Flag) {
		env := ConfigEnv
		if f.Name != ConfigFlag {
			key, ok := keys[f.Name]
			if !ok {
				t.Errorf("flag --%s has no config key", f.Name)
				return
			}
			env = EnvName(key)
		}
		if !strings.Contains(f.Usage, "(env "+env+")") && !strings.Contains(f.Usage, "(env "+env+", comma-separated)") {
			t.Errorf("--%s help %q does not name %s", f.Name, f.Usage, env)
		}
	})
	usage := fs.FlagUsages()
	for _, frag := range []string{"--addr HOST:PORT", `(default ":8443")`, "--public-tileset NAME", "--config FILE", "--admin-allowed-host HOST[:PORT]", "--trusted-proxy CIDR", "--public-url URL"} {
		if !strings.Contains(usage, frag) {
			t.Errorf("usage lacks %q:\n%s", frag, usage)
		}
	}
	if strings.Contains(usage, testHome) || strings.Contains(usage, os.Getenv("HOME")+"/") {
		t.Errorf("usage shows a machine path:\n%s", usage)
	}
}

func TestEnvNamesAreUnique(t *testing.T) {
	seen := map[string]string{}
	for _, k := range Keys() {
		n := EnvName(k)
		if other, dup := seen[n]; dup || n == ConfigEnv {
			t.Errorf("%s and %s share %s", k, other, n)
		}
		seen[n] = k
	}
}

func TestSlogLevelAndPrefixes(t *testing.T) {
	eq(t, "debug", LogConfig{Level: "debug"}.SlogLevel(), slog.LevelDebug)
	eq(t, "error", LogConfig{Level: "error"}.SlogLevel(), slog.LevelError)
	eq(t, "info", LogConfig{Level: "info"}.SlogLevel(), slog.LevelInfo)
	p := AdminConfig{AllowedCIDRs: []string{"10.1.2.3/8", "::1/128"}}.Prefixes()
	if len(p) != 2 || p[0].String() != "10.0.0.0/8" || !slices.ContainsFunc(p, func(x netip.Prefix) bool { return x.String() == "::1/128" }) {
		t.Errorf("Prefixes = %v", p)
	}
}

func TestUnknownEnv(t *testing.T) {
	got := UnknownEnv([]string{
		"HOME=/h",
		"MAPWRIGHT_LISTEN_ADDR=:1",
		"MAPWRIGHT_LISTEN_ADR=:1",
		"MAPWRIGHT_CONFIG=/etc/mw.yaml",
		"MAPWRIGHT_ADDR=:1",
		"MAPWRIGHTX=1",
	})
	eq(t, "UnknownEnv", got, []string{"MAPWRIGHT_ADDR", "MAPWRIGHT_LISTEN_ADR"})
}
