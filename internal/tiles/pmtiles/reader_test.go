package pmtiles

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mapwright/mapwright/internal/tiles/tileset"
)

// tileKey is a z/x/y address in tests.
type tileKey struct{ z, x, y int }

// pngLike returns distinct bytes that sniff as PNG.
func pngLike(seed int, size int) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	for i := 0; len(b) < size; i++ {
		b = append(b, byte(seed>>(8*(i%4)))^byte(i))
	}
	return b
}

// writeArchive writes tiles to a file in a temporary directory and opens
// it.
func writeArchive(t testing.TB, tiles map[tileKey][]byte, opts WriterOptions, ropts ...Option) (*Reader, string) {
	t.Helper()
	w, err := NewWriter(opts)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range tiles {
		if err := w.Add(k.z, k.x, k.y, v); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "set.pmtiles")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path, ropts...)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r, path
}

// pyramid returns every tile of zooms 0..maxZ with distinct contents.
func pyramid(maxZ int) map[tileKey][]byte {
	tiles := map[tileKey][]byte{}
	i := 0
	for z := 0; z <= maxZ; z++ {
		for x := 0; x < 1<<z; x++ {
			for y := 0; y < 1<<z; y++ {
				tiles[tileKey{z, x, y}] = pngLike(i, 16+i%97)
				i++
			}
		}
	}
	return tiles
}

// sparse returns n tiles scattered over zoom z with distinct contents.
func sparse(n, z int, seed uint64) map[tileKey][]byte {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	tiles := map[tileKey][]byte{}
	for len(tiles) < n {
		k := tileKey{z, rng.IntN(1 << z), rng.IntN(1 << z)}
		tiles[k] = pngLike(len(tiles), 12+rng.IntN(200))
	}
	return tiles
}

func TestWriterReaderRoundTrip(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		tiles      map[tileKey][]byte
		opts       WriterOptions
		wantLeaves bool
	}{
		{"single tile", map[tileKey][]byte{{0, 0, 0}: pngLike(1, 40)}, WriterOptions{}, false},
		{"full pyramid to z4", pyramid(4), WriterOptions{}, false},
		{"thousands of scattered tiles need leaves", sparse(30000, 12, 7), WriterOptions{}, true},
		{"small root budget forces leaves", pyramid(5), WriterOptions{MaxRootBytes: 300, LeafSize: 16}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.TileType = TileTypePNG
			tt.opts.TileCompression = CompressionNone
			tt.opts.Metadata = map[string]any{"name": tt.name, "attribution": "© test"}
			r, _ := writeArchive(t, tt.tiles, tt.opts)
			h := r.Header()
			if got := h.LeafDirectoryLength > 0; got != tt.wantLeaves {
				t.Errorf("leaf directories present = %v, want %v", got, tt.wantLeaves)
			}
			if HeaderLen+h.RootLength > MaxRootBytes {
				t.Errorf("header and root take %d bytes, beyond %d", HeaderLen+h.RootLength, MaxRootBytes)
			}
			if h.AddressedTilesCount != uint64(len(tt.tiles)) {
				t.Errorf("addressed tiles = %d, want %d", h.AddressedTilesCount, len(tt.tiles))
			}
			if !h.Clustered || h.InternalCompression != CompressionGzip {
				t.Errorf("header clustered=%v internal=%s", h.Clustered, h.InternalCompression)
			}
			md := r.Metadata()
			if md.Name != tt.name || md.Attribution != "© test" || md.Format != tileset.FormatPNG {
				t.Errorf("metadata = %+v", md)
			}
			if r.Encoding() != tileset.EncodingIdentity {
				t.Errorf("Encoding() = %q", r.Encoding())
			}
			for k, want := range tt.tiles {
				got, err := r.Tile(ctx, k.z, k.x, k.y)
				if err != nil {
					t.Fatalf("Tile(%v) = %v", k, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("Tile(%v) = %d bytes, want %d", k, len(got), len(want))
				}
			}
			entries, err := r.Entries(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if uint64(len(entries)) != h.TileEntriesCount {
				t.Errorf("walked %d entries, header says %d", len(entries), h.TileEntriesCount)
			}
		})
	}
}

