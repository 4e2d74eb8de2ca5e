package deferredtcp

import (
	"net"
	"os"
	"strconv"
	"syscall"
)

// In-memory connections: [Pipe], and the network of a [MemoryLoop]. They
// have the semantics of TCP connections (half-close, end of stream, a reset
// on abort, backpressure) without a socket or a goroutine: what one end
// writes lands in the other's inbox at once, and the other reads it in a
// later turn of the loop (a Schedule(0) call), so on a fake clock bytes move
// when the test lets the loop run.

// memWindow bounds what one direction of an in-memory connection holds
// unread, as a socket's buffers do: past it, the writer's bytes wait in its
// Conn's write buffer, and its Write Deferreds wait for the reader.
const memWindow = 64 << 10

// Pipe returns two connected [Conn]s served by r, with no socket under them:
// what one writes, the other reads, with the semantics of a TCP connection
// (half-close, end of stream, [Conn.Abort] failing the other end with a
// reset, backpressure through a 64 KiB window per direction). Bytes move in
// later turns of r's loop, with no goroutine, so the same code runs the same
// way every time; on a fake clock (deferredtcptest.Loop) they move when the
// test lets the loop run. Use it to test chain-style code and protocols
// (with [ServeProtocol]) without the network. Their addresses are "pipe:a"
// and "pipe:b"; opts are the connection options of [Listen]
// ([WithWatermarks], [WithReadBufferSize], ...). On a loop that has begun to
// shut down, both are lost at once with reactor.ErrNotRunning. Loop goroutine
// only (or before Run).
func Pipe(r Loop, opts ...Option) (a, b *Conn) {
	r.CheckLoop("Pipe")
	cfg := newConfig(opts)
	lp, err := loopFor(r)
	if err != nil {
		lp = newLoop(r) // a stand-in, never registered
	}
	a, b = newMemPair(lp, "pipe", pipeAddr("pipe:a"), pipeAddr("pipe:b"), &cfg, &cfg)
	if err != nil {
		a.lose(err, false)
		b.lose(err, false)
	}
	return a, b
}

type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }

// memIO is the I/O path of an in-memory Conn.
type memIO struct {
	c     *Conn
	peer  *memIO
	local net.Addr

	inbox   []byte // what the peer wrote and c has not read
	inEOF   bool   // the peer shut down its side: after inbox, end of stream
	eofSent bool   // c was told of it
	reset   error  // the peer aborted: c is lost with this

	reading   bool
	wantWrite bool // c's buffered bytes wait for room in the peer's inbox
	closed    bool
	queued    bool // a turn is scheduled
	turnFn    func()
}

// newMemPair returns two connected in-memory Conns on lp.
func newMemPair(lp *loop, network string, addrA, addrB net.Addr, cfgA, cfgB *config) (a, b *Conn) {
	ma, mb := &memIO{local: addrA}, &memIO{local: addrB}
	ma.peer, mb.peer = mb, ma
	a, b = newMemConn(lp, network, ma, addrB, cfgA), newMemConn(lp, network, mb, addrA, cfgB)
	a.start()
	b.start()
	return a, b
}

func newMemConn(lp *loop, network string, m *memIO, raddr net.Addr, cfg *config) *Conn {
	m.turnFn = m.turn
	c := newConn(lp, network, m, raddr, cfg)
	m.c = c
	return c
}

// kick schedules a turn, unless one is.
func (m *memIO) kick() {
	if m.queued || m.closed {
		return
	}
	m.queued = true
	m.c.loop.r.Schedule(0, m.turnFn)
}

