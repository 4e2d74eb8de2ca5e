// Command spread-protocol is the "Spread Site" of the Twisted tutorial on
// Protocol, Factory and Transport, as the tutorial writes it, class for type
// with twist's Protocol/Factory adapter, so that a Twisted programmer sees
// the mapping:
//
//	Twisted (the tutorial)                  twist (this program)
//	class Spreader(Protocol)                type Spreader struct{ deferredtcp.BaseProtocol; ... }
//	class SpreadFactory(Factory)            type SpreadFactory, whose BuildProtocol makes a Spreader
//	class Echo(Protocol)                    type Echo struct{ deferredtcp.BaseProtocol; ... }
//	class EchoClientFactory(ClientFactory)  type EchoClientFactory, a deferredtcp.ClientFactory
//	self.transport.write(data)              s.Transport.Write(data)
//	self.transport.loseConnection()         s.Transport.LoseConnection()
//	endpoint.listen(SpreadFactory())        deferredtcp.ListenTCP(r, addr, NewSpreadFactory(out))
//	reactor.connectTCP(host, port, f)       deferredtcp.ConnectTCP(r, addr, f)
//	threading.Thread(target=routine)        reactor.NewLoopingCall(r, ...routine(factory)...)
//
// Run it as examples/spread, which is the same pair written with chains:
//
//	go run ./examples/spread-protocol server         # listens on port 8007
//	go run ./examples/spread-protocol client         # in other terminals
//
// Client flags: -addr (127.0.0.1:8007), -interval (5s, the tutorial's), -name
// (the program's name, as the tutorial's sys.argv[0]). The client exits when the
// server sends "close" or the connection ends; both programs stop gracefully
// on SIGINT or SIGTERM.
//
// As in the tutorial, DataReceived takes whatever chunk TCP delivers as one
// message (trimmed, so that "close" typed into nc counts): two hellos that
// arrive together print on one line. examples/spread reads whole lines.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/twistgo/twist/reactor"
)

const usage = `usage:
  spread-protocol server [-addr :8007]
  spread-protocol client [-addr 127.0.0.1:8007] [-interval 5s] [-name NAME]`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "server":
		fs := flag.NewFlagSet("spread-protocol server", flag.ExitOnError)
		addr := fs.String("addr", ":8007", "the address to listen on")
		fs.Parse(args)
		err = runServer(newReactor(), *addr, os.Stdout)
	case "client":
		fs := flag.NewFlagSet("spread-protocol client", flag.ExitOnError)
		addr := fs.String("addr", "127.0.0.1:8007", "the server's address")
		interval := fs.Duration("interval", 5*time.Second, "how often to say hello")
		name := fs.String("name", filepath.Base(os.Args[0]), "the name to say hello with")
		fs.Parse(args)
		err = runClient(newReactor(), *addr, *interval, *name, os.Stdout)
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "spread-protocol:", err)
		os.Exit(1)
	}
}

// newReactor returns a reactor that stops gracefully on SIGINT and SIGTERM.
func newReactor() *reactor.Reactor {
	return reactor.New(reactor.WithSignals(syscall.SIGINT, syscall.SIGTERM))
}
