//go:build linux

package deferredtcp

import (
	"net"
	"os"

	"golang.org/x/sys/unix"

	"github.com/twistgo/twist/deferredtcp/internal/sock"
	"github.com/twistgo/twist/reactor"
)

func useEpoll(r Loop) bool { return r.Backend() == reactor.Epoll }

// epollConn is the epoll I/O path: a non-blocking socket read and written on
// the loop goroutine when the reactor reports it ready. It holds its Conn,
// so that a connection is one allocation.
type epollConn struct {
	conn       Conn
	onRead     func()
	onWrite    func() // made at the first write that must wait
	fd         int32  // the socket; -1 once closed
	watchWrite bool
}

func newEpollConn(l *loop, network string, fd int, raddr net.Addr, cfg *config) *Conn {
	e := &epollConn{fd: int32(fd)}
	e.onRead = e.readable
	initConn(&e.conn, l, network, e, raddr, cfg)
	e.conn.start()
	return &e.conn
}

func (e *epollConn) readable() {
	c := &e.conn
	if e.fd < 0 || !c.reading {
		return
	}
	n, err := sock.Read(int(e.fd), c.loop.readBuf(c.readSize))
	switch {
	case err == nil && n > 0:
		c.receiveBuf(&c.loop.buf, n)
	case err == nil:
		c.receivedEOF()
	case err == unix.EAGAIN || err == unix.EINTR:
	default:
		c.lose(c.opError("read", err), false)
	}
}

func (e *epollConn) writable() {
	c := &e.conn
	if e.fd < 0 {
		return
	}
	if c.Buffered() > 0 {
		n, err := sock.Write(int(e.fd), c.out[c.outOff:])
		switch {
		case err == nil:
			c.wrote(n)
		case err == unix.EAGAIN || err == unix.EINTR:
			return
		default:
			c.lose(c.opError("write", err), false)
			return
		}
	}
	if e.fd >= 0 && e.watchWrite && c.Buffered() == 0 {
		e.watchWrite = false
		c.loop.r.RemoveWriter(int(e.fd))
	}
}

func (e *epollConn) writeNow(p []byte) (int, error) {
	for {
		n, err := sock.Write(int(e.fd), p)
		switch {
		case err == nil:
			return n, nil
		case err == unix.EAGAIN:
			return 0, nil
		case err != unix.EINTR:
			return 0, err
		}
	}
}

func (e *epollConn) flush() {
	if !e.watchWrite && e.fd >= 0 {
		e.watchWrite = true
		if e.onWrite == nil {
			e.onWrite = e.writable
		}
		if err := e.conn.loop.r.AddWriter(int(e.fd), e.onWrite); err != nil {
			e.conn.lose(e.conn.opError("epoll_ctl", err), false)
		}
	}
}

func (e *epollConn) setReading(on bool) {
	if e.fd < 0 {
		return
	}
	if on {
		if err := e.conn.loop.r.AddReader(int(e.fd), e.onRead); err != nil {
			e.conn.lose(e.conn.opError("epoll_ctl", err), false)
		}
		return
	}
	e.conn.loop.r.RemoveReader(int(e.fd))
}

func (e *epollConn) shutdownWrite() error {
	if e.fd < 0 {
		return nil
	}
	return os.NewSyscallError("shutdown", unix.Shutdown(int(e.fd), unix.SHUT_WR))
}

func (e *epollConn) close(abort bool) {
	if e.fd < 0 {
		return
	}
	r := e.conn.loop.r
	r.RemoveReader(int(e.fd))
	r.RemoveWriter(int(e.fd))
	if abort && isTCP(e.conn.network) {
		sock.SetLingerZero(int(e.fd))
	}
	unix.Close(int(e.fd))
	e.fd = -1
}

func (e *epollConn) setNoDelay(on bool) error   { return sock.SetNoDelay(int(e.fd), on) }
func (e *epollConn) setKeepAlive(on bool) error { return sock.SetKeepAlive(int(e.fd), on) }

func (e *epollConn) localAddr() net.Addr {
	if e.fd < 0 {
		return nil
	}
	return sock.LocalAddr(e.conn.network, int(e.fd))
}

// Accepting on epoll.

const acceptBatch = 64 // connections accepted per wake-up at most