func TestAbsentTiles(t *testing.T) {
	r, _ := writeArchive(t, sparse(3000, 10, 3), WriterOptions{TileType: TileTypePNG, TileCompression: CompressionNone, MaxRootBytes: 400})
	present := map[tileKey]bool{}
	err := r.Walk(context.Background(), func(e Entry) error {
		for i := range uint64(e.RunLength) {
			z, x, y, _ := IDToZxy(e.TileID + i)
			present[tileKey{int(z), int(x), int(y)}] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for x := 0; x < 1<<10 && checked < 2000; x += 3 {
		for y := 0; y < 1<<10 && checked < 2000; y += 7 {
			k := tileKey{10, x, y}
			if present[k] {
				continue
			}
			checked++
			got, err := r.Tile(context.Background(), k.z, k.x, k.y)
			if err != nil || got != nil {
				t.Fatalf("absent tile %v = %d bytes, %v; want nil, nil", k, len(got), err)
			}
		}
	}
	for _, k := range []tileKey{{0, 0, 0}, {11, 0, 0}, {-1, 0, 0}, {10, 1024, 0}, {31, 0, 0}} {
		got, err := r.Tile(context.Background(), k.z, k.x, k.y)
		if err != nil || got != nil {
			t.Errorf("Tile(%v) = %d bytes, %v; want nil, nil", k, len(got), err)
		}
	}
}

func TestRunLengthAndDeduplication(t *testing.T) {
	ocean := pngLike(0, 30)
	land := pngLike(1, 50)
	tiles := map[tileKey][]byte{{0, 0, 0}: land}
	// All of z1 and z2 is ocean except one z2 tile: IDs 1..20 share content
	// apart from a break, giving two runs around one land tile.
	for z := 1; z <= 2; z++ {
		for x := 0; x < 1<<z; x++ {
			for y := 0; y < 1<<z; y++ {
				tiles[tileKey{z, x, y}] = ocean
			}
		}
	}
	tiles[tileKey{2, 1, 1}] = land // ID 7
	r, _ := writeArchive(t, tiles, WriterOptions{TileType: TileTypePNG, TileCompression: CompressionNone})
	h := r.Header()
	if h.AddressedTilesCount != 21 || h.TileEntriesCount != 4 || h.TileContentsCount != 2 {
		t.Errorf("counts addressed=%d entries=%d contents=%d, want 21, 4, 2",
			h.AddressedTilesCount, h.TileEntriesCount, h.TileContentsCount)
	}
	if h.TileDataLength != uint64(len(ocean)+len(land)) {
		t.Errorf("tile data %d bytes, want %d (each content once)", h.TileDataLength, len(ocean)+len(land))
	}
	entries, err := r.Entries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{TileID: 0, Offset: 0, Length: 50, RunLength: 1},
		{TileID: 1, Offset: 50, Length: 30, RunLength: 6},
		{TileID: 7, Offset: 0, Length: 50, RunLength: 1},
		{TileID: 8, Offset: 50, Length: 30, RunLength: 13},
	}
	if fmt.Sprint(entries) != fmt.Sprint(want) {
		t.Errorf("entries = %v, want %v", entries, want)
	}
	for k, v := range tiles {
		got, err := r.Tile(context.Background(), k.z, k.x, k.y)
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("Tile(%v) = %v, %v", k, got, err)
		}
	}
}

// rawArchive lays out a hand-made archive: header, root, metadata, leaves,
// tile data, with gzip internal compression unless none is asked for.
type rawArchive struct {
	h      Header
	root   []byte
	meta   []byte
	leaves []byte
	data   []byte
}

func (a rawArchive) bytes() []byte {
	h := a.h
	h.SpecVersion = 3
	h.RootOffset = HeaderLen
	h.RootLength = uint64(len(a.root))
	h.MetadataOffset = h.RootOffset + h.RootLength
	h.MetadataLength = uint64(len(a.meta))
	h.LeafDirectoryOffset = h.MetadataOffset + h.MetadataLength
	h.LeafDirectoryLength = uint64(len(a.leaves))
	h.TileDataOffset = h.LeafDirectoryOffset + h.LeafDirectoryLength
	h.TileDataLength = uint64(len(a.data))
	if h.MaxZoom == 0 {
		h.MaxZoom = 20
	}
	out := h.Encode()
	for _, part := range [][]byte{a.root, a.meta, a.leaves, a.data} {
		out = append(out, part...)
	}
	return out
}

func openBytes(t *testing.T, b []byte) (*Reader, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "a.pmtiles")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err == nil {
		t.Cleanup(func() { _ = r.Close() })
	}
	return r, err
}

