"""`python -m bench.access_log`: what the access log costs per request.

Two figures, each with the log on (stderr pointed at a file) against the same work with the log
disabled (root level WARNING), in interleaved rounds: `RequestRecorder.record` alone (the request
counter and the access line every request ends with), and a cached licence verification through
the whole ASGI app built by `api.server.build` over a demo world (no HTTP). The figure is the
process's CPU time (all its threads; a busy machine's other processes do not count), up to the
point where the loop's lines are written (the queue drained), so the listener thread's work is in
it. It times whichever `api` package is imported: to compare another version in the same sitting,
run a copy of this file from outside the tree with that version's directory first on the path."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
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


def per_request(request: Callable[[], None], n: int, log_on: bool) -> float:
    logging.getLogger().setLevel(logging.INFO if log_on else logging.WARNING)
    t0 = time.process_time()  # CPU time of every thread: not what other processes take
    for _ in range(n):
        request()
    drain()
    return (time.process_time() - t0) / n


def compare(request: Callable[[], None], n: int, rounds: int) -> dict[str, float]:
    best = {True: float("inf"), False: float("inf")}
    ratios = []
    for i in range(rounds):
        order = (True, False) if i % 2 else (False, True)
        got = {on: per_request(request, n, on) for on in order}
        for on, t in got.items():
            best[on] = min(best[on], t)
        ratios.append(got[True] / got[False])
    ratios.sort()
    return {"on": best[True], "off": best[False], "ratio": ratios[len(ratios) // 2]}


def recorder_request() -> Callable[[], None]:
    recorder = RequestRecorder(Metrics(), [])
    start = time.perf_counter()

    def request() -> None:
        recorder.record(
            SCOPE, method="POST", status=200, start=start, request_id="3f6c2a9e1b7d4c05",
            fields=dict(FIELDS),
        )  # fmt: skip

    return request


def cached_app_request(work: Path) -> Callable[[], None]:
    """A cached licence verification through the app: one ASGI call per request."""
    from api.server import build
    from demo.world import build_demo_world, write_demo

    world = build_demo_world(datetime.now(UTC).replace(microsecond=0))
    write_demo(work, world)
    lines = (work / "demo-credentials.txt").read_text().splitlines()
    rows = [line.split("\t") for line in lines if line and not line.startswith("#")]
    secret = next(row[2] for row in rows if row[1] == "counter")
    os.environ.setdefault("HUREN_CACHE_SECRET", "bench-access-log-cache-secret-0123456789")
    app = build(work / "huren.json")
    body = json.dumps({"token": world.licence_sz, "relying_jurisdiction": "442000"}).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/v1/licences/verify", "raw_path": b"/v1/licences/verify",
        "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "headers": [
            (b"host", b"bench"), (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {secret}".encode()),
        ],
    }  # fmt: skip
    loop = asyncio.new_event_loop()
    statuses: set[int] = set()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.add(message["status"])

    def request() -> None:
        loop.run_until_complete(app({**scope, "state": {}}, receive, send))

    for _ in range(100):  # the verdict cached
        request()
    if statuses != {200}:
        raise RuntimeError(f"the cached request was answered {sorted(statuses)}")
    return request


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.access_log", description=__doc__)
    p.add_argument("-n", type=int, default=10_000, help="requests per timed loop")
    p.add_argument("--rounds", type=int, default=7)
    a = p.parse_args(argv)
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink, tempfile.TemporaryDirectory() as work:
        os.dup2(sink.fileno(), 2)  # the lines go to a file, as under a log collector
        try:
            logs.configure_logging("INFO")
            figures = {"RequestRecorder.record": compare(recorder_request(), a.n, a.rounds)}
            app_request = cached_app_request(Path(work) / "demo")
            figures["cached verify, whole app"] = compare(app_request, a.n // 4, a.rounds)
            written = os.fstat(2).st_size
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    where = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(logs.__file__))))
    print(f"access log, CPU per request ({where}; {a.rounds} rounds; {written:,} bytes logged)")
    print(f"  {'figure':26s} {'log off':>9s} {'log on':>9s} {'cost':>9s} {'on/off':>7s}")
    for name, got in figures.items():
        off, on = got["off"] * 1e6, got["on"] * 1e6
        print(f"  {name:26s} {off:6.2f} us {on:6.2f} us {on - off:6.2f} us {got['ratio']:7.2f}")
    print("  (on/off: the median of the rounds' ratios; the others: each side's best round)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
