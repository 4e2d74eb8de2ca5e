package deferredtcp

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/reactor"
)

// Packet is a datagram and the address it came from.
type Packet struct {
	Data []byte
	Addr *net.UDPAddr
}

// UDPQueueSize is how many received datagrams a [UDPConn] holds: read from
// its socket and not yet taken by an OnPacket handler or a ReadFrom,
// whether they wait for the loop to get to them or for a ReadFrom. Later
// ones are dropped, as a full socket buffer drops them, and counted (see
// [UDPConn.Dropped]), so a flood costs at most this many datagrams of
// memory however slow the handler.
const UDPQueueSize = 1024

// A UDPConn hands its datagrams to the loop in batches: one hand-over per
// batch, and at most udpBatch datagrams, or udpBatchTime of handler time,
// per turn of the loop, after which the rest waits for the next turn. Under
// a flood, timers and Stop then run between batches, on time.
const (
	udpBatch     = 64
	udpBatchTime = 5 * time.Millisecond
)

// udpDropLogInterval spaces the log lines about dropped datagrams: a flood
// logs one line per interval, with the count, rather than one per datagram.
const udpDropLogInterval = 10 * time.Second

// UDPConn is a UDP socket served by a reactor (Twisted's listenUDP, for
// chains): [UDPConn.ReadFrom] returns the next datagram as a Deferred,
// [UDPConn.OnPacket] takes them all as they come (Twisted's
// datagramReceived), and [UDPConn.WriteTo] sends one. Datagrams are read by
// one goroutine per socket, whatever the reactor's backend, queued (at most
// [UDPQueueSize] of them) and handed to the loop in batches; every callback
// runs on the loop. The socket is closed by [UDPConn.Close] or the
// reactor's shutdown. Its methods are loop goroutine only (or before Run),
// except [UDPConn.Dropped] and [UDPConn.LocalAddr].
type UDPConn struct {
	r  *reactor.Reactor
	pc *net.UDPConn

	// Shared by the reading goroutine and the loop, under mu.
	mu      sync.Mutex
	queue   packetQueue
	wanted  bool // an OnPacket handler or a ReadFrom waits for datagrams
	handing bool // a drain is handed over to the loop and has not started
	shut    bool // Close was called: the reader drops what it reads
	dropped atomic.Uint64

	// The reading goroutine's own.
	loggedAt    time.Time // when dropped datagrams were last logged
	loggedDrops uint64    // the drop count then

	// The loop's.
	waiters  waitList[Packet]
	onPkt    func(p []byte, from *net.UDPAddr)
	closed   bool
	gone     bool // the reading goroutine has returned
	done     []*deferred.Deferred[struct{}]
	trigger  reactor.TriggerID
	cancel   func(*deferred.Deferred[Packet])
	drainFn  func()
	wantedFn func()
}

// ListenUDP returns a Deferred that fires with a [UDPConn] bound to address
// ("ip:port", or ":port" for every interface; port 0 picks a free port,
// see [UDPConn.LocalAddr]). A failure to bind fails it with a
// *net.OpError. Loop goroutine only (or before Run).
func ListenUDP(r *reactor.Reactor, address string) *deferred.Deferred[*UDPConn] {
	return ListenUDPNetwork(r, "udp", address)
}

// ListenUDPNetwork is [ListenUDP] on network "udp", "udp4" or "udp6".
func ListenUDPNetwork(r *reactor.Reactor, network, address string) *deferred.Deferred[*UDPConn] {
	return deferred.Execute(func() (*UDPConn, error) {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return nil, &net.OpError{Op: "listen", Net: network, Err: err}
		}
		if _, err := netip.ParseAddr(host); err != nil && host != "" {
			return nil, &net.OpError{Op: "listen", Net: network, Err: errors.New("deferredtcp: ListenUDP needs an IP address, not a host name")}
		}
		a, err := net.ResolveUDPAddr(network, address)
		if err != nil {
			return nil, &net.OpError{Op: "listen", Net: network, Err: err}
		}
		pc, err := net.ListenUDP(network, a)
		if err != nil {
			return nil, err
		}
		u := &UDPConn{r: r, pc: pc}
		u.cancel, u.drainFn, u.wantedFn = u.readCancelled, u.drain, u.updateWanted
		u.trigger = r.AddSystemEventTrigger(reactor.During, reactor.Shutdown, u.Close)
		go u.reader()
		return u, nil
	})
}