func TestNestedLeafDirectories(t *testing.T) {
	id, _ := ZxyToID(12, 100, 200)
	tile := pngLike(9, 64)
	inner := compressGzip(EncodeDirectory([]Entry{{TileID: id, Offset: 0, Length: uint32(len(tile)), RunLength: 2}}))
	outer := compressGzip(EncodeDirectory([]Entry{{TileID: id - 5, Offset: 0, Length: uint32(len(inner))}}))
	leaves := append(append([]byte{}, inner...), outer...)
	root := compressGzip(EncodeDirectory([]Entry{{TileID: 1, Offset: uint64(len(inner)), Length: uint32(len(outer))}}))
	a := rawArchive{
		h:      Header{InternalCompression: CompressionGzip, TileCompression: CompressionNone, TileType: TileTypePNG},
		root:   root,
		meta:   compressGzip([]byte(`{"name":"nested"}`)),
		leaves: leaves,
		data:   tile,
	}
	r, err := openBytes(t, a.bytes())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint64{id, id + 1} {
		z, x, y, _ := IDToZxy(id)
		got, err := r.Tile(context.Background(), int(z), int(x), int(y))
		if err != nil || !bytes.Equal(got, tile) {
			t.Errorf("tile ID %d through two leaf levels = %d bytes, %v", id, len(got), err)
		}
	}
	got, err := r.Tile(context.Background(), 12, 100, 201)
	if err != nil || got != nil {
		t.Errorf("neighbour not in the archive = %d bytes, %v; want nil, nil", len(got), err)
	}
	entries, err := r.Entries(context.Background())
	if err != nil || len(entries) != 1 || entries[0].TileID != id {
		t.Errorf("Entries() = %v, %v", entries, err)
	}
}

