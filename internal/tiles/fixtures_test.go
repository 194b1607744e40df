package tiles

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mapwright/mapwright/internal/tiles/internal/tiletest"
	"github.com/mapwright/mapwright/internal/tiles/mbtiles"
	"github.com/mapwright/mapwright/internal/tiles/pmtiles"
)

// TestCatalogOfAllFixtures loads a directory holding a copy of every fixture
// tileset: the good ones are served with the right format and zooms, each
// bad one is listed as failed with a clear reason.
func TestCatalogOfAllFixtures(t *testing.T) {
	src := tiletest.FixtureDir(t)
	dir := t.TempDir()
	des, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	copied := 0
	for _, de := range des {
		ext := filepath.Ext(de.Name())
		if ext != ".pmtiles" && ext != ".mbtiles" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, de.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
		copied++
	}

	c := Open(dir, nil, WithGrace(0))
	defer c.Close()

	type want struct {
		status   Status
		format   Format
		enc      Encoding
		min, max int
		sentinel error
		message  string
	}
	wants := map[string]want{
		"toner-z3":         {StatusOK, FormatPNG, EncodingIdentity, 0, 3, nil, ""},
		"test_fixture_1":   {StatusOK, FormatMVT, EncodingGzip, 0, 0, nil, ""},
		"test_fixture_2":   {StatusOK, FormatMVT, EncodingGzip, 0, 0, nil, ""},
		"plain_1":          {StatusOK, FormatPNG, EncodingIdentity, 0, 4, nil, ""},
		"some-empty-tiles": {StatusOK, FormatPNG, EncodingIdentity, 1, 2, nil, ""},
		"world_cities":     {StatusOK, FormatMVT, EncodingGzip, 0, 6, nil, ""},
		// One NULL tile in an otherwise sound file: refused whole.
		"corrupt_null_tile": {StatusFailed, "", "", 0, 0, mbtiles.ErrNullTile, "no tile data"},
		"empty":             {StatusFailed, "", "", 0, 0, pmtiles.ErrEmptyFile, "empty file"},
		"invalid":           {StatusFailed, "", "", 0, 0, pmtiles.ErrBadMagic, "not a PMTiles archive"},
		"invalid_v4":        {StatusFailed, "", "", 0, 0, pmtiles.ErrUnsupportedVersion, "unsupported PMTiles version 4"},
		"corrupt":           {StatusFailed, "", "", 0, 0, mbtiles.ErrDamaged, "malformed"},
	}
	entries := c.List()
	if len(entries) != copied {
		t.Errorf("List() has %d entries for %d files", len(entries), copied)
	}
	loaded, failed := 0, 0
	for _, e := range entries {
		t.Run(e.Name, func(t *testing.T) {
			w, ok := wants[e.Name]
			if !ok {
				t.Fatalf("fixture %s has no expectation; add one", e.Path)
			}
			if e.Status != w.status {
				t.Fatalf("status %q (%s), want %q", e.Status, e.Error, w.status)
			}
			if w.status == StatusFailed {
				failed++
				if !strings.Contains(e.Error, w.message) || !strings.Contains(e.Error, `open tileset "`+e.Name+`"`) {
					t.Errorf("error %q, want it to name the tileset and say %q", e.Error, w.message)
				}
				// The listed reason is the same refusal the reader gives.
				var err error
				if filepath.Ext(e.Path) == ".pmtiles" {
					_, err = pmtiles.Open(e.Path)
				} else {
					_, err = mbtiles.Open(e.Path)
				}
				if !errors.Is(err, w.sentinel) {
					t.Errorf("reader error %v, want %v", err, w.sentinel)
				}
				return
			}
			loaded++
			h, ok := c.Acquire(e.Name)
			if !ok {
				t.Fatal("listed as ok but not served")
			}
			defer h.Close()
			md := h.Metadata()
			if e.Format != w.format || md.Format != w.format || h.Encoding() != w.enc || e.MinZoom != w.min || e.MaxZoom != w.max {
				t.Errorf("format %q/%q encoding %q zooms %d-%d, want %q %q %d-%d",
					e.Format, md.Format, h.Encoding(), e.MinZoom, e.MaxZoom, w.format, w.enc, w.min, w.max)
			}
		})
	}
	if c.Loaded() != loaded || c.Failed() != failed {
		t.Errorf("Loaded() = %d, Failed() = %d; counted %d, %d", c.Loaded(), c.Failed(), loaded, failed)
	}
}
