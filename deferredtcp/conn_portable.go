package deferredtcp

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"syscall"

	"github.com/twistgo/twist/deferredtcp/internal/bufpool"
)

// portableConn is the portable I/O path: a net.Conn with a reading goroutine
// and, once something is written, a writing goroutine. They hand their
// results to the loop with CallFromGoroutine; the loop owns the Conn.
type portableConn struct {
	c  *Conn
	nc net.Conn

	// Reading: the reader reads a chunk into buf, a buffer of the read
	// pool, hands (buf, n, rerr) over with deliverFn and waits for ack
	// before it reads again, so they are the loop's meanwhile; the loop
	// gives buf back to the pool (or to a Read) before the ack. A plain
	// connection takes buf only once its socket is readable (rawRead), so
	// that an idle one holds none; others read into smallRead bytes unless
	// the last read filled its buffer (big).
	readSize  int
	buf       []byte
	n         int
	rerr      error
	raw       syscall.RawConn
	rawReadFn func(fd uintptr) bool
	big       bool
	deliverFn func()
	ack       chan struct{}
	awaiting  bool // a chunk was delivered and its ack is held back
	paused    bool

	// Writing: the loop hands out[outOff:] to the writer, which reports
	// (wn, werr) with wroteFn.
	wreq      chan []byte
	wn        int
	werr      error
	wroteFn   func()
	writerUp  bool
	done      chan struct{} // closed when the connection closes
	abandoned atomic.Bool
}

func newPortableConn(l *loop, network string, nc net.Conn, cfg *config) *Conn {
	p := &portableConn{
		nc:       nc,
		readSize: cfg.readSize,
		ack:      make(chan struct{}, 1),
		wreq:     make(chan []byte, 1),
		done:     make(chan struct{}),
		// The reader waits for an ack before each read: the first comes
		// from setReading(true) in Conn.start.
		awaiting: true,
	}
	p.deliverFn, p.wroteFn = p.deliver, p.wroteBack
	p.useRawReads()
	c := newConn(l, network, p, nc.RemoteAddr(), cfg)
	p.c = c
	r := l.r
	go p.reader(r.CallFromGoroutine)
	c.start()
	return c
}

func (p *portableConn) reader(hand func(func())) {
	for {
		select {
		case <-p.ack:
		case <-p.done:
			return
		}
		p.read()
		hand(p.deliverFn)
		if p.rerr != nil {
			return
		}
	}
}

// smallRead is the size of the reads of a connection that is not a plain
// socket (TLS, Pipe) while its chunks are small: what it holds while idle.
const smallRead = 4 << 10

// read reads the next chunk into buf, n and rerr.
func (p *portableConn) read() {
	if p.raw != nil {
		if err := p.raw.Read(p.rawReadFn); err != nil {
			p.buf, p.n, p.rerr = nil, 0, err
		}
		return
	}
	size := p.readSize
	if !p.big {
		size = min(size, smallRead)
	}
	p.buf = bufpool.Make(size)
	p.n, p.rerr = p.nc.Read(p.buf)
	p.big = p.n == size
}

// releaseBuf gives the chunk's buffer back to the pool, unless a Read took
// it over.
func (p *portableConn) releaseBuf() {
	bufpool.Put(p.buf)
	p.buf = nil
}

// deliver runs on the loop with the reader's latest result.
func (p *portableConn) deliver() {
	c := p.c
	if c.state == connClosed {
		p.releaseBuf()
		return
	}
	n, err := p.n, p.rerr
	if n > 0 {
		c.receiveBuf(&p.buf, n)
	}
	p.releaseBuf()
	if c.state == connClosed {
		return
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			c.receivedEOF()
		} else {
			c.lose(c.opError("read", err), false)
		}
		return
	}
	if p.paused {
		p.awaiting = true
		return
	}
	p.ack <- struct{}{}
}

func (p *portableConn) setReading(on bool) {
	p.paused = !on
	if on && p.awaiting {
		p.awaiting = false
		p.ack <- struct{}{}
	}
}

func (p *portableConn) writeNow([]byte) (int, error) { return 0, nil }

func (p *portableConn) flush() {
	c := p.c
	if c.writing || c.Buffered() == 0 || c.state == connClosed {
		return
	}
	if !p.writerUp {
		p.writerUp = true
		go p.writer(c.loop.r.CallFromGoroutine)
	}
	c.writing = true
	p.wreq <- c.out[c.outOff:]
}

func (p *portableConn) writer(hand func(func())) {
	for {
		select {
		case b := <-p.wreq:
			n, err := p.nc.Write(b)
			p.wn, p.werr = n, err
			hand(p.wroteFn)
		case <-p.done:
			return
		}
	}
}

func (p *portableConn) wroteBack() {
	c := p.c
	c.writing = false
	if c.state == connClosed {
		return
	}
	if p.werr != nil {
		c.lose(c.opError("write", p.werr), false)
		return
	}
	c.wrote(p.wn)
}

