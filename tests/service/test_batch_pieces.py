"""A batch body read in pieces (api/http/batchbody.py) gives exactly what reading it whole gives:
the same inputs and receipt flag for every valid batch, and the same refusal (status, code,
detail, validation errors) for every other body, whatever the piece size. Differential: the
reference is `_batch_inputs_whole`, the reading the route used before; over HTTP, the route
with either reading answers with the same status and bytes."""

from __future__ import annotations

import asyncio
import functools
import json
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError

import api.routes.verify as route
from api.http.auth import Principal, Role
from api.http.batchbody import PIECE_BYTES, read_items
from api.http.jsonbody import JoinedJSONResponse, RenderedJSONResponse, read_json
from api.http.models import MAX_TOKEN_CHARS
from api.http.problems import ProblemError
from api.verification import BATCH_SLICE
from demo.world import DemoWorld
from tests.support.api_support import ZS, auth, b64, demo_client
from tests.support.endpoints import BATCH

MAX_BYTES = 1 << 20
LIMIT = 40
PIECES = (1, 50, 700, 4096, PIECE_BYTES)
ADMIN = Principal(key_id="admin", role=Role.ADMIN, client="test")
COUNTER = Principal(key_id="counter", role=Role.COUNTER, client="test")


def _items(world: DemoWorld) -> list[dict[str, Any]]:
    licence = {"kind": "licence", "token": world.licence_sz, "relying_jurisdiction": ZS}
    return [
        licence,
        {**licence, "validation_time": "2026-01-01T00:00:00Z"},
        {**licence, "expect": {"holder_credit_code": "91440300MA5FXXXX0X", "type_code": "x"}},
        {"kind": "licence", "token": world.licence_zs, "relying_jurisdiction": ZS},
        {"kind": "seal", "token": world.seal_sz, "relying_jurisdiction": ZS, "image": b64(b"p")},
        {
            "kind": "sealed_document",
            "document": b64(world.sealed_document),
            "signature": world.sealed_signature,
            "relying_jurisdiction": ZS,
        },
        {"kind": "licence", "token": 'garbage},{"x', "relying_jurisdiction": ZS},
        licence,
    ]


def _dump(value: Any, **kw: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, **kw).encode()


