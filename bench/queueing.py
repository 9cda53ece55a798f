"""`python -m bench.queueing`: the p99/p50 that queueing alone gives under figure 7c's load.

Figure 7c paces wrk at half the uncached maximum: 64 keep-alive connections, each waiting
conns/rate after an answer before its next request (bench/loadgen.py), spread over 2 worker
processes; a connection stays on its worker, which serves one request at a time. This simulates
exactly that closed loop with service times drawn from a gamma distribution of mean 1 and a given
coefficient of variation (cv), so that a measured 7c can be read against what the queue itself
would give: with steady service times (cv <= 0.5) the ratio stays near 2, so a measured 4-6 says
the service times themselves vary (a process waiting for a core, a collection, a lock), not that
requests queue behind each other. Pure Python, a few seconds, no server."""

from __future__ import annotations

import argparse
import heapq
import random


def simulate(
    cv: float,
    *,
    conns: int = 64,
    workers: int = 2,
    utilisation: float = 0.5,
    requests: int = 200_000,
    seed: int = 1,
    shared: bool = False,
) -> tuple[float, float]:
    """(p50, p99) of the response time in units of the mean service time. `shared`: every
    request goes to whichever worker is free first (one queue), not to its connection's."""
    rnd = random.Random(seed)
    # Each connection's cycle is think + response; at the target utilisation each worker
    # completes `utilisation` requests per unit of time.
    per_worker = conns // workers
    think = per_worker / utilisation - 1.0
    shape = 1.0 / (cv * cv) if cv > 0 else 0.0
    free = [0.0] * workers
    events = [(rnd.uniform(0.0, think), c) for c in range(conns)]
    heapq.heapify(events)
    times: list[float] = []
    while len(times) < requests:
        sent, conn = heapq.heappop(events)
        worker = free.index(min(free)) if shared else conn % workers
        start = max(sent, free[worker])
        service = rnd.gammavariate(shape, 1.0 / shape) if shape else 1.0
        free[worker] = start + service
        times.append(free[worker] - sent)
        heapq.heappush(events, (free[worker] + think, conn))
    settled = sorted(times[requests // 10 :])
    return settled[len(settled) // 2], settled[int(len(settled) * 0.99)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.queueing", description=__doc__)
    p.add_argument("--cv", type=float, nargs="*", default=[0.0, 0.3, 0.5, 0.7, 1.0])
    p.add_argument("--shared", action="store_true", help="one queue for both workers")
    a = p.parse_args(argv)
    queue = "one queue" if a.shared else "a queue per worker"
    print(f"service-time cv   p50    p99    p99/p50   (7c's closed loop, 2 workers, {queue})")
    for cv in a.cv:
        p50, p99 = simulate(cv, shared=a.shared)
        print(f"{cv:15.2f} {p50:6.2f} {p99:6.2f} {p99 / p50:9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
