"""The hot path of `POST /v1/licences/verify`, as plain ASGI (GitHub issue 6).

`ServiceApp` (api/app.py) hands every `POST /v1/licences/verify` to `LicenceHotPath` before any
of FastAPI's own layers. A request is served here only when it is unremarkable: a JSON content
type, a Content-Length within the body limit, an API key in the headers that authenticates and
may verify licences, and a body in the exact shape of `LicenceVerifyRequest` (checked field by
field, as strictly as the pydantic model) for a configured relying jurisdiction. It is then
verified through the same `VerificationService` (cache, single flight, metrics), logged with the
same access-log fields (`RequestRecorder`) and answered with the same bytes as the FastAPI route.

Anything else (no or a refused key, a query string other than none, `report=simple` or
`report=detailed`, multipart, a chunked or oversized body, malformed JSON, any
field the model would refuse or coerce, a backslash escape anywhere in the body, an unknown
jurisdiction) goes to the FastAPI app unchanged, with every message read so far replayed, so
every error keeps its exact problem+json answer. Nothing with a side effect happens before that
decision: the key check is pure, and the anonymous rate limiter (which licences never use) is not
touched."""

from __future__ import annotations

import re
import time
from typing import Any, Final

from starlette.types import Message, Receive, Scope, Send

from api.context import AppContext
from api.http.auth import Permission, Principal
from api.http.middleware import (
    HOT_PATH_START,
    RequestRecorder,
    content_length,
    error_log,
    request_id_for,
)
from api.http.models import (
    CREDIT_CODE_PATTERN,
    JURISDICTION_PATTERN,
    MAX_TOKEN_CHARS,
    TYPE_CODE_PATTERN,
    validation_time,
)
from api.http.problems import ProblemError, problem_response
from api.routes.verify import is_json, media_type, outcome_fields, render_json
from api.verification import VerifyInput
from keys import MalformedJSON
from keys.encoding import strict_json_loads
from verifier import DocumentKind

LICENCE_PATH: Final = "/v1/licences/verify"


def _exact(pattern: str) -> re.Pattern[str]:
    # The models' patterns are "^...$" for pydantic's Rust regex, where "$" is the end of the
    # text; Python's "$" would also match before a final newline, so fullmatch the inside.
    assert pattern.startswith("^") and pattern.endswith("$")
    return re.compile(pattern[1:-1])


_JURISDICTION = _exact(JURISDICTION_PATTERN)
_CREDIT_CODE = _exact(CREDIT_CODE_PATTERN)
_TYPE_CODE = _exact(TYPE_CODE_PATTERN)
_MEMBERS = frozenset({"token", "relying_jurisdiction", "validation_time", "expect", "receipt"})
_EXPECT_MEMBERS = frozenset({"holder_credit_code", "type_code"})
_JSON_CONTENT_TYPE: Final = (b"content-type", b"application/json")
# The query strings served here, and whether each asks for the detailed report; any other
# (encoded, repeated, unknown value) is the route's to read (routes_verify.report_level).
_REPORT_QUERY: Final = {b"": False, b"report=simple": False, b"report=detailed": True}


def _licence_input(body: bytes) -> tuple[VerifyInput, bool] | None:
    """The request if the body is a LicenceVerifyRequest the model would accept as it is, else
    None (the FastAPI route then decides, with its own messages)."""
    if not body.startswith(b"{") or b"\\" in body:
        return None  # escapes (lone surrogates, ...) and odd layouts: the route's own reader
    try:
        # The route's strict reader (api/http/jsonbody.py::read_json): duplicates, NaN, depth.
        doc = strict_json_loads(body, max_bytes=len(body))
    except MalformedJSON:
        return None
    if type(doc) is not dict or not doc.keys() <= _MEMBERS:
        return None
    token = doc.get("token")
    relying = doc.get("relying_jurisdiction")
    if (
        type(token) is not str
        or not 0 < len(token) <= MAX_TOKEN_CHARS
        or type(relying) is not str
        or not _JURISDICTION.fullmatch(relying)
    ):
        return None
    receipt = doc.get("receipt", False)
    if type(receipt) is not bool:
        return None
    at = None
    when = doc.get("validation_time")
    if when is not None:
        if type(when) is not str:
            return None
        try:
            at = validation_time(when)
        except ValueError:  # malformed or out of range: the route's problem answer
            return None
    holder = type_code = None
    expect = doc.get("expect")
    if expect is not None:
        if type(expect) is not dict or not expect.keys() <= _EXPECT_MEMBERS:
            return None
        holder = expect.get("holder_credit_code")
        type_code = expect.get("type_code")
        if holder is not None and (type(holder) is not str or not _CREDIT_CODE.fullmatch(holder)):
            return None
        if type_code is not None and (
            type(type_code) is not str or not _TYPE_CODE.fullmatch(type_code)
        ):
            return None
    inp = VerifyInput(
        DocumentKind.LICENCE,
        token.encode("utf-8"),
        relying=relying,
        at=at,
        holder_credit_code=holder,
        type_code=type_code,
    )
    return inp, receipt


