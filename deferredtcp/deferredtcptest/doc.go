// Package deferredtcptest tests Twisted-style protocols without a network:
// [StringTransport] records what a protocol writes (Twisted's
// testing.StringTransport), and [Pump] connects a server and a client
// protocol in memory, moving bytes between them when told to (Twisted's
// iosim.connectedServerAndClient).
//
//	server, client := &Echo{}, &Greeter{}
//	pump := deferredtcptest.ConnectedServerAndClient(server, client)
//	pump.Flush() // the greeting goes to the server, its echo back
//
// Nothing here needs a reactor: everything runs on the calling goroutine.
// For an in-memory pair of chain-style connections on a reactor, see
// deferredtcp.Pipe.
package deferredtcptest