def _bodies(world: DemoWorld) -> dict[str, bytes]:
    """Valid batches in several spellings, and bodies that break every rule somewhere other than
    the first item (where a whole reading would find it first anyway)."""
    items = _items(world)
    good = _dump({"items": items})
    joined = b",".join(_dump(i) for i in items)
    one = _dump(items[0])
    inner = one[:-1]  # an item without its closing brace, for members added at its end
    many = _dump(
        {
            "items": [
                {**items[0], "validation_time": f"2026-01-{d:02}T00:00:00Z"} for d in range(1, 29)
            ]
        }
    )
    bodies: dict[str, bytes] = {
        "compact": good,
        "receipt-true-after": _dump({"items": items, "receipt": True}),
        "receipt-false-before": _dump({"receipt": False, "items": items}),
        "receipt-true-before": _dump({"receipt": True, "items": items}),
        "spaced": b" \n{ "
        + json.dumps({"items": items, "receipt": True}, separators=(" ,\n\t ", " \r: "))[
            1:
        ].encode()
        + b"\r\n",
        "indented": json.dumps({"items": items, "receipt": False}, indent=2).encode(),
        "escapes": good.replace(b'"relying_jurisdiction"', b'"relying_jurisdicti\\u006fn"'),
        "escaped-quote-in-a-token": good.replace(b"garbage},{", b'garbage\\"},{'),
        "non-ascii-token": good.replace(b"garbage", "票据".encode()),
        "many": many,
        "over-the-limit": _dump({"items": [items[0]] * (LIMIT + 1)}),
        "at-the-limit": _dump({"items": [items[0]] * LIMIT}),
        "over-the-limit-then-malformed": _dump({"items": [items[0]] * (LIMIT + 1)})[:-2] + b",}",
        "over-the-limit-then-invalid": _dump({"items": [items[0]] * LIMIT + [{"kind": "x"}]}),
        "empty-items": b'{"items":[]}',
        "empty-items-spaced": b'{"items":[ \n ]}',
        "no-items": b'{"receipt":true}',
        "items-twice": b'{"items":[' + one + b'],"items":[' + joined + b"]}",
        "receipt-twice": b'{"receipt":true,"items":[' + joined + b'],"receipt":false}',
        "receipt-twice-after": b'{"items":[' + joined + b'],"receipt":true,"receipt":false}',
        "receipt-not-a-bool": b'{"items":[' + joined + b'],"receipt":1}',
        "receipt-null": b'{"items":[' + joined + b'],"receipt":null}',
        "another-member": b'{"items":[' + joined + b'],"other":1}',
        "top-level-array": b"[" + joined + b"]",
        "trailing-comma": b'{"items":[' + joined + b",]}",
        "leading-comma": b'{"items":[,' + joined + b"]}",
        "double-comma": b'{"items":[' + one + b",," + joined + b"]}",
        "missing-comma": b'{"items":[' + joined + one + b"]}",
        "truncated": good[:-7],
        "trailing-garbage": good + b"x",
        "trailing-second-value": good + b"{}",
        "long-trailing-space": good + b" " * 2000,
        "form-feed": good.replace(b"},{", b"},\x0c{"),
        "byte-order-mark": b"\xef\xbb\xbf" + good,
        "invalid-utf8": good.replace(b"garbage", b"garb\xffage"),
        "not-objects": b'{"items":[' + one + b",1,2,null]}",
        "item-an-array": b'{"items":[' + one + b",[" + one + b"]]}",
        "unknown-kind": b'{"items":[' + joined + b',{"kind":"nope","token":"x"}]}',
        "missing-field": b'{"items":[' + joined + b',{"kind":"licence","token":"x"}]}',
        "extra-field-array-of-objects": b'{"items":[' + joined + b"," + inner + b',"x":[{},{}]}]}',
        "bad-base64": b'{"items":['
        + joined
        + b',{"kind":"seal","token":"t","relying_jurisdiction":"'
        + ZS.encode()
        + b'","image":"%%%"}]}',
        "bad-validation-time": b'{"items":[' + joined + b"," + inner + b',"validation_time":"x"}]}',
        "validation-time-out-of-range": b'{"items":['
        + joined
        + b","
        + inner
        + b',"validation_time":"1900-01-01T00:00:00Z"}]}',
    }
    for name, bad in {
        "duplicate-member": inner + b',"relying_jurisdiction":"440300"}',
        "duplicate-behind-an-escape": inner + b',"relying_jurisdicti\\u006fn":"440300"}',
        "lone-surrogate": inner + b',"expect":{"type_code":"\\ud800"}}',
        "nan": inner + b',"x":NaN}',
        "infinity": inner + b',"x":-Infinity}',
        "beyond-2-53": inner + b',"x":9007199254740993}',
        "19-digits": inner + b',"x":1234567890123456789}',
        "huge-number": inner + b',"x":1e400}',
        "depth-30": inner + b',"x":' + b"[" * 27 + b"]" * 27 + b"}",
        "depth-32": inner + b',"x":' + b"[" * 29 + b"]" * 29 + b"}",
        "depth-33": inner + b',"x":' + b"[" * 30 + b"]" * 30 + b"}",
        "unbalanced": inner + b',"x":[[}',
    }.items():
        bodies[f"late-{name}"] = b'{"items":[' + joined + b"," + bad + b"," + one + b"]}"
    return bodies


def _outcome(fn: Callable[[], tuple[list[Any], bool]]) -> tuple[Any, ...]:
    try:
        inputs, receipt = fn()
    except ProblemError as exc:
        return ("problem", exc.status, exc.code, exc.detail, exc.headers, exc.extra)
    except RequestValidationError as exc:
        return ("invalid", json.dumps(exc.errors(), default=repr))
    return ("ok", inputs, receipt)


def _same(body: bytes, principal: Principal = ADMIN, limit: int = LIMIT) -> tuple[Any, ...]:
    whole = _outcome(lambda: route._batch_inputs_whole(body, MAX_BYTES, principal, limit))
    for piece in PIECES:
        got = _outcome(lambda: route._batch_inputs(body, MAX_BYTES, principal, limit, piece))
        assert got == whole, piece
    return whole


def test_pieces_read_every_body_as_the_whole_reading(demo_world: DemoWorld) -> None:
    kinds: dict[str, str] = {}
    for name, body in _bodies(demo_world).items():
        kinds[name] = _same(body)[0]
    # The corpus reaches both sides: valid batches and refusals of every kind.
    assert kinds["compact"] == kinds["indented"] == kinds["receipt-true-before"] == "ok"
    assert kinds["escaped-quote-in-a-token"] == kinds["many"] == kinds["at-the-limit"] == "ok"
    assert kinds["late-duplicate-member"] == kinds["receipt-twice"] == "problem"
    assert kinds["late-depth-32"] == "invalid" and kinds["late-depth-33"] == "problem"
    assert kinds["missing-field"] == "invalid" and kinds["over-the-limit"] == "problem"


