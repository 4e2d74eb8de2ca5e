package deferredtcp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp/internal/bufpool"
	"github.com/twistgo/twist/deferredtcp/internal/framing"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// Conn is a TCP or Unix stream connection whose reads and writes are
// Deferreds, served by one reactor: every callback of its Deferreds, and its
// [Conn.OnData] handler, runs on that reactor's loop goroutine.
//
// Reading: one of [Conn.Read], [Conn.ReadFull] and [Conn.ReadUntil] may be
// pending at a time, or an [Conn.OnData] handler may take every chunk as it
// arrives. Bytes that arrive while no read is pending are queued; past the
// read buffer size (64 KiB by default) the connection stops reading from its
// socket, so that TCP flow control pushes back on the peer.
//
// Writing: [Conn.Write] writes what the socket takes at once and copies the
// rest into the connection's write buffer; its Deferred fires once the
// buffer is at most at the high watermark, so a chain that waits on each
// Write keeps memory bounded however slow the peer.
//
// Chains that loop: a read the queued bytes can serve, and a Write that
// leaves the buffer under the high watermark, return a Deferred that has
// fired already, so that a step added to it runs at once, before
// AddCallback returns, as in Twisted. A chain that loops through them
// ("read the next line in this line's callback", "write the next line once
// this Write fired") would then run each step a few stack frames deeper than
// the last, without bound (Twisted's own stack overflows there). So the
// connections of a loop hand out at most 8 fired Deferreds per turn of the
// loop: the handling of one event of a connection (bytes read, bytes
// written), or, for calls made from anywhere else (a timer, a Serve
// handler), one iteration of the loop. Past that, Read, ReadFull, ReadUntil
// and Write return Deferreds that fire, in order, at the start of the loop's
// next iteration; a loop of any length runs in constant stack, and other
// connections and timers get their turns meanwhile. (Netty bounds its
// promises' inline notification at the same depth.) A read held that way is
// pending until it fires, as any read that waits for bytes: wait for it
// before the next read.
//
// Every method is to be called on the loop goroutine (from a callback), or,
// for a Conn just returned to a goroutine that has not started the reactor
// yet, by the goroutine that will call Run. The Deferreds it returns may be
// waited on from other goroutines, with [deferred.Deferred.Wait].
type Conn struct {
	loop    *loop // its r is the Loop
	io      connIO
	network string
	raddr   net.Addr

	high, low, readSize, maxWriteBuf int

	reason error // why the connection closed (or is closing); nil when clean

	// Read side.
	in         []byte
	inOff      int
	rd         readReq
	onData     func([]byte)
	onEOF      func()
	cancelRead func(*deferred.Deferred[[]byte])

	// Write side.
	out     []byte
	outOff  int
	waiters []writeWaiter

	// The state and the flags of both sides, together so that they share
	// a word.
	state   connState
	eof     bool // the peer has closed its side
	reading bool // read interest is registered
	writing bool // out[outOff:] is being written by the portable writer
	shutWr  bool // CloseWrite was called
	wrDown  bool // the write side is shut down
	due     bool // queued on the loop's relay: Deferreds wait for its next turn

	x *connExtra // nil until the connection uses any of it

	prev, next *Conn // the loop's list of connections

	// listener accepted the connection and counts it against
	// WithMaxConnections until it closes.
	listener *Listener

	// owner, when set, is the layer over the Conn (the Protocol adapter's
	// transport, the TLS layer) and hears of its write buffer draining and
	// of its loss without a Deferred per event.
	owner connOwner
}

// connExtra is the part of a Conn that most connections of a busy server
// never use: subscriptions to its closing, the idle timeout, its local
// address once asked for. A Conn makes it when first
// asked for any of these, so that an idle connection costs less memory.
type connExtra struct {
	laddr net.Addr

	closeWaiters []*deferred.Deferred[struct{}]
	lostWaiters  waitList[struct{}]

	idle       time.Duration
	idleCall   *reactor.DelayedCall
	lastActive time.Time
	onIdle     func() IdleAction
}

// extra returns c's connExtra, making it if need be.
func (c *Conn) extra() *connExtra {
	if c.x == nil {
		c.x = new(connExtra)
	}
	return c.x
}

// connOwner is told what happens to a Conn by the Conn itself, on the loop.
type connOwner interface {
	// drained: a write left the buffer at or below the low watermark.
	drained()
	// lost: the connection closed, for reason (nil when clean), after
	// everything else waiting on it was told.
	lost(reason error)
}

type connState uint8

const (
	connOpen    connState = iota
	connClosing           // Close called: flushing, then closing
	connClosed
)

type readKind uint8

const (
	readNone readKind = iota
	readAny
	readFull
	readUntil
)

