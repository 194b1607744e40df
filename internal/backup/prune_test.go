package backup

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// at parses "2026-03-14 15:04" as a UTC time.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func entriesAt(t *testing.T, times ...string) []Entry {
	t.Helper()
	var out []Entry
	for _, s := range times {
		tm := at(t, s)
		out = append(out, Entry{Name: FileName(tm), Time: tm})
	}
	return out
}

// kept returns the times (as given to at) of the kept decisions, newest
// first, with their reasons.
func kept(ds []Decision) []string {
	var out []string
	for _, d := range ds {
		if d.Keep {
			out = append(out, d.Time.Format("2006-01-02 15:04")+" ("+strings.Join(d.Reasons, ", ")+")")
		}
	}
	return out
}

func TestPlan(t *testing.T) {
	cases := []struct {
		name    string
		times   []string
		policy  KeepPolicy
		want    []string
		wantErr error
	}{
		{
			name:   "keep last 3 of 5",
			times:  []string{"2026-03-10 01:00", "2026-03-11 01:00", "2026-03-12 01:00", "2026-03-13 01:00", "2026-03-14 01:00"},
			policy: KeepPolicy{Last: 3},
			want:   []string{"2026-03-14 01:00 (last)", "2026-03-13 01:00 (last)", "2026-03-12 01:00 (last)"},
		},
		{
			name:   "daily keeps the newest of each day",
			times:  []string{"2026-03-13 08:00", "2026-03-13 20:00", "2026-03-14 02:00", "2026-03-14 23:59", "2026-03-12 12:00"},
			policy: KeepPolicy{Daily: 2},
			want:   []string{"2026-03-14 23:59 (daily 2026-03-14)", "2026-03-13 20:00 (daily 2026-03-13)"},
		},
		{
			name:   "days without a backup do not count",
			times:  []string{"2026-03-01 10:00", "2026-03-05 10:00", "2026-03-14 10:00"},
			policy: KeepPolicy{Daily: 2},
			want:   []string{"2026-03-14 10:00 (daily 2026-03-14)", "2026-03-05 10:00 (daily 2026-03-05)"},
		},
		{
			name: "weekly follows ISO weeks across a year end",
			// 2026-12-31 is a Thursday of week 2026-W53; 2027-01-04 a
			// Monday of 2027-W01; 2026-12-27 a Sunday of 2026-W52.
			times:  []string{"2026-12-27 12:00", "2026-12-28 12:00", "2026-12-31 12:00", "2027-01-03 12:00", "2027-01-04 12:00"},
			policy: KeepPolicy{Weekly: 3},
			want:   []string{"2027-01-04 12:00 (weekly 2027-W01)", "2027-01-03 12:00 (weekly 2026-W53)", "2026-12-27 12:00 (weekly 2026-W52)"},
		},
		{
			name:   "monthly",
			times:  []string{"2026-01-31 23:00", "2026-02-01 00:30", "2026-02-27 10:00", "2026-03-02 10:00", "2026-03-01 10:00"},
			policy: KeepPolicy{Monthly: 2},
			want:   []string{"2026-03-02 10:00 (monthly 2026-03)", "2026-02-27 10:00 (monthly 2026-02)"},
		},
		{
			name:   "rules combine and a backup names every rule keeping it",
			times:  []string{"2026-01-15 10:00", "2026-02-20 10:00", "2026-03-13 09:00", "2026-03-14 09:00", "2026-03-14 21:00"},
			policy: KeepPolicy{Last: 1, Daily: 2, Monthly: 3},
			want: []string{
				"2026-03-14 21:00 (last, daily 2026-03-14, monthly 2026-03)",
				"2026-03-13 09:00 (daily 2026-03-13)",
				"2026-02-20 10:00 (monthly 2026-02)",
				"2026-01-15 10:00 (monthly 2026-01)",
			},
		},
		{
			name:   "a negative count keeps every period",
			times:  []string{"2025-06-01 10:00", "2026-01-01 10:00", "2026-01-01 11:00", "2026-03-14 10:00"},
			policy: KeepPolicy{Daily: -1},
			want:   []string{"2026-03-14 10:00 (daily 2026-03-14)", "2026-01-01 11:00 (daily 2026-01-01)", "2025-06-01 10:00 (daily 2025-06-01)"},
		},
		{
			name:   "more rules than backups keeps all",
			times:  []string{"2026-03-14 10:00", "2026-03-14 11:00"},
			policy: KeepPolicy{Last: 10},
			want:   []string{"2026-03-14 11:00 (last)", "2026-03-14 10:00 (last)"},
		},
		{
			name:  "no backups",
			times: nil, policy: KeepPolicy{Last: 1}, want: nil,
		},
		{
			name:    "no rule is refused",
			times:   []string{"2026-03-14 10:00"},
			policy:  KeepPolicy{},
			wantErr: ErrNoKeepRule,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			entries := entriesAt(t, tc.times...)
			got, err := Plan(entries, tc.policy)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Plan: %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if len(got) != len(entries) {
				t.Fatalf("%d decisions for %d backups", len(got), len(entries))
			}
			if k := kept(got); !slices.Equal(k, tc.want) {
				t.Errorf("kept\n%s\nwant\n%s", strings.Join(k, "\n"), strings.Join(tc.want, "\n"))
			}
			// The order of the input does not matter.
			slices.Reverse(entries)
			again, _ := Plan(entries, tc.policy)
			if k := kept(again); !slices.Equal(k, tc.want) {
				t.Errorf("reversed input kept %v", k)
			}
		})
	}
}

