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
// Echo and EchoFactory are the tutorial's protocol and factory, imported
// from examples/echoserv as echo.tac imports them from echoServ. Like twistd, the program logs its services'
// start and stop (to standard error), and exits with status 1 if a service
// cannot start (the port is taken) or stop.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/examples/echoserv"
	"github.com/twistgo/twist/reactor"
	"github.com/twistgo/twist/service"
)

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
	echoService := service.TCPServer(r, addr, &echoserv.EchoFactory{Out: out})
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
