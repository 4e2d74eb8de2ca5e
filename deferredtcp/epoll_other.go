//go:build !linux

package deferredtcp

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/twistgo/twist/reactor"
)

// Off Linux every reactor is Portable: the epoll path is never taken.

func useEpoll(Loop) bool { return false }

func listenEpoll(*Listener, net.Addr) error { return errors.ErrUnsupported }

func (a *attempt) startEpoll() { a.fail(errors.ErrUnsupported) }

func reusePortControl(bool) func(network, address string, c syscall.RawConn) error { return nil }

func bindGroupSocket(_ *reactor.Reactor, network string, addr net.Addr, _ config) (groupSocket, error) {
	return nil, &net.OpError{Op: "listen", Net: network, Addr: addr,
		Err: fmt.Errorf("deferredtcp: ListenGroup needs SO_REUSEPORT (Linux): %w", errors.ErrUnsupported)}
}
