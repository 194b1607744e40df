package cli

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/backup"
	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/cli/output"
	"github.com/mapwright/mapwright/internal/keys"
	"github.com/mapwright/mapwright/internal/sessions"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/open"
	"github.com/mapwright/mapwright/internal/testutil/pgtest"
	"github.com/mapwright/mapwright/pkg/apikey"
)

// backupWorld is a server's data directory with a populated SQLite
// database, served over a unix socket by the backup handler, and a clean
// environment for mwctl.
type backupWorld struct {
	t        *testing.T
	dataDir  string
	st       store.Store
	auditKey []byte
	server   string
	passFile string
	// idFile holds an age identity; recipient is its public key.
	idFile, recipient string
	// live and revoked are tokens of the populated keys.
	live, revoked string
}

const testPassphrase = "correct horse battery staple"

func newBackupWorld(t *testing.T) *backupWorld {
	t.Helper()
	w := &backupWorld{t: t, dataDir: filepath.Join(t.TempDir(), "data")}
	if err := os.MkdirAll(w.dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	st, err := open.Open(t.Context(), w.dataDir, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w.st = st
	if w.auditKey, err = audit.LoadOrCreateKey(w.dataDir, false); err != nil {
		t.Fatal(err)
	}
	if _, err := sessions.LoadOrCreateKey(w.dataDir, false); err != nil {
		t.Fatal(err)
	}
	svc := keys.New(st, audit.New(w.auditKey, nil), keys.Options{CacheSize: -1})
	actor := keys.Actor{Name: "unix:1000(alice)"}
	live, err := svc.Issue(t.Context(), keys.IssueRequest{Kind: apikey.Public, Name: "web", Tilesets: []string{"osm"}}, actor)
	if err != nil {
		t.Fatal(err)
	}
	gone, err := svc.Issue(t.Context(), keys.IssueRequest{Kind: apikey.Public, Name: "leaked"}, actor)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Revoke(t.Context(), gone.Key.ID, "leaked", actor); err != nil {
		t.Fatal(err)
	}
	w.live, w.revoked = live.Token, gone.Token
	w.passFile = filepath.Join(t.TempDir(), "pass")
	os.WriteFile(w.passFile, []byte(testPassphrase+"\n"), 0o600)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	w.idFile, w.recipient = filepath.Join(t.TempDir(), "identity.txt"), id.Recipient().String()
	os.WriteFile(w.idFile, []byte(id.String()+"\n"), 0o600)

	// The admin socket, in a short directory (socket paths are limited).
	sockDir, err := os.MkdirTemp("", "mwbak")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	ln, err := net.Listen("unix", filepath.Join(sockDir, "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	h := backup.NewHandler(backup.HandlerOptions{
		Store: st, DataDir: w.dataDir, MapwrightVersion: "test",
		OnSnapshot: backup.AuditHook(audit.New(w.auditKey, nil), st, nil),
		Actor:      func(*http.Request) string { return "unix:1000(alice)" },
	})
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	w.server = "unix://" + ln.Addr().String()

	dir := t.TempDir()
	for _, kv := range globalEnv {
		t.Setenv(kv[1], "")
	}
	t.Setenv("MWCTL_CONFIG", "")
	t.Setenv(envBackupPassphrase, "")
	os.Unsetenv(envBackupPassphrase)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "xdgdata"))
	t.Setenv("HOME", dir)
	t.Setenv("MWCTL_SERVER", w.server)
	return w
}

// mwctl runs one mwctl command line, with the backup commands registered
// whether or not the root registers them yet.
func (w *backupWorld) mwctl(args ...string) result {
	w.t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f := NewFactory(ios)
	f.Now = func() time.Time { return testNow }
	root := NewRootCmd(f)
	if c, _, err := root.Find([]string{"backup"}); err != nil || c == root {
		root.AddCommand(newCmdBackup(f))
	}
	root.SetArgs(args)
	_, err := root.ExecuteContextC(context.Background())
	code := exitOK
	if err != nil {
		code = exitCode(context.Background(), err)
		errOut.WriteString("mwctl: " + err.Error() + "\n")
	}
	r := result{code: code, stdout: out.String(), stderr: errOut.String(), commandLine: strings.Join(args, " ")}
	if strings.Contains(r.stdout+r.stderr, testPassphrase) {
		w.t.Errorf("mwctl %s printed the passphrase", r.commandLine)
	}
	return r
}

