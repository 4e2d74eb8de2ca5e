package deferredtcp_test

import (
	"fmt"
	"time"

	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/deferredtcp/deferredtcptest"
	"github.com/twistgo/twist/reactor"
)

// Prompt closes the connection, after a goodbye, when no line comes for
// 30 seconds.
type Prompt struct {
	deferredtcp.LineReceiver
	deferredtcp.TimeoutMixin
	Clock reactor.Scheduler // nil: the connection's reactor
}

func (p *Prompt) ConnectionMade(deferredtcp.Transport) {
	p.InitTimeout(p.Clock, p)
	p.SetTimeout(30 * time.Second)
}

func (p *Prompt) LineReceived(line []byte) {
	p.ResetTimeout()
	p.SendLine(append([]byte("> "), line...))
}

func (p *Prompt) TimeoutConnection() {
	p.SendLine([]byte("too slow, bye"))
	p.Transport.LoseConnection()
}

// A protocol's timeout, tested on a fake clock and a StringTransport
// (Twisted's TimeoutMixin, task.Clock and proto_helpers).
func ExampleTimeoutMixin() {
	clock := reactor.NewClock(time.Time{})
	p := &Prompt{Clock: clock}
	tr := deferredtcptest.NewStringTransport()
	deferredtcp.MakeConnection(p, tr)

	clock.Advance(20 * time.Second)
	p.DataReceived([]byte("hi\r\n"))
	clock.Advance(20 * time.Second) // 20 s since the line: still open
	fmt.Printf("%q closed=%v\n", tr.Value(), tr.Closed)
	clock.Advance(10 * time.Second)
	fmt.Printf("%q closed=%v\n", tr.Value(), tr.Closed)
	// Output:
	// "> hi\r\n" closed=false
	// "> hi\r\ntoo slow, bye\r\n" closed=true
}
