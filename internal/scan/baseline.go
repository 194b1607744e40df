package scan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
)

// fingerprintTag versions the fingerprint: a change of the recipe changes
// the tag, so old baselines stop matching rather than matching wrongly.
const fingerprintTag = "mwctl-scan-fingerprint-v1"

// Fingerprint returns the baseline fingerprint of a key found at a path: the
// hex SHA-256 of a version tag, the key's hash (Key.Hash, hex) and the path
// normalised (slash separated, cleaned, without a leading "./"), joined by
// newlines.
//
// It stays the same when lines are added above the key or the file changes
// elsewhere, so a baseline survives ordinary edits; it differs from file to
// file, so the same key pasted into a new file is a new finding. Every
// occurrence of one key in one file shares a fingerprint. In git history
// mode the path is the path inside the commit, without the commit, so a
// baseline written by scanning a work tree from its root also suppresses the
// same findings in its history. A fingerprint reveals nothing about the
// token that its hash, which the scan reports anyway, does not.
func Fingerprint(hashHex, p string) string {
	h := sha256.New()
	h.Write([]byte(fingerprintTag + "\n" + strings.ToLower(hashHex) + "\n" + normalizePath(p)))
	return hex.EncodeToString(h.Sum(nil))
}

// normalizePath is the path form fingerprints use.
func normalizePath(p string) string {
	p = strings.ReplaceAll(p, "\\", "/")
	p = path.Clean(p)
	for strings.HasPrefix(p, "./") {
		p = p[2:]
	}
	return p
}

// Baseline is a set of fingerprints whose findings a scan suppresses. The
// nil *Baseline is empty.
type Baseline struct {
	set map[string]struct{}
}

// baselineFile is the document WriteBaseline writes.
type baselineFile struct {
	Version      int      `json:"version"`
	Tool         string   `json:"tool"`
	Fingerprints []string `json:"fingerprints"`
}

// Has reports whether fp is in the baseline.
func (b *Baseline) Has(fp string) bool {
	if b == nil {
		return false
	}
	_, ok := b.set[fp]
	return ok
}

// Len returns the number of fingerprints.
func (b *Baseline) Len() int {
	if b == nil {
		return 0
	}
	return len(b.set)
}

// ReadBaseline reads a baseline: the document WriteBaseline writes,
// {"version": 1, "tool": "mwctl", "fingerprints": [...]}, or a bare JSON
// list of fingerprints. Each fingerprint is 64 hex digits.
func ReadBaseline(r io.Reader) (*Baseline, error) {
	data, err := io.ReadAll(io.LimitReader(r, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	var list []string
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(t, &list); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBaseline, err)
		}
	} else {
		var doc baselineFile
		if err := json.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBaseline, err)
		}
		if doc.Version != 1 {
			return nil, fmt.Errorf("%w: version %d, want 1", ErrBaseline, doc.Version)
		}
		list = doc.Fingerprints
	}
	b := &Baseline{set: make(map[string]struct{}, len(list))}
	for i, fp := range list {
		fp = strings.ToLower(fp)
		if len(fp) != 2*sha256.Size || strings.Trim(fp, "0123456789abcdef") != "" {
			return nil, fmt.Errorf("%w: entry %d is not a fingerprint (64 hex digits)", ErrBaseline, i+1)
		}
		b.set[fp] = struct{}{}
	}
	return b, nil
}

// LoadBaseline reads the baseline file at path.
func LoadBaseline(path string) (*Baseline, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open baseline: %w", err)
	}
	defer f.Close()
	b, err := ReadBaseline(f)
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	return b, nil
}

// WriteBaseline writes the fingerprints of every location of every valid key
// of r, suppressed ones included, sorted and without duplicates, so that a
// later scan with this baseline reports only new findings. Locations past
// MaxLocations were not kept and are not recorded.
func WriteBaseline(w io.Writer, r *Result) error {
	doc := baselineFile{Version: 1, Tool: "mwctl", Fingerprints: []string{}}
	for _, k := range r.Keys {
		if !k.Valid {
			continue
		}
		for _, l := range k.Locations {
			doc.Fingerprints = append(doc.Fingerprints, l.Fingerprint)
		}
	}
	slices.Sort(doc.Fingerprints)
	doc.Fingerprints = slices.Compact(doc.Fingerprints)
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode baseline: %w", err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write baseline: %w", err)
	}
	return nil
}
