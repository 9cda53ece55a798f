"""timeit-style loops: calibrated loop counts, best of N repeats, interleaved comparisons.

Best-of-N is the right statistic on a shared machine: noise from other processes only ever adds
time, so the minimum over repeats is the closest to the code's own cost. Figures that are ratios
are measured interleaved (A, B, A, B, ...) so drift in machine load hits both sides alike."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Mapping


def loop_time(fn: Callable[[], object], n: int) -> float:
    """Seconds per call of fn over n calls (gc disabled, as timeit does)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) / n
    finally:
        if enabled:
            gc.enable()


def calibrate(fn: Callable[[], object], target: float) -> int:
    """A loop count that takes about `target` seconds."""
    n = 1
    while True:
        t = loop_time(fn, n) * n
        if t >= target / 10 or n >= 10_000_000:
            return max(1, int(n * target / max(t, 1e-9)))
        n *= 10


def best_of(fn: Callable[[], object], *, repeats: int, target: float) -> float:
    n = calibrate(fn, target)
    return min(loop_time(fn, n) for _ in range(repeats))


def compare(
    fns: Mapping[str, Callable[[], object]], *, repeats: int, target: float
) -> dict[str, float]:
    """Best seconds per call of each fn, measured in interleaved rounds."""
    counts = {name: calibrate(fn, target) for name, fn in fns.items()}
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            best[name] = min(best[name], loop_time(fn, counts[name]))
    return best


def paired(
    num: Callable[[], object], den: Callable[[], object], *, repeats: int, target: float
) -> tuple[float, float, float]:
    """(best seconds per call of num, of den, median of the per-round ratios num/den).

    Each round times num and den back to back (alternating which goes first), so a ratio
    compares two loops that met the same machine state; the median of those ratios resists a
    burst of load that hits one side of one round, and drift between rounds cancels."""
    n_num, n_den = calibrate(num, target), calibrate(den, target)
    best_num = best_den = float("inf")
    ratios = []
    for i in range(repeats):
        if i % 2:
            t_den = loop_time(den, n_den)
            t_num = loop_time(num, n_num)
        else:
            t_num = loop_time(num, n_num)
            t_den = loop_time(den, n_den)
        best_num, best_den = min(best_num, t_num), min(best_den, t_den)
        ratios.append(t_num / t_den)
    ratios.sort()
    mid = len(ratios) // 2
    median = ratios[mid] if len(ratios) % 2 else (ratios[mid - 1] + ratios[mid]) / 2
    return best_num, best_den, median


def cycling(items: list[object], fn: Callable[[object], object]) -> Callable[[], object]:
    """A no-argument callable applying fn to the next item each call (wrapping)."""
    it = iter(())

    def call() -> object:
        nonlocal it
        try:
            item = next(it)
        except StopIteration:
            it = iter(items)
            item = next(it)
        return fn(item)

    return call


def once(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
