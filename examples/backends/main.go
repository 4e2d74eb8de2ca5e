// Command backends is the Twisted lesson on choosing a reactor, in code: the
// same echo server runs on whichever reactor backend you choose, the way a
// Twisted program calls pollreactor.install() (or epollreactor.install())
// before it imports the reactor.
//
//	go run ./examples/backends -backend epoll      # Linux's default
//	go run ./examples/backends -backend portable   # Go's net package, every OS
//
// Twisted picks epoll on Linux, poll on macOS and select on Windows; twist
// picks epoll on Linux and its portable backend elsewhere. The server uses the
// OnData fast path: no Deferred per message.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/reactor"
)

func main() {
	backend := flag.String("backend", "default", "the reactor backend: epoll, portable or default")
	addr := flag.String("addr", ":8007", "the address to listen on")
	flag.Parse()
	if err := run(*backend, *addr, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "backends:", err)
		os.Exit(1)
	}
}

func run(backend, addr string, out io.Writer) error {
	opts := []reactor.Option{reactor.WithSignals(syscall.SIGINT, syscall.SIGTERM)}
	switch backend {
	case "epoll":
		opts = append(opts, reactor.WithBackend(reactor.Epoll))
	case "portable":
		opts = append(opts, reactor.WithBackend(reactor.Portable))
	case "default":
	default:
		return fmt.Errorf("unknown backend %q (want epoll, portable or default)", backend)
	}
	// The install() moment: React makes the reactor with opts, and its
	// backend is fixed from there on.
	return reactor.React(func(r *reactor.Reactor) *deferred.Deferred[struct{}] {
		fmt.Fprintf(out, "Using the %s reactor backend\n", r.Backend())
		return deferred.ThenDeferred(deferredtcp.Listen(r, "tcp", addr), func(l *deferredtcp.Listener) *deferred.Deferred[struct{}] {
			fmt.Fprintf(out, "Echo server listening on %s\n", l.Addr())
			l.Serve(echo)
			return deferred.New[struct{}]() // serve until a signal stops the reactor
		})
	}, opts...)
}

// echo writes back every chunk as it is read. Send copies what the socket
// does not take at once; a client that sends without reading is cut off
// once its backlog passes 1 MiB.
func echo(c *deferredtcp.Conn) {
	c.OnData(func(p []byte) {
		if c.Buffered() > 1<<20 {
			c.Abort()
			return
		}
		_ = c.Send(p)
	})
	c.OnEOF(func() { c.Close() })
}
