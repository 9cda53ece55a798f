"""Service items over HTTP: verification for an item (single endpoints, fast lane, multipart,
batch), the refusal of an unlisted item, item search, and the verdict cache (in process and in a
real Redis) never answering one item's question with another item's verdict."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from api.http.problems import PROBLEM_MEDIA_TYPE
from demo.world import (
    ITEM_SZ_FOOD_PRODUCTION,
    ITEM_SZ_MEAL_SUPPLIER,
    DemoWorld,
)
from tests.support import redis_support, server_support
from tests.support.api_support import SZ, ZS, auth, demo_client
from tests.support.endpoints import BATCH, LICENCE, SEAL, SEALED
from tests.support.server_support import readme_section, run_script

ITEMS = "/v1/catalogue/items"
CONSTRUCTION_SZ = "440300-ZJJ-0210"


@pytest.fixture
def client(demo_world: DemoWorld, tmp_path: Path) -> Iterator[TestClient]:
    with demo_client(demo_world, tmp_path / "svc") as c:
        yield c


def licence(world: DemoWorld, item: str | None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"token": world.licence_zs, "relying_jurisdiction": SZ, **extra}
    if item is not None:
        body["expect"] = {"service_item": item}
    return body


def verdict(r: Any) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    return r.json()["verdict"]  # type: ignore[no-any-return]


def problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = r.json()
    assert body["code"] == code, body
    return body  # type: ignore[no-any-return]


def codes(v: dict[str, Any]) -> list[str]:
    return [c["code"] for c in v["checks"]]


def test_one_permit_accepted_for_one_item_refused_for_another(
    client: TestClient, demo_world: DemoWorld
) -> None:
    head = auth("counter")
    ok = verdict(
        client.post(
            LICENCE + "?report=detailed",
            json=licence(demo_world, ITEM_SZ_MEAL_SUPPLIER),
            headers=head,
        )
    )
    assert ok["indication"] == "PASSED" and "item.accepted" in codes(ok)
    no = verdict(
        client.post(LICENCE, json=licence(demo_world, ITEM_SZ_FOOD_PRODUCTION), headers=head)
    )
    assert no["indication"] == "FAILED" and no["sub_indication"] == "SIG_CONSTRAINTS_FAILURE"
    (refusal,) = no["checks"]  # the simple report: only what did not pass
    assert refusal["code"] == "item.refused"
    assert "食品生产许可证变更" in refusal["message_zh"]
    assert "Change of a food production licence" in refusal["message_en"]
    # The same question without an item: city-wide, accepted.
    plain = verdict(client.post(LICENCE, json=licence(demo_world, None), headers=head))
    assert plain["indication"] == "PASSED"


def test_fast_lane_and_route_answer_alike(client: TestClient, demo_world: DemoWorld) -> None:
    body = licence(demo_world, ITEM_SZ_FOOD_PRODUCTION)
    fast = client.post(LICENCE, json=body, headers=auth("counter"))
    routed = client.post(LICENCE + "?report=simple", json=body, headers=auth("counter"))
    assert verdict(fast) == verdict(routed)
    unknown = licence(demo_world, "440300-NOPE-0001")
    for path in (LICENCE, LICENCE + "?report=simple"):
        r = client.post(path, json=unknown, headers=auth("counter"))
        body = problem(r, 422, "unknown_service_item")
        assert "440300-NOPE-0001" in body["detail"] and "Traceback" not in r.text


@pytest.mark.parametrize(
    "item",
    ["440300-NOPE-0001", "442000-SCJG-0020"],  # unknown; Zhongshan's, asked in Shenzhen
)
def test_unlisted_items_are_refused_everywhere(
    client: TestClient, demo_world: DemoWorld, item: str
) -> None:
    w = demo_world
    seal = {"token": w.seal_sz, "relying_jurisdiction": SZ, "expect": {"service_item": item}}
    problem(client.post(SEAL, json=seal, headers=auth("business")), 422, "unknown_service_item")
    form = {"relying_jurisdiction": SZ, "expect_service_item": item}
    files = {"file": ("contract.txt", w.sealed_document), "signature": (None, w.sealed_signature)}
    r = client.post(SEALED, data=form, files=files, headers=auth("counter"))
    problem(r, 422, "unknown_service_item")
    batch = {"items": [{"kind": "licence", **licence(w, ITEM_SZ_MEAL_SUPPLIER)},
                       {"kind": "seal", **seal}]}  # fmt: skip
    problem(client.post(BATCH, json=batch, headers=auth("admin")), 422, "unknown_service_item")


@pytest.mark.parametrize("item", ["440300-scjg-0012", "", " 440300-SCJG-0012", 12])
def test_malformed_item_codes_are_validation_errors(
    client: TestClient, demo_world: DemoWorld, item: object
) -> None:
    body = {
        "token": demo_world.licence_zs,
        "relying_jurisdiction": SZ,
        "expect": {"service_item": item},
    }
    r = client.post(LICENCE, json=body, headers=auth("counter"))
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM_MEDIA_TYPE, r.text


def test_batch_multipart_and_national_take_the_item(
    client: TestClient, demo_world: DemoWorld
) -> None:
    w = demo_world
    items = [
        {"kind": "licence", **licence(w, ITEM_SZ_MEAL_SUPPLIER)},
        {"kind": "licence", **licence(w, ITEM_SZ_FOOD_PRODUCTION)},
        {"kind": "seal", "token": w.seal_sz, "relying_jurisdiction": SZ,
         "expect": {"service_item": CONSTRUCTION_SZ}},
        {"kind": "sealed_document", "document": base64.b64encode(w.sealed_document).decode(),
         "signature": w.sealed_signature, "relying_jurisdiction": SZ,
         "expect": {"service_item": ITEM_SZ_FOOD_PRODUCTION}},
    ]  # fmt: skip
    r = client.post(BATCH, json={"items": items}, headers=auth("admin"))
    assert r.status_code == 200, r.text
    got = [(x["verdict"]["indication"], x["verdict"]["checks"]) for x in r.json()["results"]]
    assert [g[0] for g in got] == ["PASSED", "FAILED", "PASSED", "FAILED"]
    assert got[1][1][-1]["code"] == "item.refused"
    assert got[3][1][-1]["code"] == "seal:item.refused"
    # Multipart: the form field expect_service_item.
    form = {"relying_jurisdiction": SZ, "expect_service_item": ITEM_SZ_FOOD_PRODUCTION}
    r = client.post(
        LICENCE, data=form, files={"file": ("l.jws", w.licence_zs)}, headers=auth("counter")
    )
    assert verdict(r)["checks"][-1]["code"] == "item.refused"
    # A national seal (GB/T 38540) judged for an item too.
    esl = next(v for k, v in w.samples.items() if k.endswith(".esl"))
    form = {"relying_jurisdiction": SZ, "expect_service_item": ITEM_SZ_FOOD_PRODUCTION}
    r = client.post(SEAL, data=form, files={"file": ("s.esl", esl)}, headers=auth("business"))
    national = verdict(r)
    assert national["indication"] == "FAILED", national
    assert national["checks"][-1]["code"] == "item.refused"


def test_receipts_sign_the_item(client: TestClient, demo_world: DemoWorld) -> None:
    def receipt_of(item: str | None) -> dict[str, Any]:
        body = licence(demo_world, item, receipt=True)
        token = client.post(LICENCE, json=body, headers=auth("counter")).json()["receipt"]
        return jwt.decode(token, options={"verify_signature": False})  # type: ignore[no-any-return]

    a, b, none = receipt_of(ITEM_SZ_MEAL_SUPPLIER), receipt_of(CONSTRUCTION_SZ), receipt_of(None)
    assert len({a["request_sha256"], b["request_sha256"], none["request_sha256"]}) == 3
    assert any(ITEM_SZ_MEAL_SUPPLIER in c["message_en"] for c in a["verdict"]["checks"])


# -- the cache ---------------------------------------------------------------------------------


def _no_item_leaks(client: TestClient, world: DemoWorld) -> None:
    """Ask the same document for one item, then another, then none, each twice: every answer is
    its own question's, and the second asking of each is a hit."""
    asked = [ITEM_SZ_MEAL_SUPPLIER, ITEM_SZ_FOOD_PRODUCTION, None, ITEM_SZ_MEAL_SUPPLIER]
    expected = {ITEM_SZ_MEAL_SUPPLIER: "PASSED", ITEM_SZ_FOOD_PRODUCTION: "FAILED", None: "PASSED"}
    seen: set[object] = set()
    for item in asked + asked:
        r = client.post(
            LICENCE + "?report=detailed", json=licence(world, item), headers=auth("counter")
        )
        body = r.json()
        v = body["verdict"]
        assert v["indication"] == expected[item], (item, v)
        item_codes = [c for c in codes(v) if c.startswith("item.")]
        assert item_codes == ([] if item is None else [v["checks"][-1]["code"]])
        if item is not None:
            assert item in v["checks"][-1]["message_en"]
        assert body["cached"] == (item in seen), item
        seen.add(item)


