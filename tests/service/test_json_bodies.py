"""JSON request bodies have one reading (GitHub issue 12, class 5).

A body some JSON reader would read otherwise than another (a duplicate member: the reviewer sent
"relying_jurisdiction" twice and the last one won; a byte order mark; NaN or Infinity; a lone
surrogate; a number beyond +-2^53; nesting deeper than 32) is refused with 422 `ambiguous_json`
on every endpoint that reads a JSON request body: the licence hot path and its route, seals,
sealed documents, batches. Trust-state uploads are read by the trust store's own strict reader
and refused with its code, the store unchanged. The hot path's answers stay byte for byte the
route's (the differential test of tests/service/test_fastpath.py carries these bodies too)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from demo.world import DemoWorld
from tests.support.api_support import (
    SZ,
    ZS,
    auth,
    b64,
    demo_client,
)
from tests.support.endpoints import BATCH, LICENCE, SEAL, SEALED


def ambiguous_variants(good: bytes) -> dict[str, bytes]:
    """`good` (a JSON object ending in "}" whose members include "relying_jurisdiction":
    "442000") made ambiguous in every way the strict reader refuses."""
    head = good[:-1]
    return {
        "duplicate-member": head + b',"relying_jurisdiction":"440300"}',
        "duplicate-member-behind-an-escape": head + b',"relying_jurisdicti\\u006fn":"440300"}',
        "duplicate-nested-member": head
        + b',"expect":{"type_code":"a","type_code":"business_licence"}}',
        "byte-order-mark": b"\xef\xbb\xbf" + good,
        "nan": head + b',"receipt":NaN}',
        "infinity": head + b',"receipt":Infinity}',
        "minus-infinity": head + b',"receipt":-Infinity}',
        "lone-surrogate": head + b',"expect":{"type_code":"\\ud800"}}',
        "number-overflowing-a-double": head + b',"receipt":1e400}',
        "integer-beyond-2-53": head + b',"receipt":9007199254740993}',
        "integer-of-5000-digits": head + b',"receipt":' + b"9" * 5000 + b"}",
        "nested-deeper-than-32": head + b',"expect":' + b"[" * 40 + b"]" * 40 + b"}",
    }


def _licence(world: DemoWorld) -> bytes:
    return json.dumps({"token": world.licence_sz, "relying_jurisdiction": ZS}).encode()


def _bodies(world: DemoWorld) -> list[tuple[str, str, bytes]]:
    """(path, role, good body) for every JSON verify endpoint."""
    seal = {"token": world.seal_sz, "image": b64(world.seal_image), "relying_jurisdiction": ZS}
    sealed = {
        "document": b64(world.sealed_document),
        "signature": world.sealed_signature,
        "relying_jurisdiction": ZS,
    }
    return [
        (LICENCE, "counter", _licence(world)),
        (SEAL, "business", json.dumps(seal).encode()),
        (SEALED, "counter", json.dumps(sealed).encode()),
    ]


@pytest.fixture
def client(demo_world: DemoWorld, tmp_path: Path) -> Iterator[TestClient]:
    with demo_client(demo_world, tmp_path / "svc") as c:
        yield c


def _refused(r: object, what: str) -> None:
    status = getattr(r, "status_code", None)
    text = getattr(r, "text", "")
    assert status == 422, (what, status, text[:300])
    body = json.loads(text)
    assert body["code"] == "ambiguous_json", (what, text[:300])
    assert "440300" not in body.get("detail", "")  # nothing of the body is echoed


def test_every_json_verify_endpoint_refuses_ambiguous_bodies(
    client: TestClient, demo_world: DemoWorld
) -> None:
    for path, role, good in _bodies(demo_world):
        headers = {**auth(role), "content-type": "application/json"}
        ok = client.post(path, content=good, headers=headers)
        assert ok.status_code == 200 and ok.json()["verdict"]["indication"] == "PASSED", ok.text
        for name, body in ambiguous_variants(good).items():
            _refused(client.post(path, content=body, headers=headers), f"{path} {name}")


def test_batches_refuse_ambiguous_bodies_and_items(
    client: TestClient, demo_world: DemoWorld
) -> None:
    headers = {**auth("admin"), "content-type": "application/json"}
    item = json.loads(_licence(demo_world))
    good_item = json.dumps({"kind": "licence", **item}).encode()
    for name, bad_item in ambiguous_variants(good_item).items():
        if name == "byte-order-mark":
            body = b"\xef\xbb\xbf" + b'{"items":[' + good_item + b"]}"
        else:
            body = b'{"items":[' + good_item + b"," + bad_item + b"]}"
        _refused(client.post(BATCH, content=body, headers=headers), f"batch {name}")
    whole = b'{"items":[' + good_item + b'],"receipt":false,"receipt":true}'
    _refused(client.post(BATCH, content=whole, headers=headers), "batch duplicate receipt")
    ok = client.post(BATCH, content=b'{"items":[' + good_item + b"]}", headers=headers)
    assert ok.status_code == 200, ok.text


def test_malformed_json_stays_a_400(client: TestClient, demo_world: DemoWorld) -> None:
    headers = {**auth("counter"), "content-type": "application/json"}
    for body in (_licence(demo_world)[:-1], b"{", b"\xff{}", b""):
        r = client.post(LICENCE, content=body, headers=headers)
        assert r.status_code == 400 and r.json()["code"] == "malformed_json", (body, r.text)


def test_trust_state_uploads_refuse_ambiguous_envelopes(
    client: TestClient, demo_world: DemoWorld
) -> None:
    """A signed list whose envelope is made ambiguous is refused by the trust store's strict
    reader (422 `malformed`, audited), the trust state unchanged; the same for the catalogue."""
    before = client.get("/v1/trust-lists").content
    version = client.app.state.ctx.store.state.version  # type: ignore[attr-defined]
    signed = demo_world.signed_lists[SZ].to_json()
    assert signed.startswith(b"{") and signed.endswith(b"}")
    catalogue = demo_world.signed_catalogue.to_json()
    headers = {**auth("admin"), "content-type": "application/json"}
    for path, doc in ((f"/v1/trust-lists/{SZ}", signed), ("/v1/catalogue", catalogue)):
        envelope = json.loads(doc)
        first = next(iter(envelope))
        variants = {
            "duplicate-member": doc[:-1] + b',"' + first.encode() + b'":' + b'"x"}',
            "byte-order-mark": b"\xef\xbb\xbf" + doc,
            "nan": doc[:-1] + b',"extra":NaN}',
            "lone-surrogate": doc[:-1] + b',"extra":"\\ud800"}',
        }
        for name, body in variants.items():
            r = client.put(path, content=body, headers=headers)
            assert r.status_code == 422, (path, name, r.text[:300])
            assert r.json()["code"] == "malformed", (path, name, r.text[:300])
    assert client.get("/v1/trust-lists").content == before
    assert client.app.state.ctx.store.state.version == version  # type: ignore[attr-defined]
