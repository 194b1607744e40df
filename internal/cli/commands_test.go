package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mapwright/mapwright/pkg/client"
	"github.com/mapwright/mapwright/pkg/client/clienttest"
)

// seed creates three keys through mwctl: a public key for the web, a secret
// key for CI, and a public key that is then revoked.
func seed(e *env) {
	e.t.Helper()
	e.mustRun("keys", "create", "--name", "web-prod", "--origin", "https://maps.example.com",
		"--tileset", "osm", "--expires", "30d", "--label", "team=maps", "--rate", "50", "--burst", "200")
	e.mustRun("keys", "create", "--name", "ci", "--kind", "secret", "--scope", "keys:read,keys:rotate", "--label", "team=ops")
	e.mustRun("keys", "create", "--name", "old-demo")
	e.mustRun("keys", "revoke", "key_0004", "--yes", "--reason", "demo over")
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("output is not the documented JSON: %v\n%s", err, s)
	}
	return v
}

func TestKeysCreate(t *testing.T) {
	e := newEnv(t)
	r := e.mustRun("keys", "create", "--name", "web-prod", "--origin", "https://maps.example.com",
		"--tileset", "osm", "--expires", "30d", "--label", "team=maps", "--not-before", "2030-06-02")
	golden(t, "keys_create.plain", r.stdout)
	if r.stderr != shownOnce+"\n" {
		t.Errorf("stderr = %q, want the shown-once warning", r.stderr)
	}
	token := clienttest.TokenFor("public", 2)
	if !strings.HasPrefix(r.stdout, "key\t"+token+"\n") {
		t.Errorf("the key is not the first line of stdout:\n%s", r.stdout)
	}
	// What reached the server.
	k, ok := e.fake.Key("key_0002")
	if !ok {
		t.Fatal("no key created")
	}
	wantExp := testNow.Add(30 * 24 * time.Hour)
	if k.ExpiresAt == nil || !k.ExpiresAt.Equal(wantExp) || k.NotBefore == nil || !k.NotBefore.Equal(time.Date(2030, 6, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("expires %v, not before %v", k.ExpiresAt, k.NotBefore)
	}
	if k.Labels["team"] != "maps" || len(k.Origins) != 1 || k.Tilesets[0] != "osm" {
		t.Errorf("stored key = %+v", k)
	}
}

func TestKeysCreateFormats(t *testing.T) {
	e := newEnv(t)
	r := e.mustRun("keys", "create", "--name", "ci", "--kind", "secret", "--scope", "keys:read", "-o", "json")
	ck := decode[client.CreatedKey](t, r.stdout)
	if ck.ID != "key_0002" || ck.Token != clienttest.TokenFor("secret", 2) || ck.Kind != "secret" || ck.Scopes[0] != "keys:read" {
		t.Errorf("json = %+v", ck)
	}
	var raw map[string]any
	_ = json.Unmarshal([]byte(r.stdout), &raw)
	for _, field := range []string{"id", "key", "name", "kind", "scopes", "tilesets", "origins", "created_at"} {
		if _, ok := raw[field]; !ok {
			t.Errorf("json lacks %q", field)
		}
	}
	if !strings.Contains(r.stderr, shownOnce) {
		t.Errorf("stderr lacks the warning: %q", r.stderr)
	}

	r = e.mustRun("keys", "create", "--name", "quiet", "--quiet")
	if r.stdout != clienttest.TokenFor("public", 3)+"\n" || r.stderr != "" {
		t.Errorf("--quiet: stdout %q, stderr %q", r.stdout, r.stderr)
	}

	r = e.mustRun("keys", "create", "--name", "y", "-o", "yaml")
	if !strings.HasPrefix(r.stdout, "id: key_0004\nname: y\n") || !strings.Contains(r.stdout, "\nkey: mpw_pk_") {
		t.Errorf("yaml does not follow the JSON fields:\n%s", r.stdout)
	}
}

func TestKeysList(t *testing.T) {
	e := newEnv(t)
	seed(e)
	r := e.mustRun("keys", "list")
	golden(t, "keys_list.plain", r.stdout)

	r = e.mustRun("keys", "list", "-o", "json")
	list := decode[client.KeyList](t, r.stdout)
	if len(list.Keys) != 4 || list.Next != "" {
		t.Errorf("json list = %d keys, next %q", len(list.Keys), list.Next)
	}

	r = e.mustRun("keys", "list", "-o", "jsonl", "--state", "revoked")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 1 || decode[client.Key](t, lines[0]).Name != "old-demo" {
		t.Errorf("jsonl revoked = %q", r.stdout)
	}

	r = e.mustRun("keys", "list", "--label", "team=ops", "--kind", "secret", "-o", "jsonl")
	if !strings.Contains(r.stdout, `"name":"ci"`) || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("filtered list = %q", r.stdout)
	}
	last := e.fake.Requests()[len(e.fake.Requests())-1]
	if last.RawQuery != "kind=secret&label=team%3Dops" {
		t.Errorf("query = %q", last.RawQuery)
	}
}

