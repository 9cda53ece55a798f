"""Hostile trust state through the real admin endpoints (GitHub issue 7).

tests/unit/test_trust_lists.py and tests/unit/test_trust_status_catalogue.py
prove every acceptance rule on
the TrustStore itself. Here each hostile state (rollback, freeze, mix-and-match, rotation by the
new keys only, a threshold lowered by one operator, an oversized list, duplicate kids across
services, a status list by the wrong issuer or older than the one held) is uploaded with an
admin key over HTTP and must be refused with its own status and problem `code`, with nothing
changed: not the trust state in memory (the snapshot object, its version, what the read
endpoints and the verdicts show), not the trust directory on disk (every file and its digest),
not what a restart would load, and nothing published to the other instances. The refusal is
audited."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import build_store, create_app
from api.http.problems import PROBLEM_MEDIA_TYPE
from api.settings import Settings
from demo.world import DEMO_EPOCH, DemoWorld
from keys import ES256, GeneralJWS, SigningKey, canonical_json
from tests.support.api_support import (
    SZ,
    ZS,
    Clock,
    RecordingSync,
    auth,
    next_list,
    service_dir,
    settings_for,
)
from tests.support.trust_world import Snapshot, snapshot
from trust_lists import SignedTrustList, authoring, model
from trust_lists.catalogue import SignedCatalogue
from trust_lists.model import ServiceKind, TrustList
from trust_lists.signed import TRUST_LIST_TYP
from trust_lists.uscc import make_uscc

JSON = {"content-type": "application/json"}
TOKEN = {"content-type": "application/statuslist+jwt"}
NOW = DEMO_EPOCH
ISSUED = NOW - timedelta(minutes=1)
SZ_ISSUER_URI = "https://status.sz.huren.example/sz-amr/1"


@dataclass
class Service:
    client: TestClient
    world: DemoWorld
    root: Path
    settings: Settings
    sync: RecordingSync
    clock: Clock

    @property
    def store(self) -> Any:
        return self.client.app.state.ctx.store  # type: ignore[attr-defined]


@pytest.fixture
def svc(demo_world: DemoWorld, tmp_path: Path) -> Iterator[Service]:
    root = service_dir(demo_world, tmp_path / "svc")
    settings = settings_for(root, max_body_bytes=512 * 1024)
    clock = Clock(NOW)
    sync = RecordingSync()
    app = create_app(settings, clock=clock, sync=sync)  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Service(client, demo_world, root, settings, sync, clock)


# -- what "nothing changed" means ----------------------------------------------------------------


@dataclass
class Observed(Snapshot):
    """The trust store's snapshot and what the service serves from it."""

    index: Any
    lists: dict[str, bytes]
    status_lists: Any
    catalogue: bytes
    verdicts: list[tuple[str, str | None, int | None]]
    published: int


def observe(svc: Service) -> Observed:
    c = svc.client
    verdicts = []
    for token, relying in ((svc.world.licence_sz, ZS), (svc.world.licence_zs, SZ)):
        r = c.post(
            "/v1/licences/verify",
            json={"token": token, "relying_jurisdiction": relying},
            headers=auth("counter"),
        )
        v = r.json()["verdict"]
        verdicts.append((v["indication"], v["sub_indication"], v["trust"].get("list_sequence")))
    held = snapshot(svc.store)
    assert held.files, "the trust directory was not read"
    return Observed(
        held.state,
        held.version,
        held.highest,
        held.files,
        index=c.get("/v1/trust-lists").json(),
        lists={j: c.get(f"/v1/trust-lists/{j}").content for j in (SZ, ZS)},
        status_lists=c.get("/v1/status-lists").json(),
        catalogue=c.get("/v1/catalogue").content,
        verdicts=verdicts,
        published=len(svc.sync.published),
    )