// readReq is the pending read.
type readReq struct {
	kind readKind
	// soon: the read waits for the relay's next turn rather than for
	// bytes (the queue may already serve it).
	soon    bool
	n       int    // readFull: byte count; readUntil: max line length
	delim   []byte // readUntil
	scanned int    // readUntil: queued bytes already searched for delim
	d       *deferred.Deferred[[]byte]
}

type writeWaiter struct {
	d *deferred.Deferred[int]
	n int
	// ready: the write left the buffer at most at the high watermark, so
	// its Deferred only waits for the relay's next turn. Ready waiters
	// come first in Conn.waiters.
	ready bool
}

// connIO is one I/O path under a Conn: the epoll one (non-blocking socket on
// the loop) or the portable one (net.Conn with goroutines).
type connIO interface {
	// writeNow writes as much of p as the socket takes without blocking.
	writeNow(p []byte) (int, error)
	// flush arranges for the buffered bytes to be written, calling
	// Conn.wrote as they leave.
	flush()
	// setReading starts or stops reading from the socket.
	setReading(on bool)
	shutdownWrite() error
	// close releases the socket; abort sends a reset instead of a FIN.
	close(abort bool)
	setNoDelay(on bool) error
	setKeepAlive(on bool) error
	localAddr() net.Addr
}

func newConn(l *loop, network string, cio connIO, raddr net.Addr, cfg *config) *Conn {
	c := new(Conn)
	initConn(c, l, network, cio, raddr, cfg)
	return c
}

// initConn sets up c, which an I/O path may hold (so that a connection is
// one allocation), and adds it to l.
func initConn(c *Conn, l *loop, network string, cio connIO, raddr net.Addr, cfg *config) {
	*c = Conn{
		loop:        l,
		io:          cio,
		network:     network,
		raddr:       raddr,
		high:        cfg.high,
		low:         cfg.low,
		readSize:    cfg.readSize,
		maxWriteBuf: cfg.maxWriteBuf,
	}
	l.add(c)
	if isTCP(network) && cfg.noDelay {
		cio.setNoDelay(true)
	}
}

// start begins reading once the Conn is wired to its I/O path.
func (c *Conn) start() {
	c.updateReading()
}

func isTCP(network string) bool { return network != "unix" }

// Reactor returns the reactor that serves the connection, or nil when its
// [Loop] is not a reactor (a test loop). Safe from any goroutine.
func (c *Conn) Reactor() *reactor.Reactor {
	r, _ := c.loop.r.(*reactor.Reactor)
	return r
}

// Loop returns the loop that serves the connection. Safe from any goroutine.
func (c *Conn) Loop() Loop { return c.loop.r }

// LocalAddr returns the connection's local address.
func (c *Conn) LocalAddr() net.Addr {
	c.loop.r.CheckLoop("Conn.LocalAddr")
	if c.x == nil || c.x.laddr == nil {
		if c.state == connClosed {
			return nil
		}
		c.extra().laddr = c.io.localAddr()
	}
	return c.x.laddr
}

// RemoteAddr returns the address of the connection's peer.
func (c *Conn) RemoteAddr() net.Addr { return c.raddr }

// Read returns a Deferred that fires with the next bytes available: the
// bytes queued (at once, or on the loop's next turn past the bound described
// at [Conn]), or the next chunk read from the socket. It fails with io.EOF
// once the peer has closed its side (or the connection was closed cleanly)
// and nothing is queued, with the reason the connection was lost otherwise,
// and with [ErrReadPending] while another read is pending. Cancelling the
// Deferred withdraws the read, from any goroutine: bytes that arrive
// meanwhile stay queued for the next read. (Cancel runs the errback on the
// goroutine that cancels: give AddTimeout the reactor, a deferred.Clock, to
// keep it on the loop.)
//
// The returned bytes belong to the caller. A large chunk comes in the
// connection's read buffer itself, handed over rather than copied (as may a
// [Conn.ReadFull] of exactly one chunk), a small one in a copy; give either
// back with [Recycle] once done with it, and later reads take over the
// recycled buffers instead of allocating: a chain that reads, writes and
// recycles allocates no buffer per chunk, large or small.
func (c *Conn) Read() *deferred.Deferred[[]byte] {
	c.loop.r.CheckLoop("Conn.Read")
	return c.read(readReq{kind: readAny})
}

// ReadFull returns a Deferred that fires with exactly n bytes. If the peer
// closes its side first it fails with io.EOF when nothing was queued, and
// io.ErrUnexpectedEOF otherwise (the partial bytes stay queued for a Read);
// if the connection is lost (reset, aborted, timed out), with the reason,
// whatever was queued. Its other errors are Read's.
func (c *Conn) ReadFull(n int) *deferred.Deferred[[]byte] {
	c.loop.r.CheckLoop("Conn.ReadFull")
	if n <= 0 {
		return deferred.Succeed([]byte{})
	}
	return c.read(readReq{kind: readFull, n: n})
}

