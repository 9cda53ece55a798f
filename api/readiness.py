"""Readiness (`/readyz`) and the drain that precedes a stop.

`/readyz` answers one question for a load balancer: may verdict requests be sent here? It fails on
what makes verdicts wrong or impossible: a configured jurisdiction without a verified trust list,
a trust list past next_update plus grace, a held status list past its expiry, trust sync known
broken (Redis answering but refusing its commands) for longer than `sync_max_broken_seconds`, or
behind Redis for longer than `sync_max_lag_seconds`; and from the first SIGTERM on (draining).

A verdict-cache outage is not among them: verdicts are computed without the cache, only slower.
It is reported in the body (`checks.cache`) and in `/metrics`, never by taking the instance out of
its load balancer, where one Redis outage would otherwise take out every instance at once. Redis
plainly unreachable does not fail readiness either: uploads are acknowledged only once published
to Redis, so while no instance reaches it none can acknowledge a newer state than this one holds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from api.obs.metrics import expiry_warnings
from trust_lists.timeutil import format_time

if TYPE_CHECKING:
    from api.context import AppContext


@dataclass(frozen=True, slots=True)
class RedisHealth:
    """What the Redis owner (today the verdict cache and trust sync, each with its own client)
    says about Redis, read in one place for `/readyz` and `/metrics`."""

    cache: str  # "in-process", "ok" or "unavailable"
    sync: str  # "no Redis", "ok", "unreachable" or "refused"
    sync_refused_seconds: float  # how long sync's commands have been refused (0: not refused)
    detail: str = ""  # the last refusal, for the body


def redis_health(ctx: AppContext) -> RedisHealth:
    """The one reader of the cache's and sync's outage state (swap it when one module owns
    Redis)."""
    if not ctx.settings.redis_url:
        return RedisHealth("in-process", "no Redis", 0.0)
    cache = "ok" if getattr(ctx.cache, "available", False) else "unavailable"
    sync = ctx.sync
    since = getattr(sync, "refusing_since", None)
    if since is not None:
        return RedisHealth(
            cache, "refused", time.monotonic() - since, str(getattr(sync, "last_refusal", ""))
        )
    return RedisHealth(cache, "ok" if getattr(sync, "available", True) else "unreachable", 0.0)


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    checks: dict[str, str]
    failing: tuple[str, ...]
    warnings: list[str]

    def summary(self) -> str:
        return "not ready: " + ", ".join(f"{k} {self.checks[k]}" for k in self.failing)


def assess(ctx: AppContext, now: datetime) -> Readiness:
    """Every check of `/readyz`, with the names of those failing and the expiry warnings."""
    state = ctx.store.state
    checks: dict[str, str] = {}
    failing: list[str] = []

    def check(name: str, value: str, ok: bool) -> None:
        checks[name] = value
        if not ok:
            failing.append(name)

    if ctx.lifecycle.draining:
        check("lifecycle", "draining: stopping, send new requests elsewhere", False)
    for code in ctx.store.jurisdictions:
        if state.trust_list(code) is None:
            check(f"trust_list:{code}", "missing", False)
        elif state.is_stale(code, now):
            check(f"trust_list:{code}", "stale", False)
        else:
            check(f"trust_list:{code}", "ok", True)
    for uri, issued in sorted(state.status_lists.items()):
        expires = issued.status_list.expires_at
        if expires <= now:
            check(f"status_list:{uri}", f"expired at {format_time(expires)}", False)
        else:
            check(f"status_list:{uri}", "ok", True)
    health = redis_health(ctx)
    if health.cache == "in-process":
        check("cache", "ok (in-process)", True)
    elif health.cache == "ok":
        check("cache", "ok", True)
    else:
        check("cache", "unavailable (verdicts computed without the shared cache)", True)
    bound = ctx.settings.sync_max_broken_seconds
    if health.sync == "refused":
        broken = f"Redis refuses trust sync for {health.sync_refused_seconds:.1f} s"
        detail = f": {health.detail}" if health.detail else ""
        within = health.sync_refused_seconds <= bound
        check("trust_sync", (f"ok ({broken}{detail})" if within else broken + detail), within)
    elif health.sync == "unreachable":
        check("trust_sync", "ok (Redis unreachable: no instance can acknowledge uploads)", True)
    else:
        lag = ctx.sync.readiness()
        check("trust_sync", lag, lag.startswith("ok"))
    window = timedelta(seconds=ctx.settings.expiry_warning_seconds)
    warnings = expiry_warnings(state, now, window)
    return Readiness(not failing, checks, tuple(sorted(failing)), warnings)


class ReadinessCollector(Collector):
    """`/readyz`'s answer as gauges, so that alerts need not poll it."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def collect(self) -> Iterator[Any]:
        ctx = self.ctx
        result = assess(ctx, ctx.clock())
        health = redis_health(ctx)
        yield GaugeMetricFamily(
            "huren_ready", "1 if /readyz answers 200 (0: see its body)", value=float(result.ready)
        )
        yield GaugeMetricFamily(
            "huren_draining",
            "1 from the first SIGTERM until the process stops (still serving, /readyz 503)",
            value=float(ctx.lifecycle.draining),
        )
        yield GaugeMetricFamily(
            "huren_expiry_warnings",
            "Trust lists going stale and status lists expiring within expiry_warning_seconds, "
            "or expired (the warnings of /readyz)",
            value=float(len(result.warnings)),
        )
        yield GaugeMetricFamily(
            "huren_trust_sync_refused_seconds",
            "Seconds Redis has been refusing trust sync's commands (0: not refusing)",
            value=health.sync_refused_seconds,
        )


__all__ = ["Readiness", "ReadinessCollector", "RedisHealth", "assess", "redis_health"]
