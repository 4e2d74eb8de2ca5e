package main

import (
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

// Echo is the tutorial's client protocol. BaseProtocol's Connected field is the
// tutorial's self.connected: true from ConnectionMade until ConnectionLost.
type Echo struct {
	deferredtcp.BaseProtocol
	out io.Writer
}

// DataReceived prints what the server sends, and closes the connection
// when it says "close".
func (e *Echo) DataReceived(data []byte) {
	for line := range strings.Lines(string(data)) {
		line = strings.TrimRight(line, "\r\n")
		fmt.Fprintln(e.out, line)
		if strings.TrimSpace(line) == "close" {
			e.Transport.LoseConnection()
		}
	}
}

// EchoClientFactory reports the connection's progress, keeps the protocol
// for the routine, and stops the reactor when the connection ends (the
// tutorial's client ran on; this one exits, as the example's client does).
type EchoClientFactory struct {
	deferredtcp.BaseClientFactory
	protocol *Echo
	r        *reactor.Reactor
	out      io.Writer
}

// StartedConnecting is called as the attempt begins.
func (f *EchoClientFactory) StartedConnecting(*deferredtcp.Connector) {
	fmt.Fprintln(f.out, "Start to Connect...")
}

// BuildProtocol is called once connected.
func (f *EchoClientFactory) BuildProtocol(net.Addr) deferredtcp.Protocol {
	fmt.Fprintln(f.out, "Connected...")
	f.protocol = &Echo{out: f.out}
	return f.protocol
}

// ClientConnectionLost is called after the protocol's ConnectionLost.
func (f *EchoClientFactory) ClientConnectionLost(_ *deferredtcp.Connector, reason *failure.Failure) {
	fmt.Fprintln(f.out, "Lost connection. Reason:", reason)
	f.r.Stop()
}

// ClientConnectionFailed is called when the attempt fails.
func (f *EchoClientFactory) ClientConnectionFailed(_ *deferredtcp.Connector, reason *failure.Failure) {
	fmt.Fprintln(f.out, "Connection is failed, Reason:", reason)
	f.r.Stop()
}

// routine is the tutorial's thread body, one turn of its loop: say hello if
// connected. A LoopingCall runs it on the reactor's goroutine, where the
// protocol lives, instead of on a thread of its own.
func routine(factory *EchoClientFactory, name string) {
	if factory.protocol != nil && factory.protocol.Connected {
		now := time.Now().Format("2006-01-02 15:04:05.000000") // as Python's datetime.now()
		factory.protocol.Transport.Write(fmt.Appendf(nil, "hello, I'm %s %s\n", name, now))
		fmt.Fprintln(factory.out, name, now)
	}
}

// runClient connects to addr and says hello every interval while connected,
// until the connection fails or ends.
func runClient(r *reactor.Reactor, addr string, interval time.Duration, name string, out io.Writer) error {
	factory := &EchoClientFactory{r: r, out: out}
	r.CallWhenRunning(func() {
		deferredtcp.ConnectTCP(r, addr, factory)
		hello := reactor.NewLoopingCall(r, func() *deferred.Deferred[struct{}] {
			routine(factory, name)
			return nil
		})
		hello.Start(interval, true)
	})
	return r.Run()
}
