// Command echo is the Twisted tutorial's echo server, written the twist way:
// each connection is a chain that greets the client, then reads and writes
// back until the client is done. It has a client mode too, so that the
// server can be tried on a machine without nc or telnet.
//
//	go run ./examples/echo                        # the server, on port 8007
//	go run ./examples/echo -client hello twisted  # in another terminal: sends two lines, prints the replies
//	go run ./examples/echo -client                # sends each line you type (Ctrl-D ends)
//
// Like the tutorial's server under twistd, it stops gracefully on SIGTERM
// (kill -15) or SIGINT: it stops accepting, closes the open connections and
// exits. examples/echo-protocol is the same server written with Twisted's
// Protocol and Factory, and examples/echo-service runs that one the way the
// tutorial's echo.tac does, as an application with a TCP service.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

func main() {
	addr := flag.String("addr", "", "the address to listen on (default :8007), or with -client to connect to (default 127.0.0.1:8007)")
	asClient := flag.Bool("client", false, "be the client: send the arguments (or, with none, the lines of standard input) and print the replies")
	flag.Parse()
	var err error
	if *asClient {
		err = runClient(or(*addr, "127.0.0.1:8007"), flag.Args(), os.Stdin, os.Stdout)
	} else {
		err = run(or(*addr, ":8007"), os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// stopSignals stop the server, and the client, gracefully.
var stopSignals = reactor.WithSignals(syscall.SIGINT, syscall.SIGTERM)

// run serves until SIGINT or SIGTERM, or until listening fails.
func run(addr string, out io.Writer) error {
	s := &server{out: out}
	err := reactor.React(func(r *reactor.Reactor) *deferred.Deferred[struct{}] {
		return deferred.ThenDeferred(deferredtcp.Listen(r, "tcp", addr), func(l *deferredtcp.Listener) *deferred.Deferred[struct{}] {
			fmt.Fprintf(out, "Echo server listening on %s\n", l.Addr())
			l.Serve(s.serve)
			return deferred.New[struct{}]() // serve until a signal stops the reactor
		})
	}, stopSignals)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "Echo server stopped.")
	return nil
}

// server counts the open connections, as the tutorial's EchoFactory does.
// Its methods run on the reactor's goroutine, so the count needs no lock.
type server struct {
	out  io.Writer
	open int
}

func (s *server) serve(c *deferredtcp.Conn) {
	s.open++
	peer := c.RemoteAddr()
	fmt.Fprintf(s.out, "Connection from %s: %d open\n", peer, s.open)
	c.Lost().AddBoth(func(_ struct{}, reason *failure.Failure) (struct{}, error) {
		s.open--
		if reason != nil {
			fmt.Fprintf(s.out, "Connection from %s lost (%v): %d open\n", peer, reason, s.open)
		} else {
			fmt.Fprintf(s.out, "Connection from %s closed: %d open\n", peer, s.open)
		}
		return struct{}{}, nil
	})
	welcome := fmt.Sprintf("Welcome! There are currently %d open connections.\n", s.open)
	deferred.Then(c.Write([]byte(welcome)), func(int) (int, error) {
		echo(c)
		return 0, nil
	}).AddErrback(closeOnFailure(c))
}

// echo reads what is available, writes it back, and starts over once the
// write has been buffered; the client's EOF (or any failure) ends the loop
// and closes the connection.
func echo(c *deferredtcp.Conn) {
	deferred.ThenDeferred(c.Read(), c.Write).AddCallbacks(
		func(n int) (int, error) {
			echo(c)
			return n, nil
		},
		closeOnFailure(c))
}

// closeOnFailure is the errback that ends a connection's chain: io.EOF
// means the client is done, anything else that the connection is gone;
// either way Close (which also reports the reason through Lost).
func closeOnFailure(c *deferredtcp.Conn) func(*failure.Failure) (int, error) {
	return func(*failure.Failure) (int, error) {
		c.Close()
		return 0, nil
	}
}

// The client.

// maxLine bounds a line the client reads back.
const maxLine = 64 << 10

var newline = []byte("\n")

// line is what the client sends next: a line, or the end of its input.
type line struct {
	text string
	end  bool
}

// runClient connects to addr, prints the server's greeting, then sends each
// message as a line and prints the line that comes back. With no messages
// it sends the lines of in as they are typed, until its end.
func runClient(addr string, messages []string, in io.Reader, out io.Writer) error {
	return reactor.React(func(r *reactor.Reactor) *deferred.Deferred[struct{}] {
		lines := deferred.NewQueue[line](0, 0) // unbounded: Put cannot fail
		if len(messages) > 0 {
			for _, m := range messages {
				lines.Put(line{text: m})
			}
			lines.Put(line{end: true})
		} else {
			go readLines(r, in, lines)
		}
		return deferred.ThenDeferred(deferredtcp.Connect(r, "tcp", addr), func(c *deferredtcp.Conn) *deferred.Deferred[struct{}] {
			return deferred.ThenDeferred(c.ReadUntil(newline, maxLine), func(greeting []byte) *deferred.Deferred[struct{}] {
				fmt.Fprintf(out, "%s\n", greeting)
				return converse(c, lines, out)
			})
		})
	}, stopSignals)
}

// readLines hands the lines of in over to the loop, one at a time. It runs
// on a goroutine of its own: reading a terminal blocks.
func readLines(r *reactor.Reactor, in io.Reader, lines *deferred.Queue[line]) {
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		text := sc.Text()
		r.CallFromGoroutine(func() { lines.Put(line{text: text}) })
	}
	r.CallFromGoroutine(func() { lines.Put(line{end: true}) })
}

// errEnd ends the conversation when the input does.
var errEnd = errors.New("end of input")

// converse sends each line and prints its echo, until the input ends; then
// it closes the connection.
func converse(c *deferredtcp.Conn, lines *deferred.Queue[line], out io.Writer) *deferred.Deferred[struct{}] {
	done := deferred.New[struct{}]()
	var next func()
	next = func() {
		deferred.ThenDeferred(lines.Get(), func(l line) *deferred.Deferred[[]byte] {
			if l.end {
				return deferred.Fail[[]byte](errEnd)
			}
			c.Write([]byte(l.text + "\n"))
			return c.ReadUntil(newline, maxLine)
		}).AddCallbacks(
			func(echoed []byte) ([]byte, error) {
				fmt.Fprintf(out, "%s\n", echoed)
				next()
				return nil, nil
			},
			func(f *failure.Failure) ([]byte, error) {
				deferred.Then(c.Close(), func(struct{}) (struct{}, error) {
					return struct{}{}, f.Trap(errEnd) // the end of the input is the end
				}).Chain(done)
				return nil, nil
			})
	}
	next()
	return done
}