// ReadUntil returns a Deferred that fires with the bytes up to the next
// delim, without delim (which is consumed). A line longer than max bytes
// fails it with [ErrLineTooLong] and closes the connection (flushing what was
// written) with that reason, so [Conn.Lost] fails with it: the queue never
// grows past max. max <= 0 means [DefaultLineMaxLength] (16 KiB, as
// LineReceiver's). Its end-of-stream errors are ReadFull's. An empty delim
// panics.
func (c *Conn) ReadUntil(delim []byte, max int) *deferred.Deferred[[]byte] {
	c.loop.r.CheckLoop("Conn.ReadUntil")
	if len(delim) == 0 {
		panic("deferredtcp: ReadUntil with an empty delimiter")
	}
	if max <= 0 {
		max = DefaultLineMaxLength
	}
	return c.read(readReq{kind: readUntil, n: max, delim: delim})
}

func (c *Conn) read(req readReq) *deferred.Deferred[[]byte] {
	if c.rd.kind != readNone && c.rd.d.Called() {
		c.rd = readReq{} // cancelled
	}
	if c.rd.kind != readNone || c.onData != nil {
		return deferred.Fail[[]byte](ErrReadPending)
	}
	if rl := &c.loop.relay; !rl.mayInline() {
		req.soon = true
		rl.later(c)
	} else if v, err, ok := c.try(&req); ok {
		if err != nil {
			c.readFailed(err)
			return deferred.Fail[[]byte](err)
		}
		rl.inlined()
		c.updateReading()
		return deferred.Succeed(v)
	}
	if req.kind == readUntil {
		// The caller may reuse delim meanwhile. A loop of ReadUntils passes
		// the same one each time: the last one's copy is still in c.rd.
		if bytes.Equal(c.rd.delim, req.delim) {
			req.delim = c.rd.delim
		} else {
			req.delim = bytes.Clone(req.delim)
		}
	}
	if c.cancelRead == nil {
		c.cancelRead = c.readCancelled // once: a connection that never reads makes none
	}
	req.d = deferred.NewWithCanceller(c.cancelRead)
	c.rd = req
	c.updateReading()
	return req.d
}

// readCancelled is a read's canceller. It may run on any goroutine, so it
// leaves the Conn alone: the loop drops a pending read whose Deferred has
// fired, and puts back what it fired into one cancelled a moment before
// (see waitlist.go).
func (c *Conn) readCancelled(*deferred.Deferred[[]byte]) {}

// try serves req from the queue: ok reports that req is done, with v or err.
func (c *Conn) try(req *readReq) (v []byte, err error, ok bool) {
	avail := c.in[c.inOff:]
	switch req.kind {
	case readAny:
		if len(avail) > 0 {
			if c.inOff == 0 {
				v, c.in = c.in, nil
			} else {
				v = clone(avail)
				c.in, c.inOff = c.in[:0], 0
			}
			return v, nil, true
		}
	case readFull:
		if len(avail) >= req.n {
			return c.consume(req.n, req.n), nil, true
		}
	case readUntil:
		// LineReceiver's splitter, so that both read lines alike.
		ev, n, scanned := framing.FindLine(avail, req.delim, req.n, req.scanned)
		req.scanned = scanned
		switch ev {
		case framing.Line:
			return c.consume(n, n+len(req.delim)), nil, true
		case framing.TooLong:
			return nil, c.lineTooLong(), true
		}
	}
	if !c.eof && c.state != connClosed {
		return nil, nil, false
	}
	if c.state == connClosed && c.reason != nil {
		// Lost, not ended: the reason says why the rest never came.
		return nil, c.reason, true
	}
	if len(avail) > 0 {
		return nil, io.ErrUnexpectedEOF, true
	}
	return nil, io.EOF, true
}

// consume returns a copy of the first n queued bytes and drops the first
// skip.
func (c *Conn) consume(n, skip int) []byte {
	v := clone(c.in[c.inOff : c.inOff+n])
	if n == 0 {
		v = []byte{}
	}
	c.inOff += skip
	if c.inOff == len(c.in) {
		c.in, c.inOff = c.in[:0], 0
		if cap(c.in) > 2*c.readSize {
			c.in = nil
		}
	}
	return v
}

// lineTooLong drops the queue; the caller closes the connection once the
// read is no longer pending.
func (c *Conn) lineTooLong() error {
	c.in, c.inOff = nil, 0
	return ErrLineTooLong
}

// readFailed closes the connection after a read failed with
// ErrLineTooLong.
func (c *Conn) readFailed(err error) {
	if err == ErrLineTooLong {
		c.closeWith(ErrLineTooLong)
	}
}

// received takes a chunk read from the socket; p is valid only during the
// call.
func (c *Conn) received(p []byte) { c.receive(p, nil) }

