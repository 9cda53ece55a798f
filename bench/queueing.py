"""`python -m bench.queueing`: the p99/p50 that queueing alone gives under figure 7c's load.

Figure 7c paces wrk at half the uncached maximum: each wrk thread sends on a fixed schedule, one
request per slot on whichever of its keep-alive connections is free (bench/loadgen.py); the
connections are spread over 2 worker processes, and a connection stays on its worker, which
serves one request at a time. This simulates that: requests evenly spaced at the given
utilisation, each to a worker at random (the free connection wrk happens to take), service times
drawn from a gamma distribution of mean 1 and a given coefficient of variation (cv). So a
measured 7c can be read against what the queue itself would give: with evenly spaced arrivals
and steady service times the ratio stays near 1, so a measured 3-5 says the service times
themselves vary (a process waiting for a core, a collection, the loopback), or the arrivals
bunch (wrk's whole-millisecond timers), not that requests queue behind each other. `--bunch K`
sends the requests K at a time (the same rate), as timers firing together would. Pure Python, a
few seconds, no server."""

from __future__ import annotations

import argparse
import random


def simulate(
    cv: float,
    *,
    workers: int = 2,
    utilisation: float = 0.5,
    requests: int = 200_000,
    seed: int = 1,
    shared: bool = False,
    bunch: int = 1,
) -> tuple[float, float]:
    """(p50, p99) of the response time in units of the mean service time. `shared`: every
    request goes to whichever worker is free first (one queue), not to one at random; `bunch`:
    requests arrive that many at a time."""
    rnd = random.Random(seed)
    # At the target utilisation each worker completes `utilisation` requests per unit of time.
    spacing = bunch / (utilisation * workers)
    shape = 1.0 / (cv * cv) if cv > 0 else 0.0
    free = [0.0] * workers
    times: list[float] = []
    for n in range(requests):
        sent = (n // bunch) * spacing
        worker = free.index(min(free)) if shared else rnd.randrange(workers)
        start = max(sent, free[worker])
        service = rnd.gammavariate(shape, 1.0 / shape) if shape else 1.0
        free[worker] = start + service
        times.append(free[worker] - sent)
    settled = sorted(times[requests // 10 :])
    return settled[len(settled) // 2], settled[int(len(settled) * 0.99)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.queueing", description=__doc__)
    p.add_argument("--cv", type=float, nargs="*", default=[0.0, 0.3, 0.5, 0.7, 1.0])
    p.add_argument("--shared", action="store_true", help="one queue for both workers")
    p.add_argument("--bunch", type=int, default=1, help="requests arriving together")
    a = p.parse_args(argv)
    queue = "one queue" if a.shared else "a queue per worker"
    where = f"7c's pace, 2 workers, {queue}, bunch {a.bunch}"
    print(f"service-time cv   p50    p99    p99/p50   ({where})")
    for cv in a.cv:
        p50, p99 = simulate(cv, shared=a.shared, bunch=a.bunch)
        print(f"{cv:15.2f} {p50:6.2f} {p99:6.2f} {p99 / p50:9.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
