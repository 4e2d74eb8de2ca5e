package deferredtcp_test

import (
	"context"
	"fmt"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// An echo server and a client that sends a line and reads it back, as
// chains of Deferreds on one reactor.
func Example() {
	r := reactor.New()
	deferred.Then(deferredtcp.Listen(r, "tcp", "127.0.0.1:0"), func(l *deferredtcp.Listener) (struct{}, error) {
		// The server: read what comes, write it back, until the client is done.
		l.Serve(func(c *deferredtcp.Conn) {
			var echo func()
			echo = func() {
				deferred.ThenDeferred(c.Read(), c.Write).AddBoth(func(_ int, f *failure.Failure) (int, error) {
					if f != nil {
						c.Close()
						return 0, nil
					}
					echo()
					return 0, nil
				})
			}
			echo()
		})

		// The client.
		conn := deferredtcp.Connect(r, "tcp", l.Addr().String())
		line := deferred.ThenDeferred(conn, func(c *deferredtcp.Conn) *deferred.Deferred[[]byte] {
			c.Write([]byte("hello, twist\n"))
			return c.ReadUntil([]byte("\n"), 1024)
		})
		line.AddBoth(func(p []byte, f *failure.Failure) ([]byte, error) {
			if f != nil {
				fmt.Println("error:", f)
			} else {
				fmt.Printf("echoed: %s\n", p)
			}
			r.Stop()
			return nil, nil
		})
		return struct{}{}, nil
	})
	r.Run()
	// Output: echoed: hello, twist
}

// OnData and Send serve a connection without a Deferred per message.
func ExampleConn_OnData() {
	r := reactor.New()
	l, _ := deferredtcp.Listen(r, "tcp", "127.0.0.1:0").Wait(context.Background())
	l.Serve(func(c *deferredtcp.Conn) {
		c.OnData(func(p []byte) { c.Send(p) }) // p is valid only during the call
		c.OnEOF(func() { c.Close() })
	})
	deferred.ThenDeferred(deferredtcp.Connect(r, "tcp", l.Addr().String()), func(c *deferredtcp.Conn) *deferred.Deferred[[]byte] {
		c.Write([]byte("ping"))
		return c.ReadFull(4)
	}).AddBoth(func(p []byte, f *failure.Failure) ([]byte, error) {
		fmt.Println(string(p), f)
		r.Stop()
		return nil, nil
	})
	r.Run()
	// Output: ping <nil>
}
