// Command mapwrightd is Mapwright's tile server daemon. See `mapwrightd
// --help` and man page mapwrightd(8).
package main

import (
	"os"

	"github.com/mapwright/mapwright/internal/daemon"
)

func main() { os.Exit(daemon.Main()) }
