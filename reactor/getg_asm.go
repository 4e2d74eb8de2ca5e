//go:build amd64 || arm64

package reactor

// getg returns the address of the calling goroutine's runtime descriptor: a
// value no other live goroutine shares, read in a nanosecond (the goroutine's
// id, which the runtime does not expose, costs a stack trace). It is only
// compared, never dereferenced.
func getg() uintptr
