"""`python -m bench.access_log`: what the access log costs per request.

Times `RequestRecorder.record` (the request counter and the access line every request ends with)
with the log on, stderr pointed at a file, against the same call with the log disabled (root level
WARNING), in interleaved rounds. The figure is the process's CPU time (all its threads; a busy
machine's other processes do not count), up to the point where the loop's lines are written (the
queue drained), so the listener thread's work is in it. It times whichever `api` package is
imported: to compare another version in the same sitting, run a copy of this file from outside
the tree with that version's directory first on the path."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from api.http.middleware import RequestRecorder
from api.obs import logs
from api.obs.metrics import Metrics


class _Route:
    path = "/v1/licences/verify"


SCOPE = {"type": "http", "method": "POST", "route": _Route()}
FIELDS = {
    "key_id": "counter-sz",
    "kind": "licence",
    "document_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "input_sha256": "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
    "indication": "PASSED",
    "sub_indication": None,
    "cached": True,
}


def drain() -> None:
    """Every line logged so far written to the file."""
    stop = getattr(logs, "stop_listener", None)
    if stop is not None:  # stop() writes what is queued; then a new listener for the next loop
        stop()
        logs.configure_logging("INFO")
    else:  # a version with a buffered handler instead of the queue
        for handler in logging.getLogger().handlers:
            handler.flush()


def per_request(record: Callable[[], None], n: int, log_on: bool) -> float:
    logging.getLogger().setLevel(logging.INFO if log_on else logging.WARNING)
    t0 = time.process_time()  # CPU time of every thread: not what other processes take
    for _ in range(n):
        record()
    drain()
    return (time.process_time() - t0) / n


def measure(n: int, rounds: int) -> dict[str, Any]:
    recorder = RequestRecorder(Metrics(), [])
    start = time.perf_counter()

    def record() -> None:
        recorder.record(
            SCOPE, method="POST", status=200, start=start, request_id="3f6c2a9e1b7d4c05",
            fields=dict(FIELDS),
        )  # fmt: skip

    best = {True: float("inf"), False: float("inf")}
    ratios = []
    for i in range(rounds):
        order = (True, False) if i % 2 else (False, True)
        got = {on: per_request(record, n, on) for on in order}
        for on, t in got.items():
            best[on] = min(best[on], t)
        ratios.append(got[True] / got[False])
    ratios.sort()
    return {"on": best[True], "off": best[False], "ratio": ratios[len(ratios) // 2]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.access_log", description=__doc__)
    p.add_argument("-n", type=int, default=20_000, help="requests per timed loop")
    p.add_argument("--rounds", type=int, default=9)
    a = p.parse_args(argv)
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)  # the lines go to a file, as under a log collector
        try:
            logs.configure_logging("INFO")
            got = measure(a.n, a.rounds)
            lines = os.fstat(2).st_size
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    where = os.path.dirname(os.path.dirname(os.path.abspath(logs.__file__)))
    print(f"access log per request ({where}, {a.rounds} rounds of {a.n}, {lines} bytes written)")
    print(f"  log disabled  {got['off'] * 1e6:7.2f} us CPU")
    print(f"  log on        {got['on'] * 1e6:7.2f} us   (+{(got['on'] - got['off']) * 1e6:.2f} us)")
    print(f"  ratio on/off  {got['ratio']:7.2f}   (median of rounds)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