def refused(
    svc: Service,
    method: str,
    path: str,
    body: bytes | str,
    headers: dict[str, str],
    status: int,
    code: str,
    *,
    role: str = "admin",
) -> dict[str, Any]:
    """Upload `body`; expect the problem (status, code) and that nothing changed anywhere."""
    before = observe(svc)
    audit = svc.root / "audit.log"
    audit_lines = len(audit.read_text().splitlines()) if audit.exists() else 0
    r = svc.client.request(method, path, content=body, headers={**auth(role), **headers})
    problem = assert_problem(r, status, code)
    after = observe(svc)
    assert after.state is before.state, "the in-memory trust state was replaced"
    for f in dataclasses.fields(Observed):
        if f.name != "state":
            assert getattr(after, f.name) == getattr(before, f.name), f"{f.name} changed"
    # What a restart would load is what was served before the upload.
    fresh, problems = build_store(svc.settings)
    assert problems == []
    assert fresh.state.version == before.version
    # A refusal by the trust store is audited with its code (an auth, body-size or unknown
    # slot refusal never reaches the store, and is only in the access log).
    lines = audit.read_text().splitlines() if audit.exists() else []
    if status not in (401, 403, 404, 413) or code == "too_large":
        assert len(lines) == audit_lines + 1
        record = json.loads(lines[-1])
        assert (record["outcome"], record["code"]) == ("refused", code)
    else:
        assert len(lines) == audit_lines
    return problem