func TestKeysListTerminal(t *testing.T) {
	e := newEnv(t)
	seed(e)
	e.tty = true
	golden(t, "keys_list.tty", e.mustRun("keys", "list").stdout)
	e.color = true
	out := e.mustRun("keys", "list").stdout
	golden(t, "keys_list.color", out)
	if !strings.Contains(out, "\x1b[31mrevoked\x1b[0m") || !strings.Contains(out, "\x1b[1mID\x1b[0m") {
		t.Errorf("no colour on a colour terminal:\n%q", out)
	}
	e.color = false
	t.Setenv("MWCTL_SERVER", e.server)
	if out := e.mustRun("keys", "list", "--no-color").stdout; strings.Contains(out, "\x1b[") {
		t.Errorf("--no-color output has escapes: %q", out)
	}
}

func TestKeysListPaging(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		e.mustRun("keys", "create", "--name", n, "-q")
	}
	r := e.mustRun("keys", "list", "--limit", "2", "-o", "json")
	page := decode[client.KeyList](t, r.stdout)
	if len(page.Keys) != 2 || page.Next == "" {
		t.Fatalf("first page = %+v", page)
	}
	if r.stderr != "" {
		t.Errorf("json output printed a notice: %q", r.stderr)
	}
	r = e.mustRun("keys", "list", "--limit", "2")
	if !strings.Contains(r.stderr, "--cursor "+page.Next) {
		t.Errorf("no next-page notice: %q", r.stderr)
	}
	r = e.mustRun("keys", "list", "--limit", "2", "--cursor", page.Next, "-o", "jsonl")
	if strings.Count(r.stdout, "\n") != 2 || !strings.Contains(r.stdout, `"name":"b"`) {
		t.Errorf("second page = %q", r.stdout)
	}
	r = e.mustRun("keys", "list", "--limit", "2", "--all", "-o", "json")
	if all := decode[client.KeyList](t, r.stdout); len(all.Keys) != 6 || all.Next != "" {
		t.Errorf("--all gave %d keys, next %q", len(all.Keys), all.Next)
	}
}

