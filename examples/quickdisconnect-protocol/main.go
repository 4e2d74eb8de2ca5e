// Command quickdisconnect-protocol is the Twisted reactor tutorial's
// "protocols and factories" client as the tutorial writes it: a
// QuickDisconnectedProtocol that closes the connection as soon as it is made,
// and a BasicClientFactory that reports how the connection ended and stops the
// reactor. examples/quickdisconnect is the same program as a chain.
//
//	go run ./examples/quickdisconnect-protocol -addr www.example.org:80
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// QuickDisconnectedProtocol closes its connection as soon as it is made.
type QuickDisconnectedProtocol struct {
	deferredtcp.BaseProtocol
	out io.Writer
}

// ConnectionMade says to whom, and hangs up.
func (p *QuickDisconnectedProtocol) ConnectionMade(t deferredtcp.Transport) {
	host, _, _ := net.SplitHostPort(t.GetPeer().String())
	fmt.Fprintf(p.out, "Connected to %s.\n", host)
	t.LoseConnection()
}

// BasicClientFactory builds the protocol and stops the reactor when the
// connection ends, either way.
type BasicClientFactory struct {
	deferredtcp.BaseClientFactory
	reactor *reactor.Reactor
	out     io.Writer
}

// BuildProtocol makes the protocol of the connection.
func (f *BasicClientFactory) BuildProtocol(net.Addr) deferredtcp.Protocol {
	return &QuickDisconnectedProtocol{out: f.out}
}

// ClientConnectionLost reports why the connection ended.
func (f *BasicClientFactory) ClientConnectionLost(_ *deferredtcp.Connector, reason *failure.Failure) {
	fmt.Fprintf(f.out, "Lost connection: %s\n", errorMessage(reason))
	f.reactor.Stop()
}

// ClientConnectionFailed reports why the connection could not be made.
func (f *BasicClientFactory) ClientConnectionFailed(_ *deferredtcp.Connector, reason *failure.Failure) {
	fmt.Fprintf(f.out, "Connection failed: %s\n", errorMessage(reason))
	f.reactor.Stop()
}

// errorMessage is Twisted's Failure.getErrorMessage for the reasons of
// this program.
func errorMessage(reason *failure.Failure) string {
	if errors.Is(reason, deferredtcp.ErrConnectionDone) {
		return "Connection was closed cleanly."
	}
	return reason.Error()
}

func main() {
	addr := flag.String("addr", "www.google.com:80", "the host:port to connect to")
	flag.Parse()
	if err := run(*addr, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickdisconnect-protocol:", err)
		os.Exit(1)
	}
}

func run(addr string, out io.Writer) error {
	r := reactor.New()
	r.CallWhenRunning(func() {
		// reactor.connectTCP('www.google.com', 80, BasicClientFactory())
		deferredtcp.ConnectTCP(r, addr, &BasicClientFactory{reactor: r, out: out})
	})
	return r.Run()
}