// turn is one step of the connection on the loop: a reset is noticed, the
// write buffer moves into the peer's inbox as far as it has room, and one
// chunk of the inbox (or the end of stream) is read.
func (m *memIO) turn() {
	m.queued = false
	c := m.c
	if m.closed || c.state == connClosed {
		return
	}
	if m.reset != nil {
		c.lose(c.opError("read", m.reset), false)
		return
	}
	if m.wantWrite {
		m.moveOut()
		if c.state == connClosed {
			return
		}
	}
	if !m.reading {
		return
	}
	switch {
	case len(m.inbox) > 0:
		n := min(len(m.inbox), c.readSize)
		p := m.inbox[:n]
		m.inbox = m.inbox[n:]
		if len(m.inbox) == 0 {
			m.inbox = nil
		}
		if w := m.peer; w.wantWrite {
			w.kick() // room for the writer
		}
		c.received(p)
	case m.inEOF && !m.eofSent:
		m.eofSent = true
		c.receivedEOF()
		return
	}
	if m.reading && (len(m.inbox) > 0 || m.inEOF && !m.eofSent) {
		m.kick()
	}
}

// moveOut moves c's buffered bytes into the peer's inbox, as far as it has
// room; the peer's next read makes room for the rest.
func (m *memIO) moveOut() {
	c := m.c
	if c.Buffered() == 0 {
		m.wantWrite = false
		return
	}
	n, err := m.writeNow(c.out[c.outOff:])
	if err != nil {
		c.lose(c.opError("write", err), false)
		return
	}
	if n > 0 {
		m.wantWrite = false
		c.wrote(n) // flushes again if bytes are left
	}
}

func (m *memIO) writeNow(p []byte) (int, error) {
	peer := m.peer
	if peer.closed {
		return 0, os.NewSyscallError("write", syscall.EPIPE)
	}
	n := min(len(p), memWindow-len(peer.inbox))
	if n <= 0 {
		return 0, nil
	}
	peer.inbox = append(peer.inbox, p[:n]...)
	peer.kick()
	return n, nil
}

func (m *memIO) flush() {
	m.wantWrite = true
	if m.peer.closed || len(m.peer.inbox) < memWindow {
		m.kick()
	}
}

func (m *memIO) setReading(on bool) {
	m.reading = on
	if on && (len(m.inbox) > 0 || m.inEOF && !m.eofSent) {
		m.kick()
	}
}

func (m *memIO) shutdownWrite() error {
	if peer := m.peer; !peer.closed {
		peer.inEOF = true
		peer.kick()
	}
	return nil
}

// close ends m's side: the peer reads the end of stream after what it has
// not read yet, or, for an abort, is reset (its unread bytes dropped), as
// over TCP.
func (m *memIO) close(abort bool) {
	if m.closed {
		return
	}
	m.closed = true
	m.inbox = nil
	peer := m.peer
	if peer.closed {
		return
	}
	if abort {
		peer.reset = syscall.ECONNRESET
		peer.inbox = nil
	} else {
		peer.inEOF = true
	}
	peer.kick()
}

func (m *memIO) setNoDelay(bool) error   { return nil }
func (m *memIO) setKeepAlive(bool) error { return nil }
func (m *memIO) localAddr() net.Addr     { return m.local }

// MemoryNetwork is an in-memory network for tests: on a Loop that has one
// (a [MemoryLoop], such as deferredtcptest.Loop), [Listen] binds its address
// there and [Connect] reaches the listener bound to its address, with the
// in-memory connections of [Pipe] — no socket, no name resolution, no
// goroutine. An address is any string ("server:80"); port 0 ("server:0")
// gets a free port. A connection to an address nobody listens on is refused
// (syscall.ECONNREFUSED) one turn of the loop later; one to an address made
// unreachable ([MemoryNetwork.SetUnreachable]) hangs until its timeout or
// cancellation. A listener's backlog is unbounded.
//
// A MemoryNetwork belongs to its loop's goroutine.
type MemoryNetwork struct {
	listeners   map[string]*memListener
	unreachable map[string]bool
	lastPort    int
	lastClient  int
}

// NewMemoryNetwork returns an empty MemoryNetwork.
func NewMemoryNetwork() *MemoryNetwork {
	return &MemoryNetwork{listeners: map[string]*memListener{}, unreachable: map[string]bool{}, lastPort: 49151}
}

// SetUnreachable makes connection attempts to address hang, as to a host
// that drops every packet, until their timeout ([WithTimeout]) or
// cancellation; on false they go through again.
func (n *MemoryNetwork) SetUnreachable(address string, on bool) {
	if on {
		n.unreachable[address] = true
	} else {
		delete(n.unreachable, address)
	}
}