// receiveBuf takes the n bytes read into *buf, a buffer of the read pool
// (bufpool). Rather than copy them, it may hand the buffer to the Read they
// serve; it then sets *buf to nil.
func (c *Conn) receiveBuf(buf *[]byte, n int) { c.receive((*buf)[:n], buf) }

// receive is received and receiveBuf. It is a turn of the relay, as
// receivedEOF and wrote are: the I/O paths call them at the bottom of the
// loop's stack.
func (c *Conn) receive(p []byte, buf *[]byte) {
	rl := &c.loop.relay
	rl.beginTurn()
	defer rl.endTurn()
	c.touch()
	if c.inOff == len(c.in) {
		switch {
		case c.onData != nil:
			c.callOnData(p)
			return
		case c.rd.kind == readAny, c.rd.kind == readFull && c.rd.n == len(p):
			d := c.rd.d
			c.rd = readReq{}
			if d.Callback(handOver(p, buf)) == nil {
				c.updateReading()
				return
			}
			// Cancelled: p is queued below, and its buffer, if it was
			// handed over, comes back.
			if buf != nil && *buf == nil {
				*buf = p[:cap(p)]
			}
		}
	}
	if c.inOff > 0 && len(c.in)+len(p) > cap(c.in) {
		n := copy(c.in, c.in[c.inOff:])
		c.in, c.inOff = c.in[:n], 0
	}
	c.in = append(c.in, p...)
	c.satisfy()
}

// handOver returns the bytes of p, read into *buf, for a Read to own: the
// buffer itself (leaving *buf nil) when buffers of its size have been
// recycled, or the bytes fill half of it (a copy would cost about what a new
// buffer costs), or buffers of their size have been recycled and they fill
// an eighth of it; else a copy. buf is nil when p may not be handed over.
func handOver(p []byte, buf *[]byte) []byte {
	if buf != nil {
		size := cap(*buf)
		if bufpool.Claim(size) || 2*len(p) >= size || 8*len(p) >= size && bufpool.Claim(len(p)) {
			*buf = nil
			return p
		}
	}
	return clone(p)
}

// clone returns a copy of p for a Read to own: in a buffer of the pool (of
// at most twice its size) when buffers of its size are recycled, or when p
// is large and the pool has one; else in a new one of p's size.
func clone(p []byte) []byte {
	switch n := len(p); {
	case n >= bufpool.MinSize && bufpool.Claim(n):
		// Its buffer is likely to come back: make one that can, if the pool
		// has none.
		b := bufpool.Make(n)
		return b[:copy(b, p)]
	case n >= largeCopy:
		if b := bufpool.Get(n); b != nil {
			return b[:copy(b, p)]
		}
	}
	return bytes.Clone(p)
}

// largeCopy is the size from which a copy tries the pool even without a
// credit: a miss costs little beside the allocation it may save.
const largeCopy = 512

// Recycle gives p, the bytes a Read fired with, back to the read buffers of
// this package, so that a later Read can take over its buffer instead of
// allocating one: a chain that reads, writes or parses each chunk and then
// recycles it allocates no buffer per chunk, large or small. Recycle a slice
// once, and only when nothing uses it, or any slice of its array, anymore: a
// later read overwrites it.
//
// Slices of other origins are taken too when their capacity is a power of
// two from 64 B. A slice of another capacity (such as the exact-size copy a
// short line gets before anything was recycled) is left to the garbage
// collector, but tells the package that buffers of its size come back, so
// that later copies of that size are made in buffers that can. Recycle is
// optional (what is not recycled is garbage collected) and safe from any
// goroutine.
func Recycle(p []byte) { bufpool.Recycle(p) }

// satisfy fires the pending read while the queue can serve it.
func (c *Conn) satisfy() {
	for c.rd.kind != readNone {
		if c.rd.d.Called() {
			c.rd = readReq{} // cancelled
			break
		}
		v, err, ok := c.try(&c.rd)
		if !ok {
			break
		}
		d, kind, delim := c.rd.d, c.rd.kind, c.rd.delim
		c.rd = readReq{delim: delim} // for the next ReadUntil to reuse
		if err != nil {
			c.readFailed(err)
			d.Errback(err)
		} else if d.Callback(v) != nil {
			c.unread(v, kind, delim)
		}
	}
	c.updateReading()
}

// unread puts v back at the front of the queue, with delim for a
// ReadUntil: the read it was for was cancelled, on another goroutine, just
// before the loop fired it.
func (c *Conn) unread(v []byte, kind readKind, delim []byte) {
	if kind == readUntil {
		v = append(v, delim...)
	}
	c.in = append(v, c.in[c.inOff:]...)
	c.inOff = 0
}