def test_valid_batches_are_read_in_pieces(demo_world: DemoWorld) -> None:
    """The pieces do take the ordinary spellings (else the test above proves little)."""
    bodies = _bodies(demo_world)
    for name in ("compact", "receipt-true-before", "spaced", "indented", "escapes", "many"):
        read = read_items(bodies[name], MAX_BYTES, 50)
        assert read is not None and len(read[0]) > 1, name
        assert sum(map(len, read[0])) == len(json.loads(bodies[name])["items"]), name
    for name in ("receipt-twice", "items-twice", "late-duplicate-member", "byte-order-mark"):
        assert read_items(bodies[name], MAX_BYTES, 50) is None, name


def test_pieces_that_read_hold_what_the_whole_reading_holds(demo_world: DemoWorld) -> None:
    """`read_items` on its own (before any model): whenever it reads a body, the strict reader
    reads the whole body to the same items and receipt flag; whatever that reader refuses
    (depth, numbers, duplicates...), the pieces do not read."""
    for name, body in _bodies(demo_world).items():
        for piece in PIECES:
            read = read_items(body, MAX_BYTES, piece)
            try:
                whole = read_json(body, MAX_BYTES)
            except ProblemError:
                assert read is None, (name, piece)
                continue
            if read is not None:
                assert [i for p in read[0] for i in p] == whole["items"], (name, piece)
                assert read[1] == whole.get("receipt", False), (name, piece)


def test_the_first_forbidden_item_is_named_as_before(demo_world: DemoWorld) -> None:
    body = _bodies(demo_world)["compact"]
    outcome = _same(body, COUNTER)
    assert outcome[:3] == ("problem", 403, "forbidden") and "item 4:" in outcome[3]


def test_mutated_bodies_are_refused_or_read_alike(demo_world: DemoWorld) -> None:
    """Random byte edits of valid batches (deterministic): whatever the edit makes of the body,
    both readings agree."""
    rng = random.Random(18)
    bases = [b for n, b in _bodies(demo_world).items() if n in ("compact", "spaced", "many")]
    alphabet = b'{}[],:" \\\n0aeu1-.tn'
    kinds = set()
    for _ in range(300):
        body = bytearray(rng.choice(bases))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(body))
            edit = rng.randrange(3)
            if edit == 0:
                body[at] = rng.choice(alphabet)
            elif edit == 1:
                del body[at]
            else:
                body.insert(at, rng.choice(alphabet))
        kinds.add(_same(bytes(body))[0])
    assert kinds == {"ok", "problem", "invalid"}


BUSINESS = Principal(key_id="business", role=Role.BUSINESS, client="test")


def _near_plain_licences(world: DemoWorld) -> list[Any]:
    """Items at and around the plain licence item that `_plain_licences` takes without a model:
    every member's value, the member set and the kind varied one at a time."""
    plain = {"kind": "licence", "token": world.licence_sz, "relying_jurisdiction": ZS}
    tokens = ["x", "", " ", "票据", 'a"b\\c', "\ud7ff\ue000", 5, None, True, [], {"t": "x"}]
    places = [
        "442000", "042000", "44200", "4420000", "442000\n", "\n442000", " 442000",
        "４４２０００", "44200a", "", 442000, None, ["442000"],
    ]  # fmt: skip
    kinds = ["Licence", "licence ", "seal", "sealed_document", "", 1, None, ["licence"]]
    items: list[Any] = [plain, {"kind": "licence", "token": "x", "relying_jurisdiction": "110000"}]
    items += [{**plain, "token": t} for t in tokens]
    items += [{**plain, "relying_jurisdiction": r} for r in places]
    items += [{**plain, "kind": k} for k in kinds]
    items += [{k: v for k, v in plain.items() if k != name} for name in plain]
    items += [
        {**plain, "expect": None},
        {**plain, "validation_time": None},
        {**plain, "receipt": False},
        {**plain, "x": "y"},
        {"token": plain["token"], "relying_jurisdiction": ZS, "kind": "licence"},  # order
        "licence",
        [plain],
        None,
    ]
    return items