func (w *backupWorld) mustRun(args ...string) result {
	w.t.Helper()
	r := w.mwctl(args...)
	if r.code != 0 {
		w.t.Fatalf("mwctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", r.commandLine, r.code, r.stdout, r.stderr)
	}
	return r
}

// field returns the value of a "name<TAB>value" line of plain output.
func field(t *testing.T, out, name string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "\t"); ok && k == name {
			return v
		}
	}
	t.Fatalf("no field %q in:\n%s", name, out)
	return ""
}

// checkRestored opens the restored data directory (or database) and
// checks that it serves the old keys, refuses the revoked one, and that
// its audit chain verifies with the restored key file up to the restore
// event.
func (w *backupWorld) checkRestored(dataDir, databaseURL string) {
	t := w.t
	t.Helper()
	st, err := open.Open(t.Context(), dataDir, databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key, err := audit.LoadOrCreateKey(dataDir, true)
	if err != nil {
		t.Fatalf("restored audit key: %v", err)
	}
	svc := keys.New(st, audit.New(key, nil), keys.Options{CacheSize: -1})
	if _, err := svc.Verify(t.Context(), w.live); err != nil {
		t.Errorf("live key after restore: %v", err)
	}
	if _, err := svc.Verify(t.Context(), w.revoked); err == nil {
		t.Error("the revoked key works after restore")
	}
	res, err := audit.Verify(t.Context(), st, key, audit.VerifyOptions{})
	if err != nil || !res.OK {
		t.Fatalf("restored chain: %+v, %v", res, err)
	}
	var last store.AuditEvent
	st.ScanAudit(t.Context(), res.Head.Seq, 0, func(ev store.AuditEvent) error { last = ev; return nil })
	if last.Action != audit.ActionBackupRestore || !strings.HasPrefix(last.Actor, "unix:") {
		t.Errorf("last restored event %+v, want the restore by the local user", last)
	}
}

func TestBackupCreateVerifyRestore(t *testing.T) {
	w := newBackupWorld(t)
	dir := filepath.Join(t.TempDir(), "backups")
	r := w.mustRun("backup", "create", "--dir", dir, "--recipient", w.recipient)
	path := field(t, r.stdout, "path")
	if filepath.Dir(path) != dir || filepath.Base(path) != backup.FileName(testNow) {
		t.Errorf("written to %s", path)
	}
	if field(t, r.stdout, "encryption") != "age (1 X25519 recipient)" || field(t, r.stdout, "tables") != "5" {
		t.Errorf("create output:\n%s", r.stdout)
	}
	// The server recorded it.
	var last store.AuditEvent
	w.st.ScanAudit(t.Context(), 1, 0, func(ev store.AuditEvent) error { last = ev; return nil })
	if last.Action != audit.ActionBackupCreate || last.Outcome != audit.OutcomeSuccess {
		t.Errorf("the server's last event %+v", last)
	}

	r = w.mustRun("backup", "list", "--dir", dir)
	if !strings.Contains(r.stdout, backup.FileName(testNow)+"\t") || !strings.Contains(r.stdout, "\tage (1 X25519 recipient)\t") {
		t.Errorf("list:\n%s", r.stdout)
	}
	r = w.mustRun("backup", "list", "--dir", dir, "--verify-headers", "--identity", w.idFile, "-o", "json")
	var list backupListDoc
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list.Backups) != 1 ||
		list.Backups[0].FormatVersion != backup.FormatVersion || list.Backups[0].Backend != "sqlite" {
		t.Errorf("list -o json: %s (%v)", r.stdout, err)
	}

	r = w.mustRun("backup", "verify", path, "--identity", w.idFile, "-o", "json")
	var ver backupVerifyDoc
	if err := json.Unmarshal([]byte(r.stdout), &ver); err != nil || !ver.OK || !ver.Audit.OK || ver.Manifest.Rows() == 0 {
		t.Errorf("verify -o json: %s (%v)", r.stdout, err)
	}
	r = w.mustRun("backup", "verify", path, "--identity", w.idFile)
	if field(t, r.stdout, "result") != "ok" || field(t, r.stdout, "tables.keys") != "2" {
		t.Errorf("verify:\n%s", r.stdout)
	}

	fresh := filepath.Join(t.TempDir(), "restored")
	r = w.mustRun("backup", "restore", path, "--data-dir", fresh, "--identity", w.idFile)
	if field(t, r.stdout, "key_files") != "audit.key installed, session.key installed" {
		t.Errorf("restore:\n%s", r.stdout)
	}
	st, err := os.Stat(filepath.Join(fresh, backup.AuditKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("restored audit key: %v %v", err, st)
	}
	if dst, _ := os.Stat(fresh); dst.Mode().Perm() != 0o700 {
		t.Errorf("restored data directory mode %v", dst.Mode())
	}
	w.checkRestored(fresh, "")

	// A second restore into the same, now populated, directory is refused;
	// --force replaces it.
	r = w.mwctl("backup", "restore", path, "--data-dir", fresh, "--identity", w.idFile)
	if r.code == 0 || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("restore into a populated store: exit %d\n%s", r.code, r.stderr)
	}
	r = w.mustRun("backup", "restore", path, "--data-dir", fresh, "--identity", w.idFile, "--force", "-o", "json")
	var rest backupRestoreDoc
	if err := json.Unmarshal([]byte(r.stdout), &rest); err != nil || len(rest.Kept) != 2 || rest.EventSeq == 0 {
		t.Errorf("forced restore -o json: %s (%v)", r.stdout, err)
	}
	w.checkRestored(fresh, "")
}

