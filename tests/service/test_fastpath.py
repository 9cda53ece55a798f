"""The fast lane of POST /v1/licences/verify (api/http/fast_lane.py), the innermost middleware,
answers exactly as the FastAPI route does (fast lane on against off): same status, headers, bytes
and access-log line, cached or not, for good requests and for every kind of request it hands back
to the route; and every middleware sees the requests it serves."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.http import fast_lane as fastpath
from api.http import jsonbody
from api.http.middleware import request_id_for
from api.http.models import LicenceVerifyRequest, SealedDocumentVerifyRequest, SealVerifyRequest
from api.http.problems import ProblemError
from api.routes.verify import input_from_model
from api.settings import Settings
from api.verification import VerifyInput
from demo.world import DEMO_EPOCH, DemoWorld
from tests.service.test_json_bodies import ambiguous_variants
from tests.support.api_support import (
    SECRETS,
    SZ,
    ZS,
    Clock,
    RecordingSync,
    service_dir,
    settings_for,
)
from tests.support.endpoints import LICENCE
from verifier import DocumentKind, Expectations, VerificationRequest


def _app(world: DemoWorld, root: Path, *, fast: bool) -> FastAPI:
    service_dir(world, root)
    settings = settings_for(root, fast_lane=fast)
    app = create_app(settings, clock=Clock(DEMO_EPOCH), sync=RecordingSync())  # type: ignore[arg-type]
    assert fast == any(m.cls is fastpath.FastLane for m in app.user_middleware)
    return app


@pytest.fixture
def clients(demo_world: DemoWorld, tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    fast = _app(demo_world, tmp_path / "fast", fast=True)
    slow = _app(demo_world, tmp_path / "slow", fast=False)
    with (
        TestClient(fast, raise_server_exceptions=False) as f,
        TestClient(slow, raise_server_exceptions=False) as s,
    ):
        yield f, s


@dataclass
class _Lane:
    looked: list[bytes] = field(default_factory=list)  # bodies the lane read and parsed
    served: list[bytes] = field(default_factory=list)  # those it then served


@pytest.fixture
def lane(monkeypatch: pytest.MonkeyPatch) -> _Lane:
    """What the fast lane does with each request body."""
    seen = _Lane()
    real = fastpath._licence_input

    def spy(body: bytes) -> Any:
        seen.looked.append(body)
        parsed = real(body)
        if parsed is not None:
            seen.served.append(body)
        return parsed

    monkeypatch.setattr(fastpath, "_licence_input", spy)
    return seen


def _bodies(world: DemoWorld) -> list[bytes]:
    token = world.licence_sz
    good = {"token": token, "relying_jurisdiction": ZS}
    variants: list[Any] = [
        good,
        {**good, "relying_jurisdiction": SZ},
        {**good, "validation_time": "2026-06-01T08:00:00+08:00"},
        {**good, "validation_time": "2026-06-01T08:00:00"},  # no offset: 422
        {**good, "validation_time": None, "expect": None, "receipt": False},
        {**good, "expect": {"type_code": "business_licence"}},
        {**good, "expect": {"type_code": "food-business", "holder_credit_code": None}},
        {**good, "expect": {"holder_credit_code": "91440300MA5G2U8T1Q"}},
        {**good, "expect": {"holder_credit_code": "lower"}},
        {**good, "expect": {"other": 1}},
        {**good, "expect": []},
        {**good, "receipt": 1},
        {**good, "extra": True},
        {**good, "relying_jurisdiction": "440301"},  # well-formed, not configured: 422
        {**good, "relying_jurisdiction": "44030"},
        {**good, "relying_jurisdiction": 440300},
        {**good, "token": ""},
        {**good, "token": "garbage"},
        {**good, "token": "非ASCII.令牌.x"},
        {**good, "token": ["x"]},
        {"token": token},
        [good],
        "x",
    ]
    out = [json.dumps(v, ensure_ascii=False).encode() for v in variants]
    out += [
        json.dumps(good).replace('"token"', '"tok\\u0065n"').encode(),  # an escape: the route
        json.dumps(good).encode()[:-1],  # truncated
        b" " + json.dumps(good).encode(),
        b'{"token":"a","token":'
        + json.dumps(token).encode()
        + b',"relying_jurisdiction":"442000"}',
        b"",
        b"\xff{}",
        # What pydantic's reader and the route's strict reader could read differently: the lane
        # must leave each to the route.
        json.dumps({**good, "expect": {"type_code": "token"}}).encode(),  # a value naming a member
        b'{"token" : "a", "token" :'
        + json.dumps(token).encode()
        + b', "relying_jurisdiction":"442000"}',
        b'{"token":' + json.dumps(token).encode() + b',"relying_jurisdiction":"442000",'
        b'"expect":{"type_code":"a"},"expect":{"type_code":"b"}}',
        json.dumps(good).encode()[:-1] + b', "expect": {"type_code": "\xff"}}',  # not UTF-8
        json.dumps(good).encode()[:-1] + b', "expect": {"type_code": "a\x01"}}',  # raw control
        json.dumps(good).encode() + b"x",
        json.dumps(good).encode() + b" \n",
        b"{}",
        b"null",
    ]
    variants = [
        {**good, "expect": {}},
        {**good, "receipt": "true"},
        {"Token": token, "relying_jurisdiction": ZS},
        {**good, "validation_time": "2026-06-30T23:59:60Z"},  # a leap second
        {**good, "validation_time": "2026-06-01 08:00:00Z"},
        {**good, "validation_time": "0001-01-01T00:00:00+14:00"},  # before year 1 in UTC
    ]
    out += [json.dumps(v, ensure_ascii=False).encode() for v in variants]
    # JSON with more than one reading: 422 ambiguous_json from both (service/test_json_bodies.py).
    out += ambiguous_variants(json.dumps(good).encode()).values()
    return out


def _same(a: Any, b: Any) -> None:
    assert a.status_code == b.status_code, (a.text, b.text)
    assert a.headers.items() == b.headers.items()
    assert a.content == b.content


def _access_log(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The access-log lines since the last call, without their durations."""
    lines = [dict(r.fields) for r in caplog.records if r.name == "huren.access"]  # type: ignore[attr-defined]
    caplog.clear()
    for line in lines:
        line.pop("duration_ms")
    return lines