func TestKeysListEmpty(t *testing.T) {
	e := newEnv(t)
	r := e.mustRun("keys", "list", "--state", "pending")
	if r.stdout != "ID\tNAME\tKIND\tSTATE\tSTART\tEXPIRES\tLAST USED\n" {
		t.Errorf("plain empty list = %q, want the header alone", r.stdout)
	}
	e.tty = true
	r = e.mustRun("keys", "list", "--state", "pending")
	if r.stdout != "" || r.stderr != "No keys match.\n" {
		t.Errorf("terminal empty list: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	e.tty = false
	if r := e.mustRun("keys", "list", "--state", "pending", "-o", "json"); decode[client.KeyList](t, r.stdout).Keys == nil {
		t.Errorf("empty json list is null: %s", r.stdout)
	}
}

func TestKeysGet(t *testing.T) {
	e := newEnv(t)
	seed(e)
	golden(t, "keys_get.plain", e.mustRun("keys", "get", "key_0002").stdout)
	e.tty = true
	golden(t, "keys_get.tty", e.mustRun("keys", "get", "key_0004").stdout)
	e.tty = false
	k := decode[client.Key](t, e.mustRun("keys", "get", "key_0003", "-o", "json").stdout)
	if k.Name != "ci" || k.Kind != "secret" {
		t.Errorf("json = %+v", k)
	}
}

func TestKeysRotate(t *testing.T) {
	e := newEnv(t)
	seed(e)
	r := e.mustRun("keys", "rotate", "key_0002", "--grace", "2h")
	golden(t, "keys_rotate.plain", r.stdout)
	if r.stderr != shownOnce+"\n" {
		t.Errorf("stderr = %q", r.stderr)
	}
	r = e.mustRun("keys", "rotate", "key_0003", "-o", "json")
	rk := decode[client.RotatedKey](t, r.stdout)
	want := testNow.Add(defaultGrace)
	if rk.Replaces != "key_0003" || rk.OldExpiresAt == nil || !rk.OldExpiresAt.Equal(want) || !strings.HasPrefix(rk.Token, "mpw_sk_") {
		t.Errorf("rotated = %+v", rk)
	}
	var raw map[string]any
	_ = json.Unmarshal([]byte(r.stdout), &raw)
	r2 := e.mustRun("keys", "rotate", rk.ID, "--grace", "0", "-q")
	if !strings.HasPrefix(r2.stdout, "mpw_sk_") || strings.Count(r2.stdout, "\n") != 1 || r2.stderr != "" {
		t.Errorf("--quiet: stdout %q, stderr %q", r2.stdout, r2.stderr)
	}
	if old, _ := e.fake.Key(rk.ID); old.State != "expired" {
		t.Errorf("--grace 0 left the old key %s", old.State)
	}
	if raw["replaces"] != "key_0003" || raw["old_expires_at"] == nil || raw["key"] == nil {
		t.Errorf("json lacks replaces/old_expires_at/key: %s", r.stdout)
	}
}

func TestKeysRevoke(t *testing.T) {
	e := newEnv(t)
	seed(e)
	r := e.mustRun("keys", "revoke", "key_0002", "--yes", "--reason", "leaked")
	if r.stdout != "Revoked key key_0002 (\"web-prod\").\n" {
		t.Errorf("stdout = %q", r.stdout)
	}
	if k, _ := e.fake.Key("key_0002"); k.State != "revoked" || k.RevokeReason != "leaked" {
		t.Errorf("key after revoke = %+v", k)
	}
	r = e.mustRun("keys", "revoke", "key_0002", "--yes")
	if r.stdout != "Key key_0002 (\"web-prod\") was already revoked; nothing changed.\n" {
		t.Errorf("second revoke: %q", r.stdout)
	}
	res := decode[client.RevokeResult](t, e.mustRun("keys", "revoke", "key_0002", "--yes", "-o", "json").stdout)
	if !res.AlreadyRevoked || res.Key.ID != "key_0002" {
		t.Errorf("json = %+v", res)
	}
}

func TestKeysRevokePrompt(t *testing.T) {
	tests := []struct {
		name      string
		answer    string
		wantCode  int
		wantState string
		wantErr   string
	}{
		{"yes", "y\n", 0, "revoked", "Revoke public key key_0002 (\"web-prod\") (mpw_pk_"},
		{"YES in capitals", "YES\n", 0, "revoked", "[y/N]"},
		{"no", "n\n", 1, "active", "cancelled; nothing changed"},
		{"empty answer is no", "\n", 1, "active", "cancelled"},
		{"end of input", "", 1, "active", "no answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			seed(e)
			e.tty, e.stdin = true, tt.answer
			r := e.run("keys", "revoke", "key_0002")
			if r.code != tt.wantCode || !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", r.code, r.stderr, tt.wantCode, tt.wantErr)
			}
			if k, _ := e.fake.Key("key_0002"); k.State != tt.wantState {
				t.Errorf("state %q, want %q", k.State, tt.wantState)
			}
		})
	}
	t.Run("already revoked is not asked", func(t *testing.T) {
		e := newEnv(t)
		seed(e)
		e.tty = true
		r := e.mustRun("keys", "revoke", "key_0004")
		if strings.Contains(r.stderr, "[y/N]") || !strings.Contains(r.stdout, "already revoked") {
			t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
		}
	})
}

