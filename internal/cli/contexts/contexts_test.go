package contexts

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "mwctl")
	path := filepath.Join(dir, "config.yaml")
	exp := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	f := &File{}
	if err := f.Add(Context{Name: "prod", Server: "https://h:9443", Token: "mpw_sk_x", Fingerprint: "ab", Session: "s=1", SessionExpiresAt: &exp}); err != nil {
		t.Fatal(err)
	}
	if err := f.Add(Context{Name: "local", Server: "unix:///run/mw/admin.sock", TokenFile: "/k"}); err != nil {
		t.Fatal(err)
	}
	if err := f.Use("local"); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %04o", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %04o", fi.Mode().Perm())
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, f) {
		t.Errorf("round trip:\n%+v\n%+v", got, f)
	}
	raw, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(raw), "# mwctl contexts") || !strings.Contains(string(raw), "current_context: local") {
		t.Errorf("file:\n%s", raw)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestSaveReplacesALooseFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("contexts: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckMode(path); !errors.Is(err, ErrInsecureMode) {
		t.Errorf("CheckMode = %v", err)
	}
	if err := (&File{}).Save(path); err != nil {
		t.Fatal(err)
	}
	if err := CheckMode(path); err != nil {
		t.Errorf("after Save: %v", err)
	}
}

func TestLoadMissingIsEmpty(t *testing.T) {
	f, err := Load(filepath.Join(t.TempDir(), "none.yaml"))
	if err != nil || len(f.Contexts) != 0 || f.CurrentContext != "" {
		t.Errorf("got %+v, %v", f, err)
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       error
	}{
		{"unknown field", "contexts:\n- name: a\n  server: https://h\n  tokn: x\n", ErrInvalid},
		{"duplicate", "contexts:\n- {name: a, server: https://h}\n- {name: a, server: https://i}\n", ErrInvalid},
		{"bad name", "contexts:\n- {name: 'a b', server: https://h}\n", ErrInvalid},
		{"no server", "contexts:\n- {name: a}\n", ErrInvalid},
		{"dangling current", "current_context: b\ncontexts:\n- {name: a, server: https://h}\n", ErrInvalid},
		{"not a mapping", "- a\n", ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse([]byte(tt.yaml)); !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if f, err := Parse(nil); err != nil || f == nil {
		t.Errorf("empty file: %v", err)
	}
}

func TestEdits(t *testing.T) {
	f := &File{}
	if err := f.Add(Context{Name: "a", Server: "https://h"}); err != nil {
		t.Fatal(err)
	}
	if err := f.Add(Context{Name: "a", Server: "https://i"}); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate add: %v", err)
	}
	if err := f.Use("b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("use missing: %v", err)
	}
	_ = f.Use("a")
	if err := f.Remove("a"); err != nil || f.CurrentContext != "" || len(f.Contexts) != 0 {
		t.Errorf("remove: %v, %+v", err, f)
	}
	if err := f.Remove("a"); !errors.Is(err, ErrNotFound) {
		t.Errorf("remove twice: %v", err)
	}
}

func TestDefaultPath(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"MWCTL_CONFIG wins", map[string]string{"MWCTL_CONFIG": "/c.yaml", "XDG_CONFIG_HOME": "/x", "HOME": "/h"}, "/c.yaml"},
		{"XDG_CONFIG_HOME", map[string]string{"XDG_CONFIG_HOME": "/x", "HOME": "/h"}, "/x/mwctl/config.yaml"},
		{"relative XDG_CONFIG_HOME is ignored", map[string]string{"XDG_CONFIG_HOME": "x", "HOME": "/h"}, "/h/.config/mwctl/config.yaml"},
		{"HOME", map[string]string{"HOME": "/h"}, "/h/.config/mwctl/config.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DefaultPath(func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("current_context: a\ncontexts:\n- name: a\n  server: https://h:1\n  token: mpw_sk_x\n"))
	f.Add([]byte("contexts: [{name: a, server: s, session_expires_at: 2030-01-01T00:00:00Z}]"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		// What parses, saves and parses back to the same content.
		out, err := file.Marshal()
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("reparse of %q: %v", out, err)
		}
		if len(again.Contexts) != len(file.Contexts) || again.CurrentContext != file.CurrentContext {
			t.Fatalf("round trip changed the file: %+v vs %+v", file, again)
		}
	})
}