# Every problem code the bodies, keys and content types below must draw from the route.
_REFUSALS = {
    "malformed_json",
    "ambiguous_json",
    "invalid_request",
    "unknown_jurisdiction",
    "validation_time_out_of_range",
    "unauthorized",
    "forbidden",
    "unsupported_media_type",
}


def test_fast_path_answers_exactly_as_the_route(
    clients: tuple[TestClient, TestClient],
    demo_world: DemoWorld,
    caplog: pytest.LogCaptureFixture,
    lane: _Lane,
) -> None:
    """Fast lane on and off: the same status, headers, bytes and access-log line for every
    body, key and content type, a miss and then a hit; every refusal is a problem."""
    fast, slow = clients
    served = lane.served
    caplog.set_level(logging.INFO, logger="huren.access")
    codes: set[str] = set()
    headers = [
        {"Authorization": f"Bearer {SECRETS['counter']}"},
        {"X-API-Key": SECRETS["admin"]},
        {"Authorization": f"Bearer {SECRETS['business']}"},  # may not verify licences: 403
        {"Authorization": f"Bearer {SECRETS['revoked']}"},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
        {},
    ]
    ctypes = ["application/json", "application/json; charset=utf-8", "text/plain", None]
    n = 0
    for body in _bodies(demo_world):
        for h in headers:
            for ctype in ctypes:
                hdrs = {**h, "X-Request-ID": f"req-{n}"}
                if ctype is not None:
                    hdrs["Content-Type"] = ctype
                for _ in range(2):  # a miss, then a hit
                    a = fast.post(LICENCE, content=body, headers=hdrs)
                    fast_line = _access_log(caplog)
                    _same(a, slow.post(LICENCE, content=body, headers=hdrs))
                    assert fast_line == _access_log(caplog)
                    if a.status_code >= 400:
                        assert a.headers["content-type"] == "application/problem+json"
                        codes.add(a.json()["code"])
                n += 1
    assert codes == _REFUSALS
    assert served  # the lane did serve the ordinary ones


