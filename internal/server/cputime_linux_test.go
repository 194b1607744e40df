//go:build linux

package server

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time the process has used, user plus system.
// Benchmarks compare it rather than wall time so that other load on the
// machine does not blur the comparison.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
