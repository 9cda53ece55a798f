"""The outermost ASGI layer: request ids, the request body size limit, the access log, request
metrics and the catch-all for unexpected errors (a problem without a stack trace). Every request
passes it, the ones the licence fast lane (api/http/fast_lane.py, the innermost layer) serves too.

The size limit is enforced before the body is read: a Content-Length above the limit is answered
with 413 at once, and a body streamed without one is counted chunk by chunk and cut off as soon as
it passes the limit."""

from __future__ import annotations

import logging
import os
import random
import re
import time
from collections.abc import Sequence
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.problems import problem_body, problem_response
from api.obs.logs import log_access
from api.obs.metrics import Metrics

access_log = logging.getLogger("huren.access")
error_log = logging.getLogger("huren.error")

_REQUEST_ID = re.compile(r"\A[A-Za-z0-9._:-]{1,128}\Z")
# Request ids need to be unique, not secret: a PRNG seeded from os.urandom at import (a fresh
# interpreter per worker) instead of a getrandom() system call per request.
_ids = random.Random()  # noqa: S311 (ids, not secrets)
if hasattr(os, "register_at_fork"):  # a forked worker (gunicorn --preload) must not repeat ids
    os.register_at_fork(after_in_child=_ids.seed)


def content_length(value: bytes | str) -> int | None:
    """A Content-Length header's value, or None if it is malformed (not only digits, or absurdly
    long)."""
    if not value.isdigit() or len(value) > 18:
        return None
    return int(value)


def request_id_for(incoming: bytes | str | None) -> str:
    """The client's X-Request-ID if it is well-formed, else a new random 16-hex-digit id."""
    if incoming is not None:
        text = incoming.decode("latin-1") if isinstance(incoming, bytes) else incoming
        if _REQUEST_ID.match(text):
            return text
    return f"{_ids.getrandbits(64):016x}"


class RequestRecorder:
    """The access-log line and the request counter of every request."""

    def __init__(self, metrics: Metrics, routes: Sequence[BaseRoute]) -> None:
        self.metrics = metrics
        self.routes = routes
        self._counters: dict[tuple[str, str, str], Any] = {}  # labelled request counters

    def route_of(self, scope: Scope) -> str:
        route = scope.get("route")
        path = getattr(route, "path", None)
        if isinstance(path, str):
            return path
        for candidate in self.routes:
            match, _ = candidate.matches(scope)
            if match is not Match.NONE:
                found = getattr(candidate, "path", None)
                if isinstance(found, str):
                    return found
        return "unmatched"

    def record(
        self,
        scope: Scope,
        *,
        method: str,
        status: int,
        start: float,
        request_id: str,
        fields: dict[str, Any],
    ) -> None:
        duration = time.perf_counter() - start
        route = self.route_of(scope)
        labels = (route, method, str(status))
        counter = self._counters.get(labels)
        if counter is None:
            counter = self.metrics.requests.labels(*labels)
            if len(self._counters) < 1024:  # methods come from clients: bounded memo
                self._counters[labels] = counter
        counter.inc()
        line = {
            "request_id": request_id,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(duration * 1000, 3),
            **fields,
        }
        log_access(access_log, line)


class BodyTooLarge(Exception):
    """Raised from `receive` when a streamed body passes the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body larger than {limit} bytes")
        self.limit = limit


def too_large_problem(limit: int, request_id: str | None) -> dict[str, Any]:
    return problem_body(
        413,
        "payload_too_large",
        f"the request body is larger than {limit} bytes",
        request_id=request_id,
        extra={"max_bytes": limit},
    )


class ServiceMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        recorder: RequestRecorder,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        incoming_id = length_header = None
        for key, value in scope["headers"]:  # the first of each
            if key == b"x-request-id":
                incoming_id = value if incoming_id is None else incoming_id
            elif key == b"content-length" and length_header is None:
                length_header = value
        request_id = request_id_for(incoming_id)
        id_header = (b"x-request-id", request_id.encode("latin-1"))
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        fields: dict[str, Any] = {}
        state["log"] = fields
        status = 0
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = int(message["status"])
                started = True
                headers = list(message.get("headers", ()))
                if any(key == b"x-request-id" for key, _ in headers):
                    MutableHeaders(raw=headers)["X-Request-ID"] = request_id  # replaced in place
                else:
                    headers.append(id_header)
                message["headers"] = headers
            await send(message)

        async def reply(response_status: int, code: str, detail: str, **kw: Any) -> None:
            response = problem_response(response_status, code, detail, request_id=request_id, **kw)
            await response(scope, receive, send_with_id)

        try:
            length = content_length(length_header) if length_header is not None else None
            if length_header is not None and length is None:
                await reply(400, "bad_request", "malformed Content-Length header")
            elif length is not None and length > self.max_body_bytes:
                await self._too_large(reply)
            else:
                await self.app(scope, self._limited(receive), send_with_id)
        except BodyTooLarge:
            if not started:
                await self._too_large(reply)
        except ClientDisconnect:
            status = status or 499  # nginx's "client closed request"; nobody to answer
        except Exception:
            error_log.exception("unhandled error", extra={"fields": {"request_id": request_id}})
            if not started:
                await reply(500, "internal_error", "an internal error occurred")
            else:
                status = 500
        finally:
            self.recorder.record(
                scope,
                method=str(scope.get("method", "")),
                status=status,
                start=start,
                request_id=request_id,
                fields=fields,
            )

    async def _too_large(self, reply: Any) -> None:
        await reply(
            413,
            "payload_too_large",
            f"the request body is larger than {self.max_body_bytes} bytes",
            extra={"max_bytes": self.max_body_bytes},
        )

    def _limited(self, receive: Receive) -> Receive:
        limit = self.max_body_bytes
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        return limited_receive


__all__ = [
    "BodyTooLarge",
    "RequestRecorder",
    "ServiceMiddleware",
    "content_length",
    "error_log",
    "request_id_for",
    "too_large_problem",
]
