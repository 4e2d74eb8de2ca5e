//go:build unix

package deferredtcp

import (
	"io"
	"os"
	"syscall"

	"github.com/twistgo/twist/deferredtcp/internal/bufpool"
)

// useRawReads makes a plain connection (TCP, Unix) read through its
// syscall.RawConn: the Go poller tells when the socket is readable, and only
// then does the reader take a buffer.
func (p *portableConn) useRawReads() {
	sc, ok := p.nc.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	p.raw, p.rawReadFn = raw, p.rawRead
}

// rawRead reads a chunk from fd; it returns false, holding no buffer, while
// the socket has nothing to read, so that the poller waits for it.
func (p *portableConn) rawRead(fd uintptr) bool {
	p.buf = bufpool.Make(p.readSize)
	for {
		n, err := syscall.Read(int(fd), p.buf)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			p.releaseBuf()
			return false
		case err != nil:
			p.n, p.rerr = 0, os.NewSyscallError("read", err)
		case n == 0:
			p.n, p.rerr = 0, io.EOF
		default:
			p.n, p.rerr = n, nil
		}
		return true
	}
}
