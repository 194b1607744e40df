package pmtiles

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/mapwright/mapwright/internal/tiles/tileset"
)

// DefaultLeafSize is the number of entries per leaf directory the Writer
// starts from when the root directory alone would be too large.
const DefaultLeafSize = 4096

// Tile is one tile handed to Write.
type Tile struct {
	// Z, X and Y address the tile in the XYZ scheme.
	Z, X, Y int
	// Data is the stored tile, compressed as WriterOptions.TileCompression
	// says.
	Data []byte
}

// WriterOptions describe the archive a Writer builds.
type WriterOptions struct {
	// TileType is the format of every tile.
	TileType TileType
	// TileCompression is how the tile bytes given to Add are already
	// compressed: CompressionNone or CompressionGzip. The Writer stores them
	// as given.
	TileCompression Compression
	// Metadata is the JSON metadata object (name, attribution,
	// vector_layers, ...). Nil writes an empty object.
	Metadata map[string]any
	// Bounds (west, south, east, north in degrees) defaults to the extent
	// of the tiles at the deepest zoom level.
	Bounds *[4]float64
	// Center (longitude, latitude, zoom) defaults to the middle of Bounds at
	// the shallowest zoom level.
	Center *[3]float64
	// MaxRootBytes caps the header plus the compressed root directory;
	// entries move to leaf directories beyond it. Zero means MaxRootBytes,
	// the spec's limit; tests lower it to exercise leaves with few tiles.
	MaxRootBytes int
	// LeafSize is the number of entries per leaf directory to try first;
	// zero means DefaultLeafSize. The Writer grows it until the root fits.
	LeafSize int
}

// Writer collects tiles in memory and writes them as one PMTiles v3 archive:
// clustered (blobs in tile ID order), deduplicated by content hash,
// run-length encoded where consecutive tile IDs share content, with gzip
// compressed directories and metadata and leaf directories when the root
// would exceed the spec's 16 KiB.
type Writer struct {
	opts  WriterOptions
	tiles map[uint64][]byte
}

// NewWriter returns an empty Writer, or an error when opts are inconsistent.
func NewWriter(opts WriterOptions) (*Writer, error) {
	if opts.TileType > TileTypeAVIF {
		return nil, fmt.Errorf("pmtiles writer: unknown tile type %d", opts.TileType)
	}
	switch opts.TileCompression {
	case CompressionNone, CompressionGzip:
	default:
		return nil, fmt.Errorf("pmtiles writer: tile compression %s not supported", opts.TileCompression)
	}
	if opts.MaxRootBytes == 0 {
		opts.MaxRootBytes = MaxRootBytes
	}
	if opts.MaxRootBytes <= HeaderLen {
		return nil, fmt.Errorf("pmtiles writer: MaxRootBytes %d leaves no room after the header", opts.MaxRootBytes)
	}
	if opts.LeafSize <= 0 {
		opts.LeafSize = DefaultLeafSize
	}
	return &Writer{opts: opts, tiles: make(map[uint64][]byte)}, nil
}

// Add records tile z/x/y. The Writer keeps data; the caller must not modify
// it afterwards. Empty tiles are refused, as the spec forbids zero-length
// entries: leave the tile out instead.
func (w *Writer) Add(z, x, y int, data []byte) error {
	if !tileset.ValidTile(z, x, y) {
		return fmt.Errorf("pmtiles writer: tile %d/%d/%d outside the grid", z, x, y)
	}
	if len(data) == 0 {
		return fmt.Errorf("pmtiles writer: tile %d/%d/%d is empty", z, x, y)
	}
	if len(data) > math.MaxUint32 {
		return fmt.Errorf("pmtiles writer: tile %d/%d/%d exceeds 4 GiB", z, x, y)
	}
	id, err := ZxyToID(uint8(z), uint32(x), uint32(y))
	if err != nil {
		return fmt.Errorf("pmtiles writer: %w", err)
	}
	if _, dup := w.tiles[id]; dup {
		return fmt.Errorf("pmtiles writer: tile %d/%d/%d added twice", z, x, y)
	}
	w.tiles[id] = data
	return nil
}

// Len returns the number of tiles added.
func (w *Writer) Len() int { return len(w.tiles) }

