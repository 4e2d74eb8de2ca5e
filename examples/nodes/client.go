package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// What a client exits with when the server turns it away for good: retrying
// would not help.
var (
	errRefused  = errors.New("the server refused this node's code")
	errReplaced = errors.New("another node connected with this node's id")
)

// clientConfig is what the client's flags say.
type clientConfig struct {
	id    int
	addr  string
	code  string
	send  *message
	retry time.Duration
}

// ClientConnection is the tutorial's ClientConnection protocol: it handshakes
// as soon as it is connected, then prints what the server sends.
type ClientConnection struct {
	deferredtcp.LineReceiver
	factory *ClientConnectionFactory
}

// ConnectionMade sends the handshake, which the server checks.
func (p *ClientConnection) ConnectionMade(t deferredtcp.Transport) {
	fmt.Fprintf(p.factory.out, "Connected to %s\n", t.GetPeer())
	p.SendLine(fmt.Appendf(nil, "HELLO %d %s", p.factory.cfg.id, p.factory.cfg.code))
}

// LineReceived prints the line; after a WELCOME it sends -send's message.
// After "ERR bad code" it gives up, since the code will not get better, and
// after "ERR replaced..." too, or the two nodes with its id would take
// turns replacing each other.
func (p *ClientConnection) LineReceived(data []byte) {
	line := strings.TrimSuffix(string(data), "\r")
	fmt.Fprintln(p.factory.out, line)
	switch {
	case strings.HasPrefix(line, "WELCOME "):
		if m := p.factory.cfg.send; m != nil {
			p.SendLine(fmt.Appendf(nil, "TO %d %s", m.to, m.text))
		}
	case line == "ERR bad code":
		p.factory.giveUp(errRefused)
	case strings.HasPrefix(line, "ERR replaced"):
		p.factory.giveUp(errReplaced)
	}
}

// ClientConnectionFactory is the tutorial's ClientConnectionFactory: a
// ReconnectingClientFactory that builds ClientConnections and reports each
// attempt's end before retrying.
type ClientConnectionFactory struct {
	deferredtcp.ReconnectingClientFactory
	cfg    clientConfig
	r      *reactor.Reactor
	out    io.Writer
	gaveUp error // why the node stopped reconnecting, if it did
}

// NewClientConnectionFactory returns the factory of node cfg.id, which
// reconnects cfg.retry after every failure or loss. The tutorial sets a fixed
// 5 s delay; Twisted's growing back-off (InitialDelay 1 s, Factor e, with
// jitter) is what the zero ReconnectingClientFactory would do instead.
func NewClientConnectionFactory(r *reactor.Reactor, cfg clientConfig, out io.Writer) *ClientConnectionFactory {
	f := &ClientConnectionFactory{cfg: cfg, r: r, out: out}
	f.InitialDelay, f.MaxDelay = cfg.retry, cfg.retry
	f.Factor = 1
	f.Jitter = -1 // none
	return f
}

// BuildProtocol makes the protocol of a new connection.
func (f *ClientConnectionFactory) BuildProtocol(net.Addr) deferredtcp.Protocol {
	p := &ClientConnection{factory: f}
	p.Delimiter = newline
	return p
}

// ClientConnectionLost reports the loss, then lets the embedded
// ReconnectingClientFactory schedule the next attempt.
func (f *ClientConnectionFactory) ClientConnectionLost(c *deferredtcp.Connector, reason *failure.Failure) {
	fmt.Fprintf(f.out, "Lost connection: %v\n", reason)
	f.ReconnectingClientFactory.ClientConnectionLost(c, reason)
	if f.gaveUp != nil {
		f.r.Stop()
	}
}

// giveUp makes the connection's loss final: no retry, and the program ends
// with err.
func (f *ClientConnectionFactory) giveUp(err error) {
	f.gaveUp = err
	f.StopTrying()
}

// ClientConnectionFailed reports the failure, then lets the embedded
// ReconnectingClientFactory schedule the next attempt.
func (f *ClientConnectionFactory) ClientConnectionFailed(c *deferredtcp.Connector, reason *failure.Failure) {
	fmt.Fprintf(f.out, "Connection failed: %v\n", reason)
	f.ReconnectingClientFactory.ClientConnectionFailed(c, reason)
}

// runClient runs node cfg.id, reconnecting whenever its connection fails or
// ends, until SIGINT or SIGTERM, or until the server refuses its code.
func runClient(r *reactor.Reactor, cfg clientConfig, out io.Writer) error {
	f := NewClientConnectionFactory(r, cfg, out)
	r.CallWhenRunning(func() {
		deferredtcp.ConnectTCP(r, cfg.addr, f)
	})
	// On the way out, no more retries; the reactor closes the connection.
	r.AddSystemEventTrigger(reactor.Before, reactor.Shutdown, func() *deferred.Deferred[struct{}] {
		f.StopTrying()
		return nil
	})
	if err := r.Run(); err != nil {
		return err
	}
	if f.gaveUp != nil {
		return f.gaveUp
	}
	fmt.Fprintf(out, "Node %d stopped.\n", cfg.id)
	return nil
}
