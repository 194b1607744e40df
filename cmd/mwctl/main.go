// Command mwctl is Mapwright's operator CLI and dashboard. See `mwctl
// --help` and man page mwctl(1).
package main

import (
	"os"

	"github.com/mapwright/mapwright/internal/cli"
)

func main() { os.Exit(cli.Main()) }
