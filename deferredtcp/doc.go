// Package deferredtcp is twist's network layer: TCP and Unix connections whose
// listen, connect, reads and writes return Deferreds, so that network code is
// written as chains of callbacks on a [reactor.Reactor] instead of Protocol
// subclasses.
//
// [Listen] and [Connect] fire with a [Listener] and a [Conn]. A Conn's
// [Conn.Read], [Conn.ReadFull] and [Conn.ReadUntil] fire with bytes,
// [Conn.Write] fires once the write buffer is back under its high watermark
// (backpressure), and [Conn.Lost] fires when the connection ends. Servers
// that count allocations use [Conn.OnData] and [Conn.Send], which cost no
// Deferred per message. [ListenGroup] spreads a server over the loops of a
// [reactor.Group].
//
// An echo server, as a chain that reads and writes back until the peer is
// done:
//
//	deferred.Then(deferredtcp.Listen(r, "tcp", "127.0.0.1:8000"), func(l *deferredtcp.Listener) (struct{}, error) {
//		l.Serve(func(c *deferredtcp.Conn) {
//			var echo func()
//			echo = func() {
//				deferred.ThenDeferred(c.Read(), c.Write).AddBoth(func(_ int, f *failure.Failure) (int, error) {
//					if f != nil {
//						c.Close() // io.EOF: the client is done
//						return 0, nil
//					}
//					echo()
//					return 0, nil
//				})
//			}
//			echo()
//		})
//		return struct{}{}, nil
//	})
//
// Everything runs on the reactor's loop goroutine: call the functions and
// methods of this package from callbacks (or before Run, on the goroutine that
// will call it). On the Linux Epoll backend, sockets are non-blocking and
// served on the loop itself, with no goroutine per connection; on the
// Portable backend each connection has a goroutine that reads a net.Conn and
// hands the bytes to the loop. Both give the same behaviour. When the reactor
// stops, its listeners close and its connections are closed (flushed for up
// to two seconds, or the reactor's shorter shutdown timeout, then aborted), so
// every Lost fires.
//
// # Twisted's protocols
//
// Code ported from Twisted keeps its shape with the adapter: a [Protocol]
// (embed [BaseProtocol]) gets ConnectionMade, DataReceived and
// ConnectionLost; a [Factory] builds one per connection for [ListenTCP]; a
// [ClientFactory] hears how [ConnectTCP]'s [Connector] fares, and a
// [ReconnectingClientFactory] retries with Twisted's back-off. The framing
// receivers ([LineReceiver], [Int32StringReceiver] and its siblings,
// [NetstringReceiver]) have chain-side twins ([Conn.ReadUntil],
// [ReadInt32String], [ReadNetstring], ...), and a [TimeoutMixin] closes a
// protocol's idle connection. [ServerFromString] and [ClientFromString]
// read Twisted's endpoint strings; a [HostnameEndpoint] connects to a host
// by name, trying each of its addresses, and [ConnectProtocol] attaches a
// protocol to any client endpoint. TLS ([ListenTLS],
// [ConnectTLS], [StartTLS]) and UDP ([ListenUDP]) complete the set, and
// [Pipe] and package deferredtcptest let protocols be tested without a
// network.
//
// # Limits
//
// Bad peers cannot make a connection grow without bound: [Conn.ReadUntil]
// and the receivers have maximum lengths, a connection whose write buffer
// would pass [WithMaxWriteBuffer] (64 MiB by default) is aborted with
// [ErrWriteBufferFull], a connection nobody reads stops reading from its
// socket, and [WithMaxConnections] caps a listener.
package deferredtcp