func TestBackupPassphrase(t *testing.T) {
	w := newBackupWorld(t)
	out := filepath.Join(t.TempDir(), "p.mwbak")
	t.Setenv(envBackupPassphrase, testPassphrase)
	r := w.mustRun("backup", "create", "-o", out)
	if field(t, r.stdout, "encryption") != "age (passphrase)" {
		t.Errorf("create with the passphrase from the environment:\n%s", r.stdout)
	}
	os.Unsetenv(envBackupPassphrase)
	w.mustRun("backup", "verify", out, "--passphrase-file", w.passFile)
}

func TestBackupFaults(t *testing.T) {
	w := newBackupWorld(t)
	dir := t.TempDir()
	r := w.mustRun("backup", "create", "-o", filepath.Join(dir, "id.mwbak"), "--recipient", w.recipient)
	// The same backup under a passphrase of low scrypt cost, so that each
	// case takes milliseconds rather than a second.
	ids, _ := backup.ReadIdentityFile(w.idFile)
	plain, _, f, err := backup.OpenFile(field(t, r.stdout, "path"), backup.Keys{Identities: ids})
	if err != nil {
		t.Fatal(err)
	}
	var goodBuf bytes.Buffer
	enc, _ := backup.Encryption{Passphrase: testPassphrase, ScryptWorkFactor: 10}.Wrap(&goodBuf)
	if _, err := io.Copy(enc, plain); err != nil {
		t.Fatal(err)
	}
	enc.Close()
	f.Close()
	good := goodBuf.Bytes()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o600)
		return p
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x01
	// A backup of a newer format: only its header matters.
	var newer bytes.Buffer
	enc, _ = backup.Encryption{Passphrase: testPassphrase, ScryptWorkFactor: 10}.Wrap(&newer)
	header := `{"format":"mapwright-backup","format_version":7}`
	enc.Write([]byte("mapwright-backup\nH"))
	binary.Write(enc, binary.BigEndian, uint32(len(header)))
	enc.Write([]byte(header))
	enc.Close()
	wrongPass := write("wrong-pass", []byte("incorrect horse\n"))

	cases := []struct {
		name string
		file string
		pass string
		want string
	}{
		{"wrong passphrase", write("a.mwbak", good), wrongPass, "wrong passphrase"},
		{"truncated", write("b.mwbak", good[:len(good)*2/3]), w.passFile, "truncated"},
		{"flipped byte", write("c.mwbak", flipped), w.passFile, "corrupt"},
		{"newer format", write("d.mwbak", newer.Bytes()), w.passFile, "newer"},
		{"no passphrase", write("e.mwbak", good), "", "encrypted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{tc.file}
			if tc.pass != "" {
				args = append(args, "--passphrase-file", tc.pass)
			}
			r := w.mwctl(append([]string{"backup", "verify"}, args...)...)
			if r.code != exitFailure || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("verify: exit %d, stderr %q; want 1 mentioning %q", r.code, r.stderr, tc.want)
			}

			// Into a fresh directory: nothing is left behind.
			fresh := filepath.Join(t.TempDir(), "fresh")
			r = w.mwctl(append([]string{"backup", "restore", "--data-dir", fresh}, args...)...)
			if r.code != exitFailure || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("restore: exit %d, stderr %q; want 1 mentioning %q", r.code, r.stderr, tc.want)
			}
			if _, err := os.Stat(fresh); !os.IsNotExist(err) {
				entries, _ := os.ReadDir(fresh)
				t.Errorf("a failed restore left the data directory behind: %v", entries)
			}

			// Into the server's own (stopped) store, forced: untouched.
			before := dumpCLI(t, w.st)
			keyBefore, _ := os.ReadFile(filepath.Join(w.dataDir, backup.AuditKeyFile))
			target := t.TempDir()
			copyDataDir(t, w.dataDir, target)
			r = w.mwctl(append([]string{"backup", "restore", "--data-dir", target, "--force"}, args...)...)
			if r.code != exitFailure {
				t.Errorf("forced restore: exit %d", r.code)
			}
			st, err := open.Open(t.Context(), target, "")
			if err != nil {
				t.Fatal(err)
			}
			after := dumpCLI(t, st)
			st.Close()
			if after != before {
				t.Error("a failed forced restore changed the database")
			}
			if k, _ := os.ReadFile(filepath.Join(target, backup.AuditKeyFile)); !bytes.Equal(k, keyBefore) {
				t.Error("a failed forced restore changed the audit key")
			}
		})
	}
}

