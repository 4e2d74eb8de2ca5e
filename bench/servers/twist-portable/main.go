// Command twist-portable is the comparison's twist echo server on the
// reactor's portable backend (Go's net package: a goroutine per connection
// reads and hands the bytes to the loop), with the same OnData → Send echo
// as twist-ondata, so the two differ only in the backend.
//
// It prints its bound address on the first line of stdout and exits on
// SIGTERM or SIGINT (the reactor's graceful stop).
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"syscall"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// backlog matches the other servers of the comparison (Go's net package uses
// the system's somaxconn, 4096 on current Linux; the Twisted script asks for
// 4096): with Twisted's default of 50, a burst of connects overflows the
// queue and waits a second for the SYN to be sent again.
const backlog = 4096

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	r := reactor.New(reactor.WithBackend(reactor.Portable), reactor.WithSignals(syscall.SIGTERM, os.Interrupt))
	deferred.Then(deferredtcp.Listen(r, "tcp", *addr, deferredtcp.WithBacklog(backlog)), func(l *deferredtcp.Listener) (struct{}, error) {
		fmt.Println(l.Addr())
		l.Serve(echo)
		return struct{}{}, nil
	}).AddErrback(func(f *failure.Failure) (struct{}, error) {
		log.Printf("listen: %v", f)
		os.Exit(1)
		return struct{}{}, nil
	})
	if err := r.Run(); err != nil {
		log.Fatal(err)
	}
}

func echo(c *deferredtcp.Conn) {
	c.OnData(func(p []byte) {
		if err := c.Send(p); err != nil {
			c.Abort()
		}
	})
	c.OnEOF(func() { c.Close() })
}
