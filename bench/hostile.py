"""Figure H1: `/healthz` p99 while hostile national uploads run on all connections (GitHub issue
12, class 3). Target: <= 50 ms.

One service process (the demo world, a business API key: keyed callers are not rate limited)
receives, on every connection of the run, costly OFD packages of the issue's shape (`costly_ofd`:
Type="Sign" signatures each listing the same 1 MiB entries, each package distinct so the verdict
cache never helps), sent back to back by `bench.http.closed_loop`. Meanwhile wrk sends GET
/healthz on one more connection; its p99 is the figure, the same probe on
the idle service (same run) is the baseline. The uploads' answers are verdicts or 503s with
Retry-After (the worker pool is saturated on purpose), never errors.

    rows = bench.hostile.rows(work, quick=True, log=print)"""

from __future__ import annotations

import functools
import threading
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from bench import loadgen
from bench.http import closed_loop
from bench.procs import Cluster
from bench.report import Row, fmt_ms, unavailable
from bench.serve import SERVICE_PROTOCOL

TARGET_SECONDS = 0.050
MiB = 1024 * 1024
SEALED = "/v1/sealed-documents/verify"


def costly_ofd(*, signatures: int = 16, entries: int = 64, seed: bytes = b"") -> bytes:
    """A minimal OFD plus `entries` entries of 1 MiB and `signatures` Type="Sign" signatures by
    an unknown key, each listing every entry with its correct SM3 check value: a naive verifier
    hashes signatures x entries MiB for an upload of about 1 MiB. `seed` (up to 64 bytes) makes
    each package distinct (the verdict cache never helps): it is the zip's archive comment."""
    data = _costly_package(signatures, entries)
    assert data[-22:-18] == b"PK\x05\x06" and data[-2:] == b"\x00\x00"  # no comment yet
    return data[:-2] + len(seed).to_bytes(2, "little") + seed


@functools.cache
def _costly_package(signatures: int, entries: int) -> bytes:
    """The test corpus's ratio-safe cost case (entries of exactly 1 MiB, deflating about 1:80,
    inside any zip-bomb ratio), made once: hashing is slow."""
    from tests.support.ofd_corpus import ratio_safe_cost_package

    data = ratio_safe_cost_package(signatures, entries)
    with zipfile.ZipFile(BytesIO(data)) as zf:  # the shape the issue describes
        assert all(i.file_size == MiB for i in zf.infolist() if "pad_" in i.filename)
    return data


def multipart(data: bytes, relying: str, boundary: str = "huren-bench-boundary") -> bytes:
    """The sealed-document upload of an .ofd `data`, as multipart/form-data."""
    b = boundary.encode()
    return (
        b"--" + b + b'\r\nContent-Disposition: form-data; name="file"; filename="c.ofd"\r\n'
        b"Content-Type: application/ofd\r\n\r\n" + data + b"\r\n--" + b + b"\r\n"
        b'Content-Disposition: form-data; name="relying_jurisdiction"\r\n\r\n'
        + relying.encode()
        + b"\r\n--"
        + b
        + b"--\r\n"
    )


def _verdict_or_retry_later(status: int, body: bytes) -> str | None:
    if status == 200 and b'"verdict"' in body:
        return None
    if status == 503 and (b"verification_busy" in body or b"verification_timeout" in body):
        return None
    return f"{status}: {body[:200]!r}"


def rows(work: Path, *, quick: bool, log: Callable[[str], None]) -> list[Row]:
    from demo.world import build_demo_world, write_demo

    name = "/healthz p99 while hostile national uploads run on all connections"
    directory = work / "hostile-demo"
    world = build_demo_world(datetime.now(UTC).replace(microsecond=0))
    write_demo(directory, world)
    key = next(
        parts[2]
        for line in (directory / "demo-credentials.txt").read_text().splitlines()
        if len(parts := line.split("\t")) == 3 and parts[1] == "business"
    )
    relying = sorted(world.trust_lists)[-1]
    conns = 16 if quick else 64
    duration = 3.0 if quick else 6.0
    log(f"  building {conns} distinct hostile packages")
    uploads = [multipart(costly_ofd(seed=i.to_bytes(2, "big")), relying) for i in range(conns)]
    env = {"HUREN_CONFIG": str(directory / "huren.json")}
    with Cluster("hostile", "api.server:app_from_env", http=SERVICE_PROTOCOL, workers=1, env=env,
                 workdir=work, ready_path="/readyz") as svc:  # fmt: skip
        svc.start()

        def probe() -> dict[str, Any]:
            return loadgen.run(loadgen.Job(svc.port, "/healthz", conns=1, duration=duration))

        idle = probe()
        headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "multipart/form-data; boundary=huren-bench-boundary",
        }
        flood: dict[str, Any] = {}

        def hostile() -> None:
            # Every connection keeps sending (the list, over and over) until the probe is done.
            flood.update(
                closed_loop(
                    svc.port,
                    SEALED,
                    uploads * 1000,
                    headers,
                    conns,
                    timeout=60,
                    check=_verdict_or_retry_later,
                    deadline=duration + 2.0,
                )
            )

        thread = threading.Thread(target=hostile, daemon=True)
        thread.start()
        time.sleep(0.5)  # every connection has an upload in flight
        busy = probe()
        thread.join(timeout=120)
        alive = svc.alive()
    failure = idle.get("failure") or busy.get("failure") or flood.get("failure") or ""
    if not alive:
        failure = failure or "the service died"
    if failure or not busy.get("p99"):
        return [unavailable("H1", name, "<=", 1.0, failure or "no /healthz answers")]
    p99 = float(busy["p99"])
    log(
        f"  /healthz p99 idle {fmt_ms(idle['p99'])}, under hostile uploads {fmt_ms(p99)} "
        f"({busy['requests']} probes); uploads answered: {flood.get('done', 0)}, "
        f"errors {flood.get('errors', 0)}"
    )
    return [
        Row(
            "H1",
            name,
            f"p99 {fmt_ms(p99)} ({conns} connections of uploads)",
            f"idle p99 {fmt_ms(float(idle['p99']))}",
            p99 / TARGET_SECONDS,
            "<=",
            1.0,
            "p99 <= 50 ms",
            raw={"p99": p99, "idle_p99": float(idle["p99"]), "uploads": flood.get("done", 0)},
        )
    ]


__all__ = ["costly_ofd", "multipart", "rows"]