// dumpCLI renders every table of st as a backup's table parts.
func dumpCLI(t *testing.T, st store.Store) string {
	t.Helper()
	var buf bytes.Buffer
	m, err := backup.WriteSnapshot(t.Context(), st, &buf, backup.SnapshotOptions{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	var sums []string
	for _, p := range m.Parts {
		sums = append(sums, p.Name+"="+p.SHA256)
	}
	return strings.Join(sums, "\n")
}

// copyDataDir copies the database and key files of a data directory.
func copyDataDir(t *testing.T, from, to string) {
	t.Helper()
	var buf bytes.Buffer
	st, err := open.Open(t.Context(), from, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	files, _ := backup.ReadKeyFiles(from)
	if _, err := backup.WriteSnapshot(t.Context(), st, &buf, backup.SnapshotOptions{Files: files}); err != nil {
		t.Fatal(err)
	}
	dst, err := open.Open(t.Context(), to, "")
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := backup.Restore(t.Context(), &buf, dst, backup.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		os.WriteFile(filepath.Join(to, f.Name), f.Data, 0o600)
	}
}

func TestBackupCreateRefuses(t *testing.T) {
	w := newBackupWorld(t)
	out := filepath.Join(t.TempDir(), "x.mwbak")
	recipient := "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no encryption chosen", []string{"-o", out}, exitUsage, "choose the encryption"},
		{"recipient and passphrase", []string{"-o", out, "--recipient", recipient, "--passphrase-file", w.passFile}, exitUsage, "not both"},
		{"no encryption and a recipient", []string{"-o", out, "--recipient", recipient, "--insecure-no-encryption"}, exitUsage, "excludes"},
		{"bad recipient", []string{"-o", out, "--recipient", "age1nope"}, exitUsage, "--recipient"},
		{"file and directory", []string{"-o", out, "--dir", t.TempDir(), "--recipient", recipient}, exitUsage, "exactly one"},
		{"neither file nor directory", []string{"--recipient", recipient}, exitUsage, "exactly one"},
		{"database URL without data directory", []string{"-o", out, "--database-url", "postgres://x/y", "--recipient", recipient}, exitUsage, "--data-dir"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := w.mwctl(append([]string{"backup", "create"}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d mentioning %q", r.code, r.stderr, tc.code, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("a refused create wrote %s", out)
			}
		})
	}

	t.Run("unencrypted on request", func(t *testing.T) {
		r := w.mustRun("backup", "create", "-o", out, "--insecure-no-encryption")
		if !strings.Contains(r.stderr, "NOT encrypted") || field(t, r.stdout, "encryption") != "none" {
			t.Errorf("stderr %q stdout %q", r.stderr, r.stdout)
		}
		b, _ := os.ReadFile(out)
		if !bytes.HasPrefix(b, []byte("mapwright-backup-unencrypted\n")) {
			t.Error("the unencrypted file is not marked as such")
		}
		w.mustRun("backup", "verify", out)
	})

	t.Run("server unreachable", func(t *testing.T) {
		t.Setenv("MWCTL_SERVER", "unix:///nonexistent/admin.sock")
		r := w.mwctl("backup", "create", "-o", out+"2", "--recipient", recipient)
		if r.code != exitFailure {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
		if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".mapwright-*")); len(matches) > 0 || fileExists(out+"2") {
			t.Errorf("a failed create left files: %v", matches)
		}
	})
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func TestBackupRestoreRefusesRunningServer(t *testing.T) {
	w := newBackupWorld(t)
	r := w.mustRun("backup", "create", "-o", filepath.Join(t.TempDir(), "b.mwbak"), "--recipient", w.recipient)
	path := field(t, r.stdout, "path")
	sockDir, _ := os.MkdirTemp("", "mwrun")
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	ln, err := net.Listen("unix", filepath.Join(sockDir, "admin.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r = w.mwctl("backup", "restore", path, "--data-dir", sockDir, "--identity", w.idFile)
	if r.code != exitFailure || !strings.Contains(r.stderr, "is running") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	if fileExists(filepath.Join(sockDir, open.SQLiteFile)) {
		t.Error("a database was created under a running server")
	}

	// A server whose socket lives outside its data directory (as under the
	// service unit) is found through --admin-socket.
	elsewhere := filepath.Join(t.TempDir(), "data")
	r = w.mwctl("backup", "restore", path, "--data-dir", elsewhere, "--admin-socket", filepath.Join(sockDir, "admin.sock"), "--identity", w.idFile)
	if r.code != exitFailure || !strings.Contains(r.stderr, "is running") {
		t.Errorf("--admin-socket of a running server: exit %d: %s", r.code, r.stderr)
	}
	if fileExists(filepath.Join(elsewhere, open.SQLiteFile)) {
		t.Error("a database was created under a running server found by --admin-socket")
	}
}

func TestBackupDirectAndPostgres(t *testing.T) {
	w := newBackupWorld(t)
	out := filepath.Join(t.TempDir(), "direct.mwbak")
	// Direct mode needs no server: point mwctl nowhere.
	t.Setenv("MWCTL_SERVER", "unix:///nonexistent/admin.sock")
	r := w.mustRun("backup", "create", "-o", out, "--data-dir", w.dataDir, "--recipient", w.recipient)
	var last store.AuditEvent
	w.st.ScanAudit(t.Context(), 1, 0, func(ev store.AuditEvent) error { last = ev; return nil })
	if last.Action != audit.ActionBackupCreate || !strings.HasPrefix(last.Actor, "unix:") || last.Details["direct"] != "true" {
		t.Errorf("direct create recorded as %+v", last)
	}
	if field(t, r.stdout, "backend") != "sqlite" {
		t.Errorf("create:\n%s", r.stdout)
	}

	url := pgtest.URL(t)
	pgData := filepath.Join(t.TempDir(), "pgdata")
	w.mustRun("backup", "restore", out, "--database-url", url, "--data-dir", pgData, "--identity", w.idFile)
	w.checkRestored(pgData, url)

	// And back to SQLite, from a direct backup of PostgreSQL.
	out2 := filepath.Join(t.TempDir(), "frompg.mwbak")
	r = w.mustRun("backup", "create", "-o", out2, "--data-dir", pgData, "--database-url", url, "--recipient", w.recipient)
	if field(t, r.stdout, "backend") != "postgres" {
		t.Errorf("create from PostgreSQL:\n%s", r.stdout)
	}
	back := filepath.Join(t.TempDir(), "back")
	w.mustRun("backup", "restore", out2, "--data-dir", back, "--identity", w.idFile)
	w.checkRestored(back, "")
}

func TestBackupPruneCLI(t *testing.T) {
	w := newBackupWorld(t)
	dir := t.TempDir()
	for _, d := range []time.Duration{0, -time.Hour, -24 * time.Hour, -48 * time.Hour} {
		os.WriteFile(filepath.Join(dir, backup.FileName(testNow.Add(d))), []byte("x"), 0o600)
	}
	r := w.mustRun("backup", "prune", "--dir", dir, "--keep-daily", "2", "--dry-run")
	want := "NAME\tTIME\tSIZE\tACTION\tREASONS\n" +
		"mapwright-20300601T120000Z.mwbak\t2030-06-01T12:00:00Z\t1\tkeep\tdaily 2030-06-01\n" +
		"mapwright-20300601T110000Z.mwbak\t2030-06-01T11:00:00Z\t1\twould remove\t-\n" +
		"mapwright-20300531T120000Z.mwbak\t2030-05-31T12:00:00Z\t1\tkeep\tdaily 2030-05-31\n" +
		"mapwright-20300530T120000Z.mwbak\t2030-05-30T12:00:00Z\t1\twould remove\t-\n"
	if r.stdout != want {
		t.Errorf("dry run:\n%s\nwant:\n%s", r.stdout, want)
	}
	if entries, _ := backup.ListDir(dir); len(entries) != 4 {
		t.Errorf("a dry run removed files: %d left", len(entries))
	}
	r = w.mustRun("backup", "prune", "--dir", dir, "--keep-daily", "2", "-o", "json")
	var doc backupPruneDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Removed != 2 || doc.Kept != 2 || doc.DryRun {
		t.Errorf("prune -o json: %s (%v)", r.stdout, err)
	}
	if entries, _ := backup.ListDir(dir); len(entries) != 2 {
		t.Errorf("%d backups left, want 2", len(entries))
	}
	r = w.mwctl("backup", "prune", "--dir", dir)
	if r.code != exitUsage || !strings.Contains(r.stderr, "keep") {
		t.Errorf("prune without rules: exit %d %s", r.code, r.stderr)
	}
}

// TestBackupCommandTree applies the rules of TestCommandTree to the
// backup commands, registered or not.
func TestBackupCommandTree(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	walk(newCmdBackup(NewFactory(ios)), func(c *cobra.Command) {
		t.Run(c.Name(), func(t *testing.T) {
			if strings.TrimSpace(c.Short) == "" || c.Args == nil {
				t.Error("no Short help or no argument validator")
			}
			_, noOutput := c.Annotations[annotationNoOutput]
			if c.Runnable() && c.Flags().Lookup(output.FlagName) == nil && !noOutput {
				t.Error("no -o flag and not marked as printing no data")
			}
		})
	})
}

func TestBackupOptionsCapture(t *testing.T) {
	ios, _, _, _ := iostreams.Test()
	f := NewFactory(ios)
	run := func(t *testing.T, cmd *cobra.Command, args ...string) {
		t.Helper()
		cmd.SetArgs(args)
		cmd.SetOut(ios.Out)
		cmd.SetErr(ios.ErrOut)
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("create", func(t *testing.T) {
		var got *backupCreateOptions
		run(t, newCmdBackupCreate(f, func(_ context.Context, o *backupCreateOptions) error { got = o; return nil }),
			"--dir", "/b", "--recipient", "age1a", "--recipient", "age1b", "--recipients-file", "r.txt", "--data-dir", "/d")
		if got.Dir != "/b" || len(got.Recipients) != 2 || got.RecipientsFiles[0] != "r.txt" || got.DataDir != "/d" || got.NoEncryption {
			t.Errorf("options = %+v", got)
		}
	})
	t.Run("restore", func(t *testing.T) {
		var got *backupRestoreOptions
		run(t, newCmdBackupRestore(f, func(_ context.Context, o *backupRestoreOptions) error { got = o; return nil }),
			"b.mwbak", "--database-url", "postgres://h/db", "--data-dir", "/d", "--force", "--identity", "id.txt", "-o", "json")
		if got.File != "b.mwbak" || got.DatabaseURL != "postgres://h/db" || !got.Force || got.Keys.Identities[0] != "id.txt" ||
			got.Format != output.FormatJSON || !strings.HasPrefix(got.Actor, "unix:") {
			t.Errorf("options = %+v", got)
		}
	})
	t.Run("prune", func(t *testing.T) {
		var got *backupPruneOptions
		run(t, newCmdBackupPrune(f, func(_ context.Context, o *backupPruneOptions) error { got = o; return nil }),
			"--dir", "/b", "--keep-last", "3", "--keep-daily", "7", "--keep-weekly", "5", "--keep-monthly", "-1", "--dry-run")
		if got.Keep != (backup.KeepPolicy{Last: 3, Daily: 7, Weekly: 5, Monthly: -1}) || !got.DryRun {
			t.Errorf("options = %+v", got)
		}
	})
	t.Run("list and verify", func(t *testing.T) {
		var gl *backupListOptions
		run(t, newCmdBackupList(f, func(_ context.Context, o *backupListOptions) error { gl = o; return nil }),
			"--dir", "/b", "--verify-headers", "--passphrase-file", "p", "-o", "jsonl")
		if gl.Dir != "/b" || !gl.VerifyHeaders || gl.Keys.PassphraseFile != "p" || gl.Format != output.FormatJSONL {
			t.Errorf("list options = %+v", gl)
		}
		var gv *backupVerifyOptions
		run(t, newCmdBackupVerify(f, func(_ context.Context, o *backupVerifyOptions) error { gv = o; return nil }),
			"f.mwbak", "--scratch-dir", "/s")
		if gv.File != "f.mwbak" || gv.ScratchDir != "/s" {
			t.Errorf("verify options = %+v", gv)
		}
	})
}