// MemoryLoop is a [Loop] whose [Listen] and [Connect] use an in-memory
// network instead of the system's sockets.
type MemoryLoop interface {
	Loop
	// MemoryNetwork returns the loop's network.
	MemoryNetwork() *MemoryNetwork
}

func memoryNetworkOf(r Loop) *MemoryNetwork {
	if m, ok := r.(MemoryLoop); ok {
		return m.MemoryNetwork()
	}
	return nil
}

// MemoryAddr is the net.Addr of an in-memory connection or listener.
type MemoryAddr struct {
	Net, Address string
}

// Network returns the network given to Listen or Connect ("tcp", "unix"...).
func (a MemoryAddr) Network() string { return a.Net }

// String returns the address.
func (a MemoryAddr) String() string { return a.Address }

func (n *MemoryNetwork) listen(r Loop, network, address string, cfg config) (*Listener, error) {
	if host, port, err := net.SplitHostPort(address); err == nil && port == "0" {
		for n.listeners[address] != nil || address == net.JoinHostPort(host, "0") {
			n.lastPort++
			address = net.JoinHostPort(host, strconv.Itoa(n.lastPort))
		}
	}
	addr := MemoryAddr{network, address}
	lp, err := loopFor(r)
	if err != nil {
		return nil, notRunning("listen", network, addr)
	}
	if n.listeners[address] != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: addr, Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
	}
	l := &Listener{loop: lp, r: r, cfg: cfg, network: network, addr: addr}
	l.cancelAccept = l.acceptCancelled
	ml := &memListener{l: l, n: n, address: address}
	ml.turnFn = ml.turn
	l.io = ml
	n.listeners[address] = ml
	lp.adoptListener(l)
	return l, nil
}

// memListener is the listenerIO of an in-memory Listener.
type memListener struct {
	l         *Listener
	n         *MemoryNetwork
	address   string
	backlog   []*Conn // connected, not yet accepted
	accepting bool
	queued    bool
	closed    bool
	turnFn    func()
}

func (m *memListener) setAccepting(on bool) {
	m.accepting = on
	m.kick()
}

func (m *memListener) kick() {
	if m.queued || m.closed || !m.accepting || len(m.backlog) == 0 {
		return
	}
	m.queued = true
	m.l.r.Schedule(0, m.turnFn)
}

func (m *memListener) turn() {
	m.queued = false
	for !m.closed && m.accepting && len(m.backlog) > 0 {
		c := m.backlog[0]
		m.backlog[0] = nil
		m.backlog = m.backlog[1:]
		m.l.deliver(c)
	}
}

func (m *memListener) close(done func()) {
	if !m.closed {
		m.closed = true
		if m.n.listeners[m.address] == m {
			delete(m.n.listeners, m.address)
		}
		for _, c := range m.backlog {
			c.Abort() // never accepted: the client sees a reset
		}
		m.backlog = nil
	}
	done()
}

// memAttempt is a Connect in progress on a MemoryNetwork.
type memAttempt struct{ aborted bool }

func (ma *memAttempt) abort() { ma.aborted = true }

func (n *MemoryNetwork) connect(a *attempt, address string) {
	addr := MemoryAddr{a.network, address}
	a.addr = addr
	ma := &memAttempt{}
	a.io = ma
	if n.unreachable[address] {
		return // until the timeout, or a cancellation
	}
	a.loop.r.Schedule(0, func() {
		if a.done || ma.aborted {
			return
		}
		ml := n.listeners[address]
		if ml == nil {
			a.fail(&net.OpError{Op: "dial", Net: a.network, Addr: addr, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)})
			return
		}
		n.lastClient++
		local := MemoryAddr{a.network, "client:" + strconv.Itoa(n.lastClient)}
		client, server := newMemPair(a.loop, a.network, local, ml.l.addr, &a.cfg, &ml.l.cfg)
		a.io = nil
		ml.backlog = append(ml.backlog, server)
		ml.kick()
		a.succeed(client)
	})
}
