package deferredtcptest_test

import (
	"bytes"
	"fmt"

	"github.com/twistgo/twist/deferredtcp"
	"github.com/twistgo/twist/deferredtcp/deferredtcptest"
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