func TestKeysTOTPEnroll(t *testing.T) {
	e := newEnv(t)
	seed(e)
	r := e.mustRun("keys", "totp", "enroll", "key_0003")
	if !strings.HasPrefix(r.stdout, "otpauth://totp/Mapwright:key_0003?secret=") || strings.Count(r.stdout, "\n") != 1 {
		t.Errorf("plain output = %q, want the URI alone", r.stdout)
	}
	e2 := newEnv(t)
	seed(e2)
	e2.tty = true
	r = e2.mustRun("keys", "totp", "enroll", "key_0003")
	lines := strings.Split(r.stdout, "\n")
	if !strings.HasPrefix(lines[0], "otpauth://") || lines[1] != "" || !strings.ContainsAny(r.stdout, "▀▄█") {
		t.Errorf("terminal output lacks the QR code:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "will not be shown again") {
		t.Errorf("stderr = %q", r.stderr)
	}
	r = e.run("keys", "totp", "enroll", "key_0003", "-o", "json")
	if r.code != exitConflict {
		t.Errorf("second enrolment: exit %d, want %d", r.code, exitConflict)
	}
	e2.tty = false
	enr := decode[client.TOTPEnrollment](t, e2.mustRun("keys", "totp", "enroll", "key_0001", "-o", "json").stdout)
	if !strings.HasPrefix(enr.URI, "otpauth://totp/") {
		t.Errorf("json = %+v", enr)
	}
}

func TestStatus(t *testing.T) {
	e := newEnv(t)
	seed(e)
	e.fake.SetTilesets(
		client.Tileset{Name: "osm", Status: "ok"},
		client.Tileset{Name: "broken", Status: "failed"},
	)
	r := e.mustRun("status")
	golden(t, "status.plain", strings.ReplaceAll(r.stdout, e.server, "unix:///SOCKET"))
	st := decode[client.Status](t, e.mustRun("status", "-o", "json").stdout)
	if st.Keys["active"] != 3 || st.Keys["revoked"] != 1 || st.Tilesets.Failed != 1 || st.Backend != "sqlite" {
		t.Errorf("status = %+v", st)
	}
	e.tty = true
	out := e.mustRun("status").stdout
	for _, want := range []string{"Uptime:", "1 hour", "Keys active:", "Tilesets failed:"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal status lacks %q:\n%s", want, out)
		}
	}
}

func TestTilesets(t *testing.T) {
	e := newEnv(t)
	e.fake.SetTilesets(
		client.Tileset{Name: "osm", Path: "osm.pmtiles", Format: "pmtiles", MinZoom: 0, MaxZoom: 14, Public: true, Status: "ok"},
		client.Tileset{Name: "relief", Path: "relief.mbtiles", Format: "mbtiles", MinZoom: 2, MaxZoom: 10, Status: "ok"},
	)
	golden(t, "tilesets_list.plain", e.mustRun("tilesets", "list").stdout)
	list := decode[client.TilesetList](t, e.mustRun("tilesets", "list", "-o", "json").stdout)
	if list.Loaded != 2 || len(list.Tilesets) != 2 {
		t.Errorf("json = %+v", list)
	}
	r := e.mustRun("tilesets", "reload", "-o", "jsonl")
	if strings.Count(r.stdout, "\n") != 2 || !strings.Contains(r.stderr, "2 tilesets loaded") {
		t.Errorf("reload: %q / %q", r.stdout, r.stderr)
	}
	e.fake.SetTilesets(
		client.Tileset{Name: "osm", Path: "osm.pmtiles", Status: "ok"},
		client.Tileset{Name: "bad", Path: "bad.pmtiles", Status: "failed", Error: "not a PMTiles file"},
	)
	r = e.run("tilesets", "reload")
	if r.code != exitFailure || !strings.Contains(r.stderr, "1 of 2 tilesets failed to load") || !strings.Contains(r.stdout, "not a PMTiles file") {
		t.Errorf("reload with a failure: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestVersion(t *testing.T) {
	e := newEnv(t)
	r := e.mustRun("version")
	if !strings.HasPrefix(r.stdout, "mwctl ") || !strings.Contains(r.stdout, "(go") {
		t.Errorf("version = %q", r.stdout)
	}
	v := decode[versionInfo](t, e.mustRun("version", "-o", "json").stdout)
	if v.Version == "" || !strings.HasPrefix(v.GoVersion, "go") {
		t.Errorf("json = %+v", v)
	}
	if r := e.mustRun("--version"); !strings.HasPrefix(r.stdout, "mwctl ") {
		t.Errorf("--version = %q", r.stdout)
	}
	// version needs no server.
	t.Setenv("MWCTL_SERVER", "unix:///nonexistent/admin.sock")
	e.mustRun("version")
}

func TestCompletion(t *testing.T) {
	e := newEnv(t)
	for shell, want := range map[string]string{
		"bash":       "__start_mwctl",
		"zsh":        "#compdef mwctl",
		"fish":       "complete -c mwctl",
		"powershell": "Register-ArgumentCompleter",
	} {
		if r := e.mustRun("completion", shell); !strings.Contains(r.stdout, want) {
			t.Errorf("%s completion lacks %q", shell, want)
		}
	}
	if r := e.run("completion", "tcsh"); r.code != exitUsage {
		t.Errorf("unknown shell: exit %d", r.code)
	}
}
