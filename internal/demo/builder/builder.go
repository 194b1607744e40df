// Package builder turns the Natural Earth countries topology into the demo
// vector tileset: gzipped vector tiles (MVT) in one PMTiles archive, written
// by the project's own PMTiles writer.
//
// The output depends only on the input bytes and the options: features keep
// the source's order, tiles are generated into fixed slots whatever the
// number of workers, gzip runs at a fixed level with an empty header, and the
// metadata is encoded with sorted keys. Rebuilding from the same source
// therefore reproduces the committed archive byte for byte.
package builder

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"

	"github.com/paulmach/orb"
	"golang.org/x/sync/errgroup"

	"github.com/mapwright/mapwright/internal/demo/topojson"
	"github.com/mapwright/mapwright/internal/tiles/pmtiles"
)

// Identity of the tileset the builder writes.
const (
	// Name is the tileset's name in its metadata.
	Name = "countries"
	// LayerName is the one vector layer of every tile. Its features carry a
	// single string property, "name", the country's name.
	LayerName = "countries"
	// Attribution is the HTML attribution a map shows for the data.
	Attribution = `<a href="https://www.naturalearthdata.com/">Natural Earth</a> (public domain)`
	// Description says what the tileset holds.
	Description = "Countries of the world (Natural Earth 1:50m Admin 0, version 4.1.0), one polygon feature per country with its name."
	// SourceObject is the object of the topology the countries are read from.
	SourceObject = "countries"
)

// Tile geometry.
const (
	// Extent is the number of integer units across a tile.
	Extent = 4096
	// Buffer is how far, in tile units, geometry runs past each tile edge,
	// so that renderers draw no seams at tile borders.
	Buffer = 64
)

// Defaults of Options.
const (
	// DefaultMaxZoom is the deepest zoom level built: at zoom 5 a tile unit
	// is already finer than the 1:50m source's detail.
	DefaultMaxZoom = 5
	// DefaultTolerance is the simplification tolerance in tile units: a
	// point closer than this to the simplified line is dropped.
	DefaultTolerance = 1.0
)

// Options control a build. The zero value builds zoom 0 to DefaultMaxZoom
// with DefaultTolerance on every CPU.
type Options struct {
	// MinZoom and MaxZoom bound the zoom levels generated. MaxZoom zero
	// means DefaultMaxZoom.
	MinZoom, MaxZoom int
	// Tolerance is the simplification tolerance in tile units; zero means
	// DefaultTolerance.
	Tolerance float64
	// Workers is the number of tiles encoded in parallel; zero means one
	// per CPU. It does not change the output.
	Workers int
}

// Stats describes a finished build.
type Stats struct {
	// Features is the number of countries read from the source.
	Features int
	// TilesPerZoom counts the non-empty tiles generated at each zoom level,
	// indexed by zoom.
	TilesPerZoom []int
	// TileBytes is the total size of the gzipped tiles, before the archive
	// deduplicates identical ones.
	TileBytes int64
	// ArchiveBytes is the size of the archive written.
	ArchiveBytes int64
}

// Tiles returns the count of tiles over all zoom levels.
func (s Stats) Tiles() int {
	var n int
	for _, c := range s.TilesPerZoom {
		n += c
	}
	return n
}

