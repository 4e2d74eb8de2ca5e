"""A Twisted ReconnectingClientFactory client for twist's interop tests.

Usage: reconnect_client.py PORT CONNECTIONS

Connects to PORT, sends "hello N" on its N-th connection, and reconnects
whenever the connection is lost or refused, with the factory's back-off
(shortened). Once the server answers "bye", it stops trying and exits 0
if that was its CONNECTIONS-th connection.
"""
import sys

from twisted.internet import protocol, reactor
from twisted.protocols.basic import LineReceiver

port, want = int(sys.argv[1]), int(sys.argv[2])
state = {"connections": 0, "ok": False}


class Client(LineReceiver):
    def connectionMade(self):
        state["connections"] += 1
        print("CONNECTED", state["connections"], flush=True)
        self.sendLine(b"hello %d" % state["connections"])

    def lineReceived(self, line):
        print("GOT", line.decode(), flush=True)
        if line == b"bye":
            state["ok"] = state["connections"] == want
            self.factory.stopTrying()
            self.transport.loseConnection()
            reactor.stop()


class Factory(protocol.ReconnectingClientFactory):
    protocol = Client
    initialDelay = 0.05
    maxDelay = 0.5

    def buildProtocol(self, addr):
        self.resetDelay()
        p = Client()
        p.factory = self
        return p

    def clientConnectionLost(self, connector, reason):
        print("LOST", reason.getErrorMessage(), flush=True)
        protocol.ReconnectingClientFactory.clientConnectionLost(self, connector, reason)

    def clientConnectionFailed(self, connector, reason):
        print("FAILED", reason.getErrorMessage(), flush=True)
        protocol.ReconnectingClientFactory.clientConnectionFailed(self, connector, reason)


reactor.connectTCP("127.0.0.1", port, Factory())
reactor.run()
sys.exit(0 if state["ok"] else 1)
