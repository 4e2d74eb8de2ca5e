"""A Twisted LineReceiver client for twist's interop tests.

Usage: line_client.py PORT LINE...

Sends each LINE, expects each back upper-cased, then closes. Prints every
line it receives; exits 0 when all answers came back right.
"""
import sys

from twisted.internet import protocol, reactor
from twisted.protocols.basic import LineReceiver

port = int(sys.argv[1])
lines = [l.encode() for l in sys.argv[2:]]
result = {"ok": False}


class Client(LineReceiver):
    def connectionMade(self):
        for line in lines:
            self.sendLine(line)
        self.got = []

    def lineReceived(self, line):
        print("GOT", line.decode(), flush=True)
        self.got.append(line)
        if len(self.got) == len(lines):
            result["ok"] = self.got == [l.upper() for l in lines]
            self.transport.loseConnection()


class Factory(protocol.ClientFactory):
    protocol = Client

    def clientConnectionLost(self, connector, reason):
        print("LOST", reason.getErrorMessage(), flush=True)
        reactor.stop()

    def clientConnectionFailed(self, connector, reason):
        print("FAILED", reason.getErrorMessage(), flush=True)
        reactor.stop()


reactor.connectTCP("127.0.0.1", port, Factory())
reactor.run()
sys.exit(0 if result["ok"] else 1)
