package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/mapwright/mapwright/internal/audit"
	"github.com/mapwright/mapwright/internal/store"
)

// Scheduler takes backups at a fixed interval into a directory, encrypted
// to age recipients (public keys only: the daemon never holds anything
// that decrypts them), and prunes the directory by a keep policy. Each
// run is recorded as a backup.create event (actor "system", outcome
// success or failure) and reported to OnRun, for metrics.
type Scheduler struct {
	// Interval between backups. Required, at least a minute.
	Interval time.Duration
	// Dir receives the backup files, named by FileName. Created with mode
	// 0700 when missing.
	Dir string
	// Recipients are age X25519 public keys ("age1..."). At least one.
	Recipients []string
	// Keep prunes Dir after each successful backup; an empty policy
	// prunes nothing.
	Keep KeepPolicy
	// Store is the database to back up. Required.
	Store store.Store
	// DataDir holds the key files the backups carry. Required.
	DataDir string
	// Audit records each run; nil records nothing.
	Audit *audit.Log
	// OnRun, when set, is called after each run (metrics).
	OnRun func(RunResult)
	// MapwrightVersion is recorded in each manifest.
	MapwrightVersion string
	// Logger receives one line per run; nothing is logged when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// RunResult is the outcome of one scheduled backup.
type RunResult struct {
	// Start is when the run began; Duration how long it took.
	Start    time.Time
	Duration time.Duration
	// File is the backup written (nil on failure).
	File *FileInfo
	// Pruned names the files the keep policy removed.
	Pruned []string
	// Err is why the run failed: the backup, or the pruning after it.
	Err error
}

// minInterval keeps a misconfiguration from filling a disk in minutes.
const minInterval = time.Minute

// Check validates the configuration; Run calls it first.
func (s *Scheduler) Check() error {
	switch {
	case s.Interval < minInterval:
		return fmt.Errorf("backup schedule: interval %s is shorter than %s", s.Interval, minInterval)
	case s.Dir == "":
		return errors.New("backup schedule: no backup directory")
	case s.Store == nil || s.DataDir == "":
		return errors.New("backup schedule: no store or data directory")
	case len(s.Recipients) == 0:
		return fmt.Errorf("backup schedule: %w: scheduled backups need at least one age recipient (public key)", ErrEncryption)
	}
	if _, err := ParseRecipients(s.Recipients); err != nil {
		return fmt.Errorf("backup schedule: %w", err)
	}
	return nil
}

func (s *Scheduler) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Scheduler) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Run takes backups until ctx ends, then returns nil; it returns an error
// only for an invalid configuration. The first backup is due one interval
// after the newest one already in Dir (at once when there is none or it is
// older), so restarts do not pile up backups.
func (s *Scheduler) Run(ctx context.Context) error {
	if err := s.Check(); err != nil {
		return err
	}
	wait := s.firstDelay()
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		start := s.now()
		s.RunOnce(ctx)
		// The next backup is due one interval after this one started,
		// however long it took, but never sooner than a minute from now.
		wait = max(s.Interval-s.now().Sub(start), minInterval)
	}
}

func (s *Scheduler) firstDelay() time.Duration {
	entries, err := ListDir(s.Dir)
	if err != nil || len(entries) == 0 {
		return 0
	}
	return max(entries[0].Time.Add(s.Interval).Sub(s.now()), 0)
}

// RunOnce takes one backup now, prunes, records and reports the run.
func (s *Scheduler) RunOnce(ctx context.Context) RunResult {
	res := RunResult{Start: s.now()}
	res.File, res.Err = s.backup(ctx)
	if res.Err == nil && !s.Keep.Empty() {
		plan, err := Prune(s.Dir, s.Keep, false)
		for _, d := range plan {
			if !d.Keep {
				res.Pruned = append(res.Pruned, d.Name)
			}
		}
		if err != nil {
			res.Err = fmt.Errorf("prune after backup: %w", err)
		}
	}
	res.Duration = s.now().Sub(res.Start)
	s.record(ctx, res)
	if s.OnRun != nil {
		s.OnRun(res)
	}
	return res
}

func (s *Scheduler) backup(ctx context.Context) (*FileInfo, error) {
	recipients, err := ParseRecipients(s.Recipients)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("backup directory: %w", err)
	}
	files, err := ReadKeyFiles(s.DataDir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(s.Dir, FileName(s.now()))
	info, err := WriteFile(path, true, Encryption{Recipients: recipients, Compress: true}, func(w io.Writer) (*Manifest, error) {
		return WriteSnapshot(ctx, s.Store, w, SnapshotOptions{Files: files, MapwrightVersion: s.MapwrightVersion, Now: s.Now})
	})
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%s exists already: one backup per second at most: %w", path, err)
	}
	return info, err
}

func (s *Scheduler) record(ctx context.Context, res RunResult) {
	log := s.logger()
	target := ""
	details := map[string]string{"scheduled": "true"}
	if res.File != nil {
		target = filepath.Base(res.File.Path)
		details = manifestDetails(res.File.Manifest)
		details["scheduled"] = "true"
		details["size"] = strconv.FormatInt(res.File.Size, 10)
	}
	if len(res.Pruned) > 0 {
		details["pruned"] = strconv.Itoa(len(res.Pruned))
	}
	ev := audit.Event{Actor: "system", Action: audit.ActionBackupCreate, Target: target, Details: details}
	if res.Err != nil {
		ev.Outcome = audit.OutcomeFailure
		details["error"] = sanitize(res.Err.Error())
		log.LogAttrs(ctx, slog.LevelError, "scheduled backup failed", slog.String("error", res.Err.Error()))
	} else {
		log.LogAttrs(ctx, slog.LevelInfo, "scheduled backup written", slog.String("file", target),
			slog.Int64("size", res.File.Size), slog.String("content", describeManifest(res.File.Manifest)),
			slog.Int("pruned", len(res.Pruned)), slog.Duration("took", res.Duration))
	}
	if s.Audit == nil {
		return
	}
	// The run's context may be ending (shutdown); the record must still
	// be written.
	if _, err := s.Audit.AppendStandalone(context.WithoutCancel(ctx), s.Store, ev); err != nil {
		log.LogAttrs(ctx, slog.LevelError, "record scheduled backup in the audit log", slog.String("error", err.Error()))
	}
}
