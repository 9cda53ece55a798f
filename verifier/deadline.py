"""A deadline for one verification, checked by the verifiers between units of costly work.

A thread cannot be stopped from outside: when the service gives up waiting for a verification
(api/workers.py answers 503 `verification_timeout`), the worker thread is still busy. The
verifiers call `check()` where a document's work is split into units (every package entry read,
every signature), so abandoned work ends at the next unit instead of running on."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class DeadlineExceeded(Exception):
    """The verification passed its deadline: there is no verdict (the caller says "try later").
    Deliberately not a ValueError, so no handler for bad documents can turn it into one."""


_deadline: ContextVar[float | None] = ContextVar("huren_verification_deadline", default=None)


@contextmanager
def deadline(at: float) -> Iterator[None]:
    """Verifications inside the block stop at `at` (a time.monotonic() value)."""
    token = _deadline.set(at)
    try:
        yield
    finally:
        _deadline.reset(token)


def check() -> None:
    """Raise DeadlineExceeded once the current deadline has passed (no deadline: never)."""
    at = _deadline.get()
    if at is not None and time.monotonic() >= at:
        raise DeadlineExceeded


__all__ = ["DeadlineExceeded", "check", "deadline"]