def test_the_in_process_cache_keeps_items_apart(client: TestClient, demo_world: DemoWorld) -> None:
    _no_item_leaks(client, demo_world)


@pytest.mark.redis
def test_the_redis_cache_keeps_items_apart(
    demo_world: DemoWorld, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    try:
        with demo_client(
            demo_world, tmp_path / "svc", redis_url=redis_url, redis_prefix=redis_prefix
        ) as c:
            _no_item_leaks(c, demo_world)
            keys = redis_support.client(redis_url).keys(redis_prefix + "*")
            assert keys, "the verdicts were cached in Redis"
    finally:
        redis_support.delete_prefix(redis_url, redis_prefix)


# -- search ------------------------------------------------------------------------------------


def test_search_items(client: TestClient) -> None:
    r = client.get(ITEMS, params={"relying": SZ, "q": "食品"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["relying_jurisdiction"] == SZ and body["catalogue_sequence"] == 1
    assert [i["code"] for i in body["items"]] == [ITEM_SZ_FOOD_PRODUCTION]
    supplier = client.get(ITEMS, params={"relying": SZ, "q": "collective-meal"}).json()["items"]
    assert [i["code"] for i in supplier] == [ITEM_SZ_MEAL_SUPPLIER]
    rule = supplier[0]["accepts"][0]
    assert rule["issuing"] == [SZ, ZS] and rule["holder"] == "enterprise"
    assert rule["data_includes"]["field"] == "主体业态"
    vat = client.get(ITEMS, params={"relying": SZ, "q": "vat"}).json()["items"]
    assert vat[0]["city_wide"] is True and vat[0]["accepts"] == []
    everything = client.get(ITEMS, params={"relying": ZS}).json()["items"]
    assert len(everything) == 4 and all(i["code"].startswith("442000-") for i in everything)
    assert client.get(ITEMS, params={"relying": SZ, "q": "nothing-like-this"}).json()["items"] == []


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("relying=999999", 404, "unknown_jurisdiction"),
        ("relying=4403", 422, "invalid_request"),
        ("", 422, "invalid_request"),
        ("relying=440300&relying=442000", 422, "invalid_request"),
        ("relying=440300&q=" + "x" * 101, 422, "invalid_request"),
        ("relying=440300&limit=0", 422, "invalid_request"),
    ],
)
def test_search_refusals(client: TestClient, query: str, status: int, code: str) -> None:
    r = client.get(ITEMS + "?" + query)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert r.json()["code"] == code


def test_the_readme_item_example_runs_as_written(tmp_path: Path) -> None:
    """The README's section, unchanged but for the service's address, in a checkout-like
    directory against a real service: one permit accepted for one item, refused for another."""
    with server_support.readme_checkout(tmp_path) as (root, service):
        script = readme_section("For a service item").replace("http://127.0.0.1:8000", service.url)
        out = run_script(script, root)
    assert '"code":"440300-SCJG-0012"' in out and '"code":"440300-ZJJ-0210"' in out
    decoder = json.JSONDecoder()  # curl prints no newline after a body
    answers = [
        decoder.raw_decode(out, i)[0] for i in range(len(out)) if out.startswith('{"verdict"', i)
    ]
    assert [a["verdict"]["indication"] for a in answers] == ["PASSED", "FAILED"], out
    assert answers[-1]["verdict"]["checks"][-1]["code"] == "item.refused"
    assert "FAILED / SIG_CONSTRAINTS_FAILURE" in out and "exit status 1 (1: FAILED)" in out