func TestMalformedArchivesFailOnRead(t *testing.T) {
	tile := pngLike(3, 20)
	self := compressGzip(EncodeDirectory([]Entry{{TileID: 0, Offset: 0, Length: 1}}))
	// A leaf that points at itself: its own length must be encoded inside
	// it, so build it until the length settles.
	for range 5 {
		self = compressGzip(EncodeDirectory([]Entry{{TileID: 0, Offset: 0, Length: uint32(len(self))}}))
	}
	tests := []struct {
		name    string
		archive rawArchive
		want    error
		message string
	}{
		{
			"tile beyond the data section",
			rawArchive{
				root: compressGzip(EncodeDirectory([]Entry{{TileID: 0, Offset: 10, Length: 50, RunLength: 1}})),
				data: tile,
			},
			ErrTruncated, "outside the tile data section",
		},
		{
			"leaf beyond the leaf section",
			rawArchive{
				root: compressGzip(EncodeDirectory([]Entry{{TileID: 0, Offset: 0, Length: 500}})),
				data: tile,
			},
			ErrBadDirectory, "outside the leaf section",
		},
		{
			"leaf that is not a directory",
			rawArchive{
				root:   compressGzip(EncodeDirectory([]Entry{{TileID: 0, Offset: 0, Length: 4}})),
				leaves: []byte("junk"),
				data:   tile,
			},
			ErrBadDirectory, "leaf directory",
		},
		{
			"leaf that points at itself",
			rawArchive{
				root:   compressGzip(EncodeDirectory([]Entry{{TileID: 0, Offset: 0, Length: uint32(len(self))}})),
				leaves: self,
				data:   tile,
			},
			ErrBadDirectory, "nest deeper",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.archive.h = Header{InternalCompression: CompressionGzip, TileCompression: CompressionNone, TileType: TileTypePNG}
			r, err := openBytes(t, tt.archive.bytes())
			if err != nil {
				t.Fatalf("Open() = %v", err)
			}
			_, err = r.Tile(context.Background(), 0, 0, 0)
			if !errors.Is(err, tt.want) || !errors.Is(err, tileset.ErrCorrupt) {
				t.Fatalf("Tile() error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not mention %q", err, tt.message)
			}
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	tile := pngLike(3, 20)
	root := compressGzip(EncodeDirectory([]Entry{{TileID: 0, Offset: 0, Length: uint32(len(tile)), RunLength: 1}}))
	good := rawArchive{
		h:    Header{InternalCompression: CompressionGzip, TileCompression: CompressionNone, TileType: TileTypePNG},
		root: root,
		meta: compressGzip([]byte(`{}`)),
		data: tile,
	}
	tests := []struct {
		name    string
		bytes   func() []byte
		want    error
		message string
	}{
		{"empty file", func() []byte { return nil }, ErrEmptyFile, "empty file"},
		{"not an archive", func() []byte { return []byte(strings.Repeat("not pmtiles ", 20)) }, ErrBadMagic, "bad magic"},
		{"version 4", func() []byte { b := good.bytes(); b[7] = 4; return b }, ErrUnsupportedVersion, "unsupported PMTiles version 4"},
		{"cut short", func() []byte { b := good.bytes(); return b[:len(b)-5] }, ErrTruncated, "tile data"},
		{"brotli tiles", func() []byte {
			a := good
			a.h.TileCompression = CompressionBrotli
			return a.bytes()
		}, ErrUnsupportedCompression, "tile compression brotli"},
		{"zstd tiles", func() []byte {
			a := good
			a.h.TileCompression = CompressionZstd
			return a.bytes()
		}, ErrUnsupportedCompression, "tile compression zstd"},
		{"root not gzip", func() []byte {
			a := good
			a.root = []byte("definitely not gzip")
			return a.bytes()
		}, ErrBadDirectory, "root directory"},
		{"metadata not an object", func() []byte {
			a := good
			a.meta = compressGzip([]byte(`[1, 2]`))
			return a.bytes()
		}, ErrBadMetadata, "metadata"},
		{"metadata not JSON", func() []byte {
			a := good
			a.meta = compressGzip([]byte(`{"name":`))
			return a.bytes()
		}, ErrBadMetadata, "metadata"},
		{"unknown type and unrecognisable tile", func() []byte {
			a := good
			a.h.TileType = TileTypeUnknown
			a.data = []byte("mystery bytes!!!!!!!")
			return a.bytes()
		}, tileset.ErrUnknownFormat, "not recognisable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := openBytes(t, tt.bytes())
			if !errors.Is(err, tt.want) {
				t.Fatalf("Open() error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not mention %q", err, tt.message)
			}
		})
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing.pmtiles")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want not exist", err)
	}
}

func TestUnknownHeaderFieldsSettledFromTheTile(t *testing.T) {
	tile := gzipBytes([]byte{0x1a, 0x02, 0x78, 0x02})
	a := rawArchive{
		h:    Header{InternalCompression: CompressionUnknown, TileCompression: CompressionUnknown, TileType: TileTypeUnknown},
		root: EncodeDirectory([]Entry{{TileID: 0, Offset: 0, Length: uint32(len(tile)), RunLength: 1}}),
		meta: []byte(`{"name":"plain"}`),
		data: tile,
	}
	r, err := openBytes(t, a.bytes())
	if err != nil {
		t.Fatal(err)
	}
	if md := r.Metadata(); md.Format != tileset.FormatMVT || md.Name != "plain" {
		t.Errorf("metadata = %+v, want mvt named plain", md)
	}
	if r.Encoding() != tileset.EncodingGzip {
		t.Errorf("Encoding() = %q, want gzip", r.Encoding())
	}
	if len(r.Warnings()) == 0 {
		t.Error("no warning about the unknown tile type")
	}
}

