// Command mkcorpus writes a corpus for measuring mwctl scan: a tree of
// mixed files or a git history (see package benchcorpus).
//
//	go run ./internal/scan/benchcorpus/mkcorpus -out DIR -size 1024
//	go run ./internal/scan/benchcorpus/mkcorpus -out DIR -size 200 -git
//
// It prints "files BYTES keys" on standard output; never a token.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/mapwright/mapwright/internal/scan/benchcorpus"
)

func main() {
	out := flag.String("out", "", "directory to create")
	size := flag.Int64("size", 1024, "approximate size in MiB")
	git := flag.Bool("git", false, "write a git history instead of a tree of files")
	seed := flag.Uint64("seed", 1, "random seed of the content (keys are random anyway)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "mkcorpus: -out is required")
		os.Exit(2)
	}
	var s benchcorpus.Summary
	var err error
	if *git {
		s, err = benchcorpus.History(context.Background(), *out, *size<<20, *seed)
	} else {
		s, err = benchcorpus.Tree(*out, *size<<20, *seed)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mkcorpus: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d %d %d\n", s.Files, s.Bytes, s.Keys)
}
