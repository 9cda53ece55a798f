"""bench/queueing.py: the simulation docs/performance.md reads figure 7c against."""

from __future__ import annotations

from bench.queueing import simulate


def test_steady_service_times_queue_little_and_variable_ones_make_the_tail() -> None:
    ratios = [p99 / p50 for p50, p99 in (simulate(cv, requests=20_000) for cv in (0.0, 0.3, 1.0))]
    assert ratios[0] < 1.05  # fixed service times, evenly spaced arrivals: no one waits
    assert ratios[0] < ratios[1] < ratios[2]
    assert ratios[2] > 4


def test_one_queue_for_both_workers_waits_no_longer_than_a_queue_each() -> None:
    per_worker = simulate(0.7, requests=20_000)
    shared = simulate(0.7, requests=20_000, shared=True)
    assert shared[1] < per_worker[1]
