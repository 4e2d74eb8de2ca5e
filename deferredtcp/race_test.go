//go:build race

package deferredtcp_test

// raceEnabled: the race detector makes sync.Pool drop some of what is put
// in it, so tests that count allocations skip.
const raceEnabled = true
