package deploy

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/certs"
	"github.com/mapwright/mapwright/internal/config"
	"github.com/mapwright/mapwright/internal/daemon"
)

const (
	unitPath = "deploy/systemd/mapwrightd.service"
	// installedBinary is where docs/operations.md installs mapwrightd and
	// where the unit runs it from.
	installedBinary = "/usr/local/bin/mapwrightd"
	// installedConfig is where docs/operations.md installs the config file.
	installedConfig = "/etc/mapwright/mapwrightd.yaml"
)

// unitFile is a parsed systemd unit: section, then directive, then every
// value it was given, in order.
type unitFile map[string]map[string][]string

// parseUnit reads the unit syntax the kit uses: [Section] headers,
// Key=Value lines, comments starting with # or ;, and lines continued by a
// trailing backslash.
func parseUnit(t *testing.T, text string) unitFile {
	t.Helper()
	u := unitFile{}
	section := ""
	var pending string
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if pending != "" {
			line = pending + " " + line
			pending = ""
		}
		if strings.HasSuffix(line, "\\") {
			pending = strings.TrimSuffix(line, "\\")
			continue
		}
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
		default:
			key, val, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("unit line %d: not a Key=Value line in a section: %q", i+1, line)
			}
			u[section][strings.TrimSpace(key)] = append(u[section][strings.TrimSpace(key)], strings.TrimSpace(val))
		}
	}
	return u
}

// last returns the effective value of a single-valued directive.
func (u unitFile) last(section, key string) (string, bool) {
	vals := u[section][key]
	if len(vals) == 0 {
		return "", false
	}
	return vals[len(vals)-1], true
}

func loadUnit(t *testing.T) unitFile {
	t.Helper()
	return parseUnit(t, readRepoFile(t, unitPath))
}

// TestUnitHardening pins the sandbox of the service: each directive with
// the value that gives the daemon no more than it needs.
func TestUnitHardening(t *testing.T) {
	u := loadUnit(t)
	tests := []struct {
		name, key, want string
	}{
		{"own user, allocated at start", "DynamicUser", "yes"},
		{"data directory", "StateDirectory", "mapwright"},
		{"data directory closed to others", "StateDirectoryMode", "0700"},
		{"admin socket directory", "RuntimeDirectory", "mapwright"},
		{"files private by default", "UMask", "0077"},
		{"read-only system", "ProtectSystem", "strict"},
		{"no home directories", "ProtectHome", "yes"},
		{"private /tmp", "PrivateTmp", "yes"},
		{"no devices", "PrivateDevices", "yes"},
		{"no privilege gain", "NoNewPrivileges", "yes"},
		{"no capabilities", "CapabilityBoundingSet", ""},
		{"no ambient capabilities", "AmbientCapabilities", ""},
		{"only IP and unix sockets", "RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"},
		{"native system calls only", "SystemCallArchitectures", "native"},
		{"no writable executable memory", "MemoryDenyWriteExecute", "yes"},
		{"fixed personality", "LockPersonality", "yes"},
		{"no namespaces", "RestrictNamespaces", "yes"},
		{"no realtime scheduling", "RestrictRealtime", "yes"},
		{"no setuid files", "RestrictSUIDSGID", "yes"},
		{"kernel tunables", "ProtectKernelTunables", "yes"},
		{"kernel modules", "ProtectKernelModules", "yes"},
		{"kernel log", "ProtectKernelLogs", "yes"},
		{"control groups", "ProtectControlGroups", "yes"},
		{"clock", "ProtectClock", "yes"},
		{"host name", "ProtectHostname", "yes"},
		{"restart after a crash", "Restart", "on-failure"},
		{"no restart loop on a bad configuration or a newer schema", "RestartPreventExitStatus", "2 3 4"},
		{"reload is SIGHUP", "ExecReload", "/bin/kill -HUP $MAINPID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := u.last("Service", tt.key)
			if !ok {
				t.Fatalf("%s= is missing", tt.key)
			}
			if got != tt.want {
				t.Errorf("%s=%s, want %s=%s", tt.key, got, tt.key, tt.want)
			}
		})
	}

	t.Run("system call filter", func(t *testing.T) {
		filters := u["Service"]["SystemCallFilter"]
		if len(filters) == 0 || filters[0] != "@system-service" {
			t.Errorf("SystemCallFilter= %q, want an allow list of @system-service first", filters)
		}
	})
	t.Run("environment file for secrets", func(t *testing.T) {
		files := u["Service"]["EnvironmentFile"]
		if len(files) != 1 || !strings.HasPrefix(strings.TrimPrefix(files[0], "-"), "/etc/mapwright/") {
			t.Errorf("EnvironmentFile= %q, want one file in /etc/mapwright", files)
		}
	})
	t.Run("audit actors stay real", func(t *testing.T) {
		// In a user namespace the admin socket's peers would all be
		// "nobody", and the audit log would lose who acted.
		if v, ok := u.last("Service", "PrivateUsers"); ok && v != "no" {
			t.Errorf("PrivateUsers=%s hides the admin socket's callers", v)
		}
	})
}

