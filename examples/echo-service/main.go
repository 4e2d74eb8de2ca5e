// Command echo-service is the Twisted tutorial's echo server as its echo.tac
// runs it under twistd: an application, a TCP service, and the echo
// factory that the service serves connections with.
//
//	go run ./examples/echo-service           # listens on port 8007
//	go run ./examples/echo -client hello     # in another terminal
//	kill -15 <pid>                           # or Ctrl-C: a graceful stop
//
// The tutorial's echo.tac, and the command that runs it, map line by line:
//
//	application = service.Application("echo")    app := service.NewApplication(r, "echo")
//	myService = internet.TCPServer(8007,          echoService := service.TCPServer(r, ":8007",
//	                               EchoFactory())                                &EchoFactory{})
//	myService.setServiceParent(application)      app.AddService(echoService)
//	twistd -y echo.tac                           app.Run(context.Background())
//
// Echo and EchoFactory are the tutorial's protocol and factory, as in
// examples/echo-protocol. Like twistd, the program logs its services'
// start and stop (to standard error), and exits with status 1 if a service
// cannot start (the port is taken) or stop.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
	"github.com/twistgo/twist/service"
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
		fmt.Fprintln(os.Stderr, "echo-service:", err)
		os.Exit(1)
	}
}

// run is the program's echo.tac and its twistd: it builds the application
// and runs it until SIGINT or SIGTERM.
func run(addr string, out io.Writer) error {
	r := reactor.New()
	app := service.NewApplication(r, "echo")
	echoService := service.TCPServer(r, addr, &EchoFactory{out: out})
	if err := app.AddService(echoService); err != nil {
		return err
	}
	// Services start in order: this one starts once the port is open.
	announce := service.New("announce", func() *deferred.Deferred[struct{}] {
		fmt.Fprintf(out, "Echo server listening on %s\n", echoService.Addr())
		return nil
	}, nil)
	if err := app.AddService(announce); err != nil {
		return err
	}
	if err := app.Run(context.Background()); err != nil {
		return err
	}
	fmt.Fprintln(out, "Echo server stopped.")
	return nil
}