func gzipBytes(b []byte) []byte { return compressGzip(b) }

func TestMetadataFields(t *testing.T) {
	tests := []struct {
		name   string
		meta   string
		header func(*Header)
		check  func(t *testing.T, md tileset.Metadata)
	}{
		{
			"strings and vector layers",
			`{"name":"Roads","description":"d","attribution":"<a>x</a>","version":"1.2.0","type":"overlay","vector_layers":[{"id":"roads"}],"extra":5}`,
			nil,
			func(t *testing.T, md tileset.Metadata) {
				if md.Name != "Roads" || md.Description != "d" || md.Attribution != "<a>x</a>" || md.Version != "1.2.0" || md.Type != "overlay" {
					t.Errorf("strings = %+v", md)
				}
				if string(md.VectorLayers) != `[{"id":"roads"}]` {
					t.Errorf("vector_layers = %s", md.VectorLayers)
				}
				if md.Raw["extra"] != float64(5) {
					t.Errorf("Raw[extra] = %v", md.Raw["extra"])
				}
			},
		},
		{
			"vector layers inside a json string",
			`{"json":"{\"vector_layers\":[{\"id\":\"water\"}]}"}`,
			nil,
			func(t *testing.T, md tileset.Metadata) {
				if string(md.VectorLayers) != `[{"id":"water"}]` {
					t.Errorf("vector_layers = %s", md.VectorLayers)
				}
			},
		},
		{
			"bounds and center from the header",
			`{}`,
			func(h *Header) {
				h.MinLonE7, h.MinLatE7, h.MaxLonE7, h.MaxLatE7 = -100000000, -50000000, 100000000, 50000000
				h.CenterLonE7, h.CenterLatE7, h.CenterZoom = 15000000, -25000000, 4
			},
			func(t *testing.T, md tileset.Metadata) {
				if md.Bounds == nil || *md.Bounds != [4]float64{-10, -5, 10, 5} {
					t.Errorf("bounds = %v", md.Bounds)
				}
				if md.Center == nil || *md.Center != [3]float64{1.5, -2.5, 4} {
					t.Errorf("center = %v", md.Center)
				}
			},
		},
		{
			"zero bounds mean unknown",
			`{"name": 7}`,
			nil,
			func(t *testing.T, md tileset.Metadata) {
				if md.Bounds != nil || md.Center != nil {
					t.Errorf("bounds = %v center = %v, want nil", md.Bounds, md.Center)
				}
				if md.Name != "" {
					t.Errorf("non-string name read as %q", md.Name)
				}
			},
		},
	}
	tile := pngLike(1, 20)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := rawArchive{
				h:    Header{InternalCompression: CompressionGzip, TileCompression: CompressionNone, TileType: TileTypePNG, MaxZoom: 5},
				root: compressGzip(EncodeDirectory([]Entry{{TileID: 0, Offset: 0, Length: uint32(len(tile)), RunLength: 1}})),
				meta: compressGzip([]byte(tt.meta)),
				data: tile,
			}
			if tt.header != nil {
				tt.header(&a.h)
			}
			r, err := openBytes(t, a.bytes())
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, r.Metadata())
		})
	}
}

func TestWriterDefaultsBoundsFromTiles(t *testing.T) {
	tiles := map[tileKey][]byte{{1, 1, 0}: pngLike(1, 20)} // north-east quarter
	r, _ := writeArchive(t, tiles, WriterOptions{TileType: TileTypePNG, TileCompression: CompressionNone})
	md := r.Metadata()
	if md.Bounds == nil || md.Bounds[0] != 0 || md.Bounds[1] != 0 || md.Bounds[2] != 180 || md.Bounds[3] < 85.05 || md.Bounds[3] > 85.06 {
		t.Errorf("bounds = %v, want the north-east quarter", md.Bounds)
	}
	if md.Center == nil || md.Center[0] != 90 || md.Center[2] != 1 {
		t.Errorf("center = %v", md.Center)
	}
}

