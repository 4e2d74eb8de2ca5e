// Package echoserv is the Twisted tutorial's echoServ.py: the Echo
// protocol and the EchoFactory that counts the open connections, ported
// one class to one type with twist's Protocol/Factory adapter. As the
// tutorial's echo.tac imports EchoFactory from echoServ, the two programs
// that serve it import it from here: examples/echo-protocol runs it on a
// reactor, examples/echo-service as an application's TCP service.
package echoserv

import (
	"fmt"
	"io"
	"net"

	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
)

// Echo is the protocol: one per connection.
type Echo struct {
	deferredtcp.BaseProtocol
	factory *EchoFactory
}

// ConnectionMade greets the client with the number of open connections.
func (e *Echo) ConnectionMade(t deferredtcp.Transport) {
	e.factory.numProtocols++
	fmt.Fprintf(e.factory.Out, "Connection from %s: %d open\n", t.GetPeer(), e.factory.numProtocols)
	t.Write(fmt.Appendf(nil, "Welcome! There are currently %d open connections.\n", e.factory.numProtocols))
}

// ConnectionLost forgets the connection.
func (e *Echo) ConnectionLost(reason *failure.Failure) {
	e.factory.numProtocols--
	fmt.Fprintf(e.factory.Out, "Connection lost (%v): %d open\n", reason, e.factory.numProtocols)
}

// DataReceived writes back whatever arrives.
func (e *Echo) DataReceived(data []byte) {
	e.Transport.Write(data)
}

// EchoFactory builds an Echo for each connection and keeps the count they
// share. Everything runs on the reactor's goroutine, so no lock is needed.
type EchoFactory struct {
	numProtocols int
	// Out is where the connections are reported.
	Out io.Writer
}

// BuildProtocol makes the protocol of a new connection.
func (f *EchoFactory) BuildProtocol(net.Addr) deferredtcp.Protocol {
	return &Echo{factory: f}
}