func (o Options) withDefaults() (Options, error) {
	if o.MaxZoom == 0 {
		o.MaxZoom = DefaultMaxZoom
	}
	if o.Tolerance == 0 {
		o.Tolerance = DefaultTolerance
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	// Zoom 12 already means 16 million tiles; the demo stops far earlier.
	if o.MinZoom < 0 || o.MaxZoom > 12 || o.MinZoom > o.MaxZoom {
		return o, fmt.Errorf("zoom range %d..%d: %w", o.MinZoom, o.MaxZoom, ErrOptions)
	}
	if o.Tolerance < 0 {
		return o, fmt.Errorf("tolerance %g: %w", o.Tolerance, ErrOptions)
	}
	return o, nil
}

// Build reads a TopoJSON topology with a "countries" object of polygons,
// tiles it and writes the PMTiles archive to out.
func Build(ctx context.Context, topoJSON []byte, out io.Writer, opts Options) (Stats, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return Stats{}, err
	}
	topo, err := topojson.Decode(topoJSON)
	if err != nil {
		return Stats{}, fmt.Errorf("decode topology: %w", err)
	}
	src, err := topo.Features(SourceObject)
	if err != nil {
		return Stats{}, fmt.Errorf("read countries: %w", err)
	}
	for i, f := range src {
		switch f.Geometry.(type) {
		case orb.Polygon, orb.MultiPolygon, nil:
		default:
			return Stats{}, fmt.Errorf("country %d (%v): %w: %T", i, f.Properties["name"], ErrNotPolygon, f.Geometry)
		}
	}
	stats := Stats{Features: len(src), TilesPerZoom: make([]int, opts.MaxZoom+1)}
	w, err := pmtiles.NewWriter(writerOptions(opts))
	if err != nil {
		return Stats{}, fmt.Errorf("pmtiles writer: %w", err)
	}
	for z := opts.MinZoom; z <= opts.MaxZoom; z++ {
		features, err := zoomFeatures(topo, z, opts.Tolerance)
		if err != nil {
			return Stats{}, fmt.Errorf("zoom %d: %w", z, err)
		}
		tiles, err := encodeZoom(ctx, features, z, opts.Workers)
		if err != nil {
			return Stats{}, fmt.Errorf("zoom %d: %w", z, err)
		}
		n := 1 << z
		for i, data := range tiles {
			if data == nil {
				continue
			}
			if err := w.Add(z, i%n, i/n, data); err != nil {
				return Stats{}, fmt.Errorf("zoom %d: %w", z, err)
			}
			stats.TilesPerZoom[z]++
			stats.TileBytes += int64(len(data))
		}
		if stats.TilesPerZoom[z] == 0 {
			return Stats{}, fmt.Errorf("zoom %d: %w", z, ErrNoTiles)
		}
	}
	// The archive is assembled in memory first so that a failure leaves
	// out untouched by a partial file.
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return Stats{}, fmt.Errorf("write archive: %w", err)
	}
	n, err := buf.WriteTo(out)
	stats.ArchiveBytes = n
	if err != nil {
		return stats, fmt.Errorf("write archive: %w", err)
	}
	return stats, nil
}

// writerOptions describes the archive: gzipped vector tiles of one layer
// over the whole Mercator world.
func writerOptions(opts Options) pmtiles.WriterOptions {
	return pmtiles.WriterOptions{
		TileType:        pmtiles.TileTypeMVT,
		TileCompression: pmtiles.CompressionGzip,
		Bounds:          &[4]float64{-180, -maxMercatorLat, 180, maxMercatorLat},
		Center:          &[3]float64{0, 20, 1},
		Metadata: map[string]any{
			"name":        Name,
			"description": Description,
			"attribution": Attribution,
			"type":        "baselayer",
			"format":      "pbf",
			"minzoom":     opts.MinZoom,
			"maxzoom":     opts.MaxZoom,
			"vector_layers": []map[string]any{{
				"id":          LayerName,
				"description": "Country polygons",
				"fields":      map[string]string{"name": "String"},
				"minzoom":     opts.MinZoom,
				"maxzoom":     opts.MaxZoom,
			}},
		},
	}
}

// zoomFeatures simplifies the topology's arcs for zoom z and assembles the
// countries from them in world coordinates. Simplifying the shared arcs,
// rather than each country's rings, keeps neighbours' borders identical.
func zoomFeatures(topo *topojson.Topology, z int, tolerance float64) ([]worldFeature, error) {
	tol := tolerance / Extent / float64(uint64(1)<<z)
	arcs := make([]orb.LineString, len(topo.Arcs))
	for i, a := range topo.Arcs {
		world := make(orb.LineString, len(a))
		for j, p := range a {
			world[j] = project(p)
		}
		arcs[i] = simplifyArc(a, world, tol)
	}
	simple, err := topo.WithArcs(arcs)
	if err != nil {
		return nil, fmt.Errorf("simplify arcs: %w", err)
	}
	src, err := simple.Features(SourceObject)
	if err != nil {
		return nil, fmt.Errorf("read countries: %w", err)
	}
	out := make([]worldFeature, 0, len(src))
	for _, f := range src {
		var polys orb.MultiPolygon
		switch g := f.Geometry.(type) {
		case orb.Polygon:
			polys = orb.MultiPolygon{g}
		case orb.MultiPolygon:
			polys = g
		}
		name, _ := f.Properties["name"].(string)
		wf := worldFeature{name: name}
		for _, p := range polys {
			for _, wp := range toWorld(p) {
				if len(wf.polygons) == 0 {
					wf.bound = wp.bound
				} else {
					wf.bound = wf.bound.Union(wp.bound)
				}
				wf.polygons = append(wf.polygons, wp)
			}
		}
		if len(wf.polygons) > 0 {
			out = append(out, wf)
		}
	}
	return out, nil
}

// encodeZoom encodes every tile of zoom z, in parallel, into a slice indexed
// by y*2^z+x; empty tiles stay nil.
func encodeZoom(ctx context.Context, features []worldFeature, z, workers int) ([][]byte, error) {
	n := 1 << z
	tiles := make([][]byte, n*n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i := range tiles {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			data, err := encodeTile(features, z, i%n, i/n)
			if err != nil {
				return err
			}
			tiles[i] = data
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return tiles, nil
}