// receivedEOF notes the peer's end of stream.
func (c *Conn) receivedEOF() {
	rl := &c.loop.relay
	rl.beginTurn()
	defer rl.endTurn()
	c.touch()
	c.eof = true
	c.satisfy()
	if c.onEOF != nil && c.state != connClosed {
		c.callOnEOF()
	}
	if c.wrDown {
		c.lose(nil, false)
	}
}

// updateReading keeps the read interest in line with the demand for bytes.
func (c *Conn) updateReading() {
	want := c.state == connOpen && !c.eof &&
		(c.onData != nil || (c.rd.kind != readNone && !c.rd.soon) || len(c.in)-c.inOff < c.readSize)
	if want != c.reading {
		c.reading = want
		c.io.setReading(want)
	}
}

// OnData makes f receive every chunk of bytes as it is read, instead of the
// Read methods: the fast path, which costs no Deferred and no allocation per
// chunk. p is valid only during the call (it is the loop's read buffer): copy
// what you keep. Bytes already queued are handed to f at once. A read still
// pending fails with [ErrReadPending]. OnData(nil) returns to the Read
// methods. f runs on the loop goroutine; see [Conn.OnEOF] for the end of the
// stream. If f panics, the connection is aborted and [Conn.Lost] fails with
// the panic's Failure (which is logged with its traceback).
func (c *Conn) OnData(f func(p []byte)) {
	c.loop.r.CheckLoop("Conn.OnData")
	if f != nil && c.rd.soon {
		// It was served, but waits for the relay: serve it first.
		c.satisfy()
	}
	if f != nil && c.rd.kind != readNone {
		d := c.rd.d
		c.rd = readReq{}
		d.Errback(ErrReadPending)
	}
	c.onData = f
	if f != nil && c.inOff < len(c.in) {
		p := c.in[c.inOff:]
		c.in, c.inOff = nil, 0
		c.callOnData(p)
	}
	c.updateReading()
}

// callOnData and callOnEOF call the handlers; one that panics has its
// connection aborted, with the panic's Failure as the reason [Conn.Lost]
// reports, as a Serve handler's would (and as Twisted loses a connection
// whose dataReceived raised): its stream is in an unknown state.
func (c *Conn) callOnData(p []byte) {
	defer c.recoverHandler("OnData")
	c.onData(p)
}

func (c *Conn) callOnEOF() {
	defer c.recoverHandler("OnEOF")
	c.onEOF()
}

// recoverHandler must be deferred directly, so that the Failure's traceback
// holds the panic site.
func (c *Conn) recoverHandler(what string) {
	v := recover()
	if v == nil {
		return
	}
	f := failure.FromPanic(v)
	c.loop.r.Logger().Error("deferredtcp: "+what+" handler panicked; connection aborted",
		"raddr", c.raddr, "failure", f)
	c.lose(f, true)
}

// OnEOF makes f run on the loop when the peer closes its side of the
// connection (at once if it already has). The connection then stays open
// for writing until [Conn.Close] or [Conn.Abort]: an [Conn.OnData] server
// typically closes it here. If f panics, the connection is aborted, as for
// [Conn.OnData].
func (c *Conn) OnEOF(f func()) {
	c.loop.r.CheckLoop("Conn.OnEOF")
	c.onEOF = f
	if f != nil && c.eof && c.state != connClosed {
		c.callOnEOF()
	}
}

// Write writes p: what the socket takes at once is written, the rest is
// copied into the write buffer, so p may be reused as soon as Write returns.
// The Deferred fires with len(p) once the buffer holds at most the high
// watermark: at once when it does after this write (or on the loop's next
// turn, past the bound on fired Deferreds described at [Conn]; a Close or
// Abort meanwhile does not fail it), otherwise when it has drained to the
// low watermark. It fails with [ErrClosed] after Close, CloseWrite or
// Abort, or once the connection is lost (the error then wraps the reason
// too, such as a reset), and with the reason the connection was lost if
// that happens while it waits. A write that could leave more than
// [WithMaxWriteBuffer] bytes buffered (64 MiB by default) fails with
// [ErrWriteBufferFull], writing nothing, and aborts the connection with that
// reason.
func (c *Conn) Write(p []byte) *deferred.Deferred[int] {
	c.loop.r.CheckLoop("Conn.Write")
	if err := c.enqueue(p); err != nil {
		return deferred.Fail[int](err)
	}
	ready := c.Buffered() <= c.high && (len(c.waiters) == 0 || c.waiters[len(c.waiters)-1].ready)
	rl := &c.loop.relay
	if ready && len(c.waiters) == 0 && rl.mayInline() {
		rl.inlined()
		return deferred.Succeed(len(p))
	}
	d := deferred.New[int]()
	c.waiters = append(c.waiters, writeWaiter{d: d, n: len(p), ready: ready})
	if ready {
		rl.later(c)
	}
	return d
}

