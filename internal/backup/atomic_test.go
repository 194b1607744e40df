package backup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// killEnv names the file the helper process writes; set only in it.
const killEnv = "MAPWRIGHT_BACKUP_KILL_TARGET"

// TestKillWriterHelper is not a test: it is the process TestKillMidBackup
// starts and kills. It writes a backup file that never finishes, saying
// "writing" on standard output once a megabyte is on its way to disk.
func TestKillWriterHelper(t *testing.T) {
	path := os.Getenv(killEnv)
	if path == "" {
		t.Skip("helper process of TestKillMidBackup")
	}
	enc := passphrase("kill")
	// Compressed, as mwctl writes: the snapshot and the compression then
	// run in two goroutines.
	enc.Compress = true
	_, err := WriteFile(path, false, enc, func(w io.Writer) (*Manifest, error) {
		bw, err := NewWriter(w, Manifest{Backend: "sqlite", SchemaVersion: 2, Created: time.Now()})
		if err != nil {
			return nil, err
		}
		pw, err := bw.CreatePart(Part{Name: "tables/keys.jsonl", Type: PartTable, Table: "keys", Columns: []Column{{Name: "id", Type: "text"}}})
		if err != nil {
			return nil, err
		}
		line := []byte(`{"id":"key_01JQ000000000000000000000000"}` + "\n")
		for n := 0; ; n++ {
			if _, err := pw.Write(line); err != nil {
				return nil, err
			}
			if n == (1<<20)/len(line) {
				fmt.Println("writing")
			}
			if n > (1<<20)/len(line) && n%1000 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	})
	t.Fatalf("the endless backup ended: %v", err)
}

// TestKillMidBackup kills (SIGKILL) a process in the middle of writing a
// backup: nothing may appear under the final name, and a file already
// there must be left exactly as it was.
func TestKillMidBackup(t *testing.T) {
	for _, previous := range []bool{false, true} {
		t.Run(fmt.Sprintf("previous file %t", previous), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, FileName(testNow))
			old := []byte("the previous backup, complete\n")
			if previous {
				if err := os.WriteFile(path, old, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestKillWriterHelper$", "-test.count=1")
			cmd.Env = append(os.Environ(), killEnv+"="+path)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(out)
			started := false
			for sc.Scan() {
				if sc.Text() == "writing" {
					started = true
					break
				}
			}
			if !started {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatal("the helper never started writing")
			}
			temps := tempFiles(t, dir)
			if len(temps) != 1 {
				t.Errorf("while writing: temporary files %v, want one", temps)
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err == nil {
				t.Fatal("the helper exited cleanly instead of being killed")
			}

			got, err := os.ReadFile(path)
			switch {
			case previous && (err != nil || !bytes.Equal(got, old)):
				t.Errorf("the previous file changed: %d bytes (it had %d), %v", len(got), len(old), err)
			case !previous && !errors.Is(err, fs.ErrNotExist):
				t.Errorf("a file appeared under the final name (%d bytes, %v)", len(got), err)
			}
			// The killed writer's temporary file stays (nothing could
			// remove it) but is hidden from list and prune.
			entries, err := ListDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if wantN := map[bool]int{false: 0, true: 1}[previous]; len(entries) != wantN {
				t.Errorf("ListDir = %v, want %d entries", entries, wantN)
			}
		})
	}
}

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if strings.HasPrefix(de.Name(), TempPrefix) {
			out = append(out, de.Name())
		}
	}
	return out
}

func TestAtomicFile(t *testing.T) {
	t.Run("commit", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "b.mwbak")
		a, err := CreateAtomic(path, true)
		if err != nil {
			t.Fatal(err)
		}
		a.Write([]byte("data"))
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the final name exists before Commit: %v", err)
		}
		if err := a.Commit(); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("after Commit: %v, mode %v", err, st.Mode())
		}
		if tmp := tempFiles(t, dir); len(tmp) != 0 {
			t.Errorf("temporary files left: %v", tmp)
		}
	})
	t.Run("no clobber", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "b.mwbak")
		os.WriteFile(path, []byte("old"), 0o600)
		if _, err := CreateAtomic(path, true); !errors.Is(err, fs.ErrExist) {
			t.Errorf("CreateAtomic over an existing file: %v", err)
		}
		// The file appears while the backup is written.
		os.Remove(path)
		a, err := CreateAtomic(path, true)
		if err != nil {
			t.Fatal(err)
		}
		a.Write([]byte("new"))
		os.WriteFile(path, []byte("raced"), 0o600)
		if err := a.Commit(); !errors.Is(err, fs.ErrExist) {
			t.Errorf("Commit over a file that appeared: %v", err)
		}
		if b, _ := os.ReadFile(path); string(b) != "raced" {
			t.Errorf("the other file was replaced: %q", b)
		}
		if tmp := tempFiles(t, dir); len(tmp) != 0 {
			t.Errorf("temporary files left: %v", tmp)
		}
	})
	t.Run("replace", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "b.mwbak")
		os.WriteFile(path, []byte("old"), 0o644)
		a, err := CreateAtomic(path, false)
		if err != nil {
			t.Fatal(err)
		}
		a.Write([]byte("new"))
		if b, _ := os.ReadFile(path); string(b) != "old" {
			t.Errorf("replaced before Commit: %q", b)
		}
		if err := a.Commit(); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); string(b) != "new" {
			t.Errorf("after Commit: %q", b)
		}
	})
	t.Run("abort", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "b.mwbak")
		a, err := CreateAtomic(path, false)
		if err != nil {
			t.Fatal(err)
		}
		a.Write([]byte("partial"))
		a.Abort()
		if des, _ := os.ReadDir(dir); len(des) != 0 {
			t.Errorf("Abort left %d files", len(des))
		}
	})
	t.Run("failing producer leaves nothing", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "b.mwbak")
		_, err := WriteFile(path, false, passphrase("p"), func(w io.Writer) (*Manifest, error) {
			w.Write(bytes.Repeat([]byte("x"), 200<<10))
			return nil, errors.New("snapshot failed")
		})
		if err == nil || !strings.Contains(err.Error(), "snapshot failed") {
			t.Errorf("WriteFile: %v", err)
		}
		if des, _ := os.ReadDir(dir); len(des) != 0 {
			t.Errorf("a failed backup left %d files", len(des))
		}
	})
}
