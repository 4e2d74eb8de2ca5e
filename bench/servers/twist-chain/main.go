// Command twist-chain is the comparison's twist echo server written as
// Deferred chains: on the reactor's epoll backend, each connection loops
// Conn.Read → Conn.Write, one Deferred step pair per chunk, and closes when
// the peer is done (the read fails with io.EOF).
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
	r := reactor.New(reactor.WithBackend(reactor.Epoll), reactor.WithSignals(syscall.SIGTERM, os.Interrupt))
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

// echo reads a chunk, writes it back, and goes again once the write is
// accepted (below the high watermark), until the read fails.
func echo(c *deferredtcp.Conn) {
	deferred.ThenDeferred(c.Read(), c.Write).AddBoth(func(_ int, f *failure.Failure) (int, error) {
		if f != nil {
			c.Close() // io.EOF: the client is done; anything else: it is gone
			return 0, nil
		}
		echo(c)
		return 0, nil
	})
}
