package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mapwright/mapwright/internal/testutil/testenv"
)

// credentialDir is where the production example expects the TLS
// certificate and key: the unit's systemd credentials.
const credentialDir = "/run/credentials/mapwrightd.service/"

func productionExample(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.ModuleRoot(t), "examples", "mapwrightd-production.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// withCertificates rewrites the example's credential paths to a fresh key
// pair in a temporary directory, as systemd would have provided them.
func withCertificates(t *testing.T, text string) string {
	t.Helper()
	if !strings.Contains(text, credentialDir) {
		t.Fatalf("the production example no longer reads its certificate from %s", credentialDir)
	}
	dir := t.TempDir()
	cert, key := selfSigned(t)
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), cert, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(text, credentialDir, dir+"/")
}

// variantB turns the example into its "TLS ends at the balancer" variant the
// way an operator would: drop the active listen block and uncomment the
// other one.
func variantB(t *testing.T, text string) string {
	t.Helper()
	var out []string
	state := ""
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "# --- variant A"):
			state = "A"
			continue
		case strings.HasPrefix(line, "# --- variant B"):
			state = "B"
			continue
		case strings.HasPrefix(line, "# --- end of variant"):
			state = ""
			continue
		}
		switch state {
		case "A":
			// Variant A's explanation and settings both go.
		case "B":
			// The explanation stays a comment; the settings are the
			// commented YAML lines ("# listen:", "#   addr: ...").
			if rest, ok := strings.CutPrefix(line, "# "); ok && (strings.HasPrefix(rest, "listen:") || strings.HasPrefix(rest, "  ")) {
				out = append(out, rest)
			}
		default:
			out = append(out, line)
		}
	}
	b := strings.Join(out, "\n")
	if b == text || !strings.Contains(b, "\nlisten:\n") {
		t.Fatal("the production example has lost its variant markers")
	}
	return b
}