def assert_problem(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = r.json()
    assert body["status"] == status and body["code"] == code, body
    assert body["detail"] and body["request_id"] == r.headers["x-request-id"]
    return body


def accepted(svc: Service, path: str, body: bytes | str, headers: dict[str, str]) -> Any:
    r = svc.client.put(path, content=body, headers={**auth("admin"), **headers})
    if r.status_code == 405:
        r = svc.client.post(path, content=body, headers={**auth("admin"), **headers})
    assert r.status_code == 200, r.text
    return r.json()


# -- building hostile documents -------------------------------------------------------------------


def bumped(w: DemoWorld, code: str, times: int = 1, issued_at: Any = ISSUED) -> TrustList:
    tl = w.trust_lists[code]
    for _ in range(times):
        tl = authoring.next_version(tl, issued_at=issued_at, validity=timedelta(days=30))
    return tl


def signed(tl: TrustList, *keys: SigningKey) -> bytes:
    return SignedTrustList.create(tl, list(keys)).to_json()


def signed_payload(doc: dict[str, Any], *keys: SigningKey) -> bytes:
    return GeneralJWS.sign(canonical_json(doc), list(keys), typ=TRUST_LIST_TYP).to_json()


# -- the hostile states ---------------------------------------------------------------------------


def test_rollback_an_older_list_replayed(svc: Service) -> None:
    w = svc.world
    old = w.signed_lists[SZ].to_json()  # sequence 1, validly signed, still within its validity
    assert (
        accepted(svc, f"/v1/trust-lists/{SZ}", next_list(w, SZ, issued_at=ISSUED), JSON)["sequence"]
        == 2
    )
    refused(svc, "PUT", f"/v1/trust-lists/{SZ}", old, JSON, 409, "rollback")
    # The same sequence with other content is a rollback too, as is any lower one.
    other = authoring.next_version(
        w.trust_lists[SZ], issued_at=ISSUED - timedelta(seconds=5), validity=timedelta(days=29)
    )
    refused(svc, "POST", f"/v1/trust-lists/{SZ}", w.sign_list(other), JSON, 409, "rollback")


def test_rollback_guard_survives_a_restart(svc: Service, tmp_path: Path) -> None:
    w = svc.world
    accepted(svc, f"/v1/trust-lists/{SZ}", next_list(w, SZ, issued_at=ISSUED), JSON)
    (svc.root / "trust" / "lists" / SZ / f"{2:016d}.jws").unlink()  # the newer file is lost
    fresh, problems = build_store(svc.settings)
    assert problems and "refusing to serve an older list" in problems[0]
    assert fresh.state.trust_list(SZ) is None  # fail closed, never serve sequence 1 again
    with pytest.raises(Exception, match=r"not above|rollback|sequence"):
        fresh.submit_trust_list(w.signed_lists[SZ].to_json(), now=NOW)


def test_freeze_an_expired_list(svc: Service) -> None:
    """A validly signed, newer list whose next_update has passed (an attacker who froze the
    publication and now releases an old update) is refused: it could only serve as stale."""
    w = svc.world
    stale = authoring.next_version(
        w.trust_lists[SZ], issued_at=NOW - timedelta(days=40), validity=timedelta(days=30)
    )
    refused(svc, "PUT", f"/v1/trust-lists/{SZ}", w.sign_list(stale), JSON, 422, "already_expired")


def test_freeze_the_held_list_goes_stale_and_is_reported(svc: Service) -> None:
    """Nobody uploads anything: once next_update (plus grace 0) passes, the list is reported
    stale and no verdict that depends on it is PASSED."""
    c = svc.client
    tl = svc.world.trust_lists[SZ]
    body = {"token": svc.world.licence_sz, "relying_jurisdiction": ZS}
    assert (
        c.post("/v1/licences/verify", json=body, headers=auth("counter")).json()["verdict"][
            "indication"
        ]
        == "PASSED"
    )
    svc.clock.now = tl.next_update - timedelta(seconds=1)
    entry = next(
        j for j in c.get("/v1/trust-lists").json()["jurisdictions"] if j["jurisdiction"] == SZ
    )
    assert entry["stale"] is False
    svc.clock.now = tl.next_update
    entry = next(
        j for j in c.get("/v1/trust-lists").json()["jurisdictions"] if j["jurisdiction"] == SZ
    )
    assert entry["stale"] is True and entry["stale_from"] == entry["next_update"]
    r = c.get("/readyz")
    assert_problem(r, 503, "not_ready")
    assert r.json()["checks"][f"trust_list:{SZ}"] == "stale"
    verdict = c.post("/v1/licences/verify", json=body, headers=auth("counter")).json()["verdict"]
    assert (verdict["indication"], verdict["sub_indication"]) == ("INDETERMINATE", "TRY_LATER")
    assert any(ch["code"] == "trust.fresh" and ch["result"] != "PASSED" for ch in verdict["checks"])
    assert "huren_trust_list_stale{" in c.get("/metrics").text


def test_mix_and_match_shenzhens_list_uploaded_as_zhongshans(svc: Service) -> None:
    w = svc.world
    sz_next = next_list(w, SZ, issued_at=ISSUED)
    refused(svc, "PUT", f"/v1/trust-lists/{ZS}", sz_next, JSON, 422, "jurisdiction_mismatch")
    # Even signed by Zhongshan's own operators, a list naming Shenzhen never fills Zhongshan's
    # slot.
    by_zs = signed(bumped(w, SZ), *w.operators(ZS)[:2])
    refused(svc, "PUT", f"/v1/trust-lists/{ZS}", by_zs, JSON, 422, "jurisdiction_mismatch")
    # Shenzhen's valid signatures grafted onto Zhongshan's payload count for nothing.
    zs_payload = SignedTrustList.parse(next_list(w, ZS, issued_at=ISSUED)).envelope.payload
    sz_sigs = SignedTrustList.parse(sz_next).envelope.signatures
    graft = GeneralJWS(zs_payload, sz_sigs).to_json()
    refused(svc, "PUT", f"/v1/trust-lists/{ZS}", graft, JSON, 422, "threshold_not_met")


def test_operator_rotation_signed_only_by_the_new_keys(svc: Service) -> None:
    w = svc.world
    new = [SigningKey.generate(ES256) for _ in range(3)]
    rotated = authoring.set_operators(bumped(w, SZ), [k.public_key for k in new], 2)
    problem = refused(
        svc, "PUT", f"/v1/trust-lists/{SZ}", signed(rotated, *new), JSON, 422,
        "rotation_not_authorised",
    )  # fmt: skip
    assert "current: missing, new: ok" in problem["detail"]
    # Signed by both sets it is accepted: the rule, not the document, refused it.
    assert (
        accepted(
            svc, f"/v1/trust-lists/{SZ}", signed(rotated, *w.operators(SZ)[:2], *new[:2]), JSON
        )["sequence"]
        == 2
    )


def test_threshold_lowered_by_a_single_operator(svc: Service) -> None:
    w = svc.world
    one = authoring.set_operators(bumped(w, SZ), [k.public_key for k in w.operators(SZ)], 1)
    refused(
        svc, "PUT", f"/v1/trust-lists/{SZ}", signed(one, w.operators(SZ)[0]), JSON, 422,
        "rotation_not_authorised",
    )  # fmt: skip


def test_oversized_list(svc: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    w = svc.world
    # Larger than the request body limit: 413 before a byte reaches the trust store.
    big = b'{"payload":"' + b"A" * (600 * 1024) + b'","signatures":[]}'
    problem = refused(svc, "PUT", f"/v1/trust-lists/{SZ}", big, JSON, 413, "payload_too_large")
    assert problem["max_bytes"] == 512 * 1024
    # More services than the store's cap (lowered here to what the demo list holds).
    held = len(w.trust_lists[SZ].services)
    extra = authoring.add_service(
        bumped(w, SZ),
        service_id="sz-extra",
        kind=ServiceKind.LICENCE_ISSUER,
        name_zh="额外",
        name_en="Extra",
        credit_code=make_uscc("11440300MB2C00999"),
        scope=["business_licence"],
        keys=[SigningKey.generate(ES256).public_key],
        granted_from=ISSUED,
    )
    data = w.sign_list(extra)
    monkeypatch.setattr(model, "MAX_SERVICES", held)
    refused(svc, "PUT", f"/v1/trust-lists/{SZ}", data, JSON, 413, "too_large")


def test_duplicate_kids_across_services(svc: Service) -> None:
    w = svc.world
    doc: dict[str, Any] = json.loads(canonical_json(bumped(w, SZ).to_dict()))
    issuer, seal = doc["services"][0], doc["services"][1]
    seal["keys"][0]["jwk"] = issuer["keys"][0]["jwk"]  # the issuer key, now also a seal key
    data = signed_payload(doc, *w.operators(SZ)[:2])
    refused(svc, "PUT", f"/v1/trust-lists/{SZ}", data, JSON, 422, "duplicate_kid")


@pytest.mark.parametrize("signer", ["seal-authority", "other-city-issuer", "attacker"])
def test_status_list_signed_by_the_wrong_issuer(svc: Service, signer: str) -> None:
    w = svc.world
    key = {
        "seal-authority": w.seal_authority_key(SZ),
        "other-city-issuer": w.issuer_key(ZS),
        "attacker": SigningKey.generate(ES256),
    }[signer]
    statuses = [1] * 1024  # revoke everything, if it were believed
    token = w.sign_status_list(SZ_ISSUER_URI, statuses, issued_at=ISSUED, key=key)
    refused(svc, "POST", "/v1/status-lists", token, TOKEN, 422, "untrusted_signer")


def test_status_list_older_than_the_one_held(svc: Service) -> None:
    w = svc.world
    held = svc.store.state.status_lists[SZ_ISSUER_URI].status_list.issued_at
    older = w.sign_status_list(SZ_ISSUER_URI, [0] * 1024, issued_at=held - timedelta(minutes=5))
    refused(svc, "POST", "/v1/status-lists", older, TOKEN, 409, "rollback")
    same_time = w.sign_status_list(SZ_ISSUER_URI, [0] * 1024, issued_at=held)
    refused(svc, "POST", "/v1/status-lists", same_time, TOKEN, 409, "rollback")


def test_catalogue_replaced_at_the_same_sequence(svc: Service) -> None:
    w = svc.world
    same_seq = dataclasses.replace(w.catalogue, issued_at=ISSUED)
    signers = [*w.operators(SZ)[:2], *w.operators(ZS)[:2]]
    data = SignedCatalogue.create(same_seq, signers).to_json()
    refused(svc, "PUT", "/v1/catalogue", data, JSON, 409, "rollback")


def test_upload_to_an_unconfigured_jurisdiction(svc: Service) -> None:
    data = next_list(svc.world, SZ, issued_at=ISSUED)
    refused(svc, "PUT", "/v1/trust-lists/440100", data, JSON, 404, "unknown_jurisdiction")
    # A slot that looks like a path never names a directory: no route matches it at all.
    refused(svc, "PUT", "/v1/trust-lists/..%2F..%2Fetc", data, JSON, 404, "not_found")


@pytest.mark.parametrize("role", ["revoked", "counter", "business"])
def test_valid_list_from_a_caller_who_may_not_upload(svc: Service, role: str) -> None:
    data = next_list(svc.world, SZ, issued_at=ISSUED)
    status, code = (401, "unauthorized") if role == "revoked" else (403, "forbidden")
    refused(svc, "PUT", f"/v1/trust-lists/{SZ}", data, JSON, status, code, role=role)
