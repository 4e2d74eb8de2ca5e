"""A Twisted NetstringReceiver client for twist's interop tests.

Usage: netstring_client.py PORT STRING...

Sends each STRING as a netstring, expects each back reversed, then closes;
exits 0 when all answers came back right.
"""
import sys

from twisted.internet import protocol, reactor
from twisted.protocols.basic import NetstringReceiver

port = int(sys.argv[1])
strings = [s.encode() for s in sys.argv[2:]]
result = {"ok": False}


class Client(NetstringReceiver):
    def connectionMade(self):
        self.got = []
        for s in strings:
            self.sendString(s)

    def stringReceived(self, s):
        self.got.append(s)
        if len(self.got) == len(strings):
            result["ok"] = self.got == [s[::-1] for s in strings]
            print("GOT", len(self.got), flush=True)
            self.transport.loseConnection()

    def connectionLost(self, reason):
        reactor.stop()


protocol.ClientCreator(reactor, Client).connectTCP("127.0.0.1", port)
reactor.run()
sys.exit(0 if result["ok"] else 1)
