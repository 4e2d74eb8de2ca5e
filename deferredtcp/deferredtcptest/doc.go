// Package deferredtcptest tests network code without a network, and timed
// code without waiting: [Loop] is a deterministic deferredtcp.Loop (Twisted's
// task.Clock and iosim together) on which deferredtcp.Listen and
// deferredtcp.Connect use in-memory connections, and the test steps bytes
// and time by hand; [StringTransport] records what a protocol writes
// (Twisted's testing.StringTransport); and [Pump] connects a server and a
// client protocol in memory, moving bytes between them when told to
// (Twisted's iosim.connectedServerAndClient).
//
//	loop := deferredtcptest.NewLoop()
//	defer loop.Stop()
//	deferredtcp.Listen(loop, "tcp", "server:80") // ... Serve, with idle timeouts
//	deferredtcp.Connect(loop, "tcp", "server:80") // ... write, read
//	loop.Flush()              // bytes go back and forth until nothing moves
//	loop.Advance(time.Minute) // timers fire: idle timeouts, retries
//
// Nothing here needs a reactor: everything runs on the calling goroutine.
// For an in-memory pair of chain-style connections on a reactor, see
// deferredtcp.Pipe.
package deferredtcptest