func writeTemp(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mapwrightd.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestProductionExample loads examples/mapwrightd-production.yaml the way
// the service does (the file, then the environment file's variables) in
// each of its documented shapes.
func TestProductionExample(t *testing.T) {
	const dbURL = "postgres://mapwright:s3cret@db.internal:5432/mapwright?sslmode=verify-full"
	home := t.TempDir()
	baseEnv := []string{"HOME=" + home, "MAPWRIGHT_DATABASE_URL=" + dbURL}

	tests := []struct {
		name    string
		text    func(t *testing.T) string
		env     []string
		check   func(t *testing.T, c Config)
		wantErr []string // config keys the error must name; nil: loads
	}{
		{
			name: "TLS to every replica",
			text: func(t *testing.T) string { return withCertificates(t, productionExample(t)) },
			env:  baseEnv,
			check: func(t *testing.T, c Config) {
				if c.Listen.TLSCert == "" || c.Listen.TLSKey == "" {
					t.Errorf("listen.tls_cert/tls_key = %q/%q, want the credentials", c.Listen.TLSCert, c.Listen.TLSKey)
				}
				if c.Listen.HTTPAddr != "" {
					t.Errorf("listen.http_addr = %q, want no plain HTTP when TLS reaches the replicas", c.Listen.HTTPAddr)
				}
				if len(c.Listen.TrustedProxies) != 0 {
					t.Errorf("listen.trusted_proxies = %v, want none when the balancer passes TCP through", c.Listen.TrustedProxies)
				}
			},
		},
		{
			name: "TLS ends at the balancer",
			text: func(t *testing.T) string { return variantB(t, productionExample(t)) },
			env:  baseEnv,
			check: func(t *testing.T, c Config) {
				if c.Listen.HTTPAddr == "" {
					t.Error("listen.http_addr is empty, want the plain listener for the balancer")
				}
				if !strings.HasPrefix(c.Listen.Addr, "127.0.0.1:") {
					t.Errorf("listen.addr = %q, want the TLS listener kept on loopback", c.Listen.Addr)
				}
				if c.Listen.TLSCert != "" {
					t.Errorf("listen.tls_cert = %q, want the local CA", c.Listen.TLSCert)
				}
				proxies := c.Listen.TrustedProxyPrefixes()
				if len(proxies) == 0 {
					t.Error("listen.trusted_proxies is empty, want the balancer's addresses")
				}
				for _, p := range proxies {
					if p.Bits() < 16 {
						t.Errorf("listen.trusted_proxies holds %s, wider than a balancer's network", p)
					}
				}
				if !strings.HasPrefix(c.Listen.PublicURL, "https://") {
					t.Errorf("listen.public_url = %q, want the https address clients use", c.Listen.PublicURL)
				}
			},
		},
		{
			name:    "TLS ends at the balancer, trusting every address",
			text:    func(t *testing.T) string { return variantB(t, productionExample(t)) },
			env:     append(slices.Clone(baseEnv), "MAPWRIGHT_LISTEN_TRUSTED_PROXIES=10.0.1.0/28,::/0"),
			wantErr: []string{"listen.trusted_proxies[1]"},
		},
		{
			name:    "TLS ends at the balancer, public URL over plain HTTP",
			text:    func(t *testing.T) string { return variantB(t, productionExample(t)) },
			env:     append(slices.Clone(baseEnv), "MAPWRIGHT_LISTEN_PUBLIC_URL=http://tiles.example.com"),
			wantErr: []string{"listen.public_url"},
		},
		{
			name: "the replica that runs scheduled backups",
			text: func(t *testing.T) string { return withCertificates(t, productionExample(t)) },
			env: append(slices.Clone(baseEnv), "MAPWRIGHT_BACKUP_SCHEDULE=24h",
				"MAPWRIGHT_BACKUP_RECIPIENTS=age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"),
			check: func(t *testing.T, c Config) {
				if c.Backup.Schedule == 0 || len(c.Backup.Recipients) != 1 {
					t.Errorf("backup = %+v, want the schedule and recipient of the environment", c.Backup)
				}
				if c.Backup.KeepDaily == 0 {
					t.Error("backup.keep_daily = 0, want the file's retention")
				}
			},
		},
		{
			name:    "a schedule without recipients is refused",
			text:    func(t *testing.T) string { return withCertificates(t, productionExample(t)) },
			env:     append(slices.Clone(baseEnv), "MAPWRIGHT_BACKUP_SCHEDULE=24h"),
			wantErr: []string{"backup.recipients"},
		},
		{
			name:    "the certificate credentials must exist",
			text:    productionExample,
			env:     baseEnv,
			wantErr: []string{"listen.tls_cert", "listen.tls_key"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(LoadOptions{File: writeTemp(t, tt.text(t)), Environ: tt.env})
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("Load succeeded, want an error naming %v", tt.wantErr)
				}
				var named []string
				for _, fe := range FieldErrors(err) {
					named = append(named, fe.Field)
				}
				for _, key := range tt.wantErr {
					if !slices.Contains(named, key) {
						t.Errorf("error names %v, want %s: %v", named, key, err)
					}
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error shows the database password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			// What every shape shares: PostgreSQL from the environment,
			// no public tileset, the socket in the unit's runtime
			// directory, a tight TCP admin listener.
			if c.DatabaseURL != dbURL {
				t.Errorf("database_url = %q, want the environment's", RedactURL(c.DatabaseURL))
			}
			if len(c.Tiles.Public) != 0 {
				t.Errorf("tiles.public = %v, want none", c.Tiles.Public)
			}
			if c.Admin.Socket != "/run/mapwright/admin.sock" {
				t.Errorf("admin.socket = %q, want the unit's runtime directory", c.Admin.Socket)
			}
			if c.DataDir != "/var/lib/mapwright" || c.Tiles.Dir != "/srv/mapwright/tiles" {
				t.Errorf("data_dir, tiles.dir = %q, %q, want the unit's state directory and tiles mount", c.DataDir, c.Tiles.Dir)
			}
			for _, p := range c.Admin.Prefixes() {
				if p.Bits() == 0 {
					t.Errorf("admin.allowed_cidrs lets every client in (%s)", p)
				}
			}
			if c.Admin.Addr != "" && len(c.Admin.AllowedHosts) == 0 {
				t.Error("admin.allowed_hosts is empty with admin over TCP")
			}
			tt.check(t, c)
		})
	}
}

// TestProductionExampleHoldsNoSecret: the file may be world-readable, so
// it must not set the database URL, and it names only real keys and
// environment variables.
func TestProductionExampleHoldsNoSecret(t *testing.T) {
	text := productionExample(t)
	fs, err := parseFile([]byte(text))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if v, ok := fs.values["database_url"]; ok && v != "" {
		t.Errorf("the production example sets database_url (%v); it belongs in the environment file", v)
	}
	known := map[string]bool{ConfigEnv: true}
	for _, k := range Keys() {
		known[EnvName(k)] = true
	}
	for _, word := range strings.FieldsFunc(text, func(r rune) bool {
		return !(r == '_' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		if strings.HasPrefix(word, "MAPWRIGHT_") && !strings.HasSuffix(word, "_") && !known[word] {
			t.Errorf("the production example names %s, which is no setting", word)
		}
	}
}
