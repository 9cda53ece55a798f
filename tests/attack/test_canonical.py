"""One signed value, one reading (GitHub issue 19, findings 5, 6 and 7), through the real admin
endpoints: each hostile list is uploaded with an admin key and must be refused with its problem
`code` and nothing changed (tests/attack/test_trust_state.py's `refused`: memory, disk, what a
restart loads, the verdicts, nothing published, the refusal audited)."""

from __future__ import annotations

import json
from typing import Any

from keys import canonical_json
from tests.attack import test_trust_state as attack
from tests.attack.test_trust_state import JSON, SZ, Service, bumped, refused, signed_payload
from tests.unit.test_keys_canonical import P256_A, P256_B, P256_P, ec_jwk, small_x_point

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


def test_finding6_full_width_digits_in_a_signed_time(svc: Service) -> None:
    """`２０２６-...` in issued_at: the operators sign that text, every view shows 2026-...,
    and RFC 3339 readers elsewhere would refuse the list."""
    doc = _draft(svc)
    issued = doc["issued_at"]
    doc["issued_at"] = issued[:4].translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    doc["issued_at"] += issued[4:]
    problem = _upload(svc, doc, "malformed")
    assert "trust_list.issued_at must be a UTC time" in problem["detail"]
    key = doc["services"][0]["keys"][0]
    key["history"][0]["from"] = key["history"][0]["from"].replace("0", "٠")  # Arabic-Indic
    doc["issued_at"] = issued
    _upload(svc, doc, "malformed")


def test_finding7_a_name_hiding_the_rest_of_the_review(svc: Service) -> None:
    """A fake end of the diff and ESC [8m in a service's name_en: refused with its own code
    (upload) before any view could print it."""
    doc = _draft(svc)
    doc["services"][0]["name_en"] += "\n\n4 changes, 0 warnings\x1b[8m"
    problem = _upload(svc, doc, "unsafe_text")
    assert "trust_list.services[0].name_en" in problem["detail"] and "\\x0a" in problem["detail"]
    doc = _draft(svc)
    doc["jurisdiction"]["name_zh"] = "深圳市\u202e"  # a bidi override reordering what follows
    _upload(svc, doc, "unsafe_text")
