package deferredtcp

import (
	"errors"
	"net"
	"net/netip"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/reactor"
)

// Packet is a datagram and the address it came from.
type Packet struct {
	Data []byte
	Addr *net.UDPAddr
}

// UDPQueueSize is how many received datagrams a [UDPConn] keeps while no
// ReadFrom waits and no OnPacket handler is set; later ones are dropped, as
// a full socket buffer drops them.
const UDPQueueSize = 1024

// UDPConn is a UDP socket served by a reactor (Twisted's listenUDP, for
// chains): [UDPConn.ReadFrom] returns the next datagram as a Deferred,
// [UDPConn.OnPacket] takes them all as they come (Twisted's
// datagramReceived), and [UDPConn.WriteTo] sends one. Datagrams are read by
// one goroutine per socket, whatever the reactor's backend, and handed to
// the loop; every callback runs on the loop. The socket is closed by
// [UDPConn.Close] or the reactor's shutdown. Its methods are loop goroutine
// only (or before Run).
type UDPConn struct {
	r       *reactor.Reactor
	pc      *net.UDPConn
	queue   []Packet
	waiters []*deferred.Deferred[Packet]
	onPkt   func(p []byte, from *net.UDPAddr)
	closed  bool
	gone    bool // the reading goroutine has returned
	done    []*deferred.Deferred[struct{}]
	trigger reactor.TriggerID
	cancel  func(*deferred.Deferred[Packet])
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
		u.cancel = u.readCancelled
		u.trigger = r.AddSystemEventTrigger(reactor.Before, reactor.Shutdown, u.Close)
		go u.reader()
		return u, nil
	})
}

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
		p := Packet{Data: append([]byte(nil), buf[:n]...), Addr: net.UDPAddrFromAddrPort(ap)}
		u.r.CallFromGoroutine(func() { u.deliver(p) })
	}
}

func (u *UDPConn) deliver(p Packet) {
	switch {
	case u.closed:
	case u.onPkt != nil:
		u.onPkt(p.Data, p.Addr)
	case len(u.waiters) > 0:
		d := u.waiters[0]
		u.waiters = u.waiters[1:]
		d.Callback(p)
	case len(u.queue) < UDPQueueSize:
		u.queue = append(u.queue, p)
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
// socket is closed. Cancelling the Deferred withdraws the read.
func (u *UDPConn) ReadFrom() *deferred.Deferred[Packet] {
	if len(u.queue) > 0 {
		p := u.queue[0]
		u.queue = u.queue[1:]
		return deferred.Succeed(p)
	}
	if u.closed {
		return deferred.Fail[Packet](ErrClosed)
	}
	d := deferred.NewWithCanceller(u.cancel)
	u.waiters = append(u.waiters, d)
	return d
}

func (u *UDPConn) readCancelled(d *deferred.Deferred[Packet]) {
	for i, w := range u.waiters {
		if w == d {
			u.waiters = append(u.waiters[:i], u.waiters[i+1:]...)
			return
		}
	}
}

// OnPacket makes f receive every datagram as it arrives, instead of
// ReadFrom (Twisted's DatagramProtocol.datagramReceived); queued datagrams
// go to f at once. f runs on the loop; p is f's to keep. OnPacket(nil)
// returns to ReadFrom.
func (u *UDPConn) OnPacket(f func(p []byte, from *net.UDPAddr)) {
	u.onPkt = f
	for f != nil && len(u.queue) > 0 && u.onPkt != nil {
		p := u.queue[0]
		u.queue = u.queue[1:]
		f(p.Data, p.Addr)
	}
}

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

// LocalAddr returns the address the socket is bound to.
func (u *UDPConn) LocalAddr() net.Addr { return u.pc.LocalAddr() }

// Close closes the socket; pending ReadFroms fail with [ErrClosed]. The
// Deferred fires once the reading goroutine has returned.
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
	u.pc.Close()
	u.queue = nil
	ws := u.waiters
	u.waiters = nil
	for _, w := range ws {
		w.Errback(ErrClosed)
	}
	return d
}