// fireDue fires, on the relay's turn, the Deferreds held back for it: the
// writes that were ready when made, and a read the queue may serve.
func (c *Conn) fireDue() {
	c.due = false
	all := c.waiters
	k := 0
	for k < len(all) && all[k].ready {
		k++
	}
	for range k {
		if c.state == connClosed {
			break // lose fired the rest
		}
		// Pop one at a time: a Write made in a callback comes after the
		// waiters not fired yet.
		w := c.waiters[0]
		c.waiters[0] = writeWaiter{}
		c.waiters = c.waiters[1:]
		w.d.Callback(w.n)
	}
	if k > 0 && len(c.waiters) == 0 && c.state != connClosed {
		// Nothing was appended: keep the array for the next ones.
		c.waiters = all[:0]
	}
	if c.rd.soon {
		c.rd.soon = false
		c.satisfy()
	}
}

// Send writes p as [Conn.Write] does but returns only an error, with no
// Deferred: the allocation-free write for [Conn.OnData] servers. Watch
// [Conn.Buffered] (or wait on a Write now and then) to respect backpressure.
func (c *Conn) Send(p []byte) error {
	c.loop.r.CheckLoop("Conn.Send")
	return c.enqueue(p)
}

// Buffered returns how many written bytes are still in the connection's
// write buffer, not yet handed to the kernel.
func (c *Conn) Buffered() int { return len(c.out) - c.outOff }

// Queued returns how many bytes have been read from the socket and wait for
// a read.
func (c *Conn) Queued() int { return len(c.in) - c.inOff }

// closedError is the error of a write on a connection that is closed: it
// matches ErrClosed and, for one that was lost, the reason.
func (c *Conn) closedError() error {
	if c.state == connClosed && c.reason != nil {
		return fmt.Errorf("%w: %w", ErrClosed, c.reason)
	}
	return ErrClosed
}

func (c *Conn) enqueue(p []byte) error {
	if c.state != connOpen || c.shutWr {
		return c.closedError()
	}
	if c.maxWriteBuf > 0 && c.Buffered()+len(p) > c.maxWriteBuf {
		// The stream would miss bytes: nothing sensible can follow.
		c.lose(ErrWriteBufferFull, true)
		return ErrWriteBufferFull
	}
	if len(p) == 0 {
		return nil
	}
	if c.Buffered() == 0 {
		n, err := c.io.writeNow(p)
		if err != nil {
			err = c.opError("write", err)
			c.lose(err, false)
			return err
		}
		if n > 0 {
			c.touch()
		}
		p = p[n:]
		if len(p) == 0 {
			return nil
		}
	}
	if c.outOff > 0 && !c.writing && len(c.out)+len(p) > cap(c.out) {
		n := copy(c.out, c.out[c.outOff:])
		c.out, c.outOff = c.out[:n], 0
	}
	c.out = append(c.out, p...)
	c.io.flush()
	return nil
}

// wrote takes note that the I/O path wrote n buffered bytes.
func (c *Conn) wrote(n int) {
	if c.state == connClosed {
		return
	}
	rl := &c.loop.relay
	rl.beginTurn()
	defer rl.endTurn()
	if n > 0 {
		c.touch()
	}
	c.outOff += n
	if c.outOff == len(c.out) {
		c.out, c.outOff = c.out[:0], 0
		// Keep the buffer for the next writes, unless a burst made it much
		// bigger than the watermark calls for. A writer that waits on
		// Write fills it to the watermark plus one write, and append's
		// growth adds a quarter or so: at 2*high, 64 KiB writes with the
		// default watermark reallocated it on every drain.
		if cap(c.out) > 4*c.high {
			c.out = nil
		}
	}
	if len(c.waiters) > 0 && c.Buffered() <= c.low {
		ws := c.waiters
		c.waiters = nil
		for _, w := range ws {
			w.d.Callback(w.n)
		}
	}
	if c.owner != nil && c.state != connClosed && c.Buffered() <= c.low {
		c.owner.drained()
	}
	if c.state == connClosed {
		return
	}
	if c.Buffered() > 0 {
		c.io.flush()
		return
	}
	switch {
	case c.state == connClosing:
		c.lose(c.reason, false)
	case c.shutWr && !c.wrDown:
		c.shutdownWrite()
	}
}

// Close closes the connection once its write buffer is flushed (Twisted's
// loseConnection): reading stops at once, writes fail from now on. The
// Deferred fires once the socket is closed, whatever the reason; [Conn.Lost]
// tells the reason. Calling Close again returns another such Deferred.
func (c *Conn) Close() *deferred.Deferred[struct{}] {
	c.loop.r.CheckLoop("Conn.Close")
	if c.state == connClosed {
		return deferred.Succeed(struct{}{})
	}
	d := deferred.New[struct{}]()
	x := c.extra()
	x.closeWaiters = append(x.closeWaiters, d)
	c.closeWith(nil)
	return d
}

