package backup

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPrepareKeys(t *testing.T) {
	keyA := []byte(strings.Repeat("a1", 32) + "\n")
	keyB := []byte(strings.Repeat("b2", 32) + "\n")
	files := map[string][]byte{AuditKeyFile: keyA, SessionKeyFile: keyB}
	read := func(t *testing.T, dir, name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "(absent)"
		}
		return string(b)
	}
	names := func(t *testing.T, dir string) []string {
		t.Helper()
		des, _ := os.ReadDir(dir)
		var out []string
		for _, de := range des {
			out = append(out, de.Name())
		}
		return out
	}

	t.Run("absent: installed 0600 on commit only", func(t *testing.T) {
		dir := t.TempDir()
		ki, err := PrepareKeys(dir, files, false, fixedNow)
		if err != nil {
			t.Fatal(err)
		}
		if read(t, dir, AuditKeyFile) != "(absent)" {
			t.Error("a key file appeared before Commit")
		}
		if err := ki.Commit(); err != nil {
			t.Fatal(err)
		}
		for name, want := range files {
			st, err := os.Stat(filepath.Join(dir, name))
			if err != nil || st.Mode().Perm() != 0o600 || read(t, dir, name) != string(want) {
				t.Errorf("%s: %v, mode %v", name, err, st.Mode())
			}
		}
		if got := names(t, dir); !slices.Equal(got, []string{AuditKeyFile, SessionKeyFile}) {
			t.Errorf("directory holds %v", got)
		}
	})
	t.Run("identical: kept", func(t *testing.T) {
		dir := t.TempDir()
		// The same key, written with other white space, is the same key.
		os.WriteFile(filepath.Join(dir, AuditKeyFile), append([]byte("  "), keyA...), 0o600)
		ki, err := PrepareKeys(dir, files, false, fixedNow)
		if err != nil {
			t.Fatal(err)
		}
		if err := ki.Commit(); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ki.Kept, []string{AuditKeyFile}) || !slices.Equal(ki.Installed, []string{SessionKeyFile}) {
			t.Errorf("kept %v, installed %v", ki.Kept, ki.Installed)
		}
	})
	t.Run("different: refused, then replaced with force", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, AuditKeyFile), keyB, 0o600)
		if _, err := PrepareKeys(dir, files, false, fixedNow); !errors.Is(err, ErrKeyConflict) {
			t.Fatalf("without force: %v", err)
		}
		if got := names(t, dir); !slices.Equal(got, []string{AuditKeyFile}) || read(t, dir, AuditKeyFile) != string(keyB) {
			t.Errorf("a refused install changed the directory: %v", got)
		}
		ki, err := PrepareKeys(dir, files, true, fixedNow)
		if err != nil {
			t.Fatal(err)
		}
		if err := ki.Commit(); err != nil {
			t.Fatal(err)
		}
		old := AuditKeyFile + ".replaced-20300601T120000Z"
		if read(t, dir, AuditKeyFile) != string(keyA) || read(t, dir, old) != string(keyB) || ki.Replaced[AuditKeyFile] != old {
			t.Errorf("after a forced install: %v, replaced %v", names(t, dir), ki.Replaced)
		}
	})
	t.Run("abort leaves nothing", func(t *testing.T) {
		dir := t.TempDir()
		ki, err := PrepareKeys(dir, files, false, fixedNow)
		if err != nil {
			t.Fatal(err)
		}
		ki.Abort()
		if got := names(t, dir); len(got) != 0 {
			t.Errorf("after Abort: %v", got)
		}
	})
	t.Run("invalid key in the backup", func(t *testing.T) {
		if _, err := PrepareKeys(t.TempDir(), map[string][]byte{AuditKeyFile: []byte("zz\n")}, false, fixedNow); !errors.Is(err, ErrCorrupt) {
			t.Errorf("got %v", err)
		}
	})
}
