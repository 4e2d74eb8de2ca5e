// Command poetry is the poetry service of the Twisted Introduction
// tutorial, written with chains: a server that sends a poem and closes the
// connection, and a client that downloads from several servers at once and
// reports each poem's size and the time it took.
//
//	go run ./examples/poetry                       # three local servers, then the client
//	go run ./examples/poetry -serve 127.0.0.1:10000 -poem ecstasy.txt
//	go run ./examples/poetry -get 127.0.0.1:10000,127.0.0.1:10001
//
// The servers send their poem slowly (-chunk bytes every -delay), so the
// downloads visibly overlap: the client's total time is about that of the
// slowest poem, not the sum, although everything runs on one goroutine.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

func main() {
	serve := flag.String("serve", "", "only serve a poem on this address")
	get := flag.String("get", "", "only download from these comma-separated addresses")
	poemFile := flag.String("poem", "", "the poem to serve (default: a built-in one)")
	chunk := flag.Int("chunk", 16, "bytes the server sends at a time")
	delay := flag.Duration("delay", 20*time.Millisecond, "pause between the server's chunks")
	flag.Parse()

	cfg := serverConfig{chunk: *chunk, delay: *delay}
	var err error
	switch {
	case *serve != "":
		poem := poems[0]
		if *poemFile != "" {
			var b []byte
			if b, err = os.ReadFile(*poemFile); err != nil {
				break
			}
			poem = string(b)
		}
		err = serveOnly(*serve, poem, cfg, os.Stdout)
	case *get != "":
		err = clientOnly(strings.Split(*get, ","), os.Stdout)
	default:
		err = demo(cfg, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "poetry:", err)
		os.Exit(1)
	}
}

type serverConfig struct {
	chunk int
	delay time.Duration
}

// listenPoem starts a poetry server for poem.
func listenPoem(r *reactor.Reactor, addr, poem string, cfg serverConfig) *deferred.Deferred[*deferredtcp.Listener] {
	return deferred.Then(deferredtcp.Listen(r, "tcp", addr), func(l *deferredtcp.Listener) (*deferredtcp.Listener, error) {
		l.Serve(func(c *deferredtcp.Conn) { sendPoem(r, c, []byte(poem), cfg) })
		return l, nil
	})
}

// sendPoem writes the poem a chunk at a time, then closes the connection:
// the end of the connection is the end of the poem.
func sendPoem(r *reactor.Reactor, c *deferredtcp.Conn, poem []byte, cfg serverConfig) {
	if len(poem) == 0 {
		c.Close()
		return
	}
	n := min(cfg.chunk, len(poem))
	deferred.ThenDeferred(c.Write(poem[:n]), func(int) *deferred.Deferred[struct{}] {
		return reactor.CallLater(r, cfg.delay, func() (struct{}, error) {
			sendPoem(r, c, poem[n:], cfg)
			return struct{}{}, nil
		})
	}).AddErrback(func(*failure.Failure) (struct{}, error) {
		c.Abort() // the client went away
		return struct{}{}, nil
	})
}

// download connects to addr and reads until the server closes.
func download(r *reactor.Reactor, addr string) *deferred.Deferred[[]byte] {
	return deferred.ThenDeferred(deferredtcp.Connect(r, "tcp", addr), func(c *deferredtcp.Conn) *deferred.Deferred[[]byte] {
		poem := deferred.New[[]byte]()
		var buf []byte
		var next func()
		next = func() {
			c.Read().AddCallbacks(
				func(p []byte) ([]byte, error) {
					buf = append(buf, p...)
					next()
					return nil, nil
				},
				func(f *failure.Failure) ([]byte, error) {
					if errors.Is(f, io.EOF) {
						_ = poem.Callback(buf)
					} else {
						_ = poem.Errback(f)
					}
					c.Close()
					return nil, nil
				})
		}
		next()
		return poem
	})
}

// getPoems downloads from every address at once and reports each poem as
// it arrives, then all of them.
func getPoems(r *reactor.Reactor, addrs []string, out io.Writer) *deferred.Deferred[struct{}] {
	start := time.Now()
	tasks := make([]*deferred.Deferred[[]byte], len(addrs))
	for i, addr := range addrs {
		tasks[i] = download(r, addr).AddCallback(func(poem []byte) ([]byte, error) {
			fmt.Fprintf(out, "Task %d: got %d bytes of poetry from %s in %v\n", i+1, len(poem), addr, since(start))
			return poem, nil
		})
	}
	return deferred.Then(deferred.All(tasks...), func(got [][]byte) (struct{}, error) {
		fmt.Fprintf(out, "Got %d poems in %v\n", len(got), since(start))
		return struct{}{}, nil
	})
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

// demo serves the built-in poems on three local ports and downloads them.
func demo(cfg serverConfig, out io.Writer) error {
	return reactor.React(func(r *reactor.Reactor) *deferred.Deferred[struct{}] {
		listeners := make([]*deferred.Deferred[*deferredtcp.Listener], len(poems))
		for i, poem := range poems {
			listeners[i] = listenPoem(r, "127.0.0.1:0", poem, cfg)
		}
		return deferred.ThenDeferred(deferred.All(listeners...), func(ls []*deferredtcp.Listener) *deferred.Deferred[struct{}] {
			addrs := make([]string, len(ls))
			for i, l := range ls {
				addrs[i] = l.Addr().String()
				fmt.Fprintf(out, "Serving poem %d on %s\n", i+1, addrs[i])
			}
			return getPoems(r, addrs, out)
		})
	})
}

// serveOnly serves poem on addr until SIGINT or SIGTERM.
func serveOnly(addr, poem string, cfg serverConfig, out io.Writer) error {
	return reactor.React(func(r *reactor.Reactor) *deferred.Deferred[struct{}] {
		return deferred.ThenDeferred(listenPoem(r, addr, poem, cfg), func(l *deferredtcp.Listener) *deferred.Deferred[struct{}] {
			fmt.Fprintf(out, "Serving a poem of %d bytes on %s\n", len(poem), l.Addr())
			return deferred.New[struct{}]() // serve until a signal stops the reactor
		})
	}, reactor.WithSignals(syscall.SIGINT, syscall.SIGTERM))
}

// clientOnly downloads from addrs, then ends.
func clientOnly(addrs []string, out io.Writer) error {
	return reactor.React(func(r *reactor.Reactor) *deferred.Deferred[struct{}] {
		return getPoems(r, addrs, out)
	})
}
