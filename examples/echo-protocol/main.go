// Command echo-protocol is the Twisted tutorial's echo server as the
// tutorial's echoServ.py runs it: the Echo protocol and EchoFactory of
// examples/echoserv (ported one class to one type with twist's
// Protocol/Factory adapter), listening on a reactor. examples/echo is the
// same server written as a chain, and examples/echo-service runs this
// factory the way the tutorial's echo.tac does.
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
	"os"
	"syscall"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/examples/echoserv"
	"github.com/twistgo/twist/reactor"
)

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
		return deferred.ThenDeferred(deferredtcp.ListenTCP(r, addr, &echoserv.EchoFactory{Out: out}), func(l *deferredtcp.Listener) *deferred.Deferred[struct{}] {
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
