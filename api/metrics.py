"""Prometheus metrics, one CollectorRegistry per app (several apps may live in one process)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from trust_lists import TrustStore

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


__all__ = ["Metrics"]
