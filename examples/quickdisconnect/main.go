// Command quickdisconnect is the client of the Twisted reactor tutorial's
// "protocols and factories" example, as a chain: it connects, says to whom,
// closes the connection at once, and reports how the connection ended.
//
//	go run ./examples/quickdisconnect -addr www.example.org:80
//
// The tutorial's program prints, with Twisted:
//
//	Connected to 74.125.71.99.
//	Lost connection: Connection was closed cleanly.
//
// and "Connection failed: ..." when it cannot connect. This one prints the
// same lines.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

func main() {
	addr := flag.String("addr", "www.google.com:80", "the host:port to connect to")
	flag.Parse()
	if err := run(*addr, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickdisconnect:", err)
		os.Exit(1)
	}
}

func run(addr string, out io.Writer) error {
	r := reactor.New()
	r.CallWhenRunning(func() {
		connected := false
		deferred.ThenDeferred(deferredtcp.Connect(r, "tcp", addr), func(c *deferredtcp.Conn) *deferred.Deferred[struct{}] {
			connected = true
			fmt.Fprintf(out, "Connected to %s.\n", host(c.RemoteAddr()))
			c.Close() // Twisted's transport.loseConnection()
			return c.Lost()
		}).AddBoth(func(_ struct{}, f *failure.Failure) (struct{}, error) {
			switch {
			case !connected:
				fmt.Fprintf(out, "Connection failed: %v\n", f)
			case f != nil:
				fmt.Fprintf(out, "Lost connection: %v\n", f)
			default:
				fmt.Fprintln(out, "Lost connection: Connection was closed cleanly.")
			}
			r.Stop()
			return struct{}{}, nil
		})
	})
	return r.Run()
}

func host(a net.Addr) string {
	if h, _, err := net.SplitHostPort(a.String()); err == nil {
		return h
	}
	return a.String()
}
