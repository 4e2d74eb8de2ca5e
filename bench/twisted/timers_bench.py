#!/usr/bin/env python3
"""Twisted's reactor.callLater on the epoll reactor: schedule and fire 100 000 timers.

The workload of bench/micro's BenchmarkTimers: from inside the running reactor,
schedule --count calls at distinct delays (a random permutation of 10 ns steps
up to 1 ms), and stop the clock when the last one has fired. The time, from
before the first callLater to the last call, is divided by the count. The best
of --repeat rounds is kept. One line of JSON on stdout:
{"name": "callLater", "count", "ns_per_timer"}.

    python3 timers_bench.py [--count 100000] [--repeat 3]
"""

import argparse
import json
import random
import sys
import time

from twisted.internet import epollreactor

epollreactor.install()

from twisted.internet import reactor  # noqa: E402  (after install)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    step = 1e-3 / args.count  # seconds: delays 1*step .. count*step, all distinct
    rng = random.Random(1)
    perm = list(range(1, args.count + 1))
    rng.shuffle(perm)
    delays = [p * step for p in perm]
    times = []
    state = {"left": 0, "t0": 0.0}

    def fired():
        state["left"] -= 1
        if state["left"] == 0:
            times.append(time.perf_counter() - state["t0"])
            if len(times) < args.repeat:
                reactor.callLater(0, round_)
            else:
                reactor.stop()

    def round_():
        state["left"] = len(delays)
        state["t0"] = time.perf_counter()
        call_later = reactor.callLater
        for d in delays:
            call_later(d, fired)

    reactor.callWhenRunning(round_)
    reactor.run(installSignalHandlers=False)
    best = min(times)
    print(json.dumps({"name": "callLater", "count": args.count, "ns_per_timer": best / args.count * 1e9}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
