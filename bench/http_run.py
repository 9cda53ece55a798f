"""Orchestration of the HTTP section: baselines, service runs, Redis, start-up; then the rows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import http
from bench.procs import RedisServer
from bench.report import Row

FIGS = {
    "uncached": ("2a", "2b", "7a", "7b", "7c"),
    "cached": ("3a", "3b", "3c", "7b"),
    "batch": ("5", "7b"),
    "startup": ("6a",),
}


def run(
    proj: Any,
    sections: set[str],
    *,
    raw_ecdsa_s: float | None,
    work: Path,
    quick: bool,
    log: Callable[[str], None],
) -> tuple[list[Row], list[Row], dict[str, Any]]:
    d = work / "http"
    d.mkdir(exist_ok=True)
    cfg = http.HttpConfig(
        workdir=d,
        duration=2.0 if quick else 3.0,
        warmup=0.5 if quick else 1.0,
        startup_repeats=1 if quick else 3,
        log=log,
    )
    rounds = 1 if quick else 2
    bench = http.HttpBench(cfg)
    # More distinct tokens than the service's in-process LRU holds (10,000 by default), so even
    # cycling through them never hits; the batch figure uses them as batches of 1,000.
    n_tokens = 12_000 if quick else 24_000
    spec: http.ServiceSpec | None = None
    service_reason: str | None = None
    log("[http] preparing the service (demo world, licence tokens)")
    try:
        spec = proj.service_spec(n_tokens=n_tokens, n_warm=2_000 if quick else 4_000)
    except proj.Unavailable as exc:
        service_reason = str(exc)
        log(f"  service not available: {service_reason}")

    want: set[str] = set()
    if "uncached" in sections:
        want |= {"ping", "naive_verify", "uncached"}
    if "cached" in sections:
        want |= {"ping", "cached_inproc", "cached_redis", "cached_cluster"}

    redis_reason = RedisServer.available() if "cached" in sections else None
    server = RedisServer(d)
    cluster: Any = None
    cluster_env: dict[str, str] | None = None
    try:
        redis_url = None
        if spec is not None and "cached" in sections and redis_reason is None:
            # A 6-node Redis Cluster on loopback (the tests' fixture), for figure 3c.
            from tests.support.redis_support import RedisClusterSet

            try:
                cluster = RedisClusterSet(d / "cluster")
                cluster.start()
                cluster_env = {
                    "HUREN_REDIS_MODE": "cluster",
                    "HUREN_REDIS_NODES": ",".join(cluster.seeds[:3]),
                }
            except Exception as exc:
                redis_reason = f"Redis Cluster: {exc}"[:600]
        if spec is not None and "cached" in sections and redis_reason is None:
            try:
                redis_url = server.start()
                server.flush()
            except RuntimeError as exc:
                redis_reason = str(exc)[:600]
        if want:
            log(f"[http] interleaved runs ({rounds} round(s)): {', '.join(sorted(want))}")
            key_pem, tokens, warm = (
                proj.naive_material(spec) if "naive_verify" in want else (None, [], [])
            )
            try:
                bench.run_all(
                    spec,
                    key_pem,
                    tokens,
                    warm,
                    want=want,
                    redis_url=redis_url,
                    cluster_env=cluster_env,
                    rounds=rounds,
                )
            except RuntimeError as exc:
                service_reason = str(exc)[:600]
                log(f"  a server failed: {service_reason}")
    finally:
        server.stop()
        if cluster is not None:
            cluster.stop()

    if spec is not None and "batch" in sections:
        log("[http] batch of 1,000 licences per request")
        try:
            bench.batch(spec, deadline=6.0 if quick else 12.0)
        except RuntimeError as exc:
            service_reason = service_reason or str(exc)[:600]

    startup = None
    if "startup" in sections and spec is not None:
        log("[http] start-up to readyz 200")
        try:
            svc = bench.startup(spec.app, spec.http, spec.env, spec.readyz, "service")
            naive = bench.startup(http.NAIVE_APP, "httptools", {}, "/ping", "naive")
            startup = (svc, naive)
        except RuntimeError as exc:
            service_reason = service_reason or str(exc)[:600]

    wanted = {f for s in sections for f in FIGS.get(s, ())}
    rows = [
        r
        for r in http.rows(
            bench,
            raw_ecdsa_rate=1 / raw_ecdsa_s if raw_ecdsa_s else None,
            service_reason=service_reason,
            redis_reason=redis_reason,
            startup=startup,
            quick=quick,
        )
        if r.fig in wanted
    ]
    return rows, http.baseline_rows(bench), http.load_summary(bench)
