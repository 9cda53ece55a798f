"""Costly verifications off the event loop: a bounded worker pool with a per-request deadline
(GitHub issue 12, class 3).

National-format documents and seals (an OFD package is decompressed, parsed and hashed) and every
item of a batch are verified in `verify_workers` threads, never on the event loop, so `/healthz`
and every other request keep being answered while they run. Hashing (hashlib, SM3 through
cryptography) and zlib spend most of the time in C; a thread holding the GIL in Python code gives
it up at least every switch interval (5 ms), which bounds how long the loop waits (measured in
bench/http.py, figure "healthz under hostile uploads").

- At most `verify_workers + verify_queue` verifications are admitted (running or waiting); one
  more is refused at once with 503 `verification_busy` and `Retry-After`, never queued without
  bound (every waiting upload holds its body in memory).
- Each request has a deadline `verify_deadline_seconds` from when it is admitted (a batch: one
  deadline for all its items). Past it the request is answered with 503 `verification_timeout`
  and `Retry-After`; work still waiting is cancelled, and work already running stops at its
  next unit of work (verifier/deadline.py), so no worker stays stalled on abandoned work."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from api.http.problems import ProblemError
from verifier.deadline import DeadlineExceeded, deadline

T = TypeVar("T")


class VerificationPool:
    def __init__(
        self,
        *,
        workers: int,
        queue: int,
        deadline_seconds: float,
        on_refused: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.workers = workers
        self.capacity = workers + queue
        self.deadline_seconds = deadline_seconds
        self.on_refused = on_refused  # "busy" or "timeout", for the metrics
        self._executor: ThreadPoolExecutor | None = None  # made on first use, again after close()
        self._lock = threading.Lock()
        self._admitted = 0  # running or waiting, until the thread is done with it

    @property
    def admitted(self) -> int:
        return self._admitted

    def deadline(self) -> float:
        """The deadline (time.monotonic()) of a request admitted now."""
        return time.monotonic() + self.deadline_seconds

    async def run(self, until: float, fn: Callable[..., T], *args: object) -> T:
        """fn(*args) in a worker thread, answered by `until`; else a 503 problem."""
        return (await self.map(until, fn, [args]))[0]

    async def map(
        self, until: float, fn: Callable[..., T], calls: list[tuple[Any, ...]]
    ) -> list[T]:
        """fn(*args) for each args of `calls`, spread over the worker threads, answered in order
        by `until`; else a 503 problem. All of them are one admission: a batch split over the
        threads holds one body and counts once towards the capacity."""
        remaining = until - time.monotonic()
        if remaining <= 0:
            raise self._timeout()
        if not calls:
            return []
        with self._lock:
            if self._admitted >= self.capacity:
                self.on_refused("busy")
                raise ProblemError(
                    503,
                    "verification_busy",
                    "every verification worker is busy; try again shortly",
                    headers={"Retry-After": "1"},
                    extra={"workers": self.workers},
                )
            self._admitted += 1
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="huren-verify")
            executor = self._executor
        release = _Countdown(len(calls), self._release)
        futures: list[Future[T]] = []
        try:
            for args in calls:
                future = executor.submit(_bounded, until, fn, args)
                future.add_done_callback(release)
                futures.append(future)
        except BaseException:
            for future in futures:
                future.cancel()
            release.cancel(len(calls) - len(futures))  # never submitted
            raise
        try:
            # Cancelling the wrappers on timeout cancels the work that has not started.
            waiting = asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
            return list(await asyncio.wait_for(waiting, remaining))
        except (TimeoutError, DeadlineExceeded):
            raise self._timeout() from None
        finally:
            for future in futures:
                future.cancel()  # after a failure: the calls not started yet (else a no-op)

    def _release(self, _: Future[Any] | None) -> None:
        with self._lock:
            self._admitted -= 1

    def _timeout(self) -> ProblemError:
        self.on_refused("timeout")
        seconds = self.deadline_seconds
        return ProblemError(
            503,
            "verification_timeout",
            f"the verification did not finish within {seconds:g} s; try again later",
            headers={"Retry-After": str(max(1, math.ceil(seconds)))},
            extra={"deadline_seconds": seconds},
        )

    def close(self) -> None:
        """Cancel waiting work and let the threads go once done (an app may be started again:
        the next run makes a new executor)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


class _Countdown:
    """Calls `done` once, when the last of `n` futures is done (or given up)."""

    def __init__(self, n: int, done: Callable[[Future[Any] | None], None]) -> None:
        self._left = n
        self._done = done
        self._lock = threading.Lock()

    def __call__(self, future: Future[Any] | None) -> None:
        self.cancel(1)

    def cancel(self, n: int) -> None:
        with self._lock:
            self._left -= n
            last = self._left == 0
        if last:
            self._done(None)


def let_others_run() -> None:
    """Give the GIL up for a moment. Long work in a worker thread calls it between slices, so
    that the event loop, when it waits for the GIL, gets it now rather than after the
    interpreter's switch interval (5 ms), and several times per request."""
    time.sleep(0)


def _bounded(until: float, fn: Callable[..., T], args: tuple[object, ...]) -> T:
    with deadline(until):
        return fn(*args)


__all__ = ["VerificationPool", "let_others_run"]