// execStart splits the unit's ExecStart= into words. The kit quotes
// nothing, so a quote is an error rather than something to interpret.
func execStart(t *testing.T, u unitFile) []string {
	t.Helper()
	line, ok := u.last("Service", "ExecStart")
	if !ok {
		t.Fatal("ExecStart= is missing")
	}
	if strings.ContainsAny(line, `"'\$`) {
		t.Fatalf("ExecStart=%s: quoting and variables are not expected", line)
	}
	return strings.Fields(line)
}

// TestUnitMatchesDaemon runs the unit's command line through mapwrightd's
// own command tree and configuration loader: every flag must exist, and
// the paths it sets must agree with the sandbox (writable state directory,
// socket in the runtime directory, tiles under a read-only path).
func TestUnitMatchesDaemon(t *testing.T) {
	u := loadUnit(t)
	args := execStart(t, u)
	if args[0] != installedBinary {
		t.Fatalf("ExecStart runs %s, want %s (where docs/operations.md installs it)", args[0], installedBinary)
	}
	if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--database-url") }) {
		t.Fatal("ExecStart passes --database-url: the password would be visible in the process list")
	}

	var out, errOut bytes.Buffer
	root := daemon.NewRootCmd(daemon.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	cmd, rest, err := root.Find(args[1:])
	if err != nil || cmd.Name() != "serve" {
		t.Fatalf("ExecStart does not run mapwrightd serve: %v", err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Fatalf("mapwrightd serve refuses the unit's flags: %v", err)
	}
	if extra := cmd.Flags().Args(); len(extra) > 0 {
		t.Fatalf("mapwrightd serve takes no arguments, the unit passes %q", extra)
	}
	if got, _ := cmd.Flags().GetString("config"); got != installedConfig {
		t.Errorf("--config %s, want %s", got, installedConfig)
	}

	cfgFile := productionConfigCopy(t)
	home := t.TempDir()
	cfg, err := config.Load(config.LoadOptions{
		File:    cfgFile,
		Flags:   cmd.Flags(),
		Environ: []string{"HOME=" + home, "MAPWRIGHT_DATABASE_URL=postgres://mapwright@db.internal/mapwright"},
	})
	if err != nil {
		t.Fatalf("the unit's flags with the production example do not load: %v", err)
	}

	state, _ := u.last("Service", "StateDirectory")
	if want := "/var/lib/" + state; cfg.DataDir != want {
		t.Errorf("data directory %s, want the state directory %s", cfg.DataDir, want)
	}
	runtime, _ := u.last("Service", "RuntimeDirectory")
	if got, want := filepath.Dir(cfg.Admin.Socket), "/run/"+runtime; got != want {
		t.Errorf("admin socket in %s, want the runtime directory %s", got, want)
	}
	var readOnly []string
	for _, v := range u["Service"]["ReadOnlyPaths"] {
		for _, p := range strings.Fields(v) {
			readOnly = append(readOnly, strings.TrimPrefix(p, "-"))
		}
	}
	if !slices.Contains(readOnly, cfg.Tiles.Dir) {
		t.Errorf("tiles directory %s is not among ReadOnlyPaths %q", cfg.Tiles.Dir, readOnly)
	}
	if !strings.HasPrefix(cfg.Backup.Dir, cfg.DataDir+"/") {
		t.Errorf("backup directory %s is outside the data directory, where ProtectSystem=strict forbids writing", cfg.Backup.Dir)
	}

	// The same flags, through check-config: what an operator runs to
	// check the installed files.
	checkArgs := []string{"check-config"}
	for i := 0; i < len(rest); i++ {
		if rest[i] == "--config" && i+1 < len(rest) {
			checkArgs = append(checkArgs, "--config", cfgFile)
			i++
			continue
		}
		checkArgs = append(checkArgs, rest[i])
	}
	t.Setenv("HOME", home)
	t.Setenv("MAPWRIGHT_DATABASE_URL", "postgres://mapwright:s3cret@db.internal/mapwright")
	out.Reset()
	errOut.Reset()
	code := daemon.Run(context.Background(), checkArgs, daemon.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	if code != 0 || !strings.Contains(out.String(), "configuration ok") {
		t.Fatalf("mapwrightd %s: exit %d\n%s%s", strings.Join(checkArgs, " "), code, out.String(), errOut.String())
	}
	if strings.Contains(out.String()+errOut.String(), "s3cret") {
		t.Error("check-config printed the database password")
	}
}

// productionConfigCopy returns a copy of the production example whose
// certificate credentials exist: a fresh local CA's server certificate.
func productionConfigCopy(t *testing.T) string {
	t.Helper()
	text := readRepoFile(t, "examples/mapwrightd-production.yaml")
	const credentials = "/run/credentials/mapwrightd.service/"
	if !strings.Contains(text, credentials+"tls.crt") || !strings.Contains(text, credentials+"tls.key") {
		t.Fatalf("the production example no longer reads its certificate from %s", credentials)
	}
	dir := t.TempDir()
	tlsDir := filepath.Join(dir, "tls")
	if err := os.Mkdir(tlsDir, 0o700); err != nil {
		t.Fatal(err)
	}
	mat, err := certs.EnsureLocalCA(tlsDir, []string{"tiles-1.internal"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	text = strings.ReplaceAll(text, credentials+"tls.crt", mat.CertPath)
	text = strings.ReplaceAll(text, credentials+"tls.key", mat.KeyPath)
	p := filepath.Join(dir, "mapwrightd.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUnitVerify has systemd check the unit as it would load it, and rate
// its sandbox. The unit's binary is replaced by this test's own, since
// systemd-analyze wants ExecStart to name an executable.
func TestUnitVerify(t *testing.T) {
	analyze := needTool(t, "systemd-analyze", "systemd")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	text := readRepoFile(t, unitPath)
	if !strings.Contains(text, "ExecStart="+installedBinary+" ") {
		t.Fatalf("ExecStart does not run %s", installedBinary)
	}
	text = strings.ReplaceAll(text, "ExecStart="+installedBinary+" ", "ExecStart="+self+" ")
	unit := filepath.Join(t.TempDir(), path.Base(unitPath))
	if err := os.WriteFile(unit, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	verify := exec.CommandContext(ctx, analyze, "verify", "--man=no", unit)
	if out, err := verify.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	// An exposure score of 2.0 or less on systemd's 0-10 scale ("OK");
	// --threshold takes tenths.
	security := exec.CommandContext(ctx, analyze, "security", "--offline=yes", "--threshold=20", unit)
	out, err := security.CombinedOutput()
	if err != nil && bytes.Contains(out, []byte("unrecognized option")) {
		t.Skipf("this systemd-analyze cannot rate a unit offline: %s", bytes.TrimSpace(out))
	}
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		t.Errorf("systemd-analyze security rates the unit above 2.0: %s", lines[len(lines)-1])
	}
}
