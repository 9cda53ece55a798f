"""The batch loop answers every item exactly as the single endpoints do when asked the same
items one by one, in order: byte for byte, misses and hits, both report levels, split over the
worker threads."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.verification import BATCH_SPLIT_MIN, VerifyInput, _KeyTemplate
from demo.world import DEMO_EPOCH, DemoWorld
from tests.support.api_support import ZS, Clock, RecordingSync, auth, b64, service_dir, settings_for
from tests.support.endpoints import BATCH, LICENCE, SEAL, SEALED
from verifier import DocumentKind, NationalFormat
from verifier.verifier import inputs_digest

SINGLE = {"licence": LICENCE, "seal": SEAL, "sealed_document": SEALED}


def _client(world: DemoWorld, root: Path) -> Iterator[TestClient]:
    service_dir(world, root)
    app = create_app(settings_for(root), clock=Clock(DEMO_EPOCH), sync=RecordingSync())  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def batch_client(demo_world: DemoWorld, tmp_path: Path) -> Iterator[TestClient]:
    yield from _client(demo_world, tmp_path / "batch")


@pytest.fixture
def single_client(demo_world: DemoWorld, tmp_path: Path) -> Iterator[TestClient]:
    yield from _client(demo_world, tmp_path / "single")


def _items(world: DemoWorld) -> list[dict[str, Any]]:
    licence = {"kind": "licence", "token": world.licence_sz, "relying_jurisdiction": ZS}
    # Distinct questions (each validation time is another cache key): enough to split the
    # misses over the worker threads.
    times = [
        {**licence, "validation_time": (DEMO_EPOCH - timedelta(minutes=n)).isoformat()}
        for n in range(2 * BATCH_SPLIT_MIN + 3)
    ]
    return [
        licence,
        {"kind": "licence", "token": "garbage", "relying_jurisdiction": ZS},
        {**licence, "expect": {"holder_credit_code": "91440300MA5FXXXX0X"}},
        {"kind": "licence", "token": world.licence_zs, "relying_jurisdiction": ZS},
        {"kind": "seal", "token": world.seal_sz, "relying_jurisdiction": ZS},
        {
            "kind": "seal",
            "token": world.seal_sz,
            "relying_jurisdiction": ZS,
            "image": b64(b"not the seal picture"),
        },
        {
            "kind": "sealed_document",
            "document": b64(world.sealed_document),
            "signature": world.sealed_signature,
            "relying_jurisdiction": ZS,
        },
        *times,
        licence,  # repeated: verified once, answered as a cache hit
        {**licence, "validation_time": "2001-01-01T00:00:00Z"},  # before the licence
        times[5],
    ]


@pytest.mark.parametrize("receipt", [False, True])
def test_a_batch_answers_each_item_as_its_endpoint_does_in_order(
    batch_client: TestClient, single_client: TestClient, demo_world: DemoWorld, receipt: bool
):
    items = _items(demo_world)
    rounds: list[list[bool]] = []
    for query in ("", "?report=detailed", "?report=simple"):  # misses first, then hits
        batch = batch_client.post(
            BATCH + query, json={"items": items, "receipt": receipt}, headers=auth("admin")
        )
        assert batch.status_code == 200, batch.text
        singles = []
        for item in items:
            body = {k: v for k, v in item.items() if k != "kind"}
            r = single_client.post(
                SINGLE[item["kind"]] + query,
                json={**body, "receipt": receipt},
                headers=auth("admin"),
            )
            assert r.status_code == 200, r.text
            singles.append(r.content)
        if receipt:  # a receipt's signature differs each time: compare all but the receipts
            got = batch.json()["results"]
            assert all(x.pop("receipt") for x in got)
            assert got == [
                {k: v for k, v in json.loads(s).items() if k != "receipt"} for s in singles
            ]
        else:
            assert batch.content == b'{"results":[' + b",".join(singles) + b"]}"
        rounds.append([x["cached"] for x in batch.json()["results"]])
    indications = [x["verdict"]["indication"] for x in batch.json()["results"]]
    assert {"PASSED", "FAILED"} <= set(indications)
    assert rounds[0].count(False) > len(items) // 2  # computed
    assert rounds[2].count(True) > len(items) // 2  # served from the cache


def test_a_repeated_item_is_verified_once(
    batch_client: TestClient, single_client: TestClient, demo_world: DemoWorld
):
    licence = {"kind": "licence", "token": demo_world.licence_sz, "relying_jurisdiction": ZS}
    r = batch_client.post(BATCH, json={"items": [licence] * 3}, headers=auth("counter"))
    assert [x["cached"] for x in r.json()["results"]] == [False, True, True]
    metrics = batch_client.get("/metrics").text
    assert 'huren_verdict_cache_requests_total{result="miss"} 1.0' in metrics
    assert 'huren_verdict_cache_requests_total{result="hit"} 2.0' in metrics
    assert 'huren_verdicts_total{indication="PASSED",kind="licence",sub_indication=""} 3.0' in (
        metrics
    )


def test_a_batch_keys_every_item_as_cache_key_does(batch_client: TestClient) -> None:
    """The key template of a batch's questions (api/verification.py::_KeyTemplate) gives the
    key `cache_key` gives, item by item, for every kind of question; one it cannot write (a
    field holding its placeholder) is keyed by `cache_key` itself (`_cache_key`). So does a
    single request's key (`_key`: the plain question's template kept between requests), and the
    digest is `inputs_digest` of the input's parts (a single token hashed at once)."""
    service = batch_client.app.state.ctx.service  # type: ignore[attr-defined]
    rng = random.Random(7)
    eight = timezone(timedelta(hours=8))
    times = [None, DEMO_EPOCH, DEMO_EPOCH.astimezone(eight), DEMO_EPOCH + timedelta(microseconds=5)]
    fields = [
        {},
        {"holder_credit_code": "91440300MA5FXXXX0X"},
        {"type_code": "food-business", "service_item": "442000-SCJG-0008"},
        {"type_code": "<document_sha256>"},
        {"image": b"picture"},
        {"national": NationalFormat.OFD},
    ]
    inputs = [
        VerifyInput(
            rng.choice(list(DocumentKind)),
            rng.randbytes(rng.randint(0, 40)),
            rng.choice([ZS, "440300"]),
            rng.choice(times),
            document=rng.choice([b"document", None]),
            **rng.choice(fields),
        )
        for _ in range(300)
    ]
    inputs = [i for i in inputs if i.kind != DocumentKind.SEALED_DOCUMENT or i.document]
    for version in ("v1", 'v"<document_sha256>"', "v1"):
        digests, keys = service._keys(inputs, version)
        assert digests == [inputs_digest(inp.parts) for inp in inputs]
        assert keys == [service._cache_key(inp, d, version) for inp, d in zip(inputs, digests)]
        assert keys == [service._key(inp, d, version) for inp, d in zip(inputs, digests)]
    assert len(set(keys)) > 200
    assert any(t is not None for t in service._templates.values())  # kept, and used above
    # The template is made for the usual question (else the comparison above proves little).
    licence = VerifyInput(DocumentKind.LICENCE, b"token", ZS, None)
    digest = licence.input_sha256
    assert _KeyTemplate.of(licence, "v1", digest, service._key(licence, digest, "v1"))
