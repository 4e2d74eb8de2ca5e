// Command echo-protocol is the Twisted tutorial's echo server as the
// tutorial's echoServ.py writes it: an Echo protocol and an EchoFactory
// that counts the open connections, ported one class to one type with
// twist's Protocol/Factory adapter. examples/echo is the same server written
// as a chain, and examples/echo-service runs this protocol the way the
// tutorial's echo.tac does.
//
//	go run ./examples/echo-protocol          # listens on port 8007
//	go run ./examples/echo -client hello     # in another terminal
//
// SIGTERM (kill -15) or SIGINT stops it gracefully, as it stops the
// tutorial's server under twistd.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// Echo is the protocol: one per connection.
type Echo struct {
	deferredtcp.BaseProtocol
	factory *EchoFactory
}

// ConnectionMade greets the client with the number of open connections.
func (e *Echo) ConnectionMade(t deferredtcp.Transport) {
	e.factory.numProtocols++
	fmt.Fprintf(e.factory.out, "Connection from %s: %d open\n", t.GetPeer(), e.factory.numProtocols)
	t.Write(fmt.Appendf(nil, "Welcome! There are currently %d open connections.\n", e.factory.numProtocols))
}

// ConnectionLost forgets the connection.
func (e *Echo) ConnectionLost(reason *failure.Failure) {
	e.factory.numProtocols--
	fmt.Fprintf(e.factory.out, "Connection lost (%v): %d open\n", reason, e.factory.numProtocols)
}

// DataReceived writes back whatever arrives.
func (e *Echo) DataReceived(data []byte) {
	e.Transport.Write(data)
}

// EchoFactory builds an Echo for each connection and keeps the count they
// share. Everything runs on the reactor's goroutine, so no lock is needed.
type EchoFactory struct {
	numProtocols int
	out          io.Writer
}

// BuildProtocol makes the protocol of a new connection.
func (f *EchoFactory) BuildProtocol(net.Addr) deferredtcp.Protocol {
	return &Echo{factory: f}
}

func main() {
	addr := flag.String("addr", ":8007", "the address to listen on")
	flag.Parse()
	if err := run(*addr, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "echo-protocol:", err)
		os.Exit(1)
	}
}

func run(addr string, out io.Writer) error {
	err := reactor.React(func(r *reactor.Reactor) *deferred.Deferred[struct{}] {
		// reactor.listenTCP(8007, EchoFactory()); reactor.run()
		return deferred.ThenDeferred(deferredtcp.ListenTCP(r, addr, &EchoFactory{out: out}), func(l *deferredtcp.Listener) *deferred.Deferred[struct{}] {
			fmt.Fprintf(out, "Echo server listening on %s\n", l.Addr())
			return deferred.New[struct{}]() // serve until a signal stops the reactor
		})
	}, reactor.WithSignals(syscall.SIGINT, syscall.SIGTERM))
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "Echo server stopped.")
	return nil
}
