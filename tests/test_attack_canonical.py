"""One signed value, one reading (GitHub issue 19, findings 5, 6 and 7), through the real admin
endpoints: each hostile list is uploaded with an admin key and must be refused with its problem
`code` and nothing changed (tests/test_attack_trust_state.py's `refused`: memory, disk, what a
restart loads, the verdicts, nothing published, the refusal audited)."""

from __future__ import annotations

import json
from typing import Any

from keys import canonical_json
from tests import test_attack_trust_state as attack
from tests.test_attack_trust_state import JSON, SZ, Service, bumped, refused, signed_payload
from tests.test_keys_canonical import P256_A, P256_B, P256_P, ec_jwk, small_x_point

svc = attack.svc  # the service fixture, with its admin endpoints


def _draft(svc: Service) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(canonical_json(bumped(svc.world, SZ).to_dict()))
    return doc


def _upload(svc: Service, doc: dict[str, Any], code: str) -> dict[str, Any]:
    data = signed_payload(doc, *svc.world.operators(SZ)[:2])
    return refused(svc, "PUT", f"/v1/trust-lists/{SZ}", data, JSON, 422, code)


def test_finding5_one_p256_key_as_two_service_keys(svc: Service) -> None:
    """The issuer's key and a seal key are one point, its x written once as x and once as
    x + p: two kids for one key, so duplicates (and thresholds) counted by kid missed it."""
    x, y = small_x_point(P256_P, P256_A, P256_B)
    doc = _draft(svc)
    issuer, seal = doc["services"][0], doc["services"][1]
    issuer["keys"][0]["jwk"] = ec_jwk(x, y)
    alias = ec_jwk(x + P256_P, y)
    assert alias["x"] != issuer["keys"][0]["jwk"]["x"]
    seal["keys"][0]["jwk"] = alias
    problem = _upload(svc, doc, "malformed")
    assert "below the P-256 field prime" in problem["detail"]
