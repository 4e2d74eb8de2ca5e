package deferredtcp

import (
	"net"
	"sync"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/reactor"
)

// GroupListener is a server spread over the reactors of a [reactor.Group]:
// one [Listener] per reactor, each with its own socket bound to the same
// address with SO_REUSEPORT, so that the kernel spreads connections over the
// loops. Each connection is served, for its whole life, by the reactor whose
// socket accepted it.
type GroupListener struct {
	addr      net.Addr
	mu        sync.Mutex
	listeners []*Listener
	closing   bool
}

// ListenGroup listens on address with one socket per reactor of g and
// serves every accepted connection with handle, on the loop of the reactor
// that accepted it (see [Listener.Serve]). With port 0, the first socket
// picks the port and the others bind to it. It takes the options of
// [Listen]; SO_REUSEPORT is always set. It binds at once, on the calling
// goroutine, which may be any goroutine but a reactor's loop (it may resolve a
// host name), and hands each socket to its reactor with
// [reactor.Reactor.CallFromGoroutine]; it is typically called before g.Run.
// It is Linux only (elsewhere it returns an error wrapping
// errors.ErrUnsupported).
func ListenGroup(g *reactor.Group, network, address string, handle func(*Conn), opts ...Option) (*GroupListener, error) {
	cfg := newConfig(append(opts, WithReusePort(true)))
	addr, err := resolveBlocking(network, address)
	if err != nil {
		return nil, err
	}
	rs := g.Reactors()
	gl := &GroupListener{}
	socks := make([]groupSocket, 0, len(rs))
	for i, r := range rs {
		s, err := bindGroupSocket(r, network, addr, cfg)
		if err != nil {
			for _, s := range socks {
				s.release()
			}
			return nil, err
		}
		if i == 0 {
			gl.addr = s.addr()
			addr = gl.addr // port 0: the others bind to the port the first got
		}
		socks = append(socks, s)
	}
	for i, r := range rs {
		s := socks[i]
		r.CallFromGoroutine(func() {
			l, err := s.adopt(r, network, cfg)
			if err != nil {
				return // r is shutting down: the socket is closed
			}
			gl.mu.Lock()
			closing := gl.closing
			gl.listeners = append(gl.listeners, l)
			gl.mu.Unlock()
			if closing {
				l.Close()
				return
			}
			l.Serve(handle)
		})
	}
	return gl, nil
}

func resolveBlocking(network, address string) (net.Addr, error) {
	switch network {
	case "unix":
		return &net.UnixAddr{Name: address, Net: "unix"}, nil
	case "tcp", "tcp4", "tcp6":
		a, err := net.ResolveTCPAddr(network, address)
		if err != nil {
			return nil, &net.OpError{Op: "listen", Net: network, Err: err}
		}
		return a, nil
	}
	return nil, &net.OpError{Op: "listen", Net: network, Err: net.UnknownNetworkError(network)}
}

// groupSocket is a listening socket bound off the loop, waiting to be adopted
// by its reactor.
type groupSocket interface {
	addr() net.Addr
	adopt(r *reactor.Reactor, network string, cfg config) (*Listener, error)
	release()
}

// Addr returns the address every listener of the group is bound to. Safe
// from any goroutine.
func (gl *GroupListener) Addr() net.Addr { return gl.addr }

// Close closes every listener of the group, each on its own loop; the
// Deferred fires, on one of the loops, once all are closed. Safe from any
// goroutine.
func (gl *GroupListener) Close() *deferred.Deferred[struct{}] {
	gl.mu.Lock()
	gl.closing = true
	ls := append([]*Listener(nil), gl.listeners...)
	gl.mu.Unlock()
	done := deferred.New[struct{}]()
	var mu sync.Mutex
	left := len(ls)
	if left == 0 {
		done.Callback(struct{}{})
		return done
	}
	for _, l := range ls {
		l.r.CallFromGoroutine(func() {
			l.Close().AddCallback(func(struct{}) (struct{}, error) {
				mu.Lock()
				left--
				last := left == 0
				mu.Unlock()
				if last {
					done.Callback(struct{}{})
				}
				return struct{}{}, nil
			})
		})
	}
	return done
}
