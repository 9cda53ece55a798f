"""Reports at two levels: every verify endpoint answers with the simple report by
default (indication, sub-indication, the checks that did not pass, summary, trust, valid_until)
and with every check for `?report=detailed`. One cached verdict serves both levels, so a level
is never served from the other's answer, in-process or through a real Redis shared by two
instances; receipts always sign the detailed verdict."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from demo.world import DEMO_EPOCH, DemoWorld, build_demo_world
from tests.support.api_support import (
    SZ,
    ZS,
    Clock,
    auth,
    b64,
    demo_client,
)
from tests.support.endpoints import BATCH, LICENCE, SEAL, SEALED


def tampered(token: str) -> str:
    """The token with one payload character changed after signing: FAILED SIG_CRYPTO_FAILURE."""
    head, payload, sig = token.split(".")
    return f"{head}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{sig}"


def requests(world: DemoWorld) -> list[tuple[str, dict[str, Any]]]:
    return [
        (LICENCE, {"token": world.licence_sz, "relying_jurisdiction": ZS}),
        (LICENCE, {"token": tampered(world.licence_sz), "relying_jurisdiction": ZS}),
        (SEAL, {"token": world.seal_sz, "relying_jurisdiction": ZS}),
        (
            SEAL,
            {"token": world.seal_sz, "relying_jurisdiction": ZS, "image": b64(b"not it")},
        ),
        (
            SEALED,
            {
                "document": b64(world.sealed_document),
                "signature": world.sealed_signature,
                "relying_jurisdiction": SZ,
            },
        ),
    ]


def assert_levels(simple: dict[str, Any], detailed: dict[str, Any]) -> None:
    """The simple report is the detailed one with the passing checks left out, nothing else."""
    assert simple["report"] == "simple" and detailed["report"] == "detailed"
    s, d = simple["verdict"], detailed["verdict"]
    assert {k: v for k, v in s.items() if k != "checks"} == {
        k: v for k, v in d.items() if k != "checks"
    }
    assert s["checks"] == [c for c in d["checks"] if c["result"] != "PASSED"]
    assert any(c["result"] == "PASSED" for c in d["checks"])
    if d["indication"] == "PASSED":
        assert s["checks"] == []
    else:  # the deciding check is in the simple report
        deciding = next(c for c in d["checks"] if c["result"] == d["indication"])
        assert deciding in s["checks"]


@pytest.fixture
def client(demo_world: DemoWorld, tmp_path: Path) -> Iterator[tuple[TestClient, Clock]]:
    clock = Clock(DEMO_EPOCH)
    with demo_client(demo_world, tmp_path, clock=clock) as c:
        yield c, clock


@pytest.mark.parametrize("first", ["simple", "detailed"])
def test_one_cached_verdict_serves_each_level_as_asked(
    client: tuple[TestClient, Clock], demo_world: DemoWorld, first: str
) -> None:
    """Whichever level is asked first (the miss that caches the verdict), the other level's
    hit is that level's report, never the cached answer of the first."""
    c, _ = client
    second = "detailed" if first == "simple" else "simple"
    indications = set()
    for path, body in requests(demo_world):
        query = "" if first == "simple" else "?report=detailed"
        miss = c.post(path + query, json=body, headers=auth("admin"))
        hit = c.post(path + f"?report={second}", json=body, headers=auth("admin"))
        again = c.post(path + query, json=body, headers=auth("admin"))
        assert miss.status_code == hit.status_code == 200, (miss.text, hit.text)
        assert (miss.json()["cached"], hit.json()["cached"]) == (False, True)
        assert again.content == miss.content.replace(b'"cached":false', b'"cached":true')
        by_level = {first: miss.json(), second: hit.json()}
        assert_levels(by_level["simple"], by_level["detailed"])
        indications.add(miss.json()["verdict"]["indication"])
    assert indications == {"PASSED", "FAILED"}


def test_the_simple_report_lists_every_check_that_did_not_pass(
    client: tuple[TestClient, Clock], demo_world: DemoWorld
) -> None:
    """An INDETERMINATE verdict with several non-passing checks (stale list, expired status
    list) keeps all of them, in run order, the deciding one first."""
    c, clock = client
    clock.advance(days=60)
    body = {"token": demo_world.licence_sz, "relying_jurisdiction": ZS}
    simple = c.post(LICENCE, json=body, headers=auth("counter")).json()
    detailed = c.post(LICENCE + "?report=detailed", json=body, headers=auth("counter")).json()
    assert_levels(simple, detailed)
    assert simple["verdict"]["indication"] != "PASSED"
    assert len(simple["verdict"]["checks"]) >= 2


