"""The HTTP service in process (TestClient / httpx ASGITransport) over the demo world."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import ServiceApp, create_app
from api.http.middleware import ServiceMiddleware
from api.http.problems import PROBLEM_MEDIA_TYPE
from api.settings import Settings
from api.state.cache import InProcessVerdictCache
from api.verification import BATCH_SLICE
from demo.world import DEMO_EPOCH, DemoWorld
from tests.support.api_support import (
    SZ,
    ZS,
    Clock,
    RecordingSync,
    auth,
    b64,
    next_list,
    service_dir,
    settings_for,
)
from tests.support.endpoints import BATCH, LICENCE, SEAL, SEALED


@dataclass
class Service:
    app: FastAPI
    client: TestClient
    clock: Clock
    root: Path
    sync: RecordingSync
    settings: Settings


def _service(world: DemoWorld, root: Path, **changes: Any) -> Iterator[Service]:
    service_dir(world, root)
    settings = settings_for(root, **changes)
    clock = Clock(DEMO_EPOCH)
    sync = RecordingSync()
    app = create_app(settings, clock=clock, sync=sync)  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Service(app, client, clock, root, sync, settings)


@pytest.fixture
def svc(demo_world: DemoWorld, tmp_path: Path) -> Iterator[Service]:
    yield from _service(demo_world, tmp_path / "svc")


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["status"] == status and body["code"] == code, body
    assert body["type"].endswith(code) and body["title"]
    assert "Traceback" not in response.text
    return body


def licence_body(world: DemoWorld, **extra: Any) -> dict[str, Any]:
    return {"token": world.licence_sz, "relying_jurisdiction": ZS, **extra}


# -- verification ------------------------------------------------------------------------------


def test_shenzhen_licence_passes_for_a_zhongshan_counter(svc: Service, demo_world: DemoWorld):
    r = svc.client.post(LICENCE, json=licence_body(demo_world), headers=auth("counter"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["cached"] is False
    assert "receipt" not in body
    verdict = body["verdict"]
    assert verdict["indication"] == "PASSED"
    assert verdict["trust"]["relying_jurisdiction"] == ZS
    assert verdict["trust"]["issuing_jurisdiction"] == SZ
    assert verdict["trust"]["trust_state_version"] == svc.app.state.ctx.store.state.version
    token = demo_world.licence_sz.encode()
    assert verdict["document_sha256"] == hashlib.sha256(token).hexdigest()
    assert r.headers["x-request-id"]


def test_second_request_is_served_from_the_cache(svc: Service, demo_world: DemoWorld):
    first = svc.client.post(LICENCE, json=licence_body(demo_world), headers=auth("counter"))
    second = svc.client.post(LICENCE, json=licence_body(demo_world), headers=auth("admin"))
    assert first.json()["cached"] is False
    assert second.json()["cached"] is True
    assert second.json()["verdict"] == first.json()["verdict"]
    # Other inputs are other keys: relying jurisdiction, validation time, expectations.
    other = [
        {"relying_jurisdiction": SZ},
        {"validation_time": "2026-11-25T12:00:00Z"},
        {"expect": {"type_code": "business_licence"}},
    ]
    for change in other:
        r = svc.client.post(
            LICENCE, json=licence_body(demo_world, **change), headers=auth("counter")
        )
        assert r.json()["cached"] is False, change
    metrics = svc.client.get("/metrics").text
    assert 'huren_verdict_cache_requests_total{result="hit"} 1.0' in metrics


def test_validation_time_is_used_and_normalised(svc: Service, demo_world: DemoWorld):
    body = licence_body(demo_world, validation_time="2026-11-25T20:00:00+08:00")
    r = svc.client.post(LICENCE, json=body, headers=auth("counter"))
    assert r.status_code == 200, r.text
    assert r.json()["verdict"]["validation_time"] == "2026-11-25T12:00:00Z"
    # The same instant written another way is the same cache entry.
    same = licence_body(demo_world, validation_time="2026-11-25T12:00:00Z")
    assert svc.client.post(LICENCE, json=same, headers=auth("counter")).json()["cached"] is True


def test_expectation_mismatch_fails(svc: Service, demo_world: DemoWorld):
    body = licence_body(demo_world, expect={"type_code": "food_business_permit"})
    r = svc.client.post(LICENCE, json=body, headers=auth("counter"))
    assert r.json()["verdict"]["indication"] == "FAILED"
    assert r.json()["verdict"]["sub_indication"] == "SIG_CONSTRAINTS_FAILURE"


def test_garbage_token_is_a_failed_verdict_not_an_error(svc: Service):
    for token in ["x", "a.b.c", "é" * 10, "eyJ" * 30000]:
        r = svc.client.post(
            LICENCE, json={"token": token, "relying_jurisdiction": ZS}, headers=auth("counter")
        )
        assert r.status_code == 200, r.text
        assert r.json()["verdict"]["indication"] == "FAILED"
        assert r.json()["verdict"]["sub_indication"] == "FORMAT_FAILURE"


def test_multipart_upload_gives_the_same_verdict(svc: Service, demo_world: DemoWorld):
    j = svc.client.post(LICENCE, json=licence_body(demo_world), headers=auth("counter"))
    m = svc.client.post(
        LICENCE,
        files={"file": ("licence.jws", demo_world.licence_sz.encode())},
        data={"relying_jurisdiction": ZS, "receipt": "true"},
        headers=auth("counter"),
    )
    assert m.status_code == 200, m.text
    assert m.json()["verdict"] == j.json()["verdict"]
    assert m.json()["cached"] is True and m.json()["receipt"]


def test_seal_and_sealed_document_json_and_multipart(svc: Service, demo_world: DemoWorld):
    seal = {
        "token": demo_world.seal_sz,
        "relying_jurisdiction": ZS,
        "image": b64(demo_world.seal_image),
    }
    r = svc.client.post(SEAL, json=seal, headers=auth("business"))
    assert r.json()["verdict"]["indication"] == "PASSED", r.text
    bad_image = {**seal, "image": b64(b"not the seal picture")}
    r = svc.client.post(SEAL, json=bad_image, headers=auth("business"))
    assert r.json()["verdict"]["indication"] == "FAILED"

    doc = {
        "document": b64(demo_world.sealed_document),
        "signature": demo_world.sealed_signature,
        "relying_jurisdiction": ZS,
    }
    r = svc.client.post(SEALED, json=doc, headers=auth("counter"))
    assert r.json()["verdict"]["indication"] == "PASSED", r.text
    r = svc.client.post(
        SEALED,
        files={
            "file": ("contract.txt", demo_world.sealed_document),
            "signature": ("sig.jws", demo_world.sealed_signature.encode()),
        },
        data={"relying_jurisdiction": ZS},
        headers=auth("business"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["verdict"]["indication"] == "PASSED"
    assert r.json()["cached"] is True
    tampered = {**doc, "document": b64(demo_world.sealed_document + b" ")}
    r = svc.client.post(SEALED, json=tampered, headers=auth("counter"))
    assert r.json()["verdict"]["indication"] == "FAILED"
    assert r.json()["verdict"]["sub_indication"] == "HASH_FAILURE"


def test_multipart_field_errors(svc: Service, demo_world: DemoWorld):
    cases = [
        ({}, {"relying_jurisdiction": ZS}, ["body", "file"]),
        ({"file": ("l", b"x")}, {}, ["body", "relying_jurisdiction"]),
        ({"file": ("l", b"x")}, {"relying_jurisdiction": ZS, "receipt": "0"}, ["body", "receipt"]),
        ({"file": ("l", b"x")}, {"relying_jurisdiction": ZS, "colour": "red"}, ["body", "colour"]),
        (
            {"file": ("l", b"x"), "image": ("i", b"y")},
            {"relying_jurisdiction": ZS},
            ["body", "image"],
        ),
    ]
    for files, data, loc in cases:
        r = svc.client.post(
            LICENCE, files=files or {"x": ("", b"")}, data=data, headers=auth("counter")
        )
        if not files:
            assert r.status_code == 422
            continue
        body = problem(r, 422, "invalid_request")
        assert loc in [e["loc"] for e in body["errors"]], body


def test_receipt_verifies_offline_with_the_jwks(svc: Service, demo_world: DemoWorld):
    r = svc.client.post(
        LICENCE + "?report=detailed",
        json=licence_body(demo_world, receipt=True),
        headers=auth("counter"),
    )
    receipt = r.json()["receipt"]
    jwks = svc.client.get("/v1/receipts/jwks.json").json()
    assert [k["kid"] for k in jwks["keys"]] == [demo_world.receipt_key.kid]
    header = jwt.get_unverified_header(receipt)
    assert header["typ"] == "huren-receipt+jwt" and header["alg"] == "ES256"
    key = jwt.PyJWKSet.from_dict(jwks)[header["kid"]]
    claims = jwt.decode(receipt, key=key.key, algorithms=["ES256"], options={"verify_aud": False})
    assert claims["verdict"] == r.json()["verdict"]
    assert claims["kind"] == "licence" and claims["cached"] is False
    assert claims["iat"] == int(DEMO_EPOCH.timestamp())
    assert len(claims["request_sha256"]) == 64
    # Another request (another relying party) has another request digest.
    other = svc.client.post(
        LICENCE,
        json={**licence_body(demo_world, receipt=True), "relying_jurisdiction": SZ},
        headers=auth("counter"),
    ).json()["receipt"]
    other_claims = jwt.decode(other, key=key.key, algorithms=["ES256"])
    assert other_claims["request_sha256"] != claims["request_sha256"]
    # A tampered receipt does not verify.
    head, _, sig = receipt.split(".")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(f"{head}.{other.split('.')[1]}.{sig}", key=key.key, algorithms=["ES256"])


def test_batch_returns_verdicts_in_order(svc: Service, demo_world: DemoWorld):
    items = [
        {"kind": "licence", "token": demo_world.licence_sz, "relying_jurisdiction": ZS},
        {"kind": "licence", "token": "garbage", "relying_jurisdiction": ZS},
        {
            "kind": "sealed_document",
            "document": b64(demo_world.sealed_document),
            "signature": demo_world.sealed_signature,
            "relying_jurisdiction": ZS,
        },
        {"kind": "seal", "token": demo_world.seal_sz, "relying_jurisdiction": ZS},
    ]
    r = svc.client.post(BATCH, json={"items": items, "receipt": True}, headers=auth("admin"))
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["verdict"]["indication"] for x in results] == ["PASSED", "FAILED", "PASSED", "PASSED"]
    assert [x["verdict"]["summary"]["kind"] for x in results] == [
        "licence",
        "licence",
        "sealed_document",
        "seal",
    ]
    assert all(x["receipt"] for x in results)
    # A counter may not verify seals: the whole batch is refused.
    problem(
        svc.client.post(BATCH, json={"items": items}, headers=auth("counter")), 403, "forbidden"
    )
    # No anonymous batches.
    problem(svc.client.post(BATCH, json={"items": items[:1]}), 401, "unauthorized")


def test_batch_limits(demo_world: DemoWorld, tmp_path: Path):
    for svc in _service(demo_world, tmp_path / "b", max_batch_items=3):
        item = {"kind": "licence", "token": "x", "relying_jurisdiction": ZS}
        r = svc.client.post(BATCH, json={"items": [item] * 4}, headers=auth("counter"))
        assert problem(r, 422, "batch_too_large")["max_items"] == 3
        assert svc.client.post(
            BATCH, json={"items": [item] * 3}, headers=auth("counter")
        ).is_success
        problem(
            svc.client.post(BATCH, json={"items": []}, headers=auth("counter")),
            422,
            "invalid_request",
        )
        r = svc.client.post(
            BATCH, content=b"items", headers={**auth("counter"), "content-type": "text/plain"}
        )
        problem(r, 415, "unsupported_media_type")
        schema = svc.client.get("/openapi.json").json()["components"]["schemas"]
        assert schema["BatchVerifyRequest"]["properties"]["items"]["maxItems"] == 3


def test_unknown_relying_jurisdiction_is_refused(svc: Service, demo_world: DemoWorld):
    r = svc.client.post(
        LICENCE, json={"token": "x", "relying_jurisdiction": "440100"}, headers=auth("counter")
    )
    problem(r, 422, "unknown_jurisdiction")


# -- authentication and roles ------------------------------------------------------------------


def test_roles(svc: Service, demo_world: DemoWorld):
    lic = licence_body(demo_world)
    seal = {"token": demo_world.seal_sz, "relying_jurisdiction": ZS}
    problem(svc.client.post(LICENCE, json=lic), 401, "unauthorized")
    r = svc.client.post(LICENCE, json=lic, headers={"Authorization": "Bearer nope"})
    assert problem(r, 401, "unauthorized")["detail"] == "unknown API key"
    assert r.headers["www-authenticate"].startswith("Bearer")
    problem(
        svc.client.post(LICENCE, json=lic, headers={"Authorization": "Basic abc"}),
        401,
        "unauthorized",
    )
    r = svc.client.post(LICENCE, json=lic, headers=auth("revoked"))
    assert "revoked" in problem(r, 401, "unauthorized")["detail"]
    problem(svc.client.post(LICENCE, json=lic, headers=auth("business")), 403, "forbidden")
    problem(svc.client.post(SEAL, json=seal, headers=auth("counter")), 403, "forbidden")
    # X-API-Key works too; admin may verify everything.
    x_key = {"X-API-Key": auth("counter")["Authorization"].split()[1]}
    assert svc.client.post(LICENCE, json=lic, headers=x_key).status_code == 200
    assert svc.client.post(SEAL, json=seal, headers=auth("admin")).status_code == 200
    assert svc.client.post(SEAL, json=seal, headers=auth("business")).status_code == 200
    # A wrong key on an anonymous-capable endpoint is still 401, not anonymous.
    problem(svc.client.post(SEAL, json=seal, headers={"X-API-Key": "nope"}), 401, "unauthorized")
    # 401/403 come before the body is even looked at.
    problem(svc.client.post(LICENCE, content=b"{", headers=auth("business")), 403, "forbidden")


def test_anonymous_self_check_is_rate_limited(demo_world: DemoWorld, tmp_path: Path):
    for svc in _service(demo_world, tmp_path / "a", anonymous_burst=2, anonymous_rate_per_minute=1):
        seal = {"token": demo_world.seal_sz, "relying_jurisdiction": ZS}
        assert svc.client.post(SEAL, json=seal).status_code == 200
        assert svc.client.post(SEAL, json=seal).status_code == 200
        r = svc.client.post(SEAL, json=seal)
        problem(r, 429, "rate_limited")
        assert 1 <= int(r.headers["retry-after"]) <= 60
        # Keys are not rate limited; licences are never anonymous.
        assert svc.client.post(SEAL, json=seal, headers=auth("business")).status_code == 200
        problem(svc.client.post(LICENCE, json=licence_body(demo_world)), 401, "unauthorized")


def test_anonymous_self_check_off(demo_world: DemoWorld, tmp_path: Path):
    for svc in _service(demo_world, tmp_path / "n", anonymous_self_check=False):
        seal = {"token": demo_world.seal_sz, "relying_jurisdiction": ZS}
        problem(svc.client.post(SEAL, json=seal), 401, "unauthorized")
        security = svc.client.get("/openapi.json").json()["paths"][SEAL]["post"]["security"]
        assert {} not in security


# -- trust state -------------------------------------------------------------------------------


def test_trust_list_index_raw_and_history(svc: Service, demo_world: DemoWorld):
    index = svc.client.get("/v1/trust-lists").json()
    assert [j["jurisdiction"] for j in index["jurisdictions"]] == [SZ, ZS]
    sz = index["jurisdictions"][0]
    signed = demo_world.signed_lists[SZ]
    assert sz["sequence"] == signed.trust_list.sequence and sz["digest"] == signed.digest
    assert sz["stale"] is False and sz["name_en"] == "Shenzhen"
    raw = svc.client.get(f"/v1/trust-lists/{SZ}")
    assert raw.content == signed.to_json()
    assert raw.headers["etag"] == f'"{signed.digest}"'
    history = svc.client.get(f"/v1/trust-lists/{SZ}/history").json()
    assert [v["sequence"] for v in history["versions"]] == [signed.trust_list.sequence]
    problem(svc.client.get("/v1/trust-lists/440100"), 404, "not_found")
    problem(svc.client.get("/v1/trust-lists/440100/history"), 404, "not_found")
    cat = svc.client.get("/v1/catalogue")
    assert cat.content == demo_world.signed_catalogue.to_json()
    status = svc.client.get("/v1/status-lists").json()["status_lists"]
    assert sorted(s["uri"] for s in status) == sorted(demo_world.status_lists)


def test_admin_upload_changes_what_the_next_verdict_sees(svc: Service, demo_world: DemoWorld):
    first = svc.client.post(LICENCE, json=licence_body(demo_world), headers=auth("counter"))
    assert first.json()["verdict"]["indication"] == "PASSED"
    old_seq = demo_world.signed_lists[SZ].trust_list.sequence
    data = next_list(demo_world, SZ, issued_at=DEMO_EPOCH)
    r = svc.client.put(
        f"/v1/trust-lists/{SZ}",
        content=data,
        headers={**auth("admin"), "content-type": "application/json"},
    )
    assert r.status_code == 200, r.text
    accepted = r.json()
    assert accepted["sequence"] == old_seq + 1 and accepted["previous_sequence"] == old_seq
    assert accepted["changed"] is True
    assert svc.sync.published == [("trust_list", data)]
    # The cache cannot serve the verdict computed under the older trust state.
    again = svc.client.post(LICENCE, json=licence_body(demo_world), headers=auth("counter"))
    assert again.json()["cached"] is False
    assert again.json()["verdict"]["trust"]["list_sequence"] == old_seq + 1
    # Re-uploading the same list is a no-op; a replay of the old one is a rollback.
    r = svc.client.post(
        f"/v1/trust-lists/{SZ}",
        content=data,
        headers={**auth("admin"), "content-type": "application/json"},
    )
    assert r.status_code == 200 and r.json()["changed"] is False
    old = demo_world.signed_lists[SZ].to_json()
    r = svc.client.put(
        f"/v1/trust-lists/{SZ}",
        content=old,
        headers={**auth("admin"), "content-type": "application/json"},
    )
    problem(r, 409, "rollback")
    history = svc.client.get(f"/v1/trust-lists/{SZ}/history").json()["versions"]
    assert [v["sequence"] for v in history] == [old_seq, old_seq + 1]
    # Everything went to the audit log, one fsynced JSON line each.
    lines = [json.loads(x) for x in (svc.root / "audit.log").read_text().splitlines()]
    assert [(x["outcome"], x.get("code")) for x in lines] == [
        ("accepted", None),
        ("unchanged", None),
        ("refused", "rollback"),
    ]
    assert lines[0]["key_id"] == "admin-test" and lines[0]["jurisdiction"] == SZ
    assert lines[0]["old_sequence"] == old_seq and lines[0]["new_sequence"] == old_seq + 1
    assert lines[0]["new_digest"] == accepted["digest"]


def test_uploads_need_an_admin_key_and_a_valid_document(svc: Service, demo_world: DemoWorld):
    data = next_list(demo_world, SZ, issued_at=DEMO_EPOCH)
    url = f"/v1/trust-lists/{SZ}"
    json_ct = {"content-type": "application/json"}
    problem(svc.client.put(url, content=data, headers=json_ct), 401, "unauthorized")
    problem(
        svc.client.put(url, content=data, headers={**auth("counter"), **json_ct}), 403, "forbidden"
    )
    problem(
        svc.client.put(url, content=data, headers={**auth("revoked"), **json_ct}),
        401,
        "unauthorized",
    )
    # Signed by only one operator (the threshold is two).
    tl = demo_world.trust_lists[SZ]
    from trust_lists import SignedTrustList, authoring

    one = SignedTrustList.create(
        authoring.next_version(tl, issued_at=DEMO_EPOCH, validity=timedelta(days=30)),
        demo_world.operators(SZ)[:1],
    ).to_json()
    problem(
        svc.client.put(url, content=one, headers={**auth("admin"), **json_ct}),
        422,
        "threshold_not_met",
    )
    # Zhongshan's list offered as Shenzhen's.
    zs = next_list(demo_world, ZS, issued_at=DEMO_EPOCH)
    problem(
        svc.client.put(url, content=zs, headers={**auth("admin"), **json_ct}),
        422,
        "jurisdiction_mismatch",
    )
    problem(
        svc.client.put(url, content=b"{}", headers={**auth("admin"), **json_ct}), 422, "malformed"
    )
    problem(
        svc.client.put(url, content=b"", headers={**auth("admin"), **json_ct}), 422, "malformed"
    )
    problem(
        svc.client.put(url, content=data, headers={**auth("admin"), "content-type": "text/plain"}),
        415,
        "unsupported_media_type",
    )
    problem(
        svc.client.put(
            "/v1/trust-lists/440100", content=data, headers={**auth("admin"), **json_ct}
        ),
        404,
        "unknown_jurisdiction",
    )
    assert svc.sync.published == []
    assert svc.client.get(f"/v1/trust-lists/{SZ}").content == demo_world.signed_lists[SZ].to_json()


def test_publish_failure_is_reported(svc: Service, demo_world: DemoWorld):
    svc.sync.fail = True
    data = next_list(demo_world, ZS, issued_at=DEMO_EPOCH)
    r = svc.client.post(
        f"/v1/trust-lists/{ZS}",
        content=data,
        headers={**auth("admin"), "content-type": "application/json"},
    )
    problem(r, 503, "sync_unavailable")
    # Retrying once the shared store is back publishes it.
    svc.sync.fail = False
    r = svc.client.post(
        f"/v1/trust-lists/{ZS}",
        content=data,
        headers={**auth("admin"), "content-type": "application/json"},
    )
    assert r.status_code == 200 and r.json()["changed"] is False
    assert svc.sync.published == [("trust_list", data)]


def test_status_list_and_catalogue_uploads(svc: Service, demo_world: DemoWorld):
    uri = sorted(demo_world.status_lists)[0]
    token = demo_world.sign_status_list(
        uri, [0, 1, 1, 1], issued_at=DEMO_EPOCH - timedelta(minutes=1)
    )
    r = svc.client.post(
        "/v1/status-lists",
        content=token,
        headers={**auth("admin"), "content-type": "application/statuslist+jwt"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["uri"] == uri and r.json()["changed"] is True and r.json()["size"] >= 4
    r = svc.client.post(
        "/v1/status-lists",
        content=demo_world.status_lists[uri],
        headers={**auth("admin"), "content-type": "text/plain"},
    )
    problem(r, 409, "rollback")
    r = svc.client.post(
        "/v1/status-lists",
        content="x.y.z",
        headers={**auth("admin"), "content-type": "application/jwt"},
    )
    problem(r, 422, "malformed")
    cat = demo_world.signed_catalogue.to_json()
    r = svc.client.post(
        "/v1/catalogue", content=cat, headers={**auth("admin"), "content-type": "application/json"}
    )
    assert r.status_code == 200 and r.json()["changed"] is False
    problem(
        svc.client.put(
            "/v1/catalogue",
            content=cat,
            headers=auth("business") | {"content-type": "application/json"},
        ),
        403,
        "forbidden",
    )
    assert [k for k, _ in svc.sync.published] == ["status_list", "catalogue"]
    actions = [json.loads(x)["action"] for x in (svc.root / "audit.log").read_text().splitlines()]
    assert actions == ["status_list", "status_list", "status_list", "catalogue"]


def test_revoked_status_changes_the_verdict_after_upload(svc: Service, demo_world: DemoWorld):
    from demo.world import IDX_VALID

    city_uri = next(u for u in demo_world.status_lists if "sz-amr" in u)
    assert (
        svc.client.post(LICENCE, json=licence_body(demo_world), headers=auth("counter")).json()[
            "verdict"
        ]["indication"]
        == "PASSED"
    )
    statuses = [0] * 1024
    statuses[IDX_VALID] = 1  # the demo licence's slot is now revoked
    token = demo_world.sign_status_list(
        city_uri, statuses, issued_at=DEMO_EPOCH - timedelta(minutes=1)
    )
    r = svc.client.post(
        "/v1/status-lists",
        content=token,
        headers={**auth("admin"), "content-type": "application/statuslist+jwt"},
    )
    assert r.status_code == 200, r.text
    after = svc.client.post(LICENCE, json=licence_body(demo_world), headers=auth("counter")).json()
    assert after["cached"] is False
    assert after["verdict"]["indication"] != "PASSED"


# -- errors ------------------------------------------------------------------------------------


def test_errors_are_problems(svc: Service, demo_world: DemoWorld):
    problem(svc.client.get("/nowhere"), 404, "not_found")
    r = svc.client.delete(LICENCE)
    problem(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "POST"
    r = svc.client.delete(f"/v1/trust-lists/{SZ}")
    assert r.headers["allow"] == "GET, POST, PUT"
    r = svc.client.post(
        LICENCE,
        content=b'{"token": ',
        headers={**auth("counter"), "content-type": "application/json"},
    )
    problem(r, 400, "malformed_json")
    r = svc.client.post(
        LICENCE,
        content=b"token=x",
        headers={**auth("counter"), "content-type": "application/x-www-form-urlencoded"},
    )
    problem(r, 415, "unsupported_media_type")
    r = svc.client.post(
        LICENCE, json={"token": 1, "relying_jurisdiction": ZS, "x": 1}, headers=auth("counter")
    )
    errors = problem(r, 422, "invalid_request")["errors"]
    assert {tuple(e["loc"]) for e in errors} == {("body", "token"), ("body", "x")}
    bad = [
        {"token": "x", "relying_jurisdiction": "44030"},
        {"token": "x", "relying_jurisdiction": ZS, "validation_time": "2026-11-26T00:00:00"},
        {"token": "x", "relying_jurisdiction": ZS, "validation_time": "yesterday"},
        {"token": "x", "relying_jurisdiction": ZS, "receipt": 1},
        {"token": "", "relying_jurisdiction": ZS},
        {"token": "x", "relying_jurisdiction": ZS, "expect": {"holder_credit_code": "123"}},
    ]
    for body in bad:
        problem(
            svc.client.post(LICENCE, json=body, headers=auth("counter")), 422, "invalid_request"
        )
    doc = {"document": "not base64!", "signature": "x", "relying_jurisdiction": ZS}
    problem(svc.client.post(SEALED, json=doc, headers=auth("counter")), 422, "invalid_request")


def test_body_size_limit(demo_world: DemoWorld, tmp_path: Path):
    for svc in _service(demo_world, tmp_path / "l", max_body_bytes=2048):
        big = {"token": "x" * 4096, "relying_jurisdiction": ZS}
        r = svc.client.post(LICENCE, json=big, headers=auth("counter"))
        assert problem(r, 413, "payload_too_large")["max_bytes"] == 2048

        # Streamed without Content-Length: cut off once the limit is passed.
        def chunks() -> Iterator[bytes]:
            yield b'{"token": "'
            for _ in range(100):
                yield b"x" * 100

        r = svc.client.post(
            LICENCE,
            content=chunks(),
            headers={**auth("counter"), "content-type": "application/json"},
        )
        problem(r, 413, "payload_too_large")
        r = svc.client.post(
            LICENCE,
            content=b"{}",
            headers={
                **auth("counter"),
                "content-type": "application/json",
                "content-length": "abc",
            },
        )
        assert r.status_code == 400


def test_unexpected_errors_are_a_bare_500(
    svc: Service, demo_world: DemoWorld, caplog: pytest.LogCaptureFixture
):
    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    svc.app.state.ctx.service.verifier.verify_licence = boom
    with caplog.at_level(logging.ERROR, logger="huren.error"):
        r = svc.client.post(LICENCE, json=licence_body(demo_world), headers=auth("counter"))
    body = problem(r, 500, "internal_error")
    assert "secret internals" not in r.text and "RuntimeError" not in r.text
    assert body["request_id"] == r.headers["x-request-id"]
    assert any("secret internals" in (rec.exc_text or "") or rec.exc_info for rec in caplog.records)


def test_service_middleware_is_outermost(svc: Service, demo_world: DemoWorld):
    """FastAPI's own outer layers (a plain-text 500, an OpenTelemetry hook, a body limit) are
    unlinked, each redundant under ServiceMiddleware: it meets every request first, and errors
    keep their problem answers (the test above, and the 413s of test_body_size_limit)."""
    r = svc.client.post(LICENCE, json=licence_body(demo_world), headers=auth("counter"))
    assert r.status_code == 200
    assert isinstance(svc.app.middleware_stack, ServiceMiddleware)


def test_an_unknown_outer_layer_keeps_fastapis_whole_stack(
    demo_world: DemoWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """If a FastAPI release put a layer we do not know above the user middleware, the stack is
    kept as FastAPI built it rather than cut at a guess."""
    monkeypatch.setattr(ServiceApp, "_REDUNDANT_OUTER", ("ServerErrorMiddleware",))
    for service in _service(demo_world, tmp_path / "svc"):
        r = service.client.post(LICENCE, json=licence_body(demo_world), headers=auth("counter"))
        assert r.status_code == 200 and r.headers["x-request-id"]
        assert type(service.app.middleware_stack).__name__ == "ServerErrorMiddleware"


def test_request_id_is_echoed_and_logs_hold_no_secrets(
    svc: Service, demo_world: DemoWorld, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.INFO, logger="huren.access"):
        r = svc.client.post(
            LICENCE,
            json=licence_body(demo_world),
            headers={**auth("counter"), "X-Request-ID": "counter-7.abc"},
        )
        svc.client.post(
            LICENCE,
            json=licence_body(demo_world),
            headers={**auth("counter"), "X-Request-ID": "bad id\n"},
        )
    assert r.headers["x-request-id"] == "counter-7.abc"
    records = [rec for rec in caplog.records if rec.name == "huren.access"]
    fields = records[0].fields  # type: ignore[attr-defined]
    assert fields["request_id"] == "counter-7.abc"
    assert fields["route"] == LICENCE and fields["status"] == 200
    assert fields["indication"] == "PASSED" and fields["key_id"] == "counter-test"
    assert fields["document_sha256"] == r.json()["verdict"]["document_sha256"]
    assert records[1].fields["request_id"] != "bad id\n"  # type: ignore[attr-defined]
    from api.obs.logs import JsonFormatter

    text = "\n".join(JsonFormatter().format(rec) for rec in caplog.records)
    assert demo_world.licence_sz not in text
    assert demo_world.licence_sz.split(".")[2] not in text
    assert auth("counter")["Authorization"].split()[1] not in text
    json.loads(JsonFormatter().format(records[0]))


# -- operations --------------------------------------------------------------------------------


def test_health_readiness_and_metrics(svc: Service, demo_world: DemoWorld):
    assert svc.client.get("/healthz").json() == {"status": "ok"}
    ready = svc.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    svc.client.post(LICENCE, json=licence_body(demo_world), headers=auth("counter"))
    metrics = svc.client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'huren_verdicts_total{indication="PASSED",kind="licence",sub_indication=""} 1.0' in text
    assert (
        'huren_http_requests_total{method="POST",route="/v1/licences/verify",status="200"} 1.0'
        in text
    )
    assert "huren_verification_seconds_bucket" in text
    assert f'huren_trust_list_stale{{jurisdiction="{SZ}"}} 0.0' in text
    assert f'huren_trust_list_age_seconds{{jurisdiction="{ZS}"}}' in text
    # Past next_update the lists are stale: not ready, and the gauges say so.
    svc.clock.advance(days=31)
    r = svc.client.get("/readyz")
    body = problem(r, 503, "not_ready")
    assert body["checks"][f"trust_list:{SZ}"] == "stale"
    assert f'huren_trust_list_stale{{jurisdiction="{SZ}"}} 1.0' in svc.client.get("/metrics").text


def test_every_app_has_its_own_metrics(demo_world: DemoWorld, tmp_path: Path):
    apps = [
        create_app(settings_for(service_dir(demo_world, tmp_path / n)), sync=RecordingSync())
        for n in "ab"
    ]  # type: ignore[arg-type]
    assert apps[0].state.ctx.metrics.registry is not apps[1].state.ctx.metrics.registry


def test_openapi_documents_problems_security_and_examples(svc: Service):
    schema = svc.client.get("/openapi.json").json()
    for path, item in schema["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == [PROBLEM_MEDIA_TYPE], (path, method, status)
            assert "500" in op["responses"]
    post = schema["paths"][LICENCE]["post"]
    assert set(post["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    assert {"401", "403", "413", "415", "422"} <= set(post["responses"])
    assert {"bearer": []} in post["security"] and {} not in post["security"]
    assert {} in schema["paths"][SEAL]["post"]["security"]
    assert schema["paths"]["/v1/trust-lists"]["get"]["security"] == []
    req = schema["components"]["schemas"]["LicenceVerifyRequest"]
    assert req["examples"] and req["properties"]["relying_jurisdiction"]["enum"] == [SZ, ZS]


@pytest.mark.anyio
async def test_concurrent_identical_requests_compute_once(demo_world: DemoWorld, tmp_path: Path):
    """A cache whose lookups suspend (like Redis) lets identical requests all miss before the
    first computes: single flight makes them share one verification."""
    n = 20
    arrived = 0
    everyone = asyncio.Event()

    class SlowCache(InProcessVerdictCache):
        synchronous = False  # so the service takes its awaiting path, as with Redis

        async def get_entry(self, key: str) -> Any:
            # Every request misses the cache before the first one computes.
            nonlocal arrived
            value = await super().get_entry(key)
            arrived += 1
            if arrived == n:
                everyone.set()
            await everyone.wait()
            return value

    root = service_dir(demo_world, tmp_path / "c")
    app = create_app(
        settings_for(root),
        clock=Clock(DEMO_EPOCH),
        sync=RecordingSync(),  # type: ignore[arg-type]
        cache=SlowCache(),
    )
    ctx = app.state.ctx
    calls = 0
    real = ctx.service.verifier.verify_licence

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)

    ctx.service.verifier.verify_licence = counting
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://huren") as client:
        responses = await asyncio.gather(
            *[
                client.post(LICENCE, json=licence_body(demo_world), headers=auth("counter"))
                for _ in range(20)
            ]
        )
    assert {r.status_code for r in responses} == {200}
    assert calls == 1
    assert len({json.dumps(r.json()["verdict"], sort_keys=True) for r in responses}) == 1


@pytest.mark.anyio
async def test_a_batch_lets_other_requests_in(demo_world: DemoWorld, tmp_path: Path):
    """Batch items served without suspending (in-process cache) still leave the event loop to
    other requests between slices of the batch."""
    root = service_dir(demo_world, tmp_path / "slices")
    app = create_app(settings_for(root), clock=Clock(DEMO_EPOCH), sync=RecordingSync())  # type: ignore[arg-type]
    items = [{"kind": "licence", **licence_body(demo_world)}] * (3 * BATCH_SLICE)
    ticks = 0
    running = True

    async def other_work() -> None:
        nonlocal ticks
        while running:
            ticks += 1
            await asyncio.sleep(0)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://huren") as client:
        ticker = asyncio.create_task(other_work())
        await asyncio.sleep(0)
        before = ticks
        r = await client.post(BATCH, json={"items": items}, headers=auth("counter"))
        during = ticks - before
        running = False
        await ticker
    assert r.status_code == 200 and len(r.json()["results"]) == len(items)
    assert during >= 2, during  # at least once between each of the 3 slices


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
