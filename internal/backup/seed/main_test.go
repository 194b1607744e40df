package main

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/backup"
	"github.com/mapwright/mapwright/internal/store"
	"github.com/mapwright/mapwright/internal/store/open"
	"github.com/mapwright/mapwright/internal/testutil/pgtest"
)

// checkSeeded checks counts, the audit chain with the data directory's
// key, and that a backup of the seeded store verifies.
func checkSeeded(t *testing.T, dir, url string, keys, events int) {
	t.Helper()
	st, err := open.Open(t.Context(), dir, url)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key, err := audit.LoadOrCreateKey(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	res, err := audit.Verify(t.Context(), st, key, audit.VerifyOptions{})
	if err != nil || !res.OK || res.Checked != int64(events) {
		t.Fatalf("audit chain: %+v, %v", res, err)
	}
	counts, err := st.CountKeys(t.Context(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range counts {
		total += n
	}
	if total != keys || counts[store.StateRevoked] == 0 {
		t.Errorf("key counts %v, want %d keys, some revoked", counts, keys)
	}
	files, err := backup.ReadKeyFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := backup.WriteSnapshot(t.Context(), st, &buf, backup.SnapshotOptions{Files: files}); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Verify(t.Context(), &buf, backup.VerifyOptions{ScratchDir: t.TempDir()}); err != nil {
		t.Errorf("verify a backup of the seeded store: %v", err)
	}
}

func TestSeedSQLite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if code := run([]string{"--data-dir", dir, "--keys", "300", "--events", "1000"}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	checkSeeded(t, dir, "", 300, 1000)
	// A second run refuses the now populated store.
	if code := run([]string{"--data-dir", dir, "--keys", "1", "--events", "1"}); code != 1 {
		t.Errorf("seeding a populated store: exit %d, want 1", code)
	}
}

func TestSeedPostgres(t *testing.T) {
	url := pgtest.URL(t)
	dir := t.TempDir()
	if code := run([]string{"--data-dir", dir, "--database-url", url, "--keys", "300", "--events", "1000"}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	checkSeeded(t, dir, url, 300, 1000)
}

func TestSeedUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"--data-dir", t.TempDir(), "--keys", "10", "--events", "5"}, {"--nope"}} {
		if code := run(args); code != 2 {
			t.Errorf("run(%q) = %d, want 2", args, code)
		}
	}
}
