package backup

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/store"
)

func lastEvent(t *testing.T, st store.Store) store.AuditEvent {
	t.Helper()
	var last store.AuditEvent
	if err := st.ScanAudit(t.Context(), 1, 0, func(ev store.AuditEvent) error { last = ev; return nil }); err != nil {
		t.Fatal(err)
	}
	return last
}

func TestSchedulerRunOnce(t *testing.T) {
	in := newSQLite(t)
	in.populate(t)
	id := newIdentity(t)
	dir := filepath.Join(t.TempDir(), "backups")
	var runs []RunResult
	s := &Scheduler{
		Interval: time.Hour, Dir: dir, Recipients: []string{id.Recipient().String()},
		Keep: KeepPolicy{Last: 2}, Store: in.st, DataDir: in.dir,
		Audit: audit.New(in.auditKey, fixedNow), OnRun: func(r RunResult) { runs = append(runs, r) },
		Now: fixedNow, MapwrightVersion: "test",
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
	// Two older backups already in the directory, and a foreign file.
	os.MkdirAll(dir, 0o700)
	older := []string{FileName(testNow.Add(-48 * time.Hour)), FileName(testNow.Add(-24 * time.Hour))}
	for _, n := range append(slices.Clone(older), "README") {
		os.WriteFile(filepath.Join(dir, n), []byte("old"), 0o600)
	}

	res := s.RunOnce(t.Context())
	if res.Err != nil {
		t.Fatalf("RunOnce: %v", res.Err)
	}
	if len(runs) != 1 || runs[0].File == nil || runs[0].File.Path != filepath.Join(dir, FileName(testNow)) {
		t.Fatalf("OnRun got %+v", runs)
	}
	if !slices.Equal(res.Pruned, older[:1]) {
		t.Errorf("pruned %v, want %v", res.Pruned, older[:1])
	}
	entries, _ := ListDir(dir)
	if len(entries) != 2 || entries[0].Name != FileName(testNow) || entries[1].Name != older[1] {
		t.Errorf("directory after the run: %+v", entries)
	}
	if _, err := os.Stat(filepath.Join(dir, "README")); err != nil {
		t.Errorf("a foreign file was touched: %v", err)
	}

	// Only the identity opens it, and it verifies.
	f, err := os.Open(res.File.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	plain, prot, err := Open(f, Keys{Identities: []age.Identity{id}})
	if err != nil || prot.String() != "age (1 X25519 recipient)" {
		t.Fatalf("open: %v, %v", prot, err)
	}
	if _, err := Verify(t.Context(), plain, VerifyOptions{ScratchDir: t.TempDir()}); err != nil {
		t.Errorf("verify the scheduled backup: %v", err)
	}

	ev := lastEvent(t, in.st)
	if ev.Action != audit.ActionBackupCreate || ev.Actor != "system" || ev.Outcome != audit.OutcomeSuccess ||
		ev.Target != FileName(testNow) || ev.Details["scheduled"] != "true" || ev.Details["pruned"] != "1" {
		t.Errorf("audit event %+v", ev)
	}

	// A second run in the same second must not replace the first.
	again := s.RunOnce(t.Context())
	if again.Err == nil || !strings.Contains(again.Err.Error(), "exists already") {
		t.Errorf("second run in the same second: %v", again.Err)
	}
	if ev := lastEvent(t, in.st); ev.Outcome != audit.OutcomeFailure || ev.Details["error"] == "" {
		t.Errorf("failure event %+v", ev)
	}
	if len(runs) != 2 || runs[1].Err == nil {
		t.Errorf("OnRun after the failure: %+v", runs)
	}
}

func TestSchedulerFailureIsRecorded(t *testing.T) {
	in := newSQLite(t)
	id := newIdentity(t)
	s := &Scheduler{
		Interval: time.Hour, Dir: t.TempDir(), Recipients: []string{id.Recipient().String()},
		Store: in.st, DataDir: t.TempDir(), // no audit key there
		Audit: audit.New(in.auditKey, fixedNow), Now: fixedNow,
	}
	res := s.RunOnce(t.Context())
	if res.Err == nil || res.File != nil {
		t.Fatalf("RunOnce without key files: %+v", res)
	}
	ev := lastEvent(t, in.st)
	if ev.Action != audit.ActionBackupCreate || ev.Outcome != audit.OutcomeFailure || !strings.Contains(ev.Details["error"], "audit.key") {
		t.Errorf("audit event %+v", ev)
	}
	if entries, _ := os.ReadDir(s.Dir); len(entries) != 0 {
		t.Errorf("a failed run left %d files", len(entries))
	}
}

func TestSchedulerCheck(t *testing.T) {
	in := newSQLite(t)
	good := func() *Scheduler {
		return &Scheduler{Interval: time.Hour, Dir: t.TempDir(), Recipients: []string{newIdentity(t).Recipient().String()}, Store: in.st, DataDir: in.dir}
	}
	cases := []struct {
		name   string
		change func(s *Scheduler)
	}{
		{"interval too short", func(s *Scheduler) { s.Interval = time.Second }},
		{"no directory", func(s *Scheduler) { s.Dir = "" }},
		{"no recipients", func(s *Scheduler) { s.Recipients = nil }},
		{"an identity instead of a recipient", func(s *Scheduler) { s.Recipients = []string{newIdentity(t).String()} }},
		{"no store", func(s *Scheduler) { s.Store = nil }},
	}
	if err := good().Check(); err != nil {
		t.Fatalf("a good configuration: %v", err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := good()
			tc.change(s)
			if err := s.Check(); err == nil {
				t.Error("accepted")
			}
			if err := s.Run(t.Context()); err == nil {
				t.Error("Run accepted it")
			}
		})
	}
}

func TestSchedulerRun(t *testing.T) {
	in := newSQLite(t)
	in.populate(t)
	t.Run("backs up at once when the newest backup is due", func(t *testing.T) {
		done := make(chan RunResult, 1)
		s := &Scheduler{Interval: time.Hour, Dir: t.TempDir(), Recipients: []string{newIdentity(t).Recipient().String()},
			Store: in.st, DataDir: in.dir, OnRun: func(r RunResult) { done <- r }}
		os.WriteFile(filepath.Join(s.Dir, FileName(time.Now().Add(-2*time.Hour))), []byte("old"), 0o600)
		ctx, cancel := context.WithCancel(t.Context())
		ended := make(chan error, 1)
		go func() { ended <- s.Run(ctx) }()
		if r := <-done; r.Err != nil {
			t.Errorf("first run: %v", r.Err)
		}
		cancel()
		if err := <-ended; err != nil {
			t.Errorf("Run returned %v", err)
		}
	})
	t.Run("waits when a recent backup exists", func(t *testing.T) {
		ran := false
		s := &Scheduler{Interval: time.Hour, Dir: t.TempDir(), Recipients: []string{newIdentity(t).Recipient().String()},
			Store: in.st, DataDir: in.dir, OnRun: func(RunResult) { ran = true }}
		os.WriteFile(filepath.Join(s.Dir, FileName(time.Now().Add(-time.Minute))), []byte("recent"), 0o600)
		if d := s.firstDelay(); d < 58*time.Minute || d > time.Hour {
			t.Errorf("first backup due in %s, want about 59m", d)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := s.Run(ctx); err != nil || ran {
			t.Errorf("Run with an ended context: %v, ran %t", err, ran)
		}
	})
}
