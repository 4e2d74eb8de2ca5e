package deferredtcptest_test

import (
	"bytes"
	"fmt"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/deferredtcp/deferredtcptest"
	"github.com/twistgo/twist/failure"
)

// Shouter answers every line upper-cased.
type Shouter struct{ deferredtcp.LineReceiver }

func (s *Shouter) LineReceived(line []byte) { s.SendLine(bytes.ToUpper(line)) }

// Listener prints what it hears.
type Listener struct{ deferredtcp.LineReceiver }

func (l *Listener) ConnectionMade(deferredtcp.Transport) { l.SendLine([]byte("hello")) }
func (l *Listener) LineReceived(line []byte)             { fmt.Printf("heard %s\n", line) }

// A protocol unit test on a StringTransport (Twisted's StringTransport).
func ExampleStringTransport() {
	p := &Shouter{}
	tr := deferredtcptest.NewStringTransport()
	deferredtcp.MakeConnection(p, tr)
	p.DataReceived([]byte("one\r\ntw"))
	p.DataReceived([]byte("o\r\n"))
	fmt.Printf("%q\n", tr.Value())
	// Output: "ONE\r\nTWO\r\n"
}

// Two protocols talking in memory, one byte at a time (Twisted's
// iosim.connectedServerAndClient).
func ExampleConnectedServerAndClient() {
	pump := deferredtcptest.NewPump(&Shouter{}, &Listener{})
	pump.ChunkSize = 1
	deferredtcp.MakeConnection(pump.Server.Protocol(), pump.Server)
	deferredtcp.MakeConnection(pump.Client.Protocol(), pump.Client)
	pump.Flush()
	// Output: heard HELLO
}

// A server and a client built with deferredtcp itself, on a Loop: bytes move
// when the test flushes, time when it advances (Twisted's task.Clock with
// iosim). The server echoes, and hangs up on a client idle for a minute.
func ExampleLoop() {
	loop := deferredtcptest.NewLoop()
	defer loop.Stop()
	since := func() time.Duration { return loop.Now().Sub(deferredtcptest.Epoch) }

	deferredtcp.Listen(loop, "tcp", "echo:7").AddCallback(func(l *deferredtcp.Listener) (*deferredtcp.Listener, error) {
		l.Serve(func(c *deferredtcp.Conn) {
			c.SetIdleTimeout(time.Minute)
			c.OnData(func(p []byte) { c.Send(p) })
		})
		return l, nil
	})
	deferredtcp.Connect(loop, "tcp", "echo:7").AddCallback(func(c *deferredtcp.Conn) (*deferredtcp.Conn, error) {
		c.Write([]byte("hello"))
		echoed := deferred.ThenDeferred(c.Read(), func(p []byte) *deferred.Deferred[[]byte] {
			fmt.Printf("%v: echoed %q\n", since(), p)
			return c.Read() // the next bytes, or the end of the stream
		})
		echoed.AddErrback(func(f *failure.Failure) ([]byte, error) {
			fmt.Printf("%v: the server closed the connection: %v\n", since(), f)
			c.Close()
			return nil, nil
		})
		return c, nil
	})

	loop.Flush()            // connect, write, echo, read
	loop.Advance(time.Hour) // the idle timeout closes the connection after a minute
	// Output:
	// 0s: echoed "hello"
	// 1m0s: the server closed the connection: EOF
}
