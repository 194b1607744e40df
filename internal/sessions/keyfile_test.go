package sessions

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestLoadOrCreateKey(t *testing.T) {
	dir := t.TempDir()
	key, err := LoadOrCreateKey(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != KeySize || bytes.Equal(key, make([]byte, KeySize)) {
		t.Fatalf("new key %x is not %d random bytes", key, KeySize)
	}
	path := filepath.Join(dir, KeyFileName)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", st.Mode().Perm())
	}
	again, err := LoadOrCreateKey(dir, true)
	if err != nil || !bytes.Equal(again, key) {
		t.Fatalf("second load = %x, %v; want the same key", again, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries after creating the key, want only %s", len(entries), KeyFileName)
	}
}

func TestLoadOrCreateKeyRefuses(t *testing.T) {
	cases := []struct {
		name      string
		content   string
		mode      os.FileMode
		mustExist bool
		want      error
	}{
		{"missing when required", "", 0, true, ErrKeyMissing},
		{"group readable", strings.Repeat("ab", KeySize) + "\n", 0o640, false, ErrKeyPermissions},
		{"world readable", strings.Repeat("ab", KeySize) + "\n", 0o604, false, ErrKeyPermissions},
		{"too short", "abcd\n", 0o600, false, ErrKeyInvalid},
		{"not hex", strings.Repeat("zz", KeySize) + "\n", 0o600, false, ErrKeyInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == ErrKeyPermissions && runtime.GOOS == "windows" {
				t.Skip("no Unix permissions")
			}
			dir := t.TempDir()
			path := filepath.Join(dir, KeyFileName)
			if tc.content != "" {
				if err := os.WriteFile(path, []byte(tc.content), tc.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			_, err := LoadOrCreateKey(dir, tc.mustExist)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.content != "" {
				b, _ := os.ReadFile(path)
				if string(b) != tc.content {
					t.Error("a refused key file was changed")
				}
			}
		})
	}
}
