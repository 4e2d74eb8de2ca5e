// Command chat is a line-based chat room built only from chains: no
// Protocol, no per-connection state machine, no buffer juggling. Each
// member's conversation reads top to bottom: ask for a name, then relay
// lines until the member leaves.
//
//	go run ./examples/chat          # listens on port 8008
//	nc 127.0.0.1 8008               # in a few terminals
//
// Commands: /who lists the members, /quit leaves. Lines longer than 1 KiB
// end the member's session (ReadUntil's limit), and a member who stops
// reading while others talk is disconnected once 256 KiB of chat is
// waiting for them, so one slow client cannot hold the room's memory.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

const (
	maxLine    = 1024
	maxBacklog = 256 << 10
)

var newline = []byte("\n")

func main() {
	addr := flag.String("addr", ":8008", "the address to listen on")
	flag.Parse()
	if err := run(*addr, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

func run(addr string, out io.Writer) error {
	room := &room{out: out}
	return reactor.React(func(r *reactor.Reactor) *deferred.Deferred[struct{}] {
		return deferred.ThenDeferred(deferredtcp.Listen(r, "tcp", addr), func(l *deferredtcp.Listener) *deferred.Deferred[struct{}] {
			fmt.Fprintf(out, "Chat room open on %s\n", l.Addr())
			l.Serve(room.join)
			return deferred.New[struct{}]() // serve until a signal stops the reactor
		})
	}, reactor.WithSignals(syscall.SIGINT, syscall.SIGTERM))
}

// room holds the members; it lives on the reactor's goroutine, so it needs
// no lock.
type room struct {
	out     io.Writer
	members map[string]*deferredtcp.Conn
}

// join runs one member's session as a chain: greet, read a name, relay.
func (rm *room) join(c *deferredtcp.Conn) {
	deferred.ThenDeferred(c.Write([]byte("Welcome to the chat room. Your name?\n")), func(int) *deferred.Deferred[[]byte] {
		return c.ReadUntil(newline, maxLine)
	}).AddCallbacks(
		func(line []byte) ([]byte, error) {
			name := strings.TrimSpace(string(line))
			if err := rm.admit(name, c); err != nil {
				_ = c.Send([]byte(err.Error() + "\n"))
				c.Close()
				return nil, nil
			}
			rm.relay(name, c)
			return nil, nil
		},
		func(*failure.Failure) ([]byte, error) {
			c.Close() // gone before choosing a name
			return nil, nil
		})
}

func (rm *room) admit(name string, c *deferredtcp.Conn) error {
	switch {
	case name == "" || strings.ContainsAny(name, " /"):
		return errors.New("Names are one word, without '/'. Bye.")
	case rm.members[name] != nil:
		return fmt.Errorf("%s is taken. Bye.", name)
	}
	if rm.members == nil {
		rm.members = map[string]*deferredtcp.Conn{}
	}
	rm.members[name] = c
	fmt.Fprintf(rm.out, "%s joined (%d members)\n", name, len(rm.members))
	rm.broadcast(name, fmt.Sprintf("* %s joined\n", name))
	_ = c.Send(fmt.Appendf(nil, "Hello %s. %s\n", name, rm.who()))
	c.Lost().AddBoth(func(struct{}, *failure.Failure) (struct{}, error) {
		delete(rm.members, name)
		fmt.Fprintf(rm.out, "%s left (%d members)\n", name, len(rm.members))
		rm.broadcast(name, fmt.Sprintf("* %s left\n", name))
		return struct{}{}, nil
	})
	return nil
}

// relay reads the member's lines one at a time until /quit, EOF or an
// over-long line.
func (rm *room) relay(name string, c *deferredtcp.Conn) {
	c.ReadUntil(newline, maxLine).AddCallbacks(
		func(line []byte) ([]byte, error) {
			text := string(bytes.TrimRight(line, "\r"))
			switch text {
			case "/quit":
				_ = c.Send([]byte("Bye.\n"))
				c.Close()
				return nil, nil
			case "/who":
				_ = c.Send([]byte(rm.who() + "\n"))
			case "":
			default:
				rm.broadcast(name, fmt.Sprintf("<%s> %s\n", name, text))
			}
			rm.relay(name, c)
			return nil, nil
		},
		func(*failure.Failure) ([]byte, error) {
			c.Close() // EOF, or ErrLineTooLong (the connection is closing already)
			return nil, nil
		})
}

// Replies use Send, which returns an error instead of a Deferred: a reply to
// a member who has just left is dropped, not reported as an unhandled
// Failure.

// broadcast sends msg to every member but the sender. A member whose
// backlog has grown past maxBacklog is not keeping up: cut it off.
func (rm *room) broadcast(from, msg string) {
	for name, c := range rm.members {
		if name == from {
			continue
		}
		if c.Buffered() > maxBacklog {
			c.Abort()
			continue
		}
		_ = c.Send([]byte(msg))
	}
}

func (rm *room) who() string {
	names := make([]string, 0, len(rm.members))
	for name := range rm.members {
		names = append(names, name)
	}
	slices.Sort(names)
	return "Here: " + strings.Join(names, ", ") + "."
}
