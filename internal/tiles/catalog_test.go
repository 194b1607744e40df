package tiles

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mapwright/mapwright/internal/tiles/internal/tiletest"
	"github.com/mapwright/mapwright/internal/tiles/pmtiles"
)

func pngTile(tag string) []byte { return append([]byte("\x89PNG\r\n\x1a\n"), tag...) }

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writePMTiles writes a small vector archive whose 0/0/0 tile carries tag.
func writePMTiles(t testing.TB, path, tag string) {
	t.Helper()
	var buf bytes.Buffer
	tiles := []pmtiles.Tile{
		{Z: 0, X: 0, Y: 0, Data: gzipped(t, append([]byte{0x1a, byte(len(tag))}, tag...))},
		{Z: 1, X: 1, Y: 1, Data: gzipped(t, []byte{0x1a, 0})},
	}
	err := pmtiles.Write(&buf, tiles, pmtiles.WriterOptions{
		TileType: pmtiles.TileTypeMVT, TileCompression: pmtiles.CompressionGzip,
		Metadata: map[string]any{"name": tag, "vector_layers": []any{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	writeFileAtomic(t, path, buf.Bytes())
}

// writeMBTiles writes a small PNG tileset whose 0/0/0 tile carries tag.
func writeMBTiles(t testing.TB, path, tag string) {
	t.Helper()
	tmp := filepath.Join(t.TempDir(), "build.mbtiles")
	tiletest.WriteMBTiles(t, tmp, map[string]string{"name": tag, "format": "png"},
		[]tiletest.Tile{{Z: 0, X: 0, Y: 0, Data: pngTile(tag)}, {Z: 2, X: 1, Y: 2, Data: pngTile("deep")}})
	b, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	writeFileAtomic(t, path, b)
}

// writeFileAtomic replaces path by renaming a new file over it, as operators
// must replace tilesets.
func writeFileAtomic(t testing.TB, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func tileTag(t testing.TB, src Source) string {
	t.Helper()
	b, err := src.Tile(context.Background(), 0, 0, 0)
	if err != nil {
		t.Fatalf("Tile(0/0/0) = %v", err)
	}
	if src.Encoding() == EncodingGzip {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if _, err := out.ReadFrom(zr); err != nil {
			t.Fatal(err)
		}
		return string(out.Bytes()[2:])
	}
	return string(b[8:])
}

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	var lb logBuffer
	return slog.New(slog.NewTextHandler(&lb, nil)), &lb
}

func entryByPath(entries []Entry, base string) (Entry, bool) {
	for _, e := range entries {
		if filepath.Base(e.Path) == base {
			return e, true
		}
	}
	return Entry{}, false
}

func TestCatalogLoadsGoodFilesAndReportsBadOnes(t *testing.T) {
	dir := t.TempDir()
	writePMTiles(t, filepath.Join(dir, "roads.pmtiles"), "roads")
	writeMBTiles(t, filepath.Join(dir, "photo.mbtiles"), "photo")
	writeMBTiles(t, filepath.Join(dir, "Upper.Case_v2-1.MBTILES"), "upper")
	writePMTiles(t, filepath.Join(dir, "bad name.pmtiles"), "bad")
	writePMTiles(t, filepath.Join(dir, "dup.pmtiles"), "dup")
	writeMBTiles(t, filepath.Join(dir, "dup.mbtiles"), "dup")
	for name, content := range map[string]string{
		"junk.pmtiles":   "this is not an archive, just a text file long enough",
		"junk.txt":       "ignored: not a tileset extension",
		"trunc.mbtiles":  "SQLite format 3\x00 and then nothing",
		".hidden.pmtile": "ignored: dot file",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writePMTiles(t, filepath.Join(dir, ".partial.pmtiles"), "hidden")
	if err := os.Mkdir(filepath.Join(dir, "folder.pmtiles"), 0o755); err != nil {
		t.Fatal(err)
	}

	logger, logs := newLogger()
	c := Open(dir, logger, WithGrace(0))
	defer c.Close()

	tests := []struct {
		file    string
		status  Status
		name    string
		format  Format
		errPart string
	}{
		{"roads.pmtiles", StatusOK, "roads", FormatMVT, ""},
		{"photo.mbtiles", StatusOK, "photo", FormatPNG, ""},
		{"Upper.Case_v2-1.MBTILES", StatusOK, "Upper.Case_v2-1", FormatPNG, ""},
		{"bad name.pmtiles", StatusFailed, "bad name", "", "invalid tileset name"},
		{"dup.pmtiles", StatusFailed, "dup", "", "dup.mbtiles, dup.pmtiles"},
		{"dup.mbtiles", StatusFailed, "dup", "", "dup.mbtiles, dup.pmtiles"},
		{"junk.pmtiles", StatusFailed, "junk", "", "not a PMTiles archive"},
		{"trunc.mbtiles", StatusFailed, "trunc", "", `open tileset "trunc"`},
	}
	entries := c.List()
	if len(entries) != len(tests) {
		t.Errorf("List() has %d entries, want %d: %+v", len(entries), len(tests), entries)
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			e, ok := entryByPath(entries, tt.file)
			if !ok {
				t.Fatalf("%s not listed", tt.file)
			}
			if e.Status != tt.status || e.Name != tt.name || e.Format != tt.format {
				t.Errorf("entry = %+v", e)
			}
			if !strings.Contains(e.Error, tt.errPart) {
				t.Errorf("error %q does not mention %q", e.Error, tt.errPart)
			}
			if tt.status == StatusFailed {
				if !strings.Contains(logs.String(), tt.file) {
					t.Errorf("refusal of %s not logged", tt.file)
				}
				if _, ok := c.Get(tt.name); ok && tt.name != "dup" {
					t.Errorf("Get(%q) found a failed tileset", tt.name)
				}
			}
		})
	}
	if c.Loaded() != 3 || c.Failed() != 5 {
		t.Errorf("Loaded() = %d, Failed() = %d; want 3, 5", c.Loaded(), c.Failed())
	}
	for i := 1; i < len(entries); i++ {
		if entries[i-1].Name > entries[i].Name {
			t.Errorf("List() not sorted: %q before %q", entries[i-1].Name, entries[i].Name)
		}
	}

	src, ok := c.Get("roads")
	if !ok || tileTag(t, src) != "roads" || src.Metadata().Name != "roads" {
		t.Fatalf("Get(roads) = %v, %v", src, ok)
	}
	h, ok := c.Acquire("photo")
	if !ok || tileTag(t, h) != "photo" || h.Name() != "photo" || h.Entry().Kind != KindMBTiles {
		t.Fatalf("Acquire(photo) = %v, %v", h, ok)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Tile(context.Background(), 0, 0, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Tile() on a released handle = %v, want ErrClosed", err)
	}
	for _, name := range []string{"dup", "../roads", "roads.pmtiles", "", "ROADS", "hidden", ".partial"} {
		if _, ok := c.Get(name); ok {
			t.Errorf("Get(%q) found a tileset", name)
		}
		if _, ok := c.Acquire(name); ok {
			t.Errorf("Acquire(%q) found a tileset", name)
		}
	}
}

func TestReloadSwapsInChanges(t *testing.T) {
	dir := t.TempDir()
	writePMTiles(t, filepath.Join(dir, "keep.pmtiles"), "keep")
	writeMBTiles(t, filepath.Join(dir, "change.mbtiles"), "v1")
	writePMTiles(t, filepath.Join(dir, "gone.pmtiles"), "gone")
	c := Open(dir, nil, WithGrace(0))
	defer c.Close()

	keep, _ := c.Acquire("keep")
	defer keep.Close()
	gone, ok := c.Acquire("gone")
	if !ok {
		t.Fatal("Acquire(gone) failed")
	}
	oldChange, _ := c.Acquire("change")

	// Replaced by rename: a new file, whatever the clock's resolution.
	writeMBTiles(t, filepath.Join(dir, "change.mbtiles"), "v2")
	if err := os.Remove(filepath.Join(dir, "gone.pmtiles")); err != nil {
		t.Fatal(err)
	}
	writePMTiles(t, filepath.Join(dir, "added.pmtiles"), "added")

	if err := c.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get("gone"); ok {
		t.Error("removed tileset still served")
	}
	if src, ok := c.Get("added"); !ok || tileTag(t, src) != "added" {
		t.Error("added tileset not served")
	}
	if src, ok := c.Get("change"); !ok || tileTag(t, src) != "v2" {
		t.Error("changed tileset not reopened")
	}
	keep2, _ := c.Acquire("keep")
	defer keep2.Close()
	if keep2.src != keep.src {
		t.Error("unchanged tileset was reopened instead of reused")
	}

	// Handles taken before the reload still read their own file.
	if tileTag(t, gone) != "gone" || tileTag(t, oldChange) != "v1" {
		t.Error("a handle acquired before the reload stopped working")
	}
	goneSrc := gone.src
	gone.Close()
	oldChange.Close()
	// With the last handle released the retired sources are closed.
	if _, err := goneSrc.Source.Tile(context.Background(), 0, 0, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("retired source after its last release: Tile() = %v, want ErrClosed", err)
	}
	if c.Loaded() != 3 || c.Failed() != 0 {
		t.Errorf("Loaded() = %d, Failed() = %d", c.Loaded(), c.Failed())
	}
}

func TestGetStaysValidForTheGracePeriod(t *testing.T) {
	dir := t.TempDir()
	writePMTiles(t, filepath.Join(dir, "a.pmtiles"), "a")
	c := Open(dir, nil, WithGrace(time.Hour))
	src, ok := c.Get("a")
	if !ok {
		t.Fatal("Get(a) failed")
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "a.pmtiles")); err != nil {
		t.Fatal(err)
	}
	if err := c.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get("a"); ok {
		t.Fatal("removed tileset still listed")
	}
	// Closing the borrowed source did nothing, and the retired source
	// outlives the reload for the grace period.
	if tileTag(t, src) != "a" {
		t.Error("borrowed source stopped working within the grace period")
	}
	// Close cuts the grace short.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Tile(context.Background(), 0, 0, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Tile() after catalog Close = %v, want ErrClosed", err)
	}
}

func TestReloadFailureKeepsTheCurrentSet(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "tiles")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writePMTiles(t, filepath.Join(dir, "a.pmtiles"), "a")
	c := Open(dir, nil, WithGrace(0))
	defer c.Close()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	writePMTiles(t, filepath.Join(dir, "b.pmtiles"), "b")
	if err := c.Reload(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Reload(cancelled) = %v", err)
	}
	if _, ok := c.Get("b"); ok {
		t.Error("a cancelled reload swapped in a new set")
	}

	if err := os.Rename(dir, dir+".moved"); err != nil {
		t.Fatal(err)
	}
	err := c.Reload(context.Background())
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Reload(missing dir) = %v", err)
	}
	if src, ok := c.Get("a"); !ok || tileTag(t, src) != "a" {
		t.Error("the current set was dropped after a failed reload")
	}
}

