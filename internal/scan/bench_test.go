package scan

import (
	"bytes"
	"context"
	"os/exec"
	"testing"

	"github.com/mapwright/mapwright/internal/scan/benchcorpus"
)

// BenchmarkScanFiles scans 128 MiB of mixed files (source, JSON, logs,
// minified JavaScript, binaries) with the default options. After the first
// round the files are in the page cache, so this measures the scanner, not
// the disk. scripts/scan-bench.sh measures the command over 1 GiB.
func BenchmarkScanFiles(b *testing.B) {
	dir := b.TempDir()
	sum, err := benchcorpus.Tree(dir, 128<<20, 7)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(sum.Bytes)
	b.ResetTimer()
	for b.Loop() {
		res, err := Scan(context.Background(), Options{Paths: []string{dir}, MaxArchiveDepth: DefaultMaxArchiveDepth})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Keys) != sum.Keys || res.InvalidCount != int64(sum.LookAlikes) {
			b.Fatalf("found %d keys and %d look-alikes, planted %d and %d", len(res.Keys), res.InvalidCount, sum.Keys, sum.LookAlikes)
		}
	}
}

// BenchmarkStreamer scans 64 MiB of source text held in memory with one
// streamer: the per-core speed of the engine without file system costs.
func BenchmarkStreamer(b *testing.B) {
	data := benchcorpus.Code(64<<20, 3)
	s := newStreamer(DefaultChunkSize, false, func(*source, hit, bool) {})
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := s.scan(context.Background(), bytes.NewReader(data), &source{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanHistory scans a git history of about 32 MiB of blobs.
func BenchmarkScanHistory(b *testing.B) {
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("git not installed")
	}
	dir := b.TempDir()
	sum, err := benchcorpus.History(context.Background(), dir, 32<<20, 5)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(sum.Bytes)
	b.ResetTimer()
	for b.Loop() {
		res, err := Scan(context.Background(), Options{Paths: []string{dir}, Git: true})
		if err != nil {
			b.Fatal(err)
		}
		if res.Stats.Bytes != sum.Bytes {
			b.Fatalf("scanned %d blob bytes, wrote %d", res.Stats.Bytes, sum.Bytes)
		}
	}
}
