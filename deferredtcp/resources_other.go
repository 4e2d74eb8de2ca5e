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