def test_report_levels_answer_exactly_as_the_route(
    clients: tuple[TestClient, TestClient], demo_world: DemoWorld, lane: _Lane
) -> None:
    """`?report=` in every spelling: the hot path serves none, simple and detailed, with the
    route's bytes (a miss, then hits at each level from the one cached verdict); any other
    query string is the route's, word for word."""
    fast, slow = clients
    served = lane.looked
    queries = [
        "",
        "?report=simple",
        "?report=detailed",
        "?report=detailed",  # a hit after a hit
        "",
        "?report=DETAILED",
        "?report=",
        "?report=full",
        "?report=detailed&report=simple",
        "?report=%64etailed",
        "?x=1",
        "?report=detailed&x=1",
    ]
    hdrs = _counter_json("report-level")
    good = {"token": demo_world.licence_sz, "relying_jurisdiction": ZS}
    for body in (good, {**good, "token": "garbage"}, {**good, "validation_time": "x"}):
        raw = json.dumps(body).encode()
        for query in queries:
            served.clear()
            a = fast.post(LICENCE + query, content=raw, headers=hdrs)
            _same(a, slow.post(LICENCE + query, content=raw, headers=hdrs))
            assert bool(served) == (query in ("", "?report=simple", "?report=detailed")), query
            if a.status_code == 200:
                detailed = query.startswith(("?report=detailed", "?report=%64"))
                assert a.json()["report"] == ("detailed" if detailed else "simple"), query


def test_fast_path_is_taken_and_logs_like_the_route(
    clients: tuple[TestClient, TestClient],
    demo_world: DemoWorld,
    caplog: pytest.LogCaptureFixture,
    lane: _Lane,
) -> None:
    fast, slow = clients
    served = lane.served
    body = _licence_body(demo_world)
    hdrs = _counter_json("fast-1")
    with caplog.at_level(logging.INFO, logger="huren.access"):
        a = fast.post(LICENCE, content=body, headers=hdrs)
        b = slow.post(LICENCE, content=body, headers=hdrs)
    assert served == [body]
    _same(a, b)
    logged = [rec.fields for rec in caplog.records if rec.name == "huren.access"]  # type: ignore[attr-defined]
    assert len(logged) == 2
    for fields in logged:
        fields.pop("duration_ms")
    assert logged[0] == logged[1]
    assert logged[0]["route"] == LICENCE and logged[0]["indication"] == "PASSED"


def test_dump_json_matches_the_json_module() -> None:
    values: list[Any] = [
        {"a": '\x00\x1f\x7f\u2028\ud7ff\ue000\U0010ffff"\\/é', "b": [1, -2, 2**63, None, True]},
        {"z": {}, "a": [], "中": "文"},
    ]
    for v in values:
        expected = json.dumps(
            v, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
        ).encode()
        assert jsonbody.dump_json(v) == expected
    assert jsonbody.dump_json({"big": 2**70}) == b'{"big":1180591620717411303424}'
    assert jsonbody.dump_json({1: "x"}) == b'{"1":"x"}'


def _counter_json(request_id: str | None = None) -> dict[str, str]:
    """Headers of a counter's JSON request, with the request id the access log should carry."""
    headers = {"Authorization": f"Bearer {SECRETS['counter']}", "Content-Type": "application/json"}
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    return headers


