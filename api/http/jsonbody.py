"""JSON bodies: request bodies read with one meaning (`read_json`), and response bodies made
fast (the bytes Starlette's JSONResponse would send, made by orjson)."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import orjson
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from api.http.problems import ProblemError
from keys import MalformedJSON
from keys.encoding import strict_json_loads

AMBIGUOUS_JSON = "ambiguous_json"
# I-JSON (RFC 7493 2.2): numbers beyond this are read differently by different readers.
_EXACT_INTEGERS = 2**53 - 1


def read_json(body: bytes, max_bytes: int) -> Any:
    """A request body as the one JSON value every reader agrees on, with the strict reader the
    project uses for tokens and trust lists (keys/encoding.py). JSON that some reader would read
    otherwise (a duplicate member, a byte order mark, NaN or Infinity, a lone surrogate, a number
    beyond +-2^53, nesting deeper than 32) is 422 `ambiguous_json`; text no JSON reader accepts
    is 400 `malformed_json`. Nothing of the body is echoed."""
    try:
        if body.startswith(b"\xef\xbb\xbf"):
            raise MalformedJSON("byte order mark")
        value = strict_json_loads(body, max_bytes=max_bytes)
        if not exact_numbers(value):
            raise MalformedJSON("a number beyond +-2^53")
    except MalformedJSON as exc:
        if not _lenient_json(body):
            raise ProblemError(400, "malformed_json", "the request body is not valid JSON") from exc
        raise ProblemError(
            422,
            AMBIGUOUS_JSON,
            "the request body is JSON with more than one reading (a duplicate member, a byte "
            "order mark, NaN or Infinity, a lone surrogate, a number beyond +-2^53 or nesting "
            "deeper than 32): send I-JSON (RFC 7493)",
        ) from exc
    return value


def _lenient_json(body: bytes) -> bool:
    """Whether a lenient reader (Python's json: duplicates, BOM, NaN, any number) accepts it."""
    try:
        json.loads(body, parse_int=len, parse_float=len)
    except (ValueError, RecursionError):
        return False
    return True


def exact_numbers(value: Any) -> bool:
    """No NaN, no infinity, no number beyond +-2^53 anywhere in a parsed value."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, float):
            if not math.isfinite(item) or abs(item) > _EXACT_INTEGERS:
                return False
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) > _EXACT_INTEGERS:
            return False
    return True


def dump_json(content: Any) -> bytes:
    """The bytes Starlette's JSONResponse renders for `content` (compact, UTF-8, no NaN), made by
    orjson: for the str/int/bool/None/list/dict values of verdicts and problems the two agree
    byte for byte (keys in insertion order, the same escapes; verdicts hold no floats). What
    orjson would read differently or cannot encode (a subclass of str, int or dict, an integer
    beyond 64 bits, a non-str key) is left to the json module."""
    try:
        return orjson.dumps(content, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    except orjson.JSONEncodeError:
        return json.dumps(
            content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
        ).encode("utf-8")


class RenderedJSONResponse(JSONResponse):
    """A JSONResponse (same media type and headers) given its body as bytes from dump_json."""

    def render(self, content: Any) -> bytes:
        return content if isinstance(content, bytes) else super().render(content)


class JoinedJSONResponse(JSONResponse):
    """`RenderedJSONResponse(head + sep.join(parts) + tail)`, the same status, headers
    (Content-Length of the whole) and bytes, sent `per_message` parts at a time with a turn of
    the event loop between: a batch's answer (~13 MB for 10,000 items) is never copied whole,
    and no single copy holds the loop for long. The parts are consumed (freed as they are sent)."""

    def __init__(
        self, head: bytes, parts: list[bytes], sep: bytes, tail: bytes, per_message: int = 256
    ) -> None:
        self.head, self.parts, self.sep, self.tail = head, parts, sep, tail
        self.per_message = per_message
        super().__init__(b"")  # no body kept: its length is set below
        length = len(head) + sum(map(len, parts)) + len(sep) * max(len(parts) - 1, 0) + len(tail)
        self.raw_headers = [
            (key, str(length).encode("latin-1") if key == b"content-length" else value)
            for key, value in self.raw_headers
        ]

    def render(self, content: Any) -> bytes:
        return b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.status_code}
        await send({**start, "headers": self.raw_headers})
        parts, n = self.parts, self.per_message
        chunk = self.head + self.sep.join(parts[:n])
        while True:
            del parts[:n]
            if not parts:
                await send({"type": "http.response.body", "body": chunk + self.tail})
                return
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await asyncio.sleep(0)
            chunk = self.sep.join([b"", *parts[:n]])  # the separator before each later part


__all__ = [
    "AMBIGUOUS_JSON",
    "JoinedJSONResponse",
    "RenderedJSONResponse",
    "dump_json",
    "exact_numbers",
    "read_json",
]
