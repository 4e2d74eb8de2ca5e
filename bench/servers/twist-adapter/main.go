// Command twist-adapter is the comparison's twist echo server in Twisted's
// style, through the Protocol/Factory adapter on the reactor's epoll
// backend: ListenTCP with a factory whose Echo protocol writes back, in
// DataReceived, what it receives, as Twisted's own echo example does.
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

// Echo is Twisted's echo protocol.
type Echo struct {
	deferredtcp.BaseProtocol
}

// DataReceived writes data back.
func (e *Echo) DataReceived(data []byte) { e.Transport.Write(data) }

// backlog matches the other servers of the comparison (Go's net package uses
// the system's somaxconn, 4096 on current Linux; the Twisted script asks for
// 4096): with Twisted's default of 50, a burst of connects overflows the
// queue and waits a second for the SYN to be sent again.
const backlog = 4096

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	r := reactor.New(reactor.WithBackend(reactor.Epoll), reactor.WithSignals(syscall.SIGTERM, os.Interrupt))
	factory := &deferredtcp.BaseFactory{NewProtocol: func() deferredtcp.Protocol { return &Echo{} }}
	deferred.Then(deferredtcp.ListenTCP(r, *addr, factory, deferredtcp.WithBacklog(backlog)), func(l *deferredtcp.Listener) (struct{}, error) {
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
