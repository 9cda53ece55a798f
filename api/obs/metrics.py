"""Prometheus metrics, one CollectorRegistry per app (several apps may live in one process)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from trust_lists import TrustState, TrustStore
from trust_lists.timeutil import format_time

LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0)


class _TrustCollector(Collector):
    """Trust-list gauges computed at scrape time from the store's current snapshot."""

    def __init__(
        self, store: TrustStore, clock: Callable[[], datetime], cache: Callable[[], Any]
    ) -> None:
        self.store = store
        self.clock = clock
        self.cache = cache

    def collect(self) -> Iterator[Any]:
        now = self.clock()
        state = self.store.state
        age = GaugeMetricFamily(
            "huren_trust_list_age_seconds",
            "Seconds since the jurisdiction's current trust list was issued",
            labels=["jurisdiction"],
        )
        stale = GaugeMetricFamily(
            "huren_trust_list_stale",
            "1 if the jurisdiction has no list or it is past next_update plus grace",
            labels=["jurisdiction"],
        )
        sequence = GaugeMetricFamily(
            "huren_trust_list_sequence",
            "Sequence number of the jurisdiction's current trust list (0: none)",
            labels=["jurisdiction"],
        )
        until = GaugeMetricFamily(
            "huren_trust_list_seconds_until_stale",
            "Seconds until the jurisdiction's list goes stale (negative: stale since)",
            labels=["jurisdiction"],
        )
        for code in self.store.jurisdictions:
            tl = state.trust_list(code)
            stale.add_metric([code], 1.0 if state.is_stale(code, now) else 0.0)
            sequence.add_metric([code], float(tl.sequence if tl else 0))
            if tl is not None:
                age.add_metric([code], (now - tl.issued_at).total_seconds())
                stale_from = state.stale_from(code)
                assert stale_from is not None
                until.add_metric([code], (stale_from - now).total_seconds())
        yield age
        yield stale
        yield sequence
        yield until
        status_until = GaugeMetricFamily(
            "huren_status_list_seconds_until_expiry",
            "Seconds until the status list expires (negative: expired since); its documents are "
            "INDETERMINATE after",
            labels=["jurisdiction", "uri"],
        )
        for uri, issued in sorted(state.status_lists.items()):
            status_until.add_metric(
                [issued.jurisdiction, uri], (issued.status_list.expires_at - now).total_seconds()
            )
        yield status_until
        cache = self.cache()
        errors = CounterMetricFamily(
            "huren_verdict_cache_backend_errors",
            "Errors inside the verdict cache backend (Redis down, slow or refusing)",
        )
        errors.add_metric([], float(getattr(cache, "errors", 0)))
        yield errors
        available = GaugeMetricFamily(
            "huren_verdict_cache_available", "1 if the verdict cache backend is reachable"
        )
        available.add_metric([], 1.0 if getattr(cache, "available", False) else 0.0)
        yield available


class _SyncCollector(Collector):
    """Trust sync's catch-up from Redis (api/sync/fanout.py): lag, refusals and the work it did."""

    def __init__(self, sync: Any) -> None:
        self.sync = sync

    def collect(self) -> Iterator[Any]:
        sync = self.sync
        yield GaugeMetricFamily(
            "huren_trust_sync_lag_seconds",
            "Seconds since a catch-up from Redis stopped at its budget (0: current)",
            value=sync.lag_seconds(),
        )
        yield GaugeMetricFamily(
            "huren_trust_sync_epochs_behind",
            "Trust epochs published in Redis and not yet caught up to (0: current)",
            value=float(sync.epochs_behind()),
        )
        yield GaugeMetricFamily(
            "huren_trust_sync_available",
            "1 while trust sync through Redis works (0: Redis unreachable or refusing the trust "
            "keys, or no Redis configured)",
            value=1.0 if getattr(sync, "available", False) else 0.0,
        )
        errors = CounterMetricFamily(
            "huren_redis_errors",
            "Failed Redis commands of the cache and the sync, by kind (api/state/redis.py)",
            labels=["kind"],
        )
        owner = getattr(sync, "redis", None)
        for kind, count in owner.errors.items() if owner is not None else ():
            errors.add_metric([kind], float(count))
        yield errors
        refused = CounterMetricFamily(
            "huren_trust_sync_refused_documents",
            "Documents and entries read from Redis and refused, by reason (each counted once)",
            labels=["reason"],
        )
        for reason, count in sorted(sync.refused_by_reason.items()):
            refused.add_metric([reason], float(count))
        yield refused
        exhausted = CounterMetricFamily(
            "huren_trust_sync_budget_exhausted",
            "Catch-ups stopped by their budget, by the budget that ran out",
            labels=["budget"],
        )
        for budget, count in sorted(sync.budget_exhausted.items()):
            exhausted.add_metric([budget], float(count))
        yield exhausted
        for name, help_text, value in (
            ("fetched_documents", "Documents read from Redis", sync.fetched_from_redis),
            ("fetched_bytes", "Bytes of documents read from Redis", sync.fetched_bytes_from_redis),
            (
                "verified_documents",
                "Documents from Redis judged by the store",
                sync.verified_from_redis,
            ),
            ("adopted_documents", "Documents from Redis adopted", sync.adopted_from_redis),
        ):
            yield CounterMetricFamily(f"huren_trust_sync_{name}", help_text, value=float(value))


def expiry_warnings(state: TrustState, now: datetime, window: timedelta) -> list[str]:
    """Trust lists going stale and status lists expiring within `window` (or already expired
    status lists): what /readyz warns of before every document they cover turns INDETERMINATE."""
    out = []
    for code in sorted(state.lists):
        stale_from = state.stale_from(code)
        if stale_from is not None and now < stale_from <= now + window:
            out.append(
                f"trust list {code} goes stale at {format_time(stale_from)} "
                f"(in {int((stale_from - now).total_seconds())} s): publish its next version"
            )
    for uri, issued in sorted(state.status_lists.items()):
        expires = issued.status_list.expires_at
        if expires <= now:
            out.append(
                f"status list {uri} expired at {format_time(expires)}: the documents it covers "
                "are INDETERMINATE until a renewed one is uploaded"
            )
        elif expires <= now + window:
            out.append(
                f"status list {uri} expires at {format_time(expires)} "
                f"(in {int((expires - now).total_seconds())} s): renew it (huren status renew)"
            )
    return out


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "huren_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.verdicts = Counter(
            "huren_verdicts",
            "Verdicts returned, by document kind, indication and sub-indication",
            ["kind", "indication", "sub_indication"],
            registry=self.registry,
        )
        self.cache = Counter(
            "huren_verdict_cache_requests",
            "Verdict cache look-ups by result (hit, miss, error)",
            ["result"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "huren_verification_seconds",
            "Time to compute a verdict (cache misses only), by document kind",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.refused = Counter(
            "huren_verifications_refused",
            "Verifications the worker pool refused: busy (every worker and queue place taken) "
            "or timeout (past the per-request deadline)",
            ["reason"],
            registry=self.registry,
        )
        self.trust_updates = Counter(
            "huren_trust_updates",
            "Trust-state documents offered, by kind, source (upload, sync) and outcome",
            ["kind", "source", "outcome"],
            registry=self.registry,
        )

    def watch_trust(
        self, store: TrustStore, clock: Callable[[], datetime], cache: Callable[[], Any]
    ) -> None:
        self.registry.register(_TrustCollector(store, clock, cache))

    def watch_sync(self, sync: Any) -> None:
        self.registry.register(_SyncCollector(sync))


__all__ = ["Metrics", "expiry_warnings"]
