#!/usr/bin/env python3
"""Twisted's Deferred on the workloads of twist's defer/bench_test.go.

Each workload is timed with time.perf_counter: it runs in a loop sized to take
about --seconds, the best of --repeat runs is kept, and the time is divided by
the number of callback steps (10 per chain, 100 per gatherResults), so that
ns/step compares directly with the Go benchmarks' ns/step metric. One line of
JSON per workload on stdout: {"name", "ns_per_op", "steps", "ns_per_step"}.

    python3 deferred_bench.py [--seconds 0.3] [--repeat 3]
"""

import argparse
import json
import sys
import time

from twisted.internet.defer import Deferred, gatherResults, succeed

CHAIN = 10


class Boom(Exception):
    pass


def inc(n):
    return n + 1


def reraise(f):
    return f  # returning the Failure passes it on down the errback chain


def recover_all(f):
    return 1


def fail_step(n):
    raise Boom()


def next_fired(n):
    return succeed(n + 1)


def callbacks_fired_at_end():
    """New, 10 callbacks, then callback (BenchmarkCallbacksFiredAtEnd)."""
    d = Deferred()
    for _ in range(CHAIN):
        d.addCallback(inc)
    d.callback(0)


def callbacks_fired_at_start():
    """10 callbacks added to a fired Deferred (BenchmarkCallbacksFiredAtStart)."""
    d = succeed(0)
    for _ in range(CHAIN):
        d.addCallback(inc)


def errback_chain():
    """A failing first step, 8 errbacks passing the Failure on, one that recovers
    (BenchmarkErrbackChain)."""
    d = Deferred()
    d.addCallback(fail_step)
    for _ in range(CHAIN - 2):
        d.addErrback(reraise)
    d.addErrback(recover_all)
    d.callback(0)


def steps_returning_fired_deferred():
    """10 steps, each returning an already-fired Deferred
    (BenchmarkStepsReturningFiredDeferred)."""
    d = Deferred()
    for _ in range(CHAIN):
        d.addCallback(next_fired)
    d.callback(0)


def gather_results_100():
    """gatherResults of 100 fired Deferreds (BenchmarkAll/fired-100)."""
    gatherResults([succeed(i) for i in range(100)])


WORKLOADS = [
    ("CallbacksFiredAtEnd", callbacks_fired_at_end, CHAIN),
    ("CallbacksFiredAtStart", callbacks_fired_at_start, CHAIN),
    ("ErrbackChain", errback_chain, CHAIN),
    ("StepsReturningFiredDeferred", steps_returning_fired_deferred, CHAIN),
    ("All/fired-100", gather_results_100, 100),
]


def best_time(fn, n, repeat):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.3, help="target time of one timed run")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per workload; the best is kept")
    args = parser.parse_args()
    for name, fn, steps in WORKLOADS:
        n = 1
        while True:  # size the loop: double until one run takes a tenth of the target
            t = best_time(fn, n, 1)
            if t >= args.seconds / 10 or n >= 1 << 24:
                break
            n *= 2
        n = max(1, int(n * args.seconds / max(t, 1e-9)))
        t = best_time(fn, n, args.repeat)
        ns_op = t / n * 1e9
        print(json.dumps({"name": name, "ns_per_op": ns_op, "steps": steps, "ns_per_step": ns_op / steps}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