// reader reads datagrams and queues them for the loop, until the socket is
// closed.
func (u *UDPConn) reader() {
	buf := make([]byte, 64<<10)
	for {
		n, ap, err := u.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				u.r.CallFromGoroutine(u.readerGone)
				return
			}
			continue // an ICMP error reported on the socket: not fatal
		}
		// Only this goroutine adds to the queue: room seen here stays.
		u.mu.Lock()
		shut, full := u.shut, u.queue.len() >= UDPQueueSize
		u.mu.Unlock()
		if shut {
			continue
		}
		if full {
			u.drop()
			continue
		}
		p := Packet{Data: append([]byte(nil), buf[:n]...), Addr: net.UDPAddrFromAddrPort(ap)}
		u.mu.Lock()
		u.queue.push(p)
		u.mu.Unlock()
		u.kick()
	}
}

// drop counts a datagram dropped for want of room, and logs the drops once
// per udpDropLogInterval.
func (u *UDPConn) drop() {
	n := u.dropped.Add(1)
	now := u.r.Now()
	if !u.loggedAt.IsZero() && now.Sub(u.loggedAt) < udpDropLogInterval {
		return
	}
	u.r.Logger().Warn("deferredtcp: UDP datagrams dropped: the queue for the loop is full",
		"addr", u.pc.LocalAddr(), "dropped", n-u.loggedDrops, "total", n, "queue", UDPQueueSize)
	u.loggedAt, u.loggedDrops = now, n
}

// kick hands a drain to the loop if datagrams wait, someone wants them and
// no drain is handed over already. Safe from any goroutine.
func (u *UDPConn) kick() {
	u.mu.Lock()
	hand := u.wanted && !u.handing && u.queue.len() > 0
	if hand {
		u.handing = true
	}
	u.mu.Unlock()
	if hand {
		u.r.CallFromGoroutine(u.drainFn)
	}
}

// drain runs on the loop: it delivers one batch of queued datagrams and
// hands the rest over to the next turn.
func (u *UDPConn) drain() {
	u.mu.Lock()
	u.handing = false
	u.mu.Unlock()
	defer u.kick() // even if a handler panics: the rest is not stranded
	start := u.r.Now()
	for i := range udpBatch {
		if i > 0 && u.r.Now().Sub(start) >= udpBatchTime {
			return
		}
		p, ok := u.take()
		if !ok {
			return
		}
		u.deliver(p)
	}
}

// take returns the oldest queued datagram, if anyone wants it.
func (u *UDPConn) take() (Packet, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.wanted {
		return Packet{}, false
	}
	return u.queue.pop()
}

// deliver hands p to the OnPacket handler or the first ReadFrom; if every
// ReadFrom was cancelled meanwhile, p goes back to the front of the queue.
func (u *UDPConn) deliver(p Packet) {
	if u.onPkt != nil {
		u.onPkt(p.Data, p.Addr)
		return
	}
	for {
		d, ok := u.waiters.next()
		if !ok {
			u.mu.Lock()
			u.queue.pushFront(p)
			u.mu.Unlock()
			u.updateWanted()
			return
		}
		if d.Callback(p) == nil {
			u.updateWanted()
			return
		}
	}
}

// updateWanted tells the reading side whether the loop takes datagrams as
// they come, and starts a drain if it now does.
func (u *UDPConn) updateWanted() {
	want := !u.closed && (u.onPkt != nil || u.waiters.waiting())
	u.mu.Lock()
	u.wanted = want
	u.mu.Unlock()
	if want {
		u.kick()
	}
}

func (u *UDPConn) readerGone() {
	u.gone = true
	ds := u.done
	u.done = nil
	for _, d := range ds {
		d.Callback(struct{}{})
	}
}

// ReadFrom returns a Deferred that fires with the next datagram. Reads are
// served in the order they were made; they fail with [ErrClosed] once the
// socket is closed. Cancelling the Deferred withdraws the read, from any
// goroutine.
func (u *UDPConn) ReadFrom() *deferred.Deferred[Packet] {
	if u.closed {
		return deferred.Fail[Packet](ErrClosed)
	}
	if !u.waiters.waiting() && u.onPkt == nil {
		u.mu.Lock()
		p, ok := u.queue.pop()
		u.mu.Unlock()
		if ok {
			return deferred.Succeed(p)
		}
	}
	d := deferred.NewWithCanceller(u.cancel)
	u.waiters.add(d)
	u.updateWanted()
	return d
}

