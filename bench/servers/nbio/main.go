// Command nbio is the comparison's echo server on github.com/lesismal/nbio,
// written as nbio's Quick Start and echo example write it: an Engine from
// nbio.NewEngine with the Quick Start's Config (Network "tcp", the address,
// MaxWriteBufferSize 6 MiB) and nbio's defaults for everything else (level-
// triggered epoll, NumCPU/4 pollers, so one here, a 64 KiB read buffer per
// poller), an OnData handler that writes the bytes back with Conn.Write,
// Start, and Stop on a signal.
//
// The Quick Start writes back a copy (append([]byte{}, data...)); here the
// handler writes data itself: Conn.Write sends at once what the socket takes
// and copies only what is left into the connection's write list, so the copy
// would add an allocation per message and nothing else. -copy writes the copy,
// as the Quick Start does, to see what it costs.
//
// It prints its bound address on the first line of stdout and exits on
// SIGTERM or SIGINT. nbio logs to stdout by default; its log goes to stderr
// here, so that the address is the first line. A stop that comes before
// nbio's acceptor goroutine first ran is lost on it (v1.6.8 clears its
// shutdown flag when it starts, then retries Accept on the closed listener
// for ever); the harness stops a server only after it has echoed.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	copyData := flag.Bool("copy", false, "write back a copy of the data, as nbio's Quick Start does")
	flag.Parse()
	logging.Output = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := serve(ctx, *addr, *copyData, func(a string) { fmt.Println(a) }); err != nil {
		log.Fatal(err)
	}
}

// serve runs the echo server on addr until ctx ends, calling ready with the
// bound address once it listens; copyData writes back a copy of each chunk.
// It returns after the engine stopped.
func serve(ctx context.Context, addr string, copyData bool, ready func(string)) error {
	engine := nbio.NewEngine(nbio.Config{
		Network:            "tcp",
		Addrs:              []string{addr},
		MaxWriteBufferSize: 6 * 1024 * 1024,
	})
	engine.OnData(func(c *nbio.Conn, data []byte) {
		if copyData {
			data = append([]byte{}, data...)
		}
		c.Write(data) // on an error, Write has closed the connection
	})
	if err := engine.Start(); err != nil {
		return err
	}
	ready(engine.Addrs[0]) // Start replaced it with the bound address
	<-ctx.Done()
	engine.Stop()
	return nil
}
