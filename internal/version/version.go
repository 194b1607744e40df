// Package version reports the build's version, set at link time with
// -ldflags "-X github.com/mapwright/mapwright/internal/version.Version=v1.2.3"
// and otherwise read from the module's build information.
package version

import (
	"runtime"
	"runtime/debug"
)

// Version is the release version; empty means "read from build info".
var Version = ""

// String returns the version of this binary: the link-time Version, else the
// main module's version, else "devel".
func String() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// GoVersion is the Go toolchain that built this binary.
func GoVersion() string { return runtime.Version() }
