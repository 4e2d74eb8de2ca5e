// Command echo is the echo server of seed 003, written the twist way: each
// connection is a chain that greets the client, then reads and writes back
// until the client is done.
//
//	go run ./examples/echo          # listens on port 8007
//	nc 127.0.0.1 8007               # in another terminal
//
// Like the seed's twistd service, it stops gracefully on SIGTERM (kill -15)
// or SIGINT: it stops accepting, closes the open connections and exits.
// examples/echo-protocol is the same server written with Twisted's
// Protocol and Factory.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

func main() {
	addr := flag.String("addr", ":8007", "the address to listen on")
	flag.Parse()
	if err := run(*addr, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

// run serves until SIGINT or SIGTERM, or until listening fails.
func run(addr string, out io.Writer) error {
	r := reactor.New(reactor.WithSignals(syscall.SIGINT, syscall.SIGTERM))
	s := &server{out: out}
	r.CallWhenRunning(func() {
		deferredtcp.Listen(r, "tcp", addr).AddCallbacks(
			func(l *deferredtcp.Listener) (*deferredtcp.Listener, error) {
				fmt.Fprintf(out, "Echo server listening on %s\n", l.Addr())
				l.Serve(s.serve)
				return l, nil
			},
			func(f *failure.Failure) (*deferredtcp.Listener, error) {
				r.StopWithError(f) // Run returns f
				return nil, nil
			})
	})
	if err := r.Run(); err != nil {
		return err
	}
	fmt.Fprintln(out, "Echo server stopped.")
	return nil
}

// server counts the open connections, as the seed's EchoFactory does. Its
// methods run on the reactor's goroutine, so the count needs no lock.
type server struct {
	out  io.Writer
	open int
}

func (s *server) serve(c *deferredtcp.Conn) {
	s.open++
	peer := c.RemoteAddr()
	fmt.Fprintf(s.out, "Connection from %s: %d open\n", peer, s.open)
	c.Lost().AddBoth(func(_ struct{}, reason *failure.Failure) (struct{}, error) {
		s.open--
		if reason != nil {
			fmt.Fprintf(s.out, "Connection from %s lost (%v): %d open\n", peer, reason, s.open)
		} else {
			fmt.Fprintf(s.out, "Connection from %s closed: %d open\n", peer, s.open)
		}
		return struct{}{}, nil
	})
	welcome := fmt.Sprintf("Welcome! There are currently %d open connections.\n", s.open)
	deferred.Then(c.Write([]byte(welcome)), func(int) (int, error) {
		echo(c)
		return 0, nil
	}).AddErrback(closeOnFailure(c))
}

// echo reads what is available, writes it back, and starts over once the
// write has been buffered; the client's EOF (or any failure) ends the loop
// and closes the connection.
func echo(c *deferredtcp.Conn) {
	deferred.ThenDeferred(c.Read(), c.Write).AddCallbacks(
		func(n int) (int, error) {
			echo(c)
			return n, nil
		},
		closeOnFailure(c))
}

// closeOnFailure is the errback that ends a connection's chain: io.EOF
// means the client is done, anything else that the connection is gone;
// either way Close (which also reports the reason through Lost).
func closeOnFailure(c *deferredtcp.Conn) func(*failure.Failure) (int, error) {
	return func(*failure.Failure) (int, error) {
		c.Close()
		return 0, nil
	}
}