// WriteTo writes the archive to out. It implements io.WriterTo.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	if len(w.tiles) == 0 {
		return 0, errors.New("pmtiles writer: no tiles")
	}
	ids := make([]uint64, 0, len(w.tiles))
	for id := range w.tiles {
		ids = append(ids, id)
	}
	slices.Sort(ids)

	var (
		data    bytes.Buffer
		entries []Entry
		seen    = make(map[[sha256.Size]byte]uint64)
	)
	for _, id := range ids {
		blob := w.tiles[id]
		sum := sha256.Sum256(blob)
		off, dup := seen[sum]
		if !dup {
			off = uint64(data.Len())
			seen[sum] = off
			data.Write(blob)
		}
		if n := len(entries); n > 0 {
			last := &entries[n-1]
			if id == last.TileID+uint64(last.RunLength) && last.Offset == off && last.RunLength < math.MaxUint32 {
				last.RunLength++
				continue
			}
		}
		entries = append(entries, Entry{TileID: id, Offset: off, Length: uint32(len(blob)), RunLength: 1})
	}

	root, leaves := w.directories(entries)

	metaObj := w.opts.Metadata
	if metaObj == nil {
		metaObj = map[string]any{}
	}
	metaJSON, err := json.Marshal(metaObj)
	if err != nil {
		return 0, fmt.Errorf("pmtiles writer: encode metadata: %w", err)
	}
	meta := compressGzip(metaJSON)

	minZ, _, _, _ := IDToZxy(ids[0])
	maxZ, _, _, _ := IDToZxy(ids[len(ids)-1])
	bounds := w.opts.Bounds
	if bounds == nil {
		b := w.extent(maxZ)
		bounds = &b
	}
	center := w.opts.Center
	if center == nil {
		c := [3]float64{(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, float64(minZ)}
		center = &c
	}

	var addressed uint64
	for _, e := range entries {
		addressed += uint64(e.RunLength)
	}
	h := Header{
		SpecVersion:         3,
		RootOffset:          HeaderLen,
		RootLength:          uint64(len(root)),
		MetadataOffset:      HeaderLen + uint64(len(root)),
		MetadataLength:      uint64(len(meta)),
		AddressedTilesCount: addressed,
		TileEntriesCount:    uint64(len(entries)),
		TileContentsCount:   uint64(len(seen)),
		Clustered:           true,
		InternalCompression: CompressionGzip,
		TileCompression:     w.opts.TileCompression,
		TileType:            w.opts.TileType,
		MinZoom:             minZ,
		MaxZoom:             maxZ,
		MinLonE7:            degToE7(bounds[0]),
		MinLatE7:            degToE7(bounds[1]),
		MaxLonE7:            degToE7(bounds[2]),
		MaxLatE7:            degToE7(bounds[3]),
		CenterZoom:          uint8(min(max(center[2], 0), 255)),
		CenterLonE7:         degToE7(center[0]),
		CenterLatE7:         degToE7(center[1]),
	}
	h.LeafDirectoryOffset = h.MetadataOffset + h.MetadataLength
	h.LeafDirectoryLength = uint64(len(leaves))
	h.TileDataOffset = h.LeafDirectoryOffset + h.LeafDirectoryLength
	h.TileDataLength = uint64(data.Len())

	var total int64
	for _, part := range [][]byte{h.Encode(), root, meta, leaves, data.Bytes()} {
		n, err := out.Write(part)
		total += int64(n)
		if err != nil {
			return total, fmt.Errorf("pmtiles writer: %w", err)
		}
	}
	return total, nil
}

// directories encodes entries as a root directory, moving them into leaf
// directories when the root would not fit in MaxRootBytes. Leaves grow by a
// fifth per attempt until the root of leaf pointers fits.
func (w *Writer) directories(entries []Entry) (root, leaves []byte) {
	var z gzipper
	root = z.compress(EncodeDirectory(entries))
	if HeaderLen+len(root) <= w.opts.MaxRootBytes {
		return root, nil
	}
	size := w.opts.LeafSize
	for {
		var (
			buf      bytes.Buffer
			pointers []Entry
		)
		for start := 0; start < len(entries); start += size {
			chunk := entries[start:min(start+size, len(entries))]
			leaf := z.compress(EncodeDirectory(chunk))
			pointers = append(pointers, Entry{
				TileID: chunk[0].TileID,
				Offset: uint64(buf.Len()),
				Length: uint32(len(leaf)),
			})
			buf.Write(leaf)
		}
		root = z.compress(EncodeDirectory(pointers))
		if HeaderLen+len(root) <= w.opts.MaxRootBytes || len(pointers) == 1 {
			return root, buf.Bytes()
		}
		size += max(size/5, 1)
	}
}

// extent returns the bounds covered by the tiles at zoom z.
func (w *Writer) extent(z uint8) [4]float64 {
	minX, minY := uint32(math.MaxUint32), uint32(math.MaxUint32)
	var maxX, maxY uint32
	for id := range w.tiles {
		tz, x, y, _ := IDToZxy(id)
		if tz != z {
			continue
		}
		minX, maxX = min(minX, x), max(maxX, x)
		minY, maxY = min(minY, y), max(maxY, y)
	}
	west, north := tileCorner(z, minX, minY)
	east, south := tileCorner(z, maxX+1, maxY+1)
	return [4]float64{west, south, east, north}
}

// tileCorner returns the longitude and latitude of the north-west corner of
// tile z/x/y in Web Mercator.
func tileCorner(z uint8, x, y uint32) (lon, lat float64) {
	n := math.Exp2(float64(z))
	lon = float64(x)/n*360 - 180
	lat = math.Atan(math.Sinh(math.Pi*(1-2*float64(y)/n))) * 180 / math.Pi
	return lon, lat
}

// Write builds an archive of tiles with opts and writes it to out.
func Write(out io.Writer, tiles []Tile, opts WriterOptions) error {
	w, err := NewWriter(opts)
	if err != nil {
		return err
	}
	for _, t := range tiles {
		if err := w.Add(t.Z, t.X, t.Y, t.Data); err != nil {
			return err
		}
	}
	_, err = w.WriteTo(out)
	return err
}
