// Package echotest checks a comparison echo server in its own test process:
// [Start] runs the server's serve function on 127.0.0.1:0, [Echoes] sends
// what the harness sends (64-byte messages in lockstep and pipelined, 16 KiB
// messages) on several connections at once and checks every byte that comes
// back, [ClosesAfterEOF] checks that the server closes a connection the
// client has finished writing to, and [Server.Stop] checks that the server
// stops cleanly with connections open.
//
//	func TestEcho(t *testing.T) {
//		s := echotest.Start(t, func(ctx context.Context, ready func(string)) error {
//			return serve(ctx, "127.0.0.1:0", ready)
//		})
//		echotest.Echoes(t, s.Addr)
//		s.Stop(t)
//	}
//
// Run the package's tests under goleak.VerifyTestMain: a server that leaves
// goroutines behind after Stop fails them.
package echotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// timeout bounds every wait of these checks: a server that does not answer
// fails the test instead of hanging it.
const timeout = 10 * time.Second

// A Serve function runs an echo server until ctx ends, calls ready with the
// host:port it listens on once it accepts connections, and returns nil after
// a clean stop.
type Serve func(ctx context.Context, ready func(addr string)) error

// Server is a server that [Start] runs.
type Server struct {
	Addr string // host:port it listens on

	cancel  context.CancelFunc
	done    chan struct{} // closed when serve returned
	err     error         // what serve returned
	stopped bool
}

// Start runs serve in a goroutine, waits until it is ready, and checks that
// it echoes a first message, so that the server's accepting goroutine is
// running before the test goes on (nbio's acceptor, started by Engine.Start,
// misses a Stop that comes before it first runs and then never exits). If the
// test does not [Server.Stop] it, Start's cleanup does.
func Start(t testing.TB, serve Serve) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cancel: cancel, done: make(chan struct{})}
	addrs := make(chan string, 1)
	go func() {
		defer close(s.done)
		s.err = serve(ctx, func(addr string) { addrs <- addr })
	}()
	t.Cleanup(func() {
		if !s.stopped {
			s.Stop(t)
		}
	})
	select {
	case s.Addr = <-addrs:
		c := Dial(t, s.Addr)
		msg := []byte("ready?")
		got := make([]byte, len(msg))
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("the first message: %v", err)
		}
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("the first message's echo: %q, %v; want %q", got, err, msg)
		}
		c.Close()
		return s
	case <-s.done:
		t.Fatalf("the server returned before it was ready: %v", s.err)
	case <-time.After(timeout):
		t.Fatalf("the server was not ready within %v", timeout)
	}
	return nil
}

// Stop ends the server's context and checks that serve returns nil within
// the timeout and that its address no longer accepts connections.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.stopped = true
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(timeout):
		t.Fatalf("the server did not return within %v of its context ending", timeout)
	}
	if s.err != nil {
		t.Errorf("the server's stop: %v", s.err)
	}
	c, err := net.DialTimeout("tcp", s.Addr, timeout)
	if err == nil {
		c.Close()
		t.Errorf("%s accepts connections after the server stopped", s.Addr)
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dialling %s after the stop: %v; want connection refused", s.Addr, err)
	}
}

// Dial connects to addr with every read and write bounded by the timeout,
// and closes the connection when the test ends.
func Dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		t.Fatal(err)
	}
	return c.(*net.TCPConn)
}

// Echoes checks, on 8 connections at once, that the server at addr echoes
// 64-byte messages sent one at a time and 16 at a time, and 16 KiB messages,
// byte for byte.
func Echoes(t testing.TB, addr string) {
	t.Helper()
	const conns = 8
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range conns {
		c := Dial(t, addr)
		wg.Go(func() {
			if err := exchange(c, byte(i)); err != nil {
				errs <- fmt.Errorf("connection %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// exchange runs the three loads on c, each message a different pattern.
func exchange(c net.Conn, seed byte) error {
	loads := []struct{ size, depth, rounds int }{
		{64, 1, 100},
		{64, 16, 20},
		{16 << 10, 1, 20},
	}
	next := seed
	for _, l := range loads {
		for range l.rounds {
			batch := make([]byte, l.size*l.depth)
			for i := range batch {
				batch[i] = next
				next = next*31 + 7
			}
			for m := range l.depth { // one write per message, as the harness does
				if _, err := c.Write(batch[m*l.size : (m+1)*l.size]); err != nil {
					return fmt.Errorf("%d B × %d: write: %w", l.size, l.depth, err)
				}
			}
			got := make([]byte, len(batch))
			if _, err := io.ReadFull(c, got); err != nil {
				return fmt.Errorf("%d B × %d: read: %w", l.size, l.depth, err)
			}
			if !bytes.Equal(got, batch) {
				return fmt.Errorf("%d B × %d: the echo differs from what was sent", l.size, l.depth)
			}
		}
	}
	return nil
}

// ClosesAfterEOF checks that once the client has sent a message and shut
// its side down, the server echoes the message and closes the connection.
func ClosesAfterEOF(t testing.TB, addr string) {
	t.Helper()
	c := Dial(t, addr)
	msg := []byte("the last words before EOF")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading until the server closes: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Errorf("got %q before the close; want %q", got, msg)
	}
}

// ClosedByStop opens a connection, checks it echoes, and returns a function
// to call after [Server.Stop]: it checks that the stop closed the
// connection (a read ends with EOF or a reset, not the timeout).
func ClosedByStop(t testing.TB, addr string) (check func()) {
	t.Helper()
	c := Dial(t, addr)
	if err := exchange(c, 1); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		n, err := c.Read(make([]byte, 1))
		if n != 0 || !(errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
			t.Errorf("after the stop a read returned %d bytes and %v; want EOF or a reset", n, err)
		}
	}
}
