// Command gen rebuilds the demo tileset from the Natural Earth countries
// topology:
//
//	go run ./internal/demo/gen -src internal/demo/source/countries-50m.json -out internal/demo/countries.pmtiles
//
// The output is byte-for-byte reproducible; a test in package demo fails when
// the committed archive no longer matches what this command writes.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/mapwright/mapwright/internal/demo/builder"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	src := fs.String("src", "", "TopoJSON topology with a \"countries\" object (required)")
	out := fs.String("out", "", "PMTiles archive to write (required)")
	var opts builder.Options
	fs.IntVar(&opts.MinZoom, "minzoom", 0, "shallowest zoom level")
	fs.IntVar(&opts.MaxZoom, "maxzoom", builder.DefaultMaxZoom, "deepest zoom level")
	fs.Float64Var(&opts.Tolerance, "tolerance", builder.DefaultTolerance, "simplification tolerance in tile units (of 4096)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *src == "" || *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: gen -src TOPOLOGY.json -out TILESET.pmtiles [-minzoom N] [-maxzoom N] [-tolerance T]")
		return 2
	}
	start := time.Now()
	stats, err := build(ctx, *src, *out, opts)
	if err != nil {
		fmt.Fprintf(stderr, "gen: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s: %d bytes, %d countries, %d tiles in %s\n",
		*out, stats.ArchiveBytes, stats.Features, stats.Tiles(), time.Since(start).Round(time.Millisecond))
	for z, n := range stats.TilesPerZoom {
		if z >= opts.MinZoom {
			fmt.Fprintf(stdout, "  z%d: %d tiles\n", z, n)
		}
	}
	return 0
}

// build writes the archive to a temporary file beside out and renames it
// into place, so that a failed build never leaves a truncated tileset.
func build(ctx context.Context, src, out string, opts builder.Options) (builder.Stats, error) {
	data, err := os.ReadFile(src)
	if err != nil {
		return builder.Stats{}, fmt.Errorf("read source: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".gen-*.pmtiles")
	if err != nil {
		return builder.Stats{}, fmt.Errorf("create output: %w", err)
	}
	defer os.Remove(tmp.Name())
	stats, err := builder.Build(ctx, data, tmp, opts)
	if err != nil {
		tmp.Close()
		return stats, fmt.Errorf("build %s: %w", src, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return stats, fmt.Errorf("write %s: %w", out, err)
	}
	if err := tmp.Close(); err != nil {
		return stats, fmt.Errorf("write %s: %w", out, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return stats, fmt.Errorf("write %s: %w", out, err)
	}
	return stats, nil
}
