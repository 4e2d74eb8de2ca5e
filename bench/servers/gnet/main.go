// Command gnet is the comparison's echo server on github.com/panjf2000/gnet/v2,
// written as gnet's own echo example and benchmark server write it: an
// EventHandler built on BuiltinEventEngine whose OnTraffic writes back
// everything the connection's inbound buffer holds (c.Next(-1), c.Write),
// run with gnet.Run, WithMulticore(true) (one event loop per CPU the process
// may use: one when the harness pins it to a core) and WithLockOSThread(true),
// the options of gnet's benchmark server, and stopped with Engine.Stop.
// -multicore=false and -lock-os-thread=false run it with gnet's defaults
// instead, to see what the options are worth.
//
// It prints its bound address on the first line of stdout and exits on
// SIGTERM or SIGINT. gnet logs to stdout by default; its log goes to stderr
// here, so that the address is the first line.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	multicore := flag.Bool("multicore", true, "gnet.WithMulticore: an event loop per CPU")
	lock := flag.Bool("lock-os-thread", true, "gnet.WithLockOSThread: each event loop on an OS thread of its own")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	err := serve(ctx, *addr, func(a net.Addr) { fmt.Println(a) }, gnet.WithMulticore(*multicore), gnet.WithLockOSThread(*lock))
	if err != nil {
		log.Fatal(err)
	}
}

// echoServer is gnet's echo example.
type echoServer struct {
	gnet.BuiltinEventEngine

	eng     gnet.Engine
	ready   func(net.Addr)
	booted  chan struct{} // closed once eng is set and ready was called
	bootErr error         // why OnBoot shut the engine down
}

// OnBoot keeps the engine, for Stop, and reports the address it listens on.
func (es *echoServer) OnBoot(eng gnet.Engine) gnet.Action {
	addr, err := boundAddr(eng)
	if err != nil {
		es.bootErr = err
		return gnet.Shutdown
	}
	es.eng = eng
	es.ready(addr)
	close(es.booted)
	return gnet.None
}

// OnTraffic writes back everything the connection has buffered.
func (es *echoServer) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	if _, err := c.Write(buf); err != nil {
		return gnet.Close
	}
	return gnet.None
}

// serve runs the echo server on addr with opts until ctx ends, calling ready
// with the bound address once it listens. It returns nil after a clean stop.
func serve(ctx context.Context, addr string, ready func(net.Addr), opts ...gnet.Option) error {
	es := &echoServer{ready: ready, booted: make(chan struct{})}
	ran := make(chan struct{})
	stopped := make(chan error, 1)
	go func() {
		select {
		case <-es.booted:
		case <-ran: // Run failed before it booted
			stopped <- nil
			return
		}
		select {
		case <-ctx.Done():
			stopped <- es.eng.Stop(context.Background())
		case <-ran:
			stopped <- nil
		}
	}()
	opts = append(opts, gnet.WithLogger(stderrLogger{slog.Default()}))
	err := gnet.Run(es, "tcp://"+addr, opts...)
	close(ran)
	return errors.Join(err, es.bootErr, <-stopped)
}

// boundAddr asks the kernel where eng's listener is bound (the port is
// chosen by the kernel for 127.0.0.1:0); gnet keeps the address it was given.
func boundAddr(eng gnet.Engine) (net.Addr, error) {
	fd, err := eng.Dup()
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, err
	}
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}, nil
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: sa.Addr[:], Port: sa.Port}, nil
	}
	return nil, fmt.Errorf("gnet: listener bound to a %T", sa)
}

// stderrLogger is gnet's logging.Logger over log/slog, whose default handler
// writes to stderr.
type stderrLogger struct{ l *slog.Logger }

func (s stderrLogger) Debugf(format string, args ...any) {
	s.l.Debug(fmt.Sprintf(format, args...))
}

func (s stderrLogger) Infof(format string, args ...any) {
	s.l.Info(fmt.Sprintf(format, args...))
}

func (s stderrLogger) Warnf(format string, args ...any) {
	s.l.Warn(fmt.Sprintf(format, args...))
}

func (s stderrLogger) Errorf(format string, args ...any) {
	s.l.Error(fmt.Sprintf(format, args...))
}

func (s stderrLogger) Fatalf(format string, args ...any) {
	s.l.Error(fmt.Sprintf(format, args...))
	os.Exit(1)
}
