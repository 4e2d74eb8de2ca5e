package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	deferred "github.com/twistgo/twist/defer"
	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/failure"
	"github.com/twistgo/twist/reactor"
)

// pythonTime is how the tutorial's datetime.now() prints.
const pythonTime = "2006-01-02 15:04:05.000000"

// runClient connects to the server at addr, says hello every interval
// while connected, prints what the server sends, and returns once the
// connection has failed or ended.
func runClient(r *reactor.Reactor, addr string, interval time.Duration, name string, out io.Writer) error {
	r.CallWhenRunning(func() {
		fmt.Fprintln(out, "Start to Connect...")
		deferredtcp.Connect(r, "tcp", addr).AddCallbacks(
			func(c *deferredtcp.Conn) (*deferredtcp.Conn, error) {
				fmt.Fprintln(out, "Connected...")
				talk(r, c, interval, name, out)
				return c, nil
			},
			func(f *failure.Failure) (*deferredtcp.Conn, error) {
				fmt.Fprintf(out, "Connection is failed, Reason: %v\n", f)
				r.Stop()
				return nil, nil
			})
	})
	return r.Run()
}

// talk runs a connection: hellos on a LoopingCall (the tutorial's routine
// thread), lines from the server printed, and the end reported.
func talk(r *reactor.Reactor, c *deferredtcp.Conn, interval time.Duration, name string, out io.Writer) {
	hello := reactor.NewLoopingCall(r, func() *deferred.Deferred[struct{}] {
		now := time.Now().Format(pythonTime)
		sent := c.Write(fmt.Appendf(nil, "hello, I'm %s %s\n", name, now))
		fmt.Fprintln(out, name, now)
		// The next hello waits until this one is on its way (backpressure).
		return deferred.Then(sent, func(int) (struct{}, error) { return struct{}{}, nil })
	})
	hello.Start(interval, true).AddErrback(func(*failure.Failure) (*reactor.LoopingCall, error) {
		return nil, nil // a hello failed: the connection is going, and Lost reports why
	})

	c.Lost().AddBoth(func(_ struct{}, reason *failure.Failure) (struct{}, error) {
		if hello.Running() {
			hello.Stop()
		}
		if reason == nil {
			reason = failure.New(deferredtcp.ErrConnectionDone) // what Twisted reports
		}
		fmt.Fprintf(out, "Lost connection. Reason: %v\n", reason)
		r.Stop()
		return struct{}{}, nil
	})
	receive(c, out)
}

// receive prints the server's lines until it says "close" or goes away.
func receive(c *deferredtcp.Conn, out io.Writer) {
	deferred.Then(c.ReadUntil(newline, 0), func(line []byte) (struct{}, error) {
		msg := strings.TrimRight(string(line), "\r")
		fmt.Fprintln(out, msg)
		if strings.TrimSpace(msg) == closeCommand {
			c.Close()
			return struct{}{}, nil
		}
		receive(c, out)
		return struct{}{}, nil
	}).AddErrback(closeOnFailure(c))
}