func (p *portableConn) shutdownWrite() error {
	if cw, ok := p.nc.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (p *portableConn) close(abort bool) {
	if abort {
		if tc, ok := p.nc.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
	}
	p.nc.Close()
	close(p.done)
}

func (p *portableConn) setNoDelay(on bool) error {
	if tc, ok := p.nc.(*net.TCPConn); ok {
		return tc.SetNoDelay(on)
	}
	return nil
}

func (p *portableConn) setKeepAlive(on bool) error {
	if tc, ok := p.nc.(*net.TCPConn); ok {
		return tc.SetKeepAlive(on)
	}
	return nil
}

func (p *portableConn) localAddr() net.Addr { return p.nc.LocalAddr() }

// Accepting with net.Listener.

type portableListener struct {
	l       *Listener
	nl      net.Listener
	want    chan struct{} // a token per connection the loop asks for
	done    chan struct{} // closed by close
	exited  chan struct{} // closed by the accepting goroutine as it returns
	closed  bool
	asked   bool // a token is out
	started bool // the accepting goroutine was started (loop goroutine only)
	next    net.Conn
	err     error
	recvFn  func()
	backoff acceptBackoff
}

func listenPortable(l *Listener, addr net.Addr) error {
	lc := net.ListenConfig{KeepAlive: -1, Control: reusePortControl(l.cfg.reusePort)}
	nl, err := lc.Listen(context.Background(), l.network, addr.String())
	if err != nil {
		return err
	}
	adoptPortable(l, nl)
	return nil
}

func adoptPortable(l *Listener, nl net.Listener) {
	p := &portableListener{l: l, nl: nl, want: make(chan struct{}, 1), done: make(chan struct{}), exited: make(chan struct{})}
	p.recvFn = p.received
	l.addr = nl.Addr()
	l.io = p
	// Started from the loop, so that a reactor that never runs is not kept
	// alive (and its socket open) by the goroutine.
	l.r.Schedule(0, func() {
		if p.closed {
			return // closed before the loop got here: no goroutine to start
		}
		p.started = true
		go p.acceptor(func(f func()) { l.loop.handOff(f, p.dropAccepted) })
	})
}

// dropAccepted closes what the acceptor accepted for a loop that is gone.
func (p *portableListener) dropAccepted() {
	if p.next != nil {
		p.next.Close()
		p.next = nil
	}
}

func (p *portableListener) acceptor(hand func(func())) {
	defer close(p.exited)
	for {
		select {
		case <-p.want:
		case <-p.done:
			return
		}
		nc, err := p.nl.Accept()
		p.next, p.err = nc, err
		if err != nil {
			select {
			case <-p.done:
				return
			default:
			}
		}
		hand(p.recvFn)
	}
}

func (p *portableListener) setAccepting(on bool) {
	if on && !p.asked && !p.closed {
		p.asked = true
		p.want <- struct{}{}
	}
}

// received runs on the loop with the acceptor's latest result.
func (p *portableListener) received() {
	p.asked = false
	nc, err := p.next, p.err
	p.next, p.err = nil, nil
	l := p.l
	if err != nil {
		if !p.closed {
			pause := p.backoff.failed(l, err)
			l.loop.r.Schedule(pause, func() { p.setAccepting(l.wanted()) })
		}
		return
	}
	p.backoff.ok()
	if p.closed {
		nc.Close()
		return
	}
	l.deliver(newPortableConn(l.loop, l.network, nc, &l.cfg))
	p.setAccepting(l.wanted())
}

// close closes the listener and waits for the accepting goroutine to
// return, which it does at once: nothing it does waits for the loop, and
// closing the socket ends its Accept. Waiting here, rather than for a
// hand-off from the goroutine, is what lets a Close made after Stop fire:
// once the reactor's shutdown is over, that hand-off would never run.
func (p *portableListener) close(done func()) {
	p.closed = true
	close(p.done)
	p.nl.Close()
	if p.started {
		<-p.exited
	}
	done()
}

// Connecting with net.Dialer.

type portableAttempt struct {
	cancel context.CancelFunc
}

func (pa *portableAttempt) abort() { pa.cancel() }

func (a *attempt) startPortable() {
	ctx, cancel := context.WithCancel(context.Background())
	pa := &portableAttempt{cancel: cancel}
	a.io = pa
	d := net.Dialer{LocalAddr: a.cfg.bind, KeepAlive: -1}
	l, network, address := a.loop, a.network, a.addr.String()
	go func() {
		nc, err := d.DialContext(ctx, network, address)
		cancel()
		if testHookDialed != nil {
			testHookDialed()
		}
		closeConn := func() {
			if nc != nil {
				nc.Close()
			}
		}
		l.handOff(func() {
			if a.done || a.io != pa {
				closeConn()
				return
			}
			if err != nil {
				a.fail(err)
				return
			}
			a.io = nil
			a.succeed(newPortableConn(a.loop, a.network, nc, &a.cfg))
		}, closeConn)
	}()
}

// testHookDialed, when set by a test, runs on the dialing goroutine once the
// dial has returned.
var testHookDialed func()