func TestWriterRefuses(t *testing.T) {
	if _, err := NewWriter(WriterOptions{TileCompression: CompressionBrotli}); err == nil {
		t.Error("NewWriter accepted brotli tiles")
	}
	if _, err := NewWriter(WriterOptions{TileCompression: CompressionNone, MaxRootBytes: 100}); err == nil {
		t.Error("NewWriter accepted a root budget smaller than the header")
	}
	w, err := NewWriter(WriterOptions{TileCompression: CompressionNone})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		z, x, y int
		data    []byte
	}{
		{"off the grid", 2, 4, 0, []byte{1}},
		{"empty tile", 2, 1, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := w.Add(tt.z, tt.x, tt.y, tt.data); err == nil {
				t.Error("Add() succeeded")
			}
		})
	}
	if err := w.Add(1, 0, 0, []byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(1, 0, 0, []byte{2}); err == nil {
		t.Error("Add() accepted a tile twice")
	}
	empty, _ := NewWriter(WriterOptions{TileCompression: CompressionNone})
	if _, err := empty.WriteTo(&bytes.Buffer{}); err == nil {
		t.Error("WriteTo() wrote an archive without tiles")
	}
}

func TestWriterMetadataIsJSON(t *testing.T) {
	meta := map[string]any{"name": "n", "vector_layers": []any{map[string]any{"id": "a"}}}
	r, _ := writeArchive(t, map[tileKey][]byte{{0, 0, 0}: gzipBytes([]byte{0x1a, 0})},
		WriterOptions{TileType: TileTypeMVT, TileCompression: CompressionGzip, Metadata: meta})
	var layers []map[string]any
	if err := json.Unmarshal(r.Metadata().VectorLayers, &layers); err != nil || len(layers) != 1 || layers[0]["id"] != "a" {
		t.Errorf("vector_layers = %s, %v", r.Metadata().VectorLayers, err)
	}
	if r.Encoding() != tileset.EncodingGzip || r.Metadata().Format != tileset.FormatMVT {
		t.Errorf("encoding %q format %q", r.Encoding(), r.Metadata().Format)
	}
}

func TestClosedReader(t *testing.T) {
	r, _ := writeArchive(t, pyramid(2), WriterOptions{TileType: TileTypePNG, TileCompression: CompressionNone})
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Tile(context.Background(), 0, 0, 0); !errors.Is(err, tileset.ErrClosed) {
		t.Errorf("Tile() after Close = %v, want ErrClosed", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
}

func TestCancelledContextStopsLeafReads(t *testing.T) {
	r, _ := writeArchive(t, sparse(500, 10, 5), WriterOptions{TileType: TileTypePNG, TileCompression: CompressionNone, MaxRootBytes: 200, LeafSize: 8})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e := r.root[len(r.root)/2]
	z, x, y, _ := IDToZxy(e.TileID)
	if _, err := r.Tile(ctx, int(z), int(x), int(y)); !errors.Is(err, context.Canceled) {
		t.Errorf("Tile() with a cancelled context = %v", err)
	}
}

func TestConcurrentReadsWithSmallCache(t *testing.T) {
	tiles := sparse(5000, 11, 11)
	// A cache of a few leaves keeps evicting while many goroutines read.
	r, _ := writeArchive(t, tiles, WriterOptions{TileType: TileTypePNG, TileCompression: CompressionNone, MaxRootBytes: 600, LeafSize: 64},
		WithLeafCacheBytes(4*64*entrySize))
	keys := make([]tileKey, 0, len(tiles))
	for k := range tiles {
		keys = append(keys, k)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 99))
			for range 500 {
				k := keys[rng.IntN(len(keys))]
				got, err := r.Tile(context.Background(), k.z, k.x, k.y)
				if err != nil || !bytes.Equal(got, tiles[k]) {
					errs <- fmt.Errorf("Tile(%v) = %d bytes, %v", k, len(got), err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := r.leaves.len(); n > 4 || n == 0 {
		t.Errorf("leaf cache holds %d directories, want 1..4", n)
	}
}