def _licence_body(world: DemoWorld) -> bytes:
    """The raw JSON body asking for the Shenzhen licence's verdict in Zhongshan."""
    return json.dumps({"token": world.licence_sz, "relying_jurisdiction": ZS}).encode()


def _chunks(body: bytes, size: int = 10) -> Iterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i : i + size]


def test_body_limits_hold_in_the_fast_lane(
    clients: tuple[TestClient, TestClient], demo_world: DemoWorld, lane: _Lane
) -> None:
    """ServiceMiddleware's rules apply before and while the lane reads: a Content-Length above
    the limit or malformed is answered before the lane sees the request, a chunked body is
    served, and one that grows past the limit is cut off with the route's 413."""
    fast, slow = clients
    parsed = lane.looked
    body = _licence_body(demo_world)
    auth = _counter_json("body-limits")
    chunked = [c.post(LICENCE, content=_chunks(body), headers=auth) for c in (fast, slow)]
    _same(*chunked)
    assert chunked[0].status_code == 200 and chunked[0].json()["verdict"]["indication"] == "PASSED"
    assert parsed == [body]  # served in the lane
    parsed.clear()
    limit = fast.app.state.ctx.settings.max_body_bytes  # type: ignore[attr-defined]
    big = b'{"token":"' + b"a" * limit + b'","relying_jurisdiction":"442000"}'
    too_big = [c.post(LICENCE, content=big, headers=auth) for c in (fast, slow)]
    _same(*too_big)
    assert too_big[0].status_code == 413
    streamed = [c.post(LICENCE, content=_chunks(big, 1 << 20), headers=auth) for c in (fast, slow)]
    _same(*streamed)
    assert streamed[0].json()["code"] == "payload_too_large"
    bad_length = {**auth, "Content-Length": "12x"}
    malformed = [c.post(LICENCE, content=body, headers=bad_length) for c in (fast, slow)]
    _same(*malformed)
    assert malformed[0].status_code == 400
    assert parsed == []


def _asgi_scope(body: bytes) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": LICENCE,
        "raw_path": LICENCE.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"authorization", f"Bearer {SECRETS['counter']}".encode()),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }


@pytest.mark.anyio
async def test_a_client_gone_mid_body_reaches_the_app_as_a_disconnect(
    demo_world: DemoWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What the hot path read before the client went away is replayed, disconnect included:
    the app logs the request as 499 and sends nothing, as without the hot path."""
    body = _licence_body(demo_world)
    for fast in (True, False):
        app = _app(demo_world, tmp_path / f"gone-{fast}", fast=fast)
        messages = [
            {"type": "http.request", "body": body[:20], "more_body": True},
            {"type": "http.disconnect"},
        ]

        async def receive() -> Any:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        sent: list[Any] = []

        async def send(message: Any) -> None:
            sent.append(message)

        caplog.clear()
        with caplog.at_level(logging.INFO, logger="huren.access"):
            await app(_asgi_scope(body), receive, send)
        assert sent == []
        statuses = [rec.fields["status"] for rec in caplog.records if rec.name == "huren.access"]  # type: ignore[attr-defined]
        assert statuses == [499], fast


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_a_surprise_before_the_decision_leaves_the_request_to_the_app(
    clients: tuple[TestClient, TestClient], demo_world: DemoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error while the hot path looks at a request is not a 500: the request,
    body replayed, goes to the FastAPI route, which answers it in full."""
    fast, slow = clients

    def broken(body: bytes) -> Any:
        raise RuntimeError("surprise")

    monkeypatch.setattr(fastpath, "_licence_input", broken)
    body = _licence_body(demo_world)
    hdrs = _counter_json("surprise-1")
    answers = [c.post(LICENCE, content=body, headers=hdrs) for c in (fast, slow)]
    _same(*answers)
    assert answers[0].json()["verdict"]["indication"] == "PASSED"


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_validation_time_beyond_datetime_in_utc_is_a_422(
    clients: tuple[TestClient, TestClient], demo_world: DemoWorld, when: str
) -> None:
    """An offset can carry year 1 or 9999 out of datetime's range once in UTC: a problem
    answer naming the field, never a 500."""
    body = json.dumps(
        {"token": demo_world.licence_sz, "relying_jurisdiction": ZS, "validation_time": when}
    ).encode()
    hdrs = _counter_json("overflow-1")
    answers = [c.post(LICENCE, content=body, headers=hdrs) for c in clients]
    _same(*answers)
    assert answers[0].status_code == 422, answers[0].text
    assert "validation_time" in answers[0].text


@pytest.mark.anyio
async def test_a_declined_request_is_timed_from_its_arrival(
    demo_world: DemoWorld, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The access log's duration of a request the hot path read and then declined includes the
    time spent receiving its body there."""
    body = json.dumps({"token": demo_world.licence_sz, "relying_jurisdiction": "440301"}).encode()
    app = _app(demo_world, tmp_path / "slow-body", fast=True)
    messages = [
        {"type": "http.request", "body": body[:20], "more_body": True},
        {"type": "http.request", "body": body[20:], "more_body": False},
    ]

    async def receive() -> Any:
        if len(messages) == 1:
            await asyncio.sleep(0.3)  # the client is slow with the rest of its body
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        pass

    with caplog.at_level(logging.INFO, logger="huren.access"):
        await app(_asgi_scope(body), receive, send)
    (fields,) = [rec.fields for rec in caplog.records if rec.name == "huren.access"]  # type: ignore[attr-defined]
    assert fields["status"] == 422  # the route's answer: an unconfigured jurisdiction
    assert fields["duration_ms"] >= 300


def test_request_ids_differ_in_a_forked_worker() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, then out without running the parent's cleanup
        os.write(write, ",".join(request_id_for(None) for _ in range(3)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read, "rb") as f:
        child = f.read().decode().split(",")
    parent = [request_id_for(None) for _ in range(3)]
    assert len(child) == 3 and not set(child) & set(parent)


class _Seen:
    """A middleware added after create_app, as an operator or a later change would add one:
    it records the path and status of every request it sees."""

    def __init__(self, app: Any, *, seen: list[tuple[str, int]]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def note(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.seen.append((scope["path"], message["status"]))
            await send(message)

        await self.app(scope, receive, note)


def test_a_middleware_added_later_sees_the_requests_the_fast_lane_serves(
    demo_world: DemoWorld, tmp_path: Path, lane: _Lane
) -> None:
    served = lane.served
    app = _app(demo_world, tmp_path / "later", fast=True)
    seen: list[tuple[str, int]] = []
    app.add_middleware(_Seen, seen=seen)
    body = _licence_body(demo_world)
    hdrs = _counter_json()
    with TestClient(app) as client:
        answer = client.post(LICENCE, content=body, headers=hdrs)
    assert answer.status_code == 200 and served == [body]  # the fast lane served it
    assert seen == [(LICENCE, 200)]


def test_fast_lane_off_leaves_every_request_to_the_route(
    demo_world: DemoWorld, tmp_path: Path, lane: _Lane
) -> None:
    for raw, on in (("off", False), ("on", True), ("false", False), ("1", True)):
        assert Settings.load(env={"HUREN_FAST_LANE": raw}).fast_lane is on
    assert Settings().fast_lane
    looked = lane.looked
    body = _licence_body(demo_world)
    hdrs = _counter_json()
    with TestClient(_app(demo_world, tmp_path / "off", fast=False)) as client:
        answer = client.post(LICENCE, content=body, headers=hdrs)
    assert answer.status_code == 200 and answer.json()["verdict"]["indication"] == "PASSED"
    assert looked == []


@pytest.mark.parametrize(
    "failure",
    [RuntimeError("a bug"), ProblemError(503, "verification_busy", "too many verifications")],
)
def test_a_failing_verification_is_answered_as_by_the_route(
    clients: tuple[TestClient, TestClient],
    demo_world: DemoWorld,
    monkeypatch: pytest.MonkeyPatch,
    lane: _Lane,
    caplog: pytest.LogCaptureFixture,
    failure: Exception,
) -> None:
    """After the lane has taken a request: a problem is the route's problem answer, anything
    else ServiceMiddleware's catch-all 500 (logged once, no stack trace to the client)."""
    served = lane.served

    async def broken(inp: Any, **options: Any) -> Any:
        raise failure

    for client in clients:
        monkeypatch.setattr(client.app.state.ctx.service, "verify", broken)  # type: ignore[attr-defined]
    body = _licence_body(demo_world)
    hdrs = _counter_json("failing-1")
    caplog.set_level(logging.INFO)
    fast, slow = clients
    a = fast.post(LICENCE, content=body, headers=hdrs)
    fast_log = [(r.name, r.getMessage()) for r in caplog.records]
    caplog.clear()
    _same(a, slow.post(LICENCE, content=body, headers=hdrs))
    assert fast_log == [(r.name, r.getMessage()) for r in caplog.records]
    assert served == [body]
    expected = 500 if isinstance(failure, RuntimeError) else 503
    assert a.status_code == expected and "a bug" not in a.text


def test_a_request_model_becomes_the_input_its_fields_name() -> None:
    """input_from_model builds VerifyInput positionally (api/verification.py::make_input): every
    field lands where the dataclass's own constructor puts it, for each kind; and so does the
    verifier's request it makes (VerifyInput.request, positional too)."""
    expect = {
        "holder_credit_code": "91440300MA5G2U8T1Q",
        "type_code": "food-business",
        "service_item": "S1",
    }
    common = {"relying_jurisdiction": ZS, "validation_time": "2026-06-01T08:00:00Z"}
    at = datetime(2026, 6, 1, 8, tzinfo=UTC)
    cases = [
        (
            DocumentKind.LICENCE,
            LicenceVerifyRequest.model_validate({"token": "a.b.c", **common, "expect": expect}),
            VerifyInput(DocumentKind.LICENCE, b"a.b.c", ZS, at, **expect),
        ),
        (
            DocumentKind.SEAL,
            SealVerifyRequest.model_validate({"token": "a.b.c", "image": "aW1n", **common}),
            VerifyInput(DocumentKind.SEAL, b"a.b.c", ZS, at, image=b"img"),
        ),
        (
            DocumentKind.SEALED_DOCUMENT,
            SealedDocumentVerifyRequest.model_validate(
                {
                    "document": "ZG9j",
                    "signature": "s.i.g",
                    "seal": "s.e.a",
                    "image": "aW1n",
                    **common,
                    "expect": expect,
                }
            ),
            VerifyInput(
                DocumentKind.SEALED_DOCUMENT,
                b"s.i.g",
                ZS,
                at,
                **expect,
                document=b"doc",
                image=b"img",
                seal=b"s.e.a",
            ),
        ),
    ]
    holder = expect["holder_credit_code"]
    requests = [
        VerificationRequest(
            DocumentKind.LICENCE,
            b"a.b.c",
            ZS,
            at,
            Expectations(holder_id=holder, licence_type="food-business", service_item="S1"),
        ),
        VerificationRequest(DocumentKind.SEAL, b"a.b.c", ZS, at, image=b"img"),
        VerificationRequest(
            DocumentKind.SEALED_DOCUMENT,
            b"s.i.g",
            ZS,
            at,
            Expectations(holder_id=holder, seal_type="food-business", service_item="S1"),
            document=b"doc",
            image=b"img",
            seal=b"s.e.a",
        ),
    ]
    for (kind, model, expected), request in zip(cases, requests, strict=True):
        got = input_from_model(kind, model)
        assert type(got) is VerifyInput and got == expected
        assert got.request() == request