func TestPruneDir(t *testing.T) {
	dir := t.TempDir()
	names := []string{FileName(at(t, "2026-03-12 10:00")), FileName(at(t, "2026-03-13 10:00")), FileName(at(t, "2026-03-14 10:00"))}
	others := []string{"notes.txt", "mapwright-latest.mwbak", TempPrefix + names[2] + ".123.tmp"}
	for _, n := range append(slices.Clone(names), others...) {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := ListDir(dir)
	if err != nil || len(entries) != 3 || entries[0].Name != names[2] || entries[0].Size != int64(len(names[2])) {
		t.Fatalf("ListDir = %+v, %v", entries, err)
	}

	plan, err := Prune(dir, KeepPolicy{Last: 1}, true)
	if err != nil || len(plan) != 3 {
		t.Fatalf("dry run: %v, %v", plan, err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 6 {
		t.Errorf("a dry run removed files: %d left", len(left))
	}

	if _, err := Prune(dir, KeepPolicy{Last: 1}, false); err != nil {
		t.Fatal(err)
	}
	var left []string
	des, _ := os.ReadDir(dir)
	for _, de := range des {
		left = append(left, de.Name())
	}
	want := append([]string{names[2]}, others...)
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("after prune: %v, want %v", left, want)
	}
	if _, err := Prune(dir, KeepPolicy{}, false); !errors.Is(err, ErrNoKeepRule) {
		t.Errorf("prune without rules: %v", err)
	}
}

func TestFileName(t *testing.T) {
	tm := time.Date(2026, 3, 14, 15, 9, 26, 535, time.FixedZone("X", 3600))
	name := FileName(tm)
	if name != "mapwright-20260314T140926Z.mwbak" {
		t.Errorf("FileName = %s", name)
	}
	back, ok := ParseFileName(name)
	if !ok || !back.Equal(tm.Truncate(time.Second)) {
		t.Errorf("ParseFileName = %v, %t", back, ok)
	}
	for _, bad := range []string{"mapwright-20260314T140926Z.mwbak.tmp", "mapwright-20261314T140926Z.mwbak", "x" + name, "mapwright-.mwbak"} {
		if _, ok := ParseFileName(bad); ok {
			t.Errorf("ParseFileName(%q) accepted", bad)
		}
	}
}
