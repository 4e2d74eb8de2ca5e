//go:build linux

package deferredtcp

import (
	"context"
	"net"

	"golang.org/x/sys/unix"

	"github.com/twistgo/twist/deferredtcp/internal/sock"
	"github.com/twistgo/twist/reactor"
)

func bindGroupSocket(r *reactor.Reactor, network string, addr net.Addr, cfg config) (groupSocket, error) {
	if useEpoll(r) {
		fd, err := sock.Listen(network, addr, sock.Options{Backlog: cfg.backlog, ReusePort: true})
		if err != nil {
			return nil, err
		}
		return &fdSocket{fd: fd, network: network, local: sock.LocalAddr(network, fd)}, nil
	}
	lc := net.ListenConfig{KeepAlive: -1, Control: reusePortControl(true)}
	nl, err := lc.Listen(context.Background(), network, addr.String())
	if err != nil {
		return nil, err
	}
	return &netSocket{nl: nl}, nil
}

type fdSocket struct {
	fd      int
	network string
	local   net.Addr
}

func (s *fdSocket) addr() net.Addr { return s.local }
func (s *fdSocket) release()       { unix.Close(s.fd) }

func (s *fdSocket) adopt(r *reactor.Reactor, network string, cfg config) (*Listener, error) {
	lp, err := loopFor(r)
	if err != nil {
		s.release()
		return nil, err
	}
	l := &Listener{loop: lp, r: r, cfg: cfg, network: network, addr: s.local}
	l.cancelAccept = l.acceptCancelled
	e := &epollListener{l: l, fd: s.fd}
	e.onRead = e.readable
	l.io = e
	lp.adoptListener(l)
	return l, nil
}

type netSocket struct{ nl net.Listener }

func (s *netSocket) addr() net.Addr { return s.nl.Addr() }
func (s *netSocket) release()       { s.nl.Close() }

func (s *netSocket) adopt(r *reactor.Reactor, network string, cfg config) (*Listener, error) {
	lp, err := loopFor(r)
	if err != nil {
		s.release()
		return nil, err
	}
	l := &Listener{loop: lp, r: r, cfg: cfg, network: network}
	l.cancelAccept = l.acceptCancelled
	adoptPortable(l, s.nl)
	lp.adoptListener(l)
	return l, nil
}
