package scan

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/mapwright/mapwright/pkg/apikey"
)

// Status is what the admin API says of a key found by a scan, or what the
// scan knows without asking.
type Status string

// The statuses of a Key. The first five come from the admin API's lookup;
// Unchecked and Invalid are set by the scan itself.
const (
	// StatusActive: the key works now. A leak to act on.
	StatusActive Status = "active"
	// StatusPending: the key is valid from a future time (not_before). It
	// will work then, so it counts as live.
	StatusPending Status = "pending"
	// StatusExpired: the key no longer works.
	StatusExpired Status = "expired"
	// StatusRevoked: the key was revoked.
	StatusRevoked Status = "revoked"
	// StatusUnknown: no key of the server asked has this hash. It may be a
	// key of another server, so it counts as live.
	StatusUnknown Status = "unknown"
	// StatusUnchecked: the status was not looked up (offline scan).
	StatusUnchecked Status = "unchecked"
	// StatusInvalid: the checksum fails, so this is a look-alike, not a
	// key. Reported only with Options.IncludeInvalid; never looked up.
	StatusInvalid Status = "invalid"
)

// Live reports whether a key in this status works now or may work: every
// status but revoked, expired and invalid. A status from a newer server that
// this version does not know counts as live, failing closed.
func (s Status) Live() bool {
	switch s {
	case StatusRevoked, StatusExpired, StatusInvalid:
		return false
	}
	return true
}

// Suppression says why a location does not count as a finding.
type Suppression string

// The suppressions of a Location.
const (
	// NotSuppressed is the zero value: the location is a finding.
	NotSuppressed Suppression = ""
	// SuppressedInline: the line holds the marker AllowMarker.
	SuppressedInline Suppression = "inline"
	// SuppressedBaseline: the location's fingerprint is in the baseline.
	SuppressedBaseline Suppression = "baseline"
)

// Location is one place where a key occurs.
type Location struct {
	// Path is the file's path as reached from the scanned path (slash
	// separated), "stdin" for standard input, the path inside the commit
	// in git mode, and for a member of an archive the archive's path, "!"
	// and the member's path, nested as deep as the archives are:
	// "bundle.tar.gz!site/app.zip!config.js".
	Path string `json:"path"`
	// Commit is the full hash of the oldest commit that introduced the
	// blob holding the key (git history mode only).
	Commit string `json:"commit,omitempty"`
	// AuthorDate is the author date of Commit (git history mode only).
	AuthorDate *time.Time `json:"author_date,omitempty"`
	// Staged is true for a key in the index (staged mode).
	Staged bool `json:"staged,omitempty"`
	// Line is the 1-based line of the token's first byte: one more than
	// the number of '\n' bytes before it.
	Line int64 `json:"line"`
	// Column is the 1-based column of the token's first byte, in bytes
	// from the start of its line.
	Column int64 `json:"column"`
	// Offset is the 0-based byte offset of the token in the file, blob or
	// archive member.
	Offset int64 `json:"offset"`
	// Fingerprint identifies this finding across runs for baselines (see
	// Fingerprint).
	Fingerprint string `json:"fingerprint"`
	// Suppressed says why the location is not a finding; empty when it is.
	Suppressed Suppression `json:"suppressed,omitempty"`

	// seq orders locations by discovery where paths do not (git history:
	// the position of the commit in the log, oldest first).
	seq int64
}

// String returns "path:line:col", prefixed by the commit's first 12
// characters and ":" in git history mode. It never contains the token.
func (l Location) String() string {
	s := fmt.Sprintf("%s:%d:%d", l.Path, l.Line, l.Column)
	if l.Commit != "" {
		s = shortCommit(l.Commit) + ":" + s
	}
	return s
}

// shortCommit abbreviates a commit hash to 12 characters.
func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// Key is one distinct token found by a scan, with every place it occurs.
// It never holds the token: only its hash and redacted form.
type Key struct {
	// Hash is the SHA-256 of the token as 64 lowercase hex digits
	// (apikey.HashHex), the value the admin API looks keys up by.
	Hash string `json:"hash"`
	// Redacted is the token's display form, "mpw_pk_AbCd…" (apikey.Redact).
	Redacted string `json:"key"`
	// Kind is public or secret.
	Kind apikey.Kind `json:"kind"`
	// Valid reports whether the checksum holds. False only for look-alikes
	// reported with Options.IncludeInvalid.
	Valid bool `json:"valid"`
	// Status is the key's state on the server, or unchecked or invalid.
	Status Status `json:"status"`
	// ID and Name identify the key on the server, when it knows it.
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
	// RevokedByScan is true when this run revoked the key (--revoke).
	RevokedByScan bool `json:"revoked_by_scan,omitempty"`
	// Locations are the places the key occurs, sorted by path and offset
	// (git history: oldest commit first). At most MaxLocations are kept.
	Locations []Location `json:"locations"`
	// OmittedLocations counts the occurrences past MaxLocations.
	OmittedLocations int64 `json:"omitted_locations,omitempty"`
}

