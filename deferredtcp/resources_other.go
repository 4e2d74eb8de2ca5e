//go:build !linux

package deferredtcp

// listenerCloser returns what closes io's socket, referring to nothing but
// the socket (see resources).
func listenerCloser(io listenerIO) func() {
	if p, ok := io.(*portableListener); ok {
		nl := p.nl
		return func() { nl.Close() }
	}
	return nil
}

// attemptCloser is listenerCloser for a connection attempt in progress: a
// portable dial's goroutine and net's finalizers see to it.
func attemptCloser(any) func() { return nil }

// connCloser is listenerCloser for a connection.
func connCloser(io connIO) func() {
	if p, ok := io.(*portableConn); ok {
		nc := p.nc
		return func() { nc.Close() }
	}
	return nil
}
