package deferredtcp

import (
	"net"
	"time"
)

// An Option configures [Listen], [ListenGroup] or [Connect], and the
// connections they make.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	backlog     int
	reusePort   bool
	timeout     time.Duration
	bind        net.Addr
	high, low   int
	readSize    int
	maxWriteBuf int
	maxConns    int
	noDelay     bool

	handshakeTimeout time.Duration
}

// Defaults, as Twisted's (backlog, connect timeout) and Netty's (watermarks);
// the write buffer's bound is twist's own.
const (
	DefaultBacklog        = 50
	DefaultConnectTimeout = 30 * time.Second
	DefaultHighWatermark  = 64 << 10
	DefaultLowWatermark   = 32 << 10
	DefaultReadBufferSize = 64 << 10
	DefaultMaxWriteBuffer = 64 << 20
)

// The largest values the size options take: a larger value is clamped to
// it, so that no option makes the library allocate more than a process can
// hold (WithReadBufferSize(1 << 40) used to end the program with "out of
// memory").
const (
	// MaxBacklog bounds [WithBacklog]. The kernel also caps the backlog,
	// at net.core.somaxconn on Linux.
	MaxBacklog = 65535
	// MaxReadBufferSize bounds [WithReadBufferSize]: 4 MiB, more than a
	// socket's receive buffer holds by default, so one read never needs
	// more.
	MaxReadBufferSize = 4 << 20
	// MinReadBufferSize is the smallest [WithReadBufferSize].
	MinReadBufferSize = 512
	// MaxWriteBufferLimit bounds [WithMaxWriteBuffer], and so
	// [WithWatermarks]' high watermark: 1 GiB.
	MaxWriteBufferLimit = 1 << 30
)

func newConfig(opts []Option) config {
	c := config{
		backlog:     DefaultBacklog,
		timeout:     DefaultConnectTimeout,
		high:        DefaultHighWatermark,
		low:         DefaultLowWatermark,
		readSize:    DefaultReadBufferSize,
		maxWriteBuf: DefaultMaxWriteBuffer,
		noDelay:     true,

		handshakeTimeout: DefaultHandshakeTimeout,
	}
	for _, o := range opts {
		o.apply(&c)
	}
	c.backlog = min(max(c.backlog, 0), MaxBacklog)
	if c.maxWriteBuf <= 0 || c.maxWriteBuf > MaxWriteBufferLimit {
		c.maxWriteBuf = MaxWriteBufferLimit
	}
	c.high = min(max(c.high, 1), c.maxWriteBuf)
	c.low = min(max(c.low, 0), c.high)
	c.readSize = min(max(c.readSize, MinReadBufferSize), MaxReadBufferSize)
	return c
}

// WithBacklog sets the listen backlog: how many connections the kernel queues
// before they are accepted. The default is 50, as in Twisted; n is clamped to
// [0, [MaxBacklog]]. The portable backend leaves the backlog to the net
// package (the system's somaxconn).
func WithBacklog(n int) Option {
	return optionFunc(func(c *config) { c.backlog = n })
}

// WithReusePort sets SO_REUSEPORT on the listening socket (Linux), so several
// sockets, typically one per loop of a [reactor.Group], can share an address
// and the kernel spreads connections over them. Off by default.
func WithReusePort(on bool) Option {
	return optionFunc(func(c *config) { c.reusePort = on })
}

// WithTimeout bounds how long [Connect] waits for the connection; past it the
// Deferred fails with an error whose Timeout method reports true. The default
// is 30 seconds, as Twisted's connectTCP; d <= 0 means no timeout.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.timeout = d })
}

// WithBindAddress makes [Connect] bind its socket to addr (a *net.TCPAddr or
// *net.UnixAddr) before connecting (Twisted's bindAddress). By default the
// system picks the local address.
func WithBindAddress(addr net.Addr) Option {
	return optionFunc(func(c *config) { c.bind = addr })
}

// WithWatermarks sets the write buffer's watermarks: a [Conn.Write] whose
// bytes leave more than high bytes buffered returns a Deferred that fires only
// once the buffer has drained to low or below. The defaults are 64 KiB and
// 32 KiB, as in Twisted and Netty. high is clamped to [1, the write buffer's
// bound] (see [WithMaxWriteBuffer]), and low to [0, high].
func WithWatermarks(high, low int) Option {
	return optionFunc(func(c *config) { c.high, c.low = high, low })
}

// WithReadBufferSize sets how many bytes a connection reads from its socket at
// once, and how many it queues, while no read is pending, before it stops
// reading so that TCP flow control pushes back on the peer. The default is
// 64 KiB; n is clamped to [[MinReadBufferSize], [MaxReadBufferSize]]
// (512 bytes to 4 MiB).
func WithReadBufferSize(n int) Option {
	return optionFunc(func(c *config) { c.readSize = n })
}

// WithMaxWriteBuffer bounds a connection's write buffer: a [Conn.Write] or
// [Conn.Send] whose bytes, added to those already buffered, exceed n fails
// with [ErrWriteBufferFull], writing nothing, and aborts the connection with
// that reason (its stream would miss bytes otherwise), rather than letting
// a writer that does not wait on Write's Deferred, with a peer that stops
// reading, run the process out of memory. Writers that wait on Write never
// get near it, unless one write alone is that large. The default is
// [DefaultMaxWriteBuffer], 64 MiB; n <= 0, or n above
// [MaxWriteBufferLimit], means that limit, 1 GiB.
func WithMaxWriteBuffer(n int) Option {
	return optionFunc(func(c *config) { c.maxWriteBuf = n })
}

// WithNoDelay sets TCP_NODELAY on the connections (as [Conn.SetNoDelay]
// does). The default is true, as in Go's net package: writes go out at once,
// without Nagle's delay.
func WithNoDelay(on bool) Option {
	return optionFunc(func(c *config) { c.noDelay = on })
}

// WithMaxConnections makes a [Listener] stop accepting while n connections
// it accepted are open, and accept again as soon as one closes, as
// golang.org/x/net/netutil.LimitListener does: the connections beyond n
// wait in the kernel's backlog (see [WithBacklog]) instead of being
// accepted and dropped. The default, 0, means no limit; the limit is per
// Listener (per loop for [ListenGroup]). n is a count, not a size: any n is
// accepted, and none makes the Listener allocate anything.
func WithMaxConnections(n int) Option {
	return optionFunc(func(c *config) { c.maxConns = n })
}