def _headers(
    scope: Scope,
) -> tuple[bytes | None, bytes | None, bytes | None, bytes | None, bytes | None]:
    """content-type, authorization, x-api-key, content-length, x-request-id: the first of each,
    as Starlette and ServiceMiddleware read them."""
    ctype = authorization = api_key = length = request_id = None
    for key, value in scope["headers"]:
        if key == b"content-type":
            if ctype is None:
                ctype = value
        elif key == b"authorization":
            if authorization is None:
                authorization = value
        elif key == b"x-api-key":
            if api_key is None:
                api_key = value
        elif key == b"content-length":
            if length is None:
                length = value
        elif key == b"x-request-id" and request_id is None:
            request_id = value
    return ctype, authorization, api_key, length, request_id


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """`receive` for the FastAPI app after some messages have been read here: those first."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


class LicenceHotPath:
    """Serves POST /v1/licences/verify, or declines it (see the module docstring)."""

    def __init__(
        self, ctx: AppContext, route: Any, recorder: RequestRecorder, max_body_bytes: int
    ) -> None:
        self.ctx = ctx
        self.route = route
        self.recorder = recorder
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """None once answered; else the `receive` to hand to the FastAPI app."""
        start = time.perf_counter()
        messages: list[Message] = []
        try:
            decided = await self._decide(scope, receive, messages)
        except Exception:
            # Any surprise before the decision is the app's to answer (and log), with its
            # catch-all: it meets the same request, every message read here replayed.
            decided = None
        if decided is None:
            scope[HOT_PATH_START] = start  # the access log's duration includes our part
            return _replay(messages, receive) if messages else receive
        principal, inp, receipt, incoming_id = decided
        await self.serve(
            scope,
            send=send,
            start=start,
            incoming_id=incoming_id,
            key_id=principal.key_id,
            inp=inp,
            receipt=receipt,
            detailed=_REPORT_QUERY[scope.get("query_string", b"")],
        )
        return None

    async def _decide(
        self, scope: Scope, receive: Receive, messages: list[Message]
    ) -> tuple[Principal, VerifyInput, bool, bytes | None] | None:
        """The caller, the request and its X-Request-ID if this path serves it, else None.
        Messages read from `receive` are appended to `messages`."""
        ctx = self.ctx
        ctype, authorization, api_key, length, incoming_id = _headers(scope)
        size = content_length(length) if length is not None else None
        if (
            size is None
            or size > self.max_body_bytes
            or ctype is None
            or not is_json(media_type(ctype.decode("latin-1")))
            or (authorization is None and api_key is None)
            or scope.get("query_string", b"") not in _REPORT_QUERY
        ):
            return None
        try:
            principal = ctx.authoriser.authorise(
                Permission.VERIFY_LICENCE,
                authorization=authorization.decode("latin-1")
                if authorization is not None
                else None,
                x_api_key=api_key.decode("latin-1") if api_key is not None else None,
                client=ctx.authoriser.addresses.of(scope),
            )
        except ProblemError:
            return None  # 401/403 from the route, word for word
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return None  # a disconnect: the app sees it as usual
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                return None
            if not message.get("more_body", False):
                break
        body = (
            messages[0]["body"]
            if len(messages) == 1
            else b"".join(m.get("body", b"") for m in messages)
        )
        parsed = _licence_input(body)
        if parsed is None or parsed[0].relying not in ctx.store.anchors:
            return None
        return principal, parsed[0], parsed[1], incoming_id

    async def serve(
        self,
        scope: Scope,
        *,
        send: Send,
        start: float,
        incoming_id: bytes | None,
        key_id: str | None,
        inp: VerifyInput,
        receipt: bool,
        detailed: bool = False,
    ) -> None:
        ctx = self.ctx
        request_id = request_id_for(incoming_id)
        fields: dict[str, Any] = {"key_id": key_id or "anonymous"}
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["log"] = fields
        scope["route"] = self.route  # the route template for the access log and metrics
        status = 0
        try:
            await ctx.sync.ensure_current()
            outcome = await ctx.service.verify(inp)
            fields.update(outcome_fields(inp.kind, outcome))
            content = render_json(ctx, inp, outcome, receipt=receipt, detailed=detailed)
            status = 200
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-length", str(len(content)).encode("ascii")),
                        _JSON_CONTENT_TYPE,
                        (b"x-request-id", request_id.encode("latin-1")),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": content, "more_body": False})
        except ProblemError as exc:  # as the route's problem handler answers it
            status = exc.status
            await _problem(scope, send, request_id, exc)
        except Exception:
            error_log.exception("unhandled error", extra={"fields": {"request_id": request_id}})
            answered, status = status != 0, 500
            if not answered:
                internal = ProblemError(500, "internal_error", "an internal error occurred")
                await _problem(scope, send, request_id, internal)
        finally:
            self.recorder.record(
                scope,
                method="POST",
                status=status,
                start=start,
                request_id=request_id,
                fields=fields,
            )


async def _problem(scope: Scope, send: Send, request_id: str, exc: ProblemError) -> None:
    """The problem answer for `exc`, as the route's handler and ServiceMiddleware send it
    (X-Request-ID last)."""
    response = problem_response(
        exc.status,
        exc.code,
        exc.detail,
        title=exc.title,
        request_id=request_id,
        headers=exc.headers,
        extra=exc.extra,
    )
    response.headers["X-Request-ID"] = request_id
    await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    # Responses never read the request here: its body has been consumed.
    return {"type": "http.disconnect"}


__all__ = ["LICENCE_PATH", "LicenceHotPath"]
