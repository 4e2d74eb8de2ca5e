"""A Twisted Int32StringReceiver server for twist's interop tests.

Listens on 127.0.0.1 (a free port, printed as "PORT n"), answers each
string s with b"twisted:" + s, and stops after its first connection ends.
"""
import sys

from twisted.internet import protocol, reactor
from twisted.protocols.basic import Int32StringReceiver


class Server(Int32StringReceiver):
    def stringReceived(self, s):
        print("GOT", len(s), flush=True)
        self.sendString(b"twisted:" + s)

    def connectionLost(self, reason):
        print("LOST", reason.getErrorMessage(), flush=True)
        reactor.stop()


port = reactor.listenTCP(0, protocol.Factory.forProtocol(Server), interface="127.0.0.1")
print("PORT", port.getHost().port, flush=True)
reactor.run()
