"""Figures 8a and 8b: one batch of 10,000 licences on one service process.

- 8a: memory per item in flight: the process's peak resident set (VmHWM) while the batch runs,
  minus its resident set just before, per item (the body, the parsed items, their verdicts, the
  rendered answer). Baseline: the request body's own bytes per item. Informational: no target.
- 8b: no event-loop stall: `GET /healthz` on its own connection, back to back while the batch
  runs; the figure is the longest single probe, against the 50 ms target (<= 1 passes). The batch
  must come back complete (10,000 PASSED verdicts) for either figure to count."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.procs import HOST, Cluster, request
from bench.report import Row, unavailable

ITEMS = 10_000
STALL_TARGET_S = 0.050


def _rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def _probe(port: int, stop: threading.Event, out: list[float]) -> None:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        while not stop.is_set():
            t0 = time.perf_counter()
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            resp.read()
            out.append(time.perf_counter() - t0)
    finally:
        conn.close()


def rows(proj: Any, work: Path, *, log: Callable[[str], None]) -> list[Row]:
    try:
        spec = proj.service_spec(n_tokens=ITEMS, n_warm=0)
    except proj.Unavailable as exc:
        return [unavailable("8", "batch of 10,000", "<=", 1.0, str(exc))]
    body = spec.batch_body(spec.tokens[:ITEMS])
    env = {
        **spec.env,
        "HUREN_MAX_BATCH_ITEMS": str(ITEMS),
        "HUREN_MAX_BODY_BYTES": str(64 << 20),
        "HUREN_VERIFY_DEADLINE_SECONDS": "300",  # a loaded machine may take minutes
    }
    d = work / "bigbatch"
    d.mkdir(exist_ok=True)
    with Cluster(
        "service-bigbatch",
        spec.app,
        http=spec.http,
        workers=1,
        env=env,
        workdir=d,
        ready_path=spec.readyz,
    ) as c:
        c.start()
        pid = c.procs[0].pid
        # Warm the process (imports, first verdict) with a small batch of other items.
        request(c.port, "POST", spec.batch_path, spec.batch_body(spec.tokens[:1]), spec.headers)
        before = _rss_kib(pid, "VmRSS")
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        probes: list[float] = []
        stop = threading.Event()
        prober = threading.Thread(target=_probe, args=(c.port, stop, probes), daemon=True)
        prober.start()
        time.sleep(0.2)  # the probe connection is up and answering
        t0 = time.perf_counter()
        status, answer = request(c.port, "POST", spec.batch_path, body, spec.headers, 300)
        wall = time.perf_counter() - t0
        stop.set()
        prober.join(35)
        peak = _rss_kib(pid, "VmHWM")
    bad = spec.check_batch(status, answer, ITEMS)
    if bad:
        return [unavailable("8", "batch of 10,000", "<=", 1.0, bad)]
    per_item = (peak - before) * 1024 / ITEMS
    worst = max(probes) if probes else float("nan")
    log(
        f"  batch of {ITEMS:,}: {wall:.1f} s, peak RSS +{(peak - before) / 1024:.1f} MiB, "
        f"{len(probes)} /healthz probes, longest {worst * 1e3:.1f} ms"
    )
    return [
        Row(
            "8a",
            f"batch of {ITEMS:,}: memory per item in flight",
            f"{per_item / 1024:.1f} KiB",
            f"{len(body) / ITEMS / 1024:.2f} KiB (its request bytes)",
            per_item / (len(body) / ITEMS),
            "",
            0.0,
            note=f"peak RSS {before / 1024:.0f} -> {peak / 1024:.0f} MiB over {wall:.1f} s",
        ),
        Row(
            "8b",
            f"batch of {ITEMS:,}: longest /healthz meanwhile",
            f"{worst * 1e3:.1f} ms",
            f"{STALL_TARGET_S * 1e3:.0f} ms (target)",
            worst / STALL_TARGET_S,
            "<=",
            1.0,
            note=f"{len(probes)} probes back to back on one connection",
        ),
    ]


__all__ = ["rows"]
