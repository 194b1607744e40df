// Command gendocs regenerates the committed shell completions
// (completions/) and man pages (man/) of mwctl (section 1) and mapwrightd
// (section 8) at the module root:
//
//	go run ./internal/cli/gendocs
//
// Tests of packages cli and daemon fail when the committed files differ
// from what this writes.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mapwright/mapwright/internal/cli"
	"github.com/mapwright/mapwright/internal/cli/docgen"
	"github.com/mapwright/mapwright/internal/cli/iostreams"
	"github.com/mapwright/mapwright/internal/daemon"
)

func main() {
	dir := flag.String("dir", "", "directory to write completions/ and man/ into (default: the module root)")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintf(os.Stderr, "gendocs: %v\n", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			return err
		}
		dir = root
	}
	ios, _, _, _ := iostreams.Test()
	return docgen.GenerateDocs(dir, append(cli.DocRoots(ios), daemon.DocRoot())...)
}

// moduleRoot walks up from the working directory to the directory holding
// go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory; pass -dir")
		}
		dir = parent
	}
}
