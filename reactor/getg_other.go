//go:build !amd64 && !arm64

package reactor

// getg identifies the calling goroutine; on this architecture by its id,
// read from its stack (a microsecond or so).
func getg() uintptr { return uintptr(goid()) }
