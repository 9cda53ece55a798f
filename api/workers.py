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
        remaining = until - time.monotonic()
        if remaining <= 0:
            raise self._timeout()
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
        try:
            future = executor.submit(_bounded, until, fn, args)
        except BaseException:
            self._release(None)
            raise
        future.add_done_callback(self._release)
        try:
            # Cancelling the wrapper on timeout cancels the work if it has not started.
            return await asyncio.wait_for(asyncio.wrap_future(future), remaining)
        except (TimeoutError, DeadlineExceeded):
            raise self._timeout() from None

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


def _bounded(until: float, fn: Callable[..., T], args: tuple[object, ...]) -> T:
    with deadline(until):
        return fn(*args)


__all__ = ["VerificationPool"]