def test_batch_items_follow_the_report_level(
    client: tuple[TestClient, Clock], demo_world: DemoWorld
) -> None:
    c, _ = client
    kinds = {LICENCE: "licence", SEAL: "seal", SEALED: "sealed_document"}
    body = {"items": [{"kind": kinds[p], **b} for p, b in requests(demo_world)]}
    simple = c.post(BATCH, json=body, headers=auth("admin"))
    detailed = c.post(BATCH + "?report=detailed", json=body, headers=auth("admin"))
    assert simple.status_code == detailed.status_code == 200, (simple.text, detailed.text)
    pairs = zip(simple.json()["results"], detailed.json()["results"], strict=True)
    for s, d in pairs:
        assert (s["cached"], d["cached"]) == (False, True)
        assert_levels(s, d)


def test_a_receipt_signs_the_detailed_verdict_at_either_level(
    client: tuple[TestClient, Clock], demo_world: DemoWorld
) -> None:
    c, _ = client
    jwks = c.get("/v1/receipts/jwks.json").json()
    body = {"token": demo_world.licence_sz, "relying_jurisdiction": ZS, "receipt": True}
    answers = {
        level: c.post(LICENCE + f"?report={level}", json=body, headers=auth("counter")).json()
        for level in ("simple", "detailed")
    }
    assert_levels(answers["simple"], answers["detailed"])
    for answer in answers.values():
        receipt = answer["receipt"]
        key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(receipt)["kid"]]
        claims = jwt.decode(receipt, key=key.key, algorithms=["ES256"])
        assert claims["verdict"] == answers["detailed"]["verdict"]


@pytest.mark.parametrize(
    "query",
    ["?report=full", "?report=", "?report=DETAILED", "?report=simple&report=detailed"],
)
def test_an_unknown_or_repeated_report_level_is_a_422(
    client: tuple[TestClient, Clock], demo_world: DemoWorld, query: str
) -> None:
    c, _ = client
    body = {"token": demo_world.licence_sz, "relying_jurisdiction": ZS}
    for path, payload in ((LICENCE, body), (SEAL, body), (BATCH, {"items": []})):
        r = c.post(path + query, json=payload, headers=auth("admin"))
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert any(e["loc"] == ["query", "report"] for e in problem["errors"]), problem


def test_openapi_documents_the_report_parameter(client: tuple[TestClient, Clock]) -> None:
    c, _ = client
    spec = c.get("/openapi.json").json()
    for path in (LICENCE, SEAL, SEALED, BATCH):
        params = spec["paths"][path]["post"]["parameters"]
        (report,) = [p for p in params if p["name"] == "report"]
        assert report["in"] == "query" and report["schema"]["enum"] == ["simple", "detailed"]
    response = spec["components"]["schemas"]["VerifyResponse"]
    assert "report" in response["required"]


# -- a real Redis shared by two instances ----------------------------------------------------


@pytest.fixture(scope="module")
def live_world() -> DemoWorld:
    return build_demo_world(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1))


def test_redis_shared_verdicts_serve_each_level_as_asked(
    pair: tuple[TestClient, TestClient], live_world: DemoWorld
) -> None:
    """A's miss stores one entry in Redis; B's hit at the other level is that level's report."""
    a, b = pair
    for path, request in requests(live_world):
        for first, second in (("simple", "detailed"), ("detailed", "simple")):
            # Another relying jurisdiction per order: a fresh key each time.
            body = {**request, "relying_jurisdiction": ZS if first == "simple" else SZ}
            miss = a.post(path + f"?report={first}", json=body, headers=auth("admin"))
            hit = b.post(path + f"?report={second}", json=body, headers=auth("admin"))
            assert miss.status_code == hit.status_code == 200, (miss.text, hit.text)
            assert (miss.json()["cached"], hit.json()["cached"]) == (False, True), path
            by_level = {first: miss.json(), second: hit.json()}
            assert_levels(by_level["simple"], by_level["detailed"])
