"""The hot path of `POST /v1/licences/verify`, as plain ASGI (GitHub issue 6).

The outermost middleware (api/middleware.py) hands every POST to the licence path here first.
A request takes the fast path only when it is unremarkable: a JSON content type, an API key in
the headers that authenticates and may verify licences, and a body in the exact shape of
`LicenceVerifyRequest` (checked here field by field, as strictly as the pydantic model) for a
configured relying jurisdiction. Then it is authenticated, verified through the same
`VerificationService` (cache, single flight, metrics), logged with the same access-log fields and
answered with the same JSON as the FastAPI route, without FastAPI's request, dependency and
response machinery.

Anything else (a missing or refused key, multipart, malformed JSON, any field the model would
refuse or coerce, a backslash escape anywhere in the body, an unknown jurisdiction) goes to the
FastAPI route unchanged, with the body read so far replayed, so every error keeps its exact
problem+json answer. Nothing with a side effect happens before that decision: the key check is
pure, and the anonymous rate limiter (which licences never use) is not touched."""

from __future__ import annotations

import re
from typing import Any, Final

import orjson
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import Permission
from api.context import AppContext
from api.jsonbody import dump_json
from api.models import (
    CREDIT_CODE_PATTERN,
    JURISDICTION_PATTERN,
    MAX_TOKEN_CHARS,
    TYPE_CODE_PATTERN,
    parse_rfc3339,
)
from api.problems import ProblemError, problem_response
from api.routes_verify import render
from api.verification import VerifyInput

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
_JSON_HEADERS: Final = [(b"content-type", b"application/json")]


def _licence_input(body: bytes) -> tuple[VerifyInput, bool] | None:
    """The request if the body is a LicenceVerifyRequest the model would accept as it is, else
    None (the FastAPI route then decides, with its own messages)."""
    if not body.startswith(b"{") or b"\\" in body:
        return None  # escapes (lone surrogates, ...) and odd layouts: the model's own parser
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
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
    validation_time = doc.get("validation_time")
    if validation_time is not None:
        if type(validation_time) is not str:
            return None
        try:
            at = parse_rfc3339(validation_time)
        except ValueError:
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
        "licence",
        token.encode("utf-8"),
        relying=relying,
        at=at,
        holder_credit_code=holder,
        type_code=type_code,
    )
    return inp, receipt


def _headers(scope: Scope) -> tuple[bytes | None, bytes | None, bytes | None]:
    """content-type, authorization, x-api-key: the first of each, as Starlette reads them."""
    ctype = authorization = api_key = None
    for key, value in scope["headers"]:
        if key == b"content-type":
            if ctype is None:
                ctype = value
        elif key == b"authorization":
            if authorization is None:
                authorization = value
        elif key == b"x-api-key" and api_key is None:
            api_key = value
    return ctype, authorization, api_key


def _is_json(ctype: bytes | None) -> bool:
    if ctype is None:
        return False
    media = ctype.decode("latin-1").split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for the FastAPI route after the body has been read here."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def licence_verify(
    scope: Scope, receive: Receive, send: Send, fallback: ASGIApp, route: Any
) -> None:
    """Serve POST /v1/licences/verify, or pass it to `fallback` (the FastAPI app)."""
    ctx = scope["app"].state.ctx
    ctype, authorization, api_key = _headers(scope)
    if (
        not isinstance(ctx, AppContext)
        or not _is_json(ctype)
        or (authorization is None and api_key is None)
    ):
        await fallback(scope, receive, send)
        return
    client = scope.get("client")
    try:
        principal = ctx.authoriser.authorise(
            Permission.VERIFY_LICENCE,
            authorization=authorization.decode("latin-1") if authorization is not None else None,
            x_api_key=api_key.decode("latin-1") if api_key is not None else None,
            client=client[0] if client else "unknown",
        )
    except ProblemError:
        await fallback(scope, receive, send)  # 401/403 from the route, word for word
        return
    state = scope["state"]
    fields = state["log"]
    fields["key_id"] = principal.key_id or "anonymous"
    body = await _read_body(receive)
    parsed = _licence_input(body)
    if parsed is None or parsed[0].relying not in ctx.store.anchors:
        await fallback(scope, _replay(body, receive), send)
        return
    inp, receipt = parsed
    scope["route"] = route  # the route template for the access log and metrics
    try:
        await ctx.sync.ensure_current()
        outcome = await ctx.service.verify(inp)
        verdict = outcome.verdict
        fields.update(
            kind="licence",
            document_sha256=verdict.get("document_sha256"),
            input_sha256=outcome.input_sha256,
            indication=verdict.get("indication"),
            sub_indication=verdict.get("sub_indication"),
            cached=outcome.cached,
        )
        content = dump_json(render(ctx, inp, outcome, receipt=receipt))
    except ProblemError as exc:  # as the route's problem handler answers it
        response = problem_response(
            exc.status,
            exc.code,
            exc.detail,
            title=exc.title,
            request_id=state.get("request_id"),
            headers=exc.headers,
            extra=exc.extra,
        )
        await response(scope, receive, send)
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(content)).encode("ascii")), *_JSON_HEADERS],
        }
    )
    await send({"type": "http.response.body", "body": content})


__all__ = ["LICENCE_PATH", "licence_verify"]
