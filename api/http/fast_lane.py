"""The fast lane of `POST /v1/licences/verify`: the innermost layer of the middleware stack.

Every layer outside it has run when a request gets here: ServiceMiddleware (request id, the
Content-Length rule, the body limit, the catch-all 500, the access log and request metrics) and
any middleware added later. The lane spares the counters' everyday request FastAPI's routing,
dependency and response machinery, and nothing else.

It serves a request only when it is unremarkable: a JSON content type, an API key that may verify
licences, no query string but `report=simple` or `report=detailed`, and a body that the route's
own model (`LicenceVerifyRequest.model_validate_json`) accepts as it is, for a configured relying
jurisdiction. It then verifies through the same `VerificationService` and answers with the
route's bytes. Anything else, and any error while it looks, declines: the request goes on to the
route with every message read so far replayed, so every refusal keeps the route's exact problem
answer. Nothing with a side effect happens before that decision (the key check is pure, and the
anonymous rate limiter, which licences never use, is not touched). `fast_lane` off
(HUREN_FAST_LANE) leaves it out of the stack."""

from __future__ import annotations

from typing import Any, Final

from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.context import AppContext
from api.http.auth import Permission, Principal
from api.http.middleware import BodyTooLarge
from api.http.models import Expect, LicenceVerifyRequest
from api.http.problems import ProblemError, problem_for
from api.routes.verify import input_from_model, is_json, media_type, outcome_fields, render_json
from api.verification import VerifyInput
from verifier import DocumentKind

LICENCE_PATH: Final = "/v1/licences/verify"
# The query strings served here, and whether each asks for the detailed report; any other
# (encoded, repeated, unknown value) is the route's to read (api.routes.verify.report_level).
_REPORT_QUERY: Final = {b"": False, b"report=simple": False, b"report=detailed": True}
# Every member name the models know, as it appears in a body without escapes.
_QUOTED: Final = {
    name: f'"{name}"'.encode()
    for model in (LicenceVerifyRequest, Expect)
    for name in model.model_fields
}
_JSON_CONTENT_TYPE: Final = (b"content-type", b"application/json")


def _licence_input(body: bytes) -> tuple[VerifyInput, bool] | None:
    """The request and its receipt flag if the route's model accepts the body as the route's
    strict reader (api/http/jsonbody.py::read_json) would read it, else None."""
    if b"\\" in body:  # escapes (lone surrogates, ...): the route's own reader
        return None
    try:
        request = LicenceVerifyRequest.model_validate_json(body)
    except ValidationError:
        return None
    # pydantic's reader keeps the last of duplicate members, where the route refuses them as
    # ambiguous_json. The models forbid unknown members, so every member of the body is among
    # the fields set; without a backslash every quote delimits a string, so a member occurs
    # twice iff its quoted name does (or a value equals it: declined too, harmlessly).
    names = request.model_fields_set
    if request.expect is not None:
        names = names | request.expect.model_fields_set
    if any(body.count(_QUOTED[name]) > 1 for name in names):
        return None
    return input_from_model(DocumentKind.LICENCE, request), request.receipt


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """`receive` for the route after some messages have been read here: those first."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


class FastLane:
    """Serves POST /v1/licences/verify, or declines it (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, ctx: AppContext, route: Any) -> None:
        self.app = app
        self.ctx = ctx
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != LICENCE_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        try:
            decided = await self._decide(scope, receive, messages)
        except BodyTooLarge:
            raise  # ServiceMiddleware's 413, as for the route
        except Exception:
            decided = None  # the route meets the same request and answers it
        if decided is None:
            await self.app(scope, _replay(messages, receive) if messages else receive, send)
            return
        principal, inp, receipt = decided
        await self._serve(scope, send, principal, inp, receipt)

    async def _decide(
        self, scope: Scope, receive: Receive, messages: list[Message]
    ) -> tuple[Principal, VerifyInput, bool] | None:
        """The caller and the request if this lane serves it, else None. Messages read from
        `receive` are appended to `messages`."""
        ctype = authorization = api_key = None
        for key, value in scope["headers"]:  # the first of each, as Starlette reads them
            if key == b"content-type":
                ctype = ctype or value
            elif key == b"authorization":
                authorization = authorization or value
            elif key == b"x-api-key":
                api_key = api_key or value
        if (
            ctype is None
            or not is_json(media_type(ctype.decode("latin-1")))
            or (authorization is None and api_key is None)
            or scope.get("query_string", b"") not in _REPORT_QUERY
        ):
            return None
        authoriser = self.ctx.authoriser
        try:
            principal = authoriser.authorise(
                Permission.VERIFY_LICENCE,
                authorization=None if authorization is None else authorization.decode("latin-1"),
                x_api_key=None if api_key is None else api_key.decode("latin-1"),
                client=authoriser.addresses.of(scope),
            )
        except ProblemError:
            return None  # 401/403 from the route, word for word
        while True:  # ServiceMiddleware's receive enforces the body limit
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return None  # a disconnect: the route sees it as usual
            if not message.get("more_body", False):
                break
        body = b"".join(m.get("body", b"") for m in messages)
        parsed = _licence_input(body)
        if parsed is None or parsed[0].relying not in self.ctx.store.anchors:
            return None
        return principal, *parsed

    async def _serve(
        self, scope: Scope, send: Send, principal: Principal, inp: VerifyInput, receipt: bool
    ) -> None:
        """The route's work and answer; ServiceMiddleware adds the request id, logs and counts."""
        ctx = self.ctx
        state = scope["state"]
        fields = state["log"]
        fields["key_id"] = principal.key_id or "anonymous"
        scope["route"] = self.route  # the route template for the access log and metrics
        detailed = _REPORT_QUERY[scope.get("query_string", b"")]
        try:
            await ctx.ensure_current()
            outcome = await ctx.service.verify(inp, detailed=detailed or receipt)
        except ProblemError as exc:  # as the route's problem handler answers it
            await problem_for(exc, state["request_id"])(scope, _no_receive, send)
            return
        fields.update(outcome_fields(inp.kind, outcome))
        content = render_json(ctx, inp, outcome, receipt=receipt, detailed=detailed)
        length = (b"content-length", str(len(content)).encode("ascii"))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [length, _JSON_CONTENT_TYPE]})  # fmt: skip
        await send({"type": "http.response.body", "body": content, "more_body": False})


async def _no_receive() -> Message:
    # Responses never read the request here: its body has been consumed.
    return {"type": "http.disconnect"}


__all__ = ["LICENCE_PATH", "FastLane"]