// closeWith starts a flush-then-close whose Lost reason is reason.
func (c *Conn) closeWith(reason error) {
	if c.state != connOpen {
		return
	}
	c.state, c.reason = connClosing, reason
	c.updateReading()
	if c.Buffered() == 0 && !c.writing {
		c.lose(reason, false)
	}
}

// Abort closes the connection at once, dropping buffered writes and sending
// the peer a reset (Twisted's abortConnection). [Conn.Lost] fails with
// [ErrAborted]; pending reads and writes fail with it too. It does nothing on
// a closed connection.
func (c *Conn) Abort() {
	c.loop.r.CheckLoop("Conn.Abort")
	c.lose(ErrAborted, true)
}

// CloseWrite shuts down the writing side once the buffer is flushed (a
// half-close: the peer reads EOF), while reading goes on. Later writes fail
// with [ErrClosed]. When the peer has closed its side too, the connection
// closes cleanly. It returns [ErrClosed] on a closed connection.
func (c *Conn) CloseWrite() error {
	c.loop.r.CheckLoop("Conn.CloseWrite")
	if c.state != connOpen {
		return ErrClosed
	}
	if c.shutWr {
		return nil
	}
	c.shutWr = true
	if c.Buffered() == 0 && !c.writing {
		return c.shutdownWrite()
	}
	return nil
}

func (c *Conn) shutdownWrite() error {
	c.wrDown = true
	err := c.io.shutdownWrite()
	if err != nil {
		err = c.opError("shutdown", err)
	}
	if c.eof {
		c.lose(nil, false)
	}
	return err
}

// Lost returns a new Deferred that fires when the connection is closed
// (Twisted's connectionLost): with nothing on a clean close (Close, or both
// sides shut down), with a Failure of the reason otherwise ([ErrAborted],
// [ErrIdleTimeout], [ErrLineTooLong], or the *net.OpError of a failed read or
// write, such as a reset by the peer). Cancelling the Deferred unsubscribes
// it, from any goroutine; it then fails with [deferred.ErrCancelled].
func (c *Conn) Lost() *deferred.Deferred[struct{}] {
	c.loop.r.CheckLoop("Conn.Lost")
	if c.state == connClosed {
		if c.reason != nil {
			return deferred.Fail[struct{}](c.reason)
		}
		return deferred.Succeed(struct{}{})
	}
	d := deferred.New[struct{}]()
	c.extra().lostWaiters.add(d)
	return d
}

// lose closes the connection now, for reason (nil when clean), and fires
// everything waiting on it.
func (c *Conn) lose(reason error, abort bool) {
	if c.state == connClosed {
		return
	}
	c.state, c.reason = connClosed, reason
	c.stopIdle()
	if c.x == nil || c.x.laddr == nil {
		// Kept for LocalAddr: the socket that knows it is about to go.
		c.extra().laddr = c.io.localAddr()
	}
	c.reading = false
	c.io.close(abort)
	c.loop.remove(c)
	c.out, c.outOff = nil, 0
	if l := c.listener; l != nil {
		c.listener = nil
		l.connClosed()
	}

	c.satisfy() // the pending read, if any, fails
	werr := reason
	if werr == nil {
		werr = ErrClosed
	}
	ws := c.waiters
	c.waiters = nil
	for _, w := range ws {
		if w.ready {
			// Its bytes were taken as Write would have fired at once
			// but for the relay.
			w.d.Callback(w.n)
		} else {
			w.d.Errback(werr)
		}
	}
	if x := c.x; x != nil {
		cs := x.closeWaiters
		x.closeWaiters = nil
		for _, d := range cs {
			d.Callback(struct{}{})
		}
		for _, d := range x.lostWaiters.take() {
			if reason != nil {
				d.Errback(reason)
			} else {
				d.Callback(struct{}{})
			}
		}
	}
	if c.owner != nil {
		c.owner.lost(reason)
	}
}

// SetIdleTimeout closes the connection once nothing has been read or
// written for d (Twisted's TimeoutMixin): cleanly by default, flushing what
// was written first, with [ErrIdleTimeout] as the reason [Conn.Lost]
// reports; [Conn.OnIdleTimeout] can say goodbye first, abort instead, or
// keep the connection open. A close whose flush then makes no progress for
// another d (a peer that stopped reading) is aborted. The timer runs on the
// reactor. d <= 0 turns it off.
func (c *Conn) SetIdleTimeout(d time.Duration) {
	c.loop.r.CheckLoop("Conn.SetIdleTimeout")
	if d <= 0 && c.x == nil {
		return
	}
	x := c.extra()
	x.idle = d
	if d <= 0 || c.state == connClosed {
		c.stopIdle()
		return
	}
	x.lastActive = c.loop.r.Now()
	if x.idleCall != nil && x.idleCall.Active() {
		x.idleCall.Reset(d)
		return
	}
	x.idleCall = c.loop.r.Schedule(d, c.idleCheck)
}