func TestMissingDirectoryThenCreated(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "later")
	logger, logs := newLogger()
	c := Open(dir, logger)
	defer c.Close()
	if c.Loaded() != 0 || len(c.List()) != 0 {
		t.Fatal("catalog of a missing directory is not empty")
	}
	if !strings.Contains(logs.String(), "load tilesets") {
		t.Error("the unreadable directory was not logged")
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeMBTiles(t, filepath.Join(dir, "m.mbtiles"), "m")
	if err := c.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.Loaded() != 1 {
		t.Errorf("Loaded() = %d after the directory appeared", c.Loaded())
	}
}

func TestClosedCatalog(t *testing.T) {
	dir := t.TempDir()
	writePMTiles(t, filepath.Join(dir, "a.pmtiles"), "a")
	c := Open(dir, nil)
	h, ok := c.Acquire("a")
	if !ok {
		t.Fatal("Acquire(a) failed")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get("a"); ok {
		t.Error("Get() after Close found a tileset")
	}
	if _, ok := c.Acquire("a"); ok {
		t.Error("Acquire() after Close found a tileset")
	}
	if err := c.Reload(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Reload() after Close = %v", err)
	}
	if tileTag(t, h) != "a" {
		t.Error("a handle held across Close stopped working")
	}
	src := h.src
	h.Close()
	if _, err := src.Source.Tile(context.Background(), 0, 0, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("source after the last handle closed: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
}

// TestHandlesSurviveConcurrentReloads reads through acquired handles while
// the directory changes and reloads run: no acquired handle may ever see a
// closed source.
func TestHandlesSurviveConcurrentReloads(t *testing.T) {
	dir := t.TempDir()
	names := []string{"a", "b", "c"}
	for _, n := range names {
		writePMTiles(t, filepath.Join(dir, n+".pmtiles"), n)
	}
	c := Open(dir, nil, WithGrace(0))
	defer c.Close()

	var (
		stop  atomic.Bool
		reads atomic.Int64
		wg    sync.WaitGroup
	)
	errs := make(chan error, 16)
	for g := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				name := names[(i+g)%len(names)]
				h, ok := c.Acquire(name)
				if !ok {
					continue
				}
				b, err := h.Tile(context.Background(), 0, 0, 0)
				h.Close()
				if err != nil || b == nil {
					errs <- fmt.Errorf("%s: %d bytes, %v", name, len(b), err)
					return
				}
				reads.Add(1)
			}
		})
	}
	for i := range 30 {
		// Rewrite one file per round so every reload retires a source.
		name := names[i%len(names)]
		writePMTiles(t, filepath.Join(dir, name+".pmtiles"), fmt.Sprintf("%s-%d", name, i))
		if err := c.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if reads.Load() == 0 {
		t.Error("no reads happened during the reloads")
	}
}

func TestValidTile(t *testing.T) {
	tests := []struct {
		name    string
		z, x, y int
		want    bool
	}{
		{"root", 0, 0, 0, true},
		{"corner", 5, 31, 31, true},
		{"past the corner", 5, 32, 0, false},
		{"deepest", MaxZoom, 0, 0, true},
		{"too deep", MaxZoom + 1, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidTile(tt.z, tt.x, tt.y); got != tt.want {
				t.Errorf("ValidTile(%d, %d, %d) = %v", tt.z, tt.x, tt.y, got)
			}
		})
	}
}
