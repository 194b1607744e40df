//go:build !race

package demo_test

// raceEnabled reports whether the race detector is on; it slows the full
// rebuild twentyfold.
const raceEnabled = false
