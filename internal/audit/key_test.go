package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestLoadOrCreateKeyCreatesOnceAndReloads(t *testing.T) {
	dir := t.TempDir()
	key, err := LoadOrCreateKey(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != KeySize {
		t.Fatalf("key is %d bytes, want %d", len(key), KeySize)
	}
	path := filepath.Join(dir, KeyFileName)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %04o, want 0600", info.Mode().Perm())
	}
	again, err := LoadOrCreateKey(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key, again) {
		t.Fatal("reloading returned a different key")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("data directory holds %d entries, want only the key (no temporary file left)", len(entries))
	}
}

func TestLoadOrCreateKeyNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, KeyFileName)
	content := strings.Repeat("ab", KeySize) + "\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := LoadOrCreateKey(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key, bytes.Repeat([]byte{0xab}, KeySize)) {
		t.Fatalf("key %x is not the one in the file", key)
	}
	got, _ := os.ReadFile(path)
	if string(got) != content {
		t.Fatal("existing key file was modified")
	}
}

func TestLoadOrCreateKeyConcurrentCreatorsAgree(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	keys := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], errs[i] = LoadOrCreateKey(dir, false) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Fatal("concurrent creators ended with different keys")
		}
	}
}

func TestLoadOrCreateKeyErrors(t *testing.T) {
	valid := strings.Repeat("0f", KeySize)
	cases := []struct {
		name      string
		content   *string
		mode      os.FileMode
		mustExist bool
		want      error
		mention   []string
	}{
		{name: "missing but required", mustExist: true, want: ErrKeyMissing,
			mention: []string{KeyFileName, "restore it from backup", "refusing to start"}},
		{name: "too short", content: ptr(valid[:60]), mode: 0o600, want: ErrKeyInvalid, mention: []string{"60 characters"}},
		{name: "too long", content: ptr(valid + "00"), mode: 0o600, want: ErrKeyInvalid},
		{name: "raw bytes rather than hex", content: ptr(strings.Repeat("\x01", KeySize)), mode: 0o600, want: ErrKeyInvalid},
		{name: "not hexadecimal", content: ptr(strings.Repeat("zz", KeySize)), mode: 0o600, want: ErrKeyInvalid},
		{name: "empty file", content: ptr(""), mode: 0o600, want: ErrKeyInvalid},
		{name: "huge file", content: ptr(strings.Repeat("0", 5000)), mode: 0o600, want: ErrKeyInvalid},
		{name: "readable by others", content: ptr(valid), mode: 0o644, want: ErrKeyPermissions, mention: []string{"chmod 0600"}},
		{name: "readable by group", content: ptr(valid), mode: 0o640, want: ErrKeyPermissions, mention: []string{"chmod 0600"}},
		{name: "writable by group", content: ptr(valid), mode: 0o620, want: ErrKeyPermissions},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == ErrKeyPermissions && runtime.GOOS == "windows" {
				t.Skip("no Unix permissions on this platform")
			}
			dir := t.TempDir()
			path := filepath.Join(dir, KeyFileName)
			if tc.content != nil {
				if err := os.WriteFile(path, []byte(*tc.content), tc.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			_, err := LoadOrCreateKey(dir, tc.mustExist)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			for _, m := range tc.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			if tc.content != nil {
				got, _ := os.ReadFile(path)
				if string(got) != *tc.content {
					t.Error("a bad key file was modified; it must be left for the operator")
				}
			} else if _, err := os.Stat(path); err == nil {
				t.Error("a required but missing key was created")
			}
		})
	}
}

func TestLoadOrCreateKeyAcceptsSurroundingSpace(t *testing.T) {
	dir := t.TempDir()
	content := "\n  " + strings.Repeat("A1", KeySize) + " \r\n"
	if err := os.WriteFile(filepath.Join(dir, KeyFileName), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := LoadOrCreateKey(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key, bytes.Repeat([]byte{0xa1}, KeySize)) {
		t.Fatalf("key %x", key)
	}
}

func ptr[T any](v T) *T { return &v }