type epollListener struct {
	l        *Listener
	fd       int
	onRead   func()
	watching bool
	backoff  acceptBackoff
	retry    *reactor.DelayedCall // the end of the back-off
	unlink   string               // the Unix socket file to remove at close
	rsa      unix.RawSockaddrAny  // where accept writes the peer's address
}

func listenEpoll(l *Listener, addr net.Addr) error {
	fd, err := sock.Listen(l.network, addr, sock.Options{Backlog: l.cfg.backlog, ReusePort: l.cfg.reusePort})
	if err != nil {
		return err
	}
	e := &epollListener{l: l, fd: fd}
	e.onRead = e.readable
	if ua, ok := addr.(*net.UnixAddr); ok && ua.Name != "" && ua.Name[0] != '@' {
		e.unlink = ua.Name
	}
	l.addr = sock.LocalAddr(l.network, fd)
	l.io = e
	return nil
}

func (e *epollListener) setAccepting(on bool) {
	if e.fd < 0 {
		return
	}
	e.watch(on && e.retry == nil)
}

func (e *epollListener) watch(on bool) {
	if on == e.watching {
		return
	}
	e.watching = on
	if on {
		if err := e.l.r.AddReader(e.fd, e.onRead); err != nil {
			e.l.r.Logger().Error("deferredtcp: cannot watch listener", "addr", e.l.addr, "err", err)
		}
		return
	}
	e.l.r.RemoveReader(e.fd)
}

func (e *epollListener) readable() {
	l := e.l
	for range acceptBatch {
		if e.fd < 0 || !l.wanted() {
			return
		}
		nfd, raddr, err := sock.Accept(e.fd, l.network, &e.rsa)
		if err != nil {
			switch {
			case err == unix.EAGAIN:
				e.backoff.ok()
			case err == unix.EINTR, err == unix.ECONNABORTED:
				continue
			default:
				// EMFILE, ENFILE, ENOBUFS, ENOMEM, or worse: pause, logging
				// once per run of failures.
				e.backOff(err)
			}
			return
		}
		e.backoff.ok()
		l.deliver(newEpollConn(l.loop, l.network, nfd, raddr, &l.cfg))
	}
}

// backOff stops accepting for a while after a resource shortage, instead of
// spinning on a listener that stays readable; each shortage in a row doubles
// the pause, up to a second.
func (e *epollListener) backOff(err error) {
	pause := e.backoff.failed(e.l, err)
	e.watch(false)
	e.retry = e.l.r.Schedule(pause, func() {
		e.retry = nil
		e.setAccepting(e.l.wanted())
	})
}

func (e *epollListener) close(done func()) {
	if e.fd >= 0 {
		if e.retry != nil {
			e.retry.Cancel()
			e.retry = nil
		}
		e.watch(false)
		unix.Close(e.fd)
		e.fd = -1
		if e.unlink != "" {
			os.Remove(e.unlink)
		}
	}
	done()
}

// Connecting on epoll.

type epollAttempt struct {
	a  *attempt
	fd int
}

func (a *attempt) startEpoll() {
	fd, connected, err := sock.Connect(a.network, a.addr, sock.Options{Bind: a.cfg.bind})
	if err != nil {
		a.fail(err)
		return
	}
	if connected {
		a.connectedEpoll(fd)
		return
	}
	e := &epollAttempt{a: a, fd: fd}
	a.io = e
	if err := a.loop.r.AddWriter(fd, e.writable); err != nil {
		unix.Close(fd)
		a.fail(a.dialError(err))
	}
}

func (a *attempt) dialError(err error) error {
	return &net.OpError{Op: "dial", Net: a.network, Source: a.cfg.bind, Addr: a.addr, Err: err}
}

func (a *attempt) connectedEpoll(fd int) {
	a.succeed(newEpollConn(a.loop, a.network, fd, a.addr, &a.cfg))
}

func (e *epollAttempt) writable() {
	if e.fd < 0 {
		return
	}
	ok, err := sock.ConnectResult(e.fd)
	if !ok && err == nil {
		return
	}
	fd := e.fd
	e.fd = -1
	e.a.loop.r.RemoveWriter(fd)
	if err != nil {
		unix.Close(fd)
		e.a.fail(e.a.dialError(err))
		return
	}
	e.a.io = nil
	e.a.connectedEpoll(fd)
}

func (e *epollAttempt) abort() {
	if e.fd >= 0 {
		e.a.loop.r.RemoveWriter(e.fd)
		unix.Close(e.fd)
		e.fd = -1
	}
}
