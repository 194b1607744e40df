package backup

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// KeepPolicy says which backups of a directory to keep. Each rule keeps, walking from the newest backup to the
// oldest, the newest backup of each of its next N periods that hold a
// backup (for Last, each backup is its own period). A backup any rule
// keeps is kept; the rest are removed. A negative N keeps every period.
// Periods are calendar days, ISO 8601 weeks and months in UTC.
type KeepPolicy struct {
	// Last keeps the N newest backups.
	Last int `json:"last"`
	// Daily keeps the newest backup of each of the last N days that have
	// one.
	Daily int `json:"daily"`
	// Weekly keeps the newest backup of each of the last N weeks that
	// have one.
	Weekly int `json:"weekly"`
	// Monthly keeps the newest backup of each of the last N months that
	// have one.
	Monthly int `json:"monthly"`
}

// Empty reports whether no rule is set: such a policy would remove every
// backup, so Plan refuses it.
func (p KeepPolicy) Empty() bool {
	return p.Last == 0 && p.Daily == 0 && p.Weekly == 0 && p.Monthly == 0
}

// String writes the policy as flags would: "last 3, daily 7".
func (p KeepPolicy) String() string {
	var parts []string
	for _, r := range []struct {
		name string
		n    int
	}{{"last", p.Last}, {"daily", p.Daily}, {"weekly", p.Weekly}, {"monthly", p.Monthly}} {
		switch {
		case r.n < 0:
			parts = append(parts, r.name+" all")
		case r.n > 0:
			parts = append(parts, fmt.Sprintf("%s %d", r.name, r.n))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// Decision is what Plan decided for one backup.
type Decision struct {
	Entry
	// Keep is true when a rule keeps the backup.
	Keep bool `json:"keep"`
	// Reasons names the rules that keep it: "last", "daily 2026-03-14",
	// "weekly 2026-W11", "monthly 2026-03".
	Reasons []string `json:"reasons,omitempty"`
}

// Plan applies p to entries and returns a decision for each, newest
// first. It is a pure function of its arguments.
func Plan(entries []Entry, p KeepPolicy) ([]Decision, error) {
	if p.Empty() {
		return nil, fmt.Errorf("%w: give at least one of keep-last, keep-daily, keep-weekly, keep-monthly", ErrNoKeepRule)
	}
	sorted := append([]Entry(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if !sorted[i].Time.Equal(sorted[j].Time) {
			return sorted[i].Time.After(sorted[j].Time)
		}
		return sorted[i].Name > sorted[j].Name
	})
	type rule struct {
		name   string
		left   int
		bucket func(i int, t time.Time) string
		last   string
		used   bool
	}
	rules := []*rule{
		{name: "last", left: p.Last, bucket: func(i int, _ time.Time) string { return fmt.Sprint(i) }},
		{name: "daily", left: p.Daily, bucket: func(_ int, t time.Time) string { return t.Format("2006-01-02") }},
		{name: "weekly", left: p.Weekly, bucket: func(_ int, t time.Time) string {
			y, w := t.ISOWeek()
			return fmt.Sprintf("%04d-W%02d", y, w)
		}},
		{name: "monthly", left: p.Monthly, bucket: func(_ int, t time.Time) string { return t.Format("2006-01") }},
	}
	out := make([]Decision, len(sorted))
	for i, e := range sorted {
		d := Decision{Entry: e}
		t := e.Time.UTC()
		for _, r := range rules {
			if r.left == 0 {
				continue
			}
			b := r.bucket(i, t)
			if r.used && b == r.last {
				continue
			}
			r.last, r.used = b, true
			if r.left > 0 {
				r.left--
			}
			d.Keep = true
			if r.name == "last" {
				d.Reasons = append(d.Reasons, "last")
			} else {
				d.Reasons = append(d.Reasons, r.name+" "+b)
			}
		}
		out[i] = d
	}
	return out, nil
}

// Entry is a backup file in a backup directory.
type Entry struct {
	// Name is the file name, mapwright-YYYYMMDDTHHMMSSZ.mwbak.
	Name string `json:"name"`
	// Path is the file's path.
	Path string `json:"path"`
	// Time is the time in the name (UTC).
	Time time.Time `json:"time"`
	// Size in bytes.
	Size int64 `json:"size"`
}

// ListDir lists the backup files of dir (named as FileName names them),
// newest first. Other files, including unfinished temporary files, are
// ignored.
func ListDir(dir string) ([]Entry, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	var out []Entry
	for _, de := range des {
		t, ok := ParseFileName(de.Name())
		if !ok || !de.Type().IsRegular() {
			continue
		}
		info, err := de.Info()
		if err != nil {
			// Removed meanwhile (a concurrent prune).
			continue
		}
		out = append(out, Entry{Name: de.Name(), Path: filepath.Join(dir, de.Name()), Time: t, Size: info.Size()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, nil
}

// Prune applies p to the backups of dir and removes those no rule keeps,
// unless dryRun. It returns the decisions, newest first. A removal that
// fails stops it, with the error.
func Prune(dir string, p KeepPolicy, dryRun bool) ([]Decision, error) {
	entries, err := ListDir(dir)
	if err != nil {
		return nil, err
	}
	plan, err := Plan(entries, p)
	if err != nil {
		return nil, err
	}
	if dryRun {
		return plan, nil
	}
	removed := false
	for _, d := range plan {
		if d.Keep {
			continue
		}
		if err := os.Remove(d.Path); err != nil && !os.IsNotExist(err) {
			return plan, fmt.Errorf("prune: remove %s: %w", d.Name, err)
		}
		removed = true
	}
	if removed {
		if err := syncDir(dir); err != nil {
			return plan, fmt.Errorf("prune: sync %s: %w", dir, err)
		}
	}
	return plan, nil
}
