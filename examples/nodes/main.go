// Command nodes is the node network of the Twisted reactor tutorial's "具体应用"
// (applications) section, written with twist's Protocol/Factory adapter as the
// tutorial sketches it: a server that keeps a Channel for every node in a
// channels map keyed by node id, checks a verification code on each
// connection's first message and drops the connection (loseConnection) when it
// is wrong; and nodes that connect with a ReconnectingClientFactory, so that
// they come back by themselves when the server restarts, and send each other
// messages through the server by node id. The tutorial's classes are types of
// the same names:
//
//	class server                                   type Server (channels map[int]*Channel, StartRun)
//	class ServerConnectionFactory(ServerFactory)   type ServerConnectionFactory
//	class ServerConnection(Protocol)               type ServerConnection struct{ deferredtcp.LineReceiver; ... }
//	class Channel                                  type Channel (wraps the Transport)
//	class ClientConnection(Protocol)               type ClientConnection struct{ deferredtcp.LineReceiver; ... }
//	class ClientConnectionFactory(                 type ClientConnectionFactory struct{
//	    ReconnectingClientFactory)                     deferredtcp.ReconnectingClientFactory; ... }
//
// The tutorial's Channel buffers the bytes received into messages by hand; the
// protocols here embed a LineReceiver, which does it for them.
//
//	go run ./examples/nodes server                        # listens on port 9000
//	go run ./examples/nodes client -id 2                  # in another terminal
//	go run ./examples/nodes client -id 1 -send "2:hello"  # node 2 prints "FROM 1 hello"
//
// The protocol is lines ending in "\n" (a "\r" before it is ignored, so nc
// works too):
//
//	node → server   HELLO <id> <code>    the handshake, first line only
//	server → node   WELCOME <id>         accepted
//	server → node   ERR bad code         refused; the server then drops the connection
//	server → node   ERR bad handshake    the first line was not a HELLO; dropped too
//	node → server   TO <id> <text>       send text to node <id>
//	server → node   FROM <src> <text>    what node <src> sent
//	server → node   ERR no node <id>     nobody by that id is connected
//
// A node that connects again while the server still holds its old
// connection replaces it (the old one is told, and dropped).
//
// Server flags: -addr (:9000), -code (the verification code). Client
// flags: -id (required), -addr (127.0.0.1:9000), -code, -send "M:text" (sent
// to node M after every WELCOME), -retry (the reconnect delay, 5s as in the
// tutorial). A client whose code is refused, or that another node with its id
// replaces, stops and exits with status 1. Every program stops gracefully
// on SIGINT or SIGTERM.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twistgo/twist/reactor"
)

const usage = `usage:
  nodes server [-addr :9000] [-code SECRET]
  nodes client -id N [-addr 127.0.0.1:9000] [-code SECRET] [-send "M:text"] [-retry 5s]`

// defaultCode is the verification code both sides use unless told.
const defaultCode = "twist"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "server":
		fs := flag.NewFlagSet("nodes server", flag.ExitOnError)
		addr := fs.String("addr", ":9000", "the address to listen on")
		code := fs.String("code", defaultCode, "the verification code nodes must send")
		fs.Parse(args)
		err = runServer(newReactor(), *addr, *code, os.Stdout)
	case "client":
		fs := flag.NewFlagSet("nodes client", flag.ExitOnError)
		cfg := clientConfig{}
		fs.IntVar(&cfg.id, "id", 0, "this node's id (required, > 0)")
		fs.StringVar(&cfg.addr, "addr", "127.0.0.1:9000", "the server's address")
		fs.StringVar(&cfg.code, "code", defaultCode, "the verification code")
		send := fs.String("send", "", `a message "M:text" to send node M after each WELCOME`)
		fs.DurationVar(&cfg.retry, "retry", 5*time.Second, "the delay before reconnecting")
		fs.Parse(args)
		if cfg.send, err = parseSend(*send); err == nil && cfg.id <= 0 {
			err = errors.New("-id is required and must be positive")
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "nodes client: %v\n%s\n", err, usage)
			os.Exit(2)
		}
		err = runClient(newReactor(), cfg, os.Stdout)
	default:
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodes:", err)
		os.Exit(1)
	}
}

// newReactor returns a reactor that stops gracefully on SIGINT and SIGTERM.
func newReactor() *reactor.Reactor {
	return reactor.New(reactor.WithSignals(syscall.SIGINT, syscall.SIGTERM))
}

// message is what -send asks a node to send.
type message struct {
	to   int
	text string
}

// parseSend parses -send's "M:text"; "" means nothing to send.
func parseSend(s string) (*message, error) {
	if s == "" {
		return nil, nil
	}
	to, text, ok := strings.Cut(s, ":")
	id, err := strconv.Atoi(to)
	if !ok || err != nil || id <= 0 || text == "" {
		return nil, fmt.Errorf("-send %q: want \"M:text\" with M a node id", s)
	}
	return &message{to: id, text: text}, nil
}