// readCancelled is a ReadFrom's canceller. It may run on any goroutine, so
// it leaves the UDPConn alone (see waitlist.go); the loop is told to look
// at its waiters again.
func (u *UDPConn) readCancelled(*deferred.Deferred[Packet]) {
	u.r.CallFromGoroutine(u.wantedFn)
}

// OnPacket makes f receive every datagram as it arrives, instead of
// ReadFrom (Twisted's DatagramProtocol.datagramReceived); queued datagrams
// go to f from the next turn of the loop. f runs on the loop; p is f's to
// keep. OnPacket(nil) returns to ReadFrom.
func (u *UDPConn) OnPacket(f func(p []byte, from *net.UDPAddr)) {
	u.onPkt = f
	u.updateWanted()
}

// Dropped returns how many datagrams the UDPConn has dropped because
// [UDPQueueSize] of them were already queued (datagrams the kernel drops
// for a full socket buffer are not counted). Each run of drops is also
// logged, at most once every 10 seconds. Safe from any goroutine.
func (u *UDPConn) Dropped() uint64 { return u.dropped.Load() }

// WriteTo sends p to addr (a *net.UDPAddr, or any net.Addr whose String is
// "ip:port"). It returns the socket's error, such as a message too long,
// and [ErrClosed] once closed. UDP sends do not wait for the peer; a full
// socket buffer makes the call wait briefly.
func (u *UDPConn) WriteTo(p []byte, addr net.Addr) error {
	if u.closed {
		return ErrClosed
	}
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		var err error
		if ua, err = net.ResolveUDPAddr("udp", addr.String()); err != nil {
			return err
		}
	}
	_, err := u.pc.WriteToUDP(p, ua)
	return err
}

// LocalAddr returns the address the socket is bound to. Safe from any
// goroutine.
func (u *UDPConn) LocalAddr() net.Addr { return u.pc.LocalAddr() }

// Close closes the socket; pending ReadFroms fail with [ErrClosed] and
// queued datagrams are dropped. The Deferred fires once the reading
// goroutine has returned.
func (u *UDPConn) Close() *deferred.Deferred[struct{}] {
	if u.gone {
		return deferred.Succeed(struct{}{})
	}
	d := deferred.New[struct{}]()
	u.done = append(u.done, d)
	if u.closed {
		return d
	}
	u.closed = true
	u.r.RemoveSystemEventTrigger(u.trigger)
	u.mu.Lock()
	u.shut, u.wanted = true, false
	u.queue = packetQueue{}
	u.mu.Unlock()
	u.pc.Close()
	for _, w := range u.waiters.take() {
		w.Errback(ErrClosed)
	}
	return d
}

// packetQueue is a ring of datagrams, first in, first out; it grows as
// needed, up to UDPQueueSize.
type packetQueue struct {
	ring []Packet
	head int // index of the oldest
	n    int
}

func (q *packetQueue) len() int { return q.n }

func (q *packetQueue) push(p Packet) {
	if q.n == len(q.ring) {
		ring := make([]Packet, max(16, 2*len(q.ring)))
		for i := range q.n {
			ring[i] = q.ring[(q.head+i)%len(q.ring)]
		}
		q.ring, q.head = ring, 0
	}
	q.ring[(q.head+q.n)%len(q.ring)] = p
	q.n++
}

// pushFront puts p back as the oldest.
func (q *packetQueue) pushFront(p Packet) {
	q.push(p) // makes room
	q.n--
	q.ring[(q.head+q.n)%len(q.ring)] = Packet{}
	q.head = (q.head + len(q.ring) - 1) % len(q.ring)
	q.ring[q.head] = p
}

func (q *packetQueue) pop() (Packet, bool) {
	if q.n == 0 {
		return Packet{}, false
	}
	p := q.ring[q.head]
	q.ring[q.head] = Packet{}
	q.head = (q.head + 1) % len(q.ring)
	q.n--
	return p, true
}
