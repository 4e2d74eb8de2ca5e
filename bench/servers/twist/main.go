// Command twist is the comparison's twist echo server, in each of the
// library's styles, so that the servers differ only in what is compared:
//
//	-api chain     each connection loops Conn.Read → Conn.Write, one Deferred
//	               step pair per chunk, until the peer is done (io.EOF),
//	               giving each chunk back with deferredtcp.Recycle
//	-api ondata    Conn.OnData hands each chunk to a function that writes it
//	               back with Conn.Send (Write without the Deferred): no
//	               Deferred or allocation per message
//	-api adapter   Twisted's style: ListenTCP with a factory whose Echo
//	               protocol writes back, in DataReceived, what it receives
//
// and -backend epoll (no goroutine per connection) or portable (Go's net
// package: a goroutine per connection hands the bytes to the loop).
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
	api := flag.String("api", "ondata", "chain, ondata or adapter")
	backend := flag.String("backend", "epoll", "epoll or portable")
	flag.Parse()

	be := reactor.Epoll
	if *backend == "portable" {
		be = reactor.Portable
	}
	r := reactor.New(reactor.WithBackend(be), reactor.WithSignals(syscall.SIGTERM, os.Interrupt))
	var listening *deferred.Deferred[*deferredtcp.Listener]
	switch *api {
	case "chain":
		listening = serve(r, *addr, echoChain)
	case "ondata":
		listening = serve(r, *addr, echoOnData)
	case "adapter":
		factory := &deferredtcp.BaseFactory{NewProtocol: func() deferredtcp.Protocol { return &Echo{} }}
		listening = deferredtcp.ListenTCP(r, *addr, factory, deferredtcp.WithBacklog(backlog))
	default:
		log.Fatalf("unknown -api %q", *api)
	}
	deferred.Then(listening, func(l *deferredtcp.Listener) (struct{}, error) {
		fmt.Println(l.Addr())
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

func serve(r *reactor.Reactor, addr string, handle func(*deferredtcp.Conn)) *deferred.Deferred[*deferredtcp.Listener] {
	return deferred.Then(deferredtcp.Listen(r, "tcp", addr, deferredtcp.WithBacklog(backlog)), func(l *deferredtcp.Listener) (*deferredtcp.Listener, error) {
		l.Serve(handle)
		return l, nil
	})
}

// echoChain reads a chunk, writes it back, and goes again once the write is
// accepted (below the high watermark), until the read fails. Write copies
// what the socket does not take at once, so the chunk is recycled for later
// reads as soon as it is written. The two functions of the chain are made
// once per connection, not per message.
func echoChain(c *deferredtcp.Conn) {
	write := func(p []byte) *deferred.Deferred[int] {
		d := c.Write(p)
		deferredtcp.Recycle(p)
		return d
	}
	var next func(int, *failure.Failure) (int, error)
	next = func(_ int, f *failure.Failure) (int, error) {
		if f != nil {
			c.Close() // io.EOF: the client is done; anything else: it is gone
			return 0, nil
		}
		deferred.ThenDeferred(c.Read(), write).AddBoth(next)
		return 0, nil
	}
	next(0, nil)
}

// echoOnData writes every chunk back as it is read.
func echoOnData(c *deferredtcp.Conn) {
	c.OnData(func(p []byte) {
		if err := c.Send(p); err != nil {
			c.Abort()
		}
	})
	c.OnEOF(func() { c.Close() })
}

// Echo is Twisted's echo protocol.
type Echo struct {
	deferredtcp.BaseProtocol
}

// DataReceived writes data back.
func (e *Echo) DataReceived(data []byte) { e.Transport.Write(data) }
