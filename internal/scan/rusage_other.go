//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package scan

// peakRSS is not measured on this system.
func peakRSS() int64 { return 0 }
