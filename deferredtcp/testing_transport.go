package deferredtcp

import (
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/twistgo/twist/reactor"
)

// Pipe returns two connected [Conn]s served by r, with no socket under
// them: what one writes, the other reads, with the same semantics as a TCP
// connection (half-close, EOF, backpressure through a 64 KiB in-memory
// buffer per direction). Use it to test chain-style code and protocols
// (with [ServeProtocol]) without the network. They run on the portable I/O
// path, with goroutines, whatever r's backend; their addresses are
// "pipe:a" and "pipe:b". opts are the connection options of [Listen]
// ([WithWatermarks], [WithReadBufferSize], ...). Loop goroutine only (or
// before Run).
func Pipe(r *reactor.Reactor, opts ...Option) (a, b *Conn) {
	cfg := newConfig(opts)
	lp := loopFor(r)
	na, nb := memPipe()
	return newPortableConn(lp, "pipe", na, &cfg), newPortableConn(lp, "pipe", nb, &cfg)
}

// memPipeSize bounds what one direction of a Pipe buffers: past it the
// writer blocks until the reader reads.
const memPipeSize = 64 << 10

// memPipe returns the two ends of an in-memory, buffered, half-closeable
// stream, as net.Conns.
func memPipe() (a, b *memConn) {
	ab, ba := newMemBuf(), newMemBuf()
	a = &memConn{r: ba, w: ab, local: pipeAddr("pipe:a"), remote: pipeAddr("pipe:b")}
	b = &memConn{r: ab, w: ba, local: pipeAddr("pipe:b"), remote: pipeAddr("pipe:a")}
	return a, b
}

type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }

// memBuf is one direction of a memPipe.
type memBuf struct {
	mu       sync.Mutex
	cond     sync.Cond
	buf      []byte
	eof      bool // the writer closed: reads drain buf then get io.EOF
	readGone bool // the reader closed: writes fail
}

func newMemBuf() *memBuf {
	m := &memBuf{}
	m.cond.L = &m.mu
	return m
}

// memConn is one end of a memPipe.
type memConn struct {
	r, w          *memBuf
	local, remote net.Addr
	closeOnce     sync.Once
}

func (c *memConn) Read(p []byte) (int, error) {
	m := c.r
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.buf) == 0 && !m.eof && !m.readGone {
		m.cond.Wait()
	}
	if m.readGone {
		return 0, net.ErrClosed
	}
	if len(m.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, m.buf)
	m.buf = m.buf[n:]
	if len(m.buf) == 0 {
		m.buf = nil
	}
	m.cond.Broadcast()
	return n, nil
}

func (c *memConn) Write(p []byte) (int, error) {
	m := c.w
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for len(p) > 0 {
		for len(m.buf) >= memPipeSize && !m.readGone && !m.eof {
			m.cond.Wait()
		}
		if m.eof {
			return n, net.ErrClosed
		}
		if m.readGone {
			return n, io.ErrClosedPipe
		}
		k := min(len(p), memPipeSize-len(m.buf))
		m.buf = append(m.buf, p[:k]...)
		p, n = p[k:], n+k
		m.cond.Broadcast()
	}
	return n, nil
}

// CloseWrite makes the peer read EOF once it has read what was written.
func (c *memConn) CloseWrite() error {
	m := c.w
	m.mu.Lock()
	m.eof = true
	m.cond.Broadcast()
	m.mu.Unlock()
	return nil
}

func (c *memConn) Close() error {
	c.closeOnce.Do(func() {
		c.CloseWrite()
		m := c.r
		m.mu.Lock()
		m.readGone = true
		m.buf = nil
		m.cond.Broadcast()
		m.mu.Unlock()
	})
	return nil
}

func (c *memConn) LocalAddr() net.Addr                { return c.local }
func (c *memConn) RemoteAddr() net.Addr               { return c.remote }
func (c *memConn) SetDeadline(t time.Time) error      { return os.ErrNoDeadline }
func (c *memConn) SetReadDeadline(t time.Time) error  { return os.ErrNoDeadline }
func (c *memConn) SetWriteDeadline(t time.Time) error { return os.ErrNoDeadline }
