//go:build linux

package deferredtcp

import "golang.org/x/sys/unix"

// listenerCloser returns what closes io's socket, referring to nothing but
// the socket (see resources).
func listenerCloser(io listenerIO) func() {
	switch io := io.(type) {
	case *epollListener:
		fd := io.fd
		return func() { unix.Close(fd) }
	case *portableListener:
		nl := io.nl
		return func() { nl.Close() }
	}
	return nil
}