// Reported reports whether at least one location of k is not suppressed.
func (k *Key) Reported() bool {
	return k.FirstReported() != nil
}

// FirstReported returns k's first location that is not suppressed, or nil.
func (k *Key) FirstReported() *Location {
	for i := range k.Locations {
		if k.Locations[i].Suppressed == NotSuppressed {
			return &k.Locations[i]
		}
	}
	return nil
}

// Stats measure a scan.
type Stats struct {
	// Files counts the streams scanned: files, archive members, git blobs
	// and standard input.
	Files int64 `json:"files"`
	// Bytes counts the bytes scanned, after decompression.
	Bytes int64 `json:"bytes"`
	// Archives counts the archives opened.
	Archives int64 `json:"archives"`
	// Skipped counts files not scanned: unreadable, special files,
	// symbolic links not followed.
	Skipped int64 `json:"skipped"`
	// DurationSeconds is the wall time of the scan, lookup excluded.
	DurationSeconds float64 `json:"duration_seconds"`
	// PeakRSSBytes is the process's peak resident memory at the end of the
	// scan, where the system reports it (0 elsewhere).
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
}

// Result is what a scan found.
type Result struct {
	// Keys are the distinct tokens found, valid keys first (look-alikes
	// only with Options.IncludeInvalid), ordered by their first location.
	Keys []*Key `json:"keys"`
	// InvalidCount counts the occurrences of look-alikes: well-formed
	// tokens whose checksum fails. They are not keys.
	InvalidCount int64 `json:"invalid_count"`
	// SuppressedCount counts the locations of valid keys suppressed inline
	// or by the baseline.
	SuppressedCount int64 `json:"suppressed_count"`
	// Checked is true once statuses were looked up on the admin API.
	Checked bool `json:"checked"`
	// Warnings are problems that did not stop the scan: unreadable files,
	// archives cut short by the expansion limits, corrupt archives.
	Warnings []string `json:"warnings"`
	// Stats measure the scan.
	Stats Stats `json:"stats"`
}

// FailOn chooses which keys make a scan fail (exit status 1).
type FailOn string

const (
	// FailOnLive fails on a reported valid key that is live: active,
	// pending, unknown or unchecked. The default.
	FailOnLive FailOn = "active"
	// FailOnAny fails on any reported valid key, revoked and expired ones
	// included.
	FailOnAny FailOn = "revoked"
)

// Failing returns the reported valid keys that make the scan fail under
// policy.
func (r *Result) Failing(policy FailOn) []*Key {
	var out []*Key
	for _, k := range r.Keys {
		if !k.Valid || !k.Reported() {
			continue
		}
		if policy == FailOnAny || k.Status.Live() {
			out = append(out, k)
		}
	}
	return out
}

// Counts summarises the reported valid keys by status.
func (r *Result) Counts() map[Status]int {
	m := map[Status]int{}
	for _, k := range r.Keys {
		if k.Valid && k.Reported() {
			m[k.Status]++
		}
	}
	return m
}

// sortResult orders keys and locations deterministically, whatever order
// the workers found them in.
func sortResult(r *Result) {
	for _, k := range r.Keys {
		slices.SortFunc(k.Locations, compareLocations)
	}
	slices.SortFunc(r.Keys, func(a, b *Key) int {
		if a.Valid != b.Valid {
			if a.Valid {
				return -1
			}
			return 1
		}
		if c := compareLocations(a.Locations[0], b.Locations[0]); c != 0 {
			return c
		}
		return cmp.Compare(a.Hash, b.Hash)
	})
}

func compareLocations(a, b Location) int {
	if c := cmp.Compare(a.seq, b.seq); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Path, b.Path); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Commit, b.Commit); c != 0 {
		return c
	}
	return cmp.Compare(a.Offset, b.Offset)
}
