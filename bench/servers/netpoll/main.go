// Command netpoll is the comparison's echo server on github.com/cloudwego/netpoll,
// written as its guide's server example: a netpoll Listener, an EventLoop
// whose OnRequest handler echoes what the connection's Reader holds through
// its Writer, and Shutdown on a signal.
//
// It prints its bound address on the first line of stdout and exits on
// SIGTERM or SIGINT.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cloudwego/netpoll"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	ln, err := netpoll.CreateListener("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	loop, err := netpoll.NewEventLoop(handle)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ln.Addr())
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
		<-stop
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		loop.Shutdown(ctx)
	}()
	if err := loop.Serve(ln); err != nil {
		log.Print(err)
	}
}

// handle echoes everything readable now: the bytes are copied into the
// writer's buffer, the reader's are released, and the writer is flushed.
func handle(_ context.Context, c netpoll.Connection) error {
	r, w := c.Reader(), c.Writer()
	n := r.Len()
	if n == 0 {
		return nil
	}
	in, err := r.Next(n)
	if err != nil {
		return err
	}
	out, err := w.Malloc(n)
	if err != nil {
		return err
	}
	copy(out, in)
	if err := r.Release(); err != nil {
		return err
	}
	return w.Flush()
}
