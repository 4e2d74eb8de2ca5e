// Command spread is the "Spread Site" of the Twisted tutorial on Protocol,
// Factory and Transport, written the twist way, with chains: a server that
// greets every client with its number, keeps the list of clients, and on
// "close" drops the sender and tells every other client; and a client that
// says hello every few seconds while it is connected.
//
//	go run ./examples/spread server                  # listens on port 8007
//	go run ./examples/spread client                  # in other terminals
//	nc 127.0.0.1 8007                                # type "close" to leave
//
// Messages are lines: the client ends its hellos with a newline, and the
// server reads whole lines (so a hello that TCP splits or merges with the
// next still prints as one line) and trims them, so that "close" typed into
// nc counts. The server sends "close" as a line too. The tutorial's client ran
// a thread that slept between hellos; here a reactor.LoopingCall does it,
// on the reactor's goroutine, where the connection lives. As in the tutorial,
// a client's number is the count of open connections, so numbers are
// reused as clients leave.
//
// Client flags: -addr (127.0.0.1:8007), -interval (5s, the tutorial's), -name
// (the program's name, as the tutorial's sys.argv[0]). The client exits when the
// server sends "close" or the connection ends. Both programs stop gracefully
// on SIGINT or SIGTERM. examples/spread-protocol is the same pair written
// with Twisted's Protocol and Factory.
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

// The tutorial's greeting, with the client's number.
const welcome = "欢迎来到Spread Site, 你是第%d个客户端用户!\n"

// closeCommand is the message that makes the server drop its sender, and
// that the server sends to everyone else.
const closeCommand = "close"

const usage = `usage:
  spread server [-addr :8007]
  spread client [-addr 127.0.0.1:8007] [-interval 5s] [-name NAME]`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "server":
		fs := flag.NewFlagSet("spread server", flag.ExitOnError)
		addr := fs.String("addr", ":8007", "the address to listen on")
		fs.Parse(args)
		err = runServer(newReactor(), *addr, os.Stdout)
	case "client":
		fs := flag.NewFlagSet("spread client", flag.ExitOnError)
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
		fmt.Fprintln(os.Stderr, "spread:", err)
		os.Exit(1)
	}
}

// newReactor returns a reactor that stops gracefully on SIGINT and SIGTERM.
func newReactor() *reactor.Reactor {
	return reactor.New(reactor.WithSignals(syscall.SIGINT, syscall.SIGTERM))
}
