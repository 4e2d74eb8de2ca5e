package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

var newline = []byte("\n")

// runServer serves the Spread Site on addr until SIGINT or SIGTERM, or
// until listening fails.
func runServer(r *reactor.Reactor, addr string, out io.Writer) error {
	s := &site{out: out}
	var failed error
	r.CallWhenRunning(func() {
		deferredtcp.Listen(r, "tcp", addr).AddCallbacks(
			func(l *deferredtcp.Listener) (*deferredtcp.Listener, error) {
				fmt.Fprintf(out, "Spread server listening on %s\n", l.Addr())
				l.Serve(s.serve)
				return l, nil
			},
			func(f *failure.Failure) (*deferredtcp.Listener, error) {
				failed = f
				r.Stop()
				return nil, nil
			})
	})
	if err := r.Run(); err != nil {
		return err
	}
	if failed != nil {
		return failed
	}
	fmt.Fprintln(out, "Spread server stopped.")
	return nil
}

// site is what the tutorial keeps in its SpreadFactory and its global clients
// list: the open connections, oldest first, whose number is the tutorial's
// numProtocols. It lives on the reactor's goroutine, so it needs no lock.
type site struct {
	out     io.Writer
	clients []*deferredtcp.Conn
}

// serve is one client's life, the tutorial's Spreader: greet it with its
// number, forget it when it goes, and read its lines until then.
func (s *site) serve(c *deferredtcp.Conn) {
	s.clients = append(s.clients, c)
	fmt.Fprintf(s.out, "new connect: %d\n", len(s.clients))
	c.Lost().AddBoth(func(struct{}, *failure.Failure) (struct{}, error) {
		s.clients = slices.DeleteFunc(s.clients, func(o *deferredtcp.Conn) bool { return o == c })
		fmt.Fprintf(s.out, "lost connect: %d\n", len(s.clients))
		return struct{}{}, nil
	})
	deferred.Then(c.Write(fmt.Appendf(nil, welcome, len(s.clients))), func(int) (struct{}, error) {
		s.read(c)
		return struct{}{}, nil
	}).AddErrback(closeOnFailure(c))
}

// read takes the client's next line: "close" ends its connection and is
// passed on to everyone else; anything else is printed, and the next line
// read. The client's EOF (or any failure) closes the connection.
func (s *site) read(c *deferredtcp.Conn) {
	deferred.Then(c.ReadUntil(newline, 0), func(line []byte) (struct{}, error) {
		msg := strings.TrimSpace(string(line))
		if msg != closeCommand {
			fmt.Fprintln(s.out, msg)
			s.read(c)
			return struct{}{}, nil
		}
		c.Close() // Twisted's transport.loseConnection()
		for _, other := range s.clients {
			if other != c {
				_ = other.Send([]byte(closeCommand + "\n")) // a closing client is not told
			}
		}
		return struct{}{}, nil
	}).AddErrback(closeOnFailure(c))
}

// closeOnFailure is the errback that ends a connection's chain: io.EOF
// means the client is done, anything else that the connection is gone;
// either way Close, and Lost tells the rest.
func closeOnFailure(c *deferredtcp.Conn) func(*failure.Failure) (struct{}, error) {
	return func(*failure.Failure) (struct{}, error) {
		c.Close()
		return struct{}{}, nil
	}
}
