package daemon

import "errors"

// Errors that map to exit codes in Main.
var (
	// errUsage: bad flags, arguments or configuration (exit 2).
	errUsage = errors.New("usage")
	// errUnsafeDataDir: the data directory is missing pieces, damaged or
	// open to others; the daemon refuses to start rather than touch it
	// (exit 3).
	errUnsafeDataDir = errors.New("refusing the data directory")
)