// IdleAction is what a connection does when its idle timeout passes; an
// [Conn.OnIdleTimeout] hook returns it.
type IdleAction uint8

const (
	// IdleClose closes the connection as [Conn.Close] does, flushing what
	// was written (a goodbye the hook wrote, say) before closing; [Conn.Lost]
	// fails with [ErrIdleTimeout]. It is the default, as Twisted's
	// TimeoutMixin.timeoutConnection calls loseConnection.
	IdleClose IdleAction = iota
	// IdleAbort aborts the connection at once, as [Conn.Abort] does:
	// buffered bytes are dropped and the peer gets a reset. Lost fails with
	// ErrIdleTimeout.
	IdleAbort
	// IdleKeep keeps the connection open; the idle timeout starts over.
	IdleKeep
)

// OnIdleTimeout makes f run on the loop when the idle timeout set by
// [Conn.SetIdleTimeout] passes; the connection then does what f returns
// (Twisted: overriding TimeoutMixin.timeoutConnection). f may write (a
// goodbye, which IdleClose flushes before it closes), close or abort the
// connection itself, or set another timeout. If f panics, the connection is
// aborted, as for [Conn.OnData]. OnIdleTimeout(nil) restores the default,
// IdleClose.
func (c *Conn) OnIdleTimeout(f func() IdleAction) {
	if f == nil && c.x == nil {
		return
	}
	c.extra().onIdle = f
}

func (c *Conn) touch() {
	if x := c.x; x != nil && x.idle > 0 {
		x.lastActive = c.loop.r.Now()
	}
}

func (c *Conn) idleCheck() {
	x := c.x
	x.idleCall = nil
	if c.state == connClosed || x.idle <= 0 {
		return
	}
	left := x.idle - c.loop.r.Now().Sub(x.lastActive)
	switch {
	case left > 0:
		x.idleCall = c.loop.r.Schedule(left, c.idleCheck)
	case c.state == connClosing:
		// A close whose flush has stalled for a whole period.
		c.lose(ErrIdleTimeout, true)
	default:
		c.idleTimedOut()
	}
}

// idleTimedOut does what the OnIdleTimeout hook, or the default, says.
func (c *Conn) idleTimedOut() {
	x := c.x
	action := IdleClose
	if x.onIdle != nil {
		action = c.callOnIdle()
		if c.state == connClosed {
			return
		}
	}
	switch action {
	case IdleAbort:
		c.lose(ErrIdleTimeout, true)
		return
	case IdleKeep:
	default:
		c.closeWith(ErrIdleTimeout)
		if c.state == connClosed {
			return
		}
	}
	// Kept open, or flushing before the close: the timeout starts over (a
	// stalled flush is then aborted), unless the hook changed it.
	if x.idle > 0 && x.idleCall == nil {
		x.lastActive = c.loop.r.Now()
		x.idleCall = c.loop.r.Schedule(x.idle, c.idleCheck)
	}
}

func (c *Conn) callOnIdle() IdleAction {
	defer c.recoverHandler("OnIdleTimeout")
	return c.x.onIdle()
}

func (c *Conn) stopIdle() {
	if x := c.x; x != nil && x.idleCall != nil {
		x.idleCall.Cancel()
		x.idleCall = nil
	}
}

// SetNoDelay sets TCP_NODELAY: with on, small writes go out at once rather
// than waiting to be coalesced (Nagle's algorithm). Connections start with it
// on unless [WithNoDelay](false) is given. It does nothing on Unix sockets.
func (c *Conn) SetNoDelay(on bool) error {
	c.loop.r.CheckLoop("Conn.SetNoDelay")
	if c.state == connClosed {
		return ErrClosed
	}
	if !isTCP(c.network) {
		return nil
	}
	return c.io.setNoDelay(on)
}

// SetKeepAlive turns TCP keep-alive probes on or off (with the system's
// intervals). Connections start with the system default (off on Linux). It
// does nothing on Unix sockets.
func (c *Conn) SetKeepAlive(on bool) error {
	c.loop.r.CheckLoop("Conn.SetKeepAlive")
	if c.state == connClosed {
		return ErrClosed
	}
	if !isTCP(c.network) {
		return nil
	}
	return c.io.setKeepAlive(on)
}

// opError wraps a syscall error of op as the net package would, naming
// both ends ("read tcp 127.0.0.1:8007->127.0.0.1:54420: ...").
func (c *Conn) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return err
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if _, ok := err.(*os.SyscallError); !ok {
			err = os.NewSyscallError(op, err)
		}
	}
	return &net.OpError{Op: op, Net: c.network, Source: c.LocalAddr(), Addr: c.raddr, Err: err}
}