def test_plain_licences_are_read_as_their_model_reads_them(demo_world: DemoWorld) -> None:
    """Random batches of items at and around the plain licence item, alone or mixed with the
    usual corpus: the reading in pieces (taking plain licence items without their model) and
    the whole reading (every item through its model) agree, for callers who may and may not
    verify licences."""
    rng = random.Random(5)
    near = _near_plain_licences(demo_world)
    plain, others = near[:2], near[2:] + _items(demo_world)
    kinds: set[str] = set()
    for n in range(400):
        size = rng.randint(1, 12)
        pool = plain if n % 3 == 0 else plain * 8 + others
        body = _dump({"items": [rng.choice(pool) for _ in range(size)]})
        principal = (ADMIN, COUNTER, BUSINESS)[n % 3 if n % 7 else 2]
        kinds.add(_same(body, principal)[0])
    assert kinds == {"ok", "problem", "invalid"}


@pytest.mark.parametrize("extra", [0, 1])
def test_a_plain_licence_token_at_its_longest(extra: int) -> None:
    token = "x" * (MAX_TOKEN_CHARS + extra)
    body = _dump({"items": [{"kind": "licence", "token": token, "relying_jurisdiction": ZS}]})
    whole = _outcome(lambda: route._batch_inputs_whole(body, 4 * MAX_BYTES, ADMIN, LIMIT))
    got = _outcome(lambda: route._batch_inputs(body, 4 * MAX_BYTES, ADMIN, LIMIT))
    assert got == whole and got[0] == ("invalid" if extra else "ok")


def test_the_route_answers_alike_with_either_reading(
    demo_world: DemoWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Status and bytes over HTTP: the route reading whole against the route reading in small
    pieces, each on a service of its own (the second asking of a body is a hit for both)."""
    headers = {**auth("admin"), "content-type": "application/json"}
    bodies = _bodies(demo_world)
    names = [n for n in bodies if not n.startswith("late-")] + ["late-duplicate-member"]
    answers: dict[str, list[tuple[int, bytes]]] = {}
    for reading, fn in (
        ("whole", route._batch_inputs_whole),
        ("pieces", functools.partial(route._batch_inputs, piece_bytes=200)),
    ):
        monkeypatch.setattr(route, "_batch_inputs", fn)
        with demo_client(demo_world, tmp_path / reading, max_batch_items=LIMIT) as client:
            answers[reading] = []
            for name in names:
                r = client.post(BATCH, content=bodies[name], headers=headers)
                assert r.headers["content-length"] == str(len(r.content)), name
                answers[reading].append((r.status_code, _blanked(r.content)))
    assert answers["pieces"] == answers["whole"]
    assert {s for s, _ in answers["whole"]} >= {200, 400, 422}


def _blanked(content: bytes) -> bytes:
    """The answer with its receipts' and request id's values blanked: a receipt is signed anew
    (its own jti) each time, and every request has its own id."""
    content = re.sub(rb'"receipt":"[^"]*"', b'"receipt":""', content)
    return re.sub(rb'"request_id":"[^"]*"', b'"request_id":""', content)


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4, 7, 9])
def test_a_joined_answer_is_the_rendered_one_sent_in_pieces(count: int) -> None:
    """The batch's answer, sent a few parts per message: the same start message (status,
    headers, Content-Length of the whole) and, put together, the same bytes."""
    parts = [_dump({"n": n, "text": "票据" * n}) for n in range(count)]
    whole = b'{"results":[' + b",".join(parts) + b"]}"
    expected = asyncio.run(_sent(RenderedJSONResponse(whole)))
    got = asyncio.run(_sent(JoinedJSONResponse(b'{"results":[', list(parts), b",", b"]}", 3)))
    assert got[0] == expected[0]
    assert b"".join(m.get("body", b"") for m in got[1:]) == whole
    assert [m.get("more_body", False) for m in got[1:]] == [True] * (len(got) - 2) + [False]
    assert len(got) - 1 == max(1, -(-count // 3))


async def _sent(response: Any) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        messages.append(message)

    async def receive() -> Any:  # pragma: no cover - a response reads nothing
        raise AssertionError

    await response({"type": "http"}, receive, send)
    return messages


def test_a_long_answer_over_http_is_whole(demo_world: DemoWorld, tmp_path: Path) -> None:
    """More items than one message carries: the answer is the one each item's copy gives."""
    n = 2 * BATCH_SLICE + 1
    item = _items(demo_world)[0]
    with demo_client(demo_world, tmp_path / "svc", max_batch_items=n) as client:
        r = client.post(BATCH, json={"items": [item] * n}, headers=auth("counter"))
        first = r.json()["results"][0]
    assert r.status_code == 200 and r.headers["content-length"] == str(len(r.content))
    cached = _dump({**first, "cached": True})
    assert r.content == b'{"results":[' + b",".join([_dump(first)] + [cached] * (n - 1)) + b"]}"
