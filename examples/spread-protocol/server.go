package main

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// Spreader is the tutorial's protocol: one per connection.
type Spreader struct {
	deferredtcp.BaseProtocol
	factory *SpreadFactory
}

// ConnectionMade greets the client with its number and adds it to the
// clients.
func (s *Spreader) ConnectionMade(t deferredtcp.Transport) {
	s.factory.numProtocols++
	t.Write(fmt.Appendf(nil, "欢迎来到Spread Site, 你是第%d个客户端用户!\n", s.factory.numProtocols))
	fmt.Fprintf(s.factory.out, "new connect: %d\n", s.factory.numProtocols)
	s.factory.clients = append(s.factory.clients, s)
}

// ConnectionLost removes the client.
func (s *Spreader) ConnectionLost(*failure.Failure) {
	s.factory.numProtocols--
	s.factory.clients = slices.DeleteFunc(s.factory.clients, func(c *Spreader) bool { return c == s })
	fmt.Fprintf(s.factory.out, "lost connect: %d\n", s.factory.numProtocols)
}

// DataReceived closes the connection on "close" and passes it on to every
// other client; it prints anything else.
func (s *Spreader) DataReceived(data []byte) {
	msg := strings.TrimSpace(string(data))
	if msg != "close" {
		fmt.Fprintln(s.factory.out, msg)
		return
	}
	s.Transport.LoseConnection()
	for _, client := range s.factory.clients {
		if client != s {
			client.Transport.Write([]byte("close\n"))
		}
	}
}

// SpreadFactory builds a Spreader for each connection and holds what they
// share: the count, and the tutorial's global clients list. Everything runs on
// the reactor's goroutine, so nothing needs a lock.
type SpreadFactory struct {
	numProtocols int
	clients      []*Spreader
	out          io.Writer
}

// NewSpreadFactory returns a factory whose protocols print to out.
func NewSpreadFactory(out io.Writer) *SpreadFactory { return &SpreadFactory{out: out} }

// BuildProtocol makes the protocol of a new connection.
func (f *SpreadFactory) BuildProtocol(net.Addr) deferredtcp.Protocol {
	return &Spreader{factory: f}
}

// runServer serves the Spread Site on addr until SIGINT or SIGTERM, or
// until listening fails.
func runServer(r *reactor.Reactor, addr string, out io.Writer) error {
	var failed error
	r.CallWhenRunning(func() {
		// endpoint = TCP4ServerEndpoint(reactor, 8007); endpoint.listen(SpreadFactory())
		deferredtcp.ListenTCP(r, addr, NewSpreadFactory(out)).AddCallbacks(
			func(l *deferredtcp.Listener) (*deferredtcp.Listener, error) {
				fmt.Fprintf(out, "Spread server listening on %s\n", l.Addr())
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
