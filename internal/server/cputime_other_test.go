//go:build !linux

package server

import "time"

var processStart = time.Now()

// processCPU falls back to wall time where CPU time is not read.
func processCPU() time.Duration { return time.Since(processStart) }
