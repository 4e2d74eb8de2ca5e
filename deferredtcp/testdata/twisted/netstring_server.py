"""A Twisted NetstringReceiver server for twist's interop tests.

Listens on 127.0.0.1 (a free port, printed as "PORT n"), answers each
netstring s with its reverse, and stops after its first connection ends,
printing "BROKEN" if the peer sent something that is not a netstring.
"""
from twisted.internet import protocol, reactor
from twisted.protocols.basic import NetstringReceiver


class Server(NetstringReceiver):
    def stringReceived(self, s):
        self.sendString(s[::-1])

    def connectionLost(self, reason):
        print("BROKEN" if self.brokenPeer else "LOST", flush=True)
        reactor.stop()


port = reactor.listenTCP(0, protocol.Factory.forProtocol(Server), interface="127.0.0.1")
print("PORT", port.getHost().port, flush=True)
reactor.run()
