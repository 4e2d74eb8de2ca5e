package deferredtcp_test

import (
	"fmt"
	"net"

	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// HangUp is a Greeter that stops the reactor when its connection ends.
type HangUp struct {
	Greeter
	r *reactor.Reactor
}

func (h *HangUp) ConnectionLost(*failure.Failure) { h.r.Stop() }

// A client connects to a host by name, trying each of its addresses, and
// attaches a protocol to the connection (Twisted's HostnameEndpoint and
// connectProtocol).
func ExampleConnectProtocol() {
	r := reactor.New()
	server := &deferredtcp.BaseFactory{NewProtocol: func() deferredtcp.Protocol { return &Echo{} }}
	deferredtcp.ListenTCP(r, "127.0.0.1:0", server).AddCallback(func(l *deferredtcp.Listener) (*deferredtcp.Listener, error) {
		e := deferredtcp.NewHostnameEndpoint(r, "localhost", l.Addr().(*net.TCPAddr).Port)
		deferredtcp.ConnectProtocol(e, &HangUp{r: r}).AddErrback(func(f *failure.Failure) (*HangUp, error) {
			fmt.Println("connect failed:", f)
			r.Stop()
			return nil, nil
		})
		return l, nil
	})
	r.Run()
	// Output:
	// echoed: hello, twist
}
