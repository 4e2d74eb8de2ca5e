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

// attemptCloser is listenerCloser for a connection attempt in progress.
func attemptCloser(io any) func() {
	if e, ok := io.(*epollAttempt); ok && e.fd >= 0 {
		fd := e.fd
		return func() { unix.Close(fd) }
	}
	return nil // a portable dial: its goroutine and net's finalizers see to it
}

// connCloser is listenerCloser for a connection.
func connCloser(io connIO) func() {
	switch io := io.(type) {
	case *epollConn:
		if fd := int(io.fd); fd >= 0 {
			return func() { unix.Close(fd) }
		}
	case *portableConn:
		nc := io.nc
		return func() { nc.Close() }
	}
	return nil
}
