#!/usr/bin/env python3
"""Echo server on Twisted's epoll reactor, the comparison harness's Twisted peer.

Prints the address it bound on the first line of stdout (listen on port 0 to get
a free one) and stops on SIGTERM or SIGINT, which Twisted's reactor handles by
stopping itself. TCP_NODELAY is set on each connection, as Go's net package
does by default, so both sides flush small writes at once.

    python3 echo_server.py -addr 127.0.0.1:0
"""

import argparse
import sys

from twisted.internet import epollreactor

epollreactor.install()

from twisted.internet import protocol, reactor  # noqa: E402  (after install)


class Echo(protocol.Protocol):
    def connectionMade(self):
        self.transport.setTcpNoDelay(True)

    def dataReceived(self, data):
        self.transport.write(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-addr", default="127.0.0.1:0", help="host:port to listen on")
    args = parser.parse_args()
    host, _, port = args.addr.rpartition(":")
    factory = protocol.Factory.forProtocol(Echo)
    listening = reactor.listenTCP(int(port), factory, backlog=4096, interface=host)
    bound = listening.getHost()
    print(f"{bound.host}:{bound.port}", flush=True)
    reactor.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
