package deferredtcp_test

import (
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// Echo is the Twisted tutorial's echo protocol.
type Echo struct{ deferredtcp.BaseProtocol }

func (e *Echo) DataReceived(p []byte) { e.Transport.Write(p) }

// Greeter says hello, prints the echo and hangs up, as the client of the
// Twisted tutorial on Protocol, Factory and Transport does.
type Greeter struct{ deferredtcp.BaseProtocol }

func (g *Greeter) ConnectionMade(t deferredtcp.Transport) { t.Write([]byte("hello, twist")) }
func (g *Greeter) DataReceived(p []byte) {
	fmt.Printf("echoed: %s\n", p)
	g.Transport.LoseConnection()
}

// GreeterFactory stops the reactor when its connection ends.
type GreeterFactory struct {
	deferredtcp.BaseClientFactory
	r *reactor.Reactor
}

func (f *GreeterFactory) BuildProtocol(net.Addr) deferredtcp.Protocol { return &Greeter{} }
func (f *GreeterFactory) ClientConnectionLost(_ *deferredtcp.Connector, reason *failure.Failure) {
	fmt.Println("lost:", reason)
	f.r.Stop()
}

// A Twisted-style echo server and client, as in the Twisted tutorials.
func ExampleListenTCP() {
	r := reactor.New()
	server := &deferredtcp.BaseFactory{NewProtocol: func() deferredtcp.Protocol { return &Echo{} }}
	deferredtcp.ListenTCP(r, "127.0.0.1:0", server).AddCallback(func(l *deferredtcp.Listener) (*deferredtcp.Listener, error) {
		deferredtcp.ConnectTCP(r, l.Addr().String(), &GreeterFactory{r: r})
		return l, nil
	})
	r.Run()
	// Output:
	// echoed: hello, twist
	// lost: deferredtcp: connection was closed cleanly
}

// The delays of Twisted's back-off, on a fake clock: e, e², ... up to
// MaxDelay, each with its jitter.
func ExampleReconnectingClientFactory() {
	clock := reactor.NewClock(time.Time{})
	f := &deferredtcp.ReconnectingClientFactory{
		Clock:    clock,
		Rand:     rand.New(rand.NewPCG(1, 2)),
		MaxDelay: time.Minute,
	}
	c := &deferredtcp.Connector{}
	for range 6 {
		f.ClientConnectionFailed(c, failure.New(fmt.Errorf("refused")))
		fmt.Printf("retry %d after %.1fs\n", f.Retries(), f.Delay().Seconds())
	}
	f.StopTrying()
	// Output:
	// retry 1 after 2.8s
	// retry 2 after 7.8s
	// retry 3 after 21.7s
	// retry 4 after 51.0s
	// retry 5 after 57.1s
	// retry 6 after 37.9s
}

// Endpoint strings use Twisted's syntax.
func ExampleServerFromString() {
	e, err := deferredtcp.ServerFromString(nil, `tcp6:8007:interface=\:\:1:backlog=10`)
	fmt.Println(e.Network, e.Address, e.Backlog, err)
	_, err = deferredtcp.ClientFromString(nil, "tcp:host=example.org:port=http")
	fmt.Println(err)
	// Output:
	// tcp6 [::1]:8007 10 <nil>
	// deferredtcp: endpoint "tcp:host=example.org:port=http": port "http": not a port number (0-65535)
}
