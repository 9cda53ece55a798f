"""Conformance of the QR layers with outside material: the EU Digital COVID Certificate test data
in ../shared/vectors/dcc (eu-digital-green-certificates/dgc-testdata, Apache-2.0).

Every case goes through huren's own layers (verifier.hr1: prefix, Base45, zlib; keys.cose:
COSE_Sign1 with its Sig_structure and raw r||s ES256; keys.cbor: strict CBOR; verifier.scan: the
QR picture) with the case's signer certificate as the key (keys.certificate_keys), and each
result is compared with the case's EXPECTEDRESULTS. The cases huren judges differently, and why,
are listed in DIFFERENT (and in docs/formats.md)."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import cbor2
import pytest

from keys import cbor
from keys.certificate_keys import read_certificate
from keys.cose import COSE_SIGN1_TAG, CWT_TAG, CoseSign1, MalformedCOSE, sig_structure
from keys.errors import KeyMaterialError
from tests.support.vectors import vector_path
from verifier import hr1
from verifier.scan import ScanError, read_qr

DCC = vector_path("dcc")
CASES = sorted([*DCC.glob("common/*.json"), *DCC.glob("DE/*.json")])
CASE_IDS = [f"{p.parent.name}/{p.stem}" for p in CASES]

# EXPECTEDVERIFY cases where huren's COSE rules refuse what the DCC accepts. In each of them the
# signature itself is checked too (Sig_structure, r||s) and agrees with the DCC (test below).
DIFFERENT: dict[str, str] = {
    "common/CO1": "PS256 (RSA-PSS) is outside huren's allow-list (ES256, EdDSA)",
    "common/CO2": "PS256 (RSA-PSS) is outside huren's allow-list (ES256, EdDSA)",
    "common/CO19": "kid in the unprotected header: outside the signature, so refused",
    "common/CO20": "alg and kid in the unprotected header (empty protected header): refused",
    "common/CO21": "a second, different kid in the unprotected header: two readings, refused",
    "DE/1": "kid in the unprotected header: outside the signature, so refused",
    "DE/2": "kid in the unprotected header: outside the signature, so refused",
    "DE/3": "kid in the unprotected header: outside the signature, so refused",
    "DE/4": "kid in the unprotected header: outside the signature, so refused",
}
# Expectations about the DCC's own payload (its JSON schema, its key-usage OIDs): not a layer
# huren has; the licence claims have their own parser and checks.
# Expectations no layer can judge, with the reason.
UNJUDGED: dict[tuple[str, str], str] = {
    ("common/B1", "EXPECTEDPICTUREDECODE"): "the case has no 2DCODE picture",
}
TAGS = frozenset({COSE_SIGN1_TAG, CWT_TAG})
NOT_APPLICABLE = frozenset({"EXPECTEDSCHEMAVALIDATION", "EXPECTEDVALIDJSON", "EXPECTEDKEYUSAGE"})


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def layers(case: dict[str, Any]) -> dict[str, bool]:
    """What huren's layers say of one case, under the DCC's expectation names."""
    got: dict[str, bool] = {}
    prefixed = case.get("PREFIX")
    if prefixed is not None:
        try:
            body: bytes | None = hr1.unprefix(prefixed.encode(), b"HC1:")
            got["EXPECTEDUNPREFIX"] = True
        except hr1.LayerError:
            body, got["EXPECTEDUNPREFIX"] = None, False
        if body is not None:
            try:
                packed = hr1.b45decode(body)
                got["EXPECTEDB45DECODE"] = True
                if "COMPRESSED" in case:
                    assert packed == bytes.fromhex(case["COMPRESSED"])
            except hr1.LayerError:
                got["EXPECTEDB45DECODE"] = False
    if "COMPRESSED" in case:
        try:
            inflated = hr1.inflate(bytes.fromhex(case["COMPRESSED"]))
            got["EXPECTEDCOMPRESSION"] = True
            if "COSE" in case:
                assert inflated == bytes.fromhex(case["COSE"])
        except hr1.LayerError:
            got["EXPECTEDCOMPRESSION"] = False
    if "COSE" in case:
        got.update(cose_layers(case))
    elif "CBOR" in case:  # the payload alone
        try:
            got["EXPECTEDDECODE"] = isinstance(
                cbor.loads(bytes.fromhex(case["CBOR"]), max_bytes=hr1.MAX_INFLATED_BYTES), dict
            )
        except cbor.MalformedCBOR:
            got["EXPECTEDDECODE"] = False
    if "2DCODE" in case:
        try:
            got["EXPECTEDPICTUREDECODE"] = read_qr(base64.b64decode(case["2DCODE"])) == prefixed
        except ScanError:
            got["EXPECTEDPICTUREDECODE"] = False
    return got


def cose_layers(case: dict[str, Any]) -> dict[str, bool]:
    """The strict CBOR layer (the COSE_Sign1 and its CWT payload) apart from the COSE header
    rules, then COSE_Sign1 with its rules and the signature."""
    got: dict[str, bool] = {}
    raw = bytes.fromhex(case["COSE"])
    claims: object = None
    try:
        outer = cbor.loads(raw, max_bytes=hr1.MAX_INFLATED_BYTES, tags=TAGS)
        while isinstance(outer, cbor2.CBORTag):
            outer = outer.value
        payload = outer[2] if isinstance(outer, list | tuple) and len(outer) == 4 else None
        claims = cbor.loads(payload, max_bytes=hr1.MAX_INFLATED_BYTES) if payload else None
        got["EXPECTEDDECODE"] = isinstance(claims, dict)
    except cbor.MalformedCBOR:
        got["EXPECTEDDECODE"] = False
    clock = case["TESTCTX"].get("VALIDATIONCLOCK")
    if isinstance(claims, dict) and clock:
        at = datetime.fromisoformat(clock.replace("Z", "+00:00")).timestamp()
        got["EXPECTEDEXPIRATIONCHECK"] = claims.get(6, 0) <= at < claims.get(4, 0)
    try:
        signed = CoseSign1.parse(raw, max_bytes=hr1.MAX_INFLATED_BYTES)
    except (cbor.MalformedCBOR, MalformedCOSE, KeyMaterialError):
        got["EXPECTEDVERIFY"] = False
        return got
    try:
        key = read_certificate(base64.b64decode(case["TESTCTX"]["CERTIFICATE"])).key
    except KeyMaterialError:
        return got  # UNJUDGED
    got["EXPECTEDVERIFY"] = signed.verify_with(key)
    return got


@pytest.mark.parametrize("path", CASES, ids=CASE_IDS)
def test_dcc_case(path: Path) -> None:
    case_id = f"{path.parent.name}/{path.stem}"
    case = load(path)
    expected = {k: v for k, v in case["EXPECTEDRESULTS"].items() if k not in NOT_APPLICABLE}
    got = layers(case)
    if case_id in DIFFERENT:
        assert expected.get("EXPECTEDVERIFY") is True and got["EXPECTEDVERIFY"] is False
        expected.pop("EXPECTEDVERIFY")
    expected = {k: v for k, v in expected.items() if (case_id, k) not in UNJUDGED}
    judged = {k: got[k] for k in expected}
    assert judged == expected, case["TESTCTX"].get("DESCRIPTION")


def test_every_expectation_is_judged_or_declared() -> None:
    """No expectation is skipped silently: each is judged by a layer, NOT_APPLICABLE, or
    UNJUDGED with its reason."""
    unjudged = set()
    for path in CASES:
        case, got = load(path), layers(load(path))
        for k in case["EXPECTEDRESULTS"]:
            if k not in NOT_APPLICABLE and k not in got:
                unjudged.add((f"{path.parent.name}/{path.stem}", k))
    assert unjudged == set(UNJUDGED)


@pytest.mark.parametrize("case_id", [c for c in DIFFERENT if not c.endswith(("CO1", "CO2"))])
def test_refused_headers_still_carry_signatures_huren_can_check(case_id: str) -> None:
    """Where huren refuses the header placement, its Sig_structure and raw r||s verification
    agree with the DCC that the signature itself is good."""
    case = load(DCC / f"{case_id}.json")
    tag = cbor2.loads(bytes.fromhex(case["COSE"]))
    protected, _, payload, signature = tag.value
    key = read_certificate(base64.b64decode(case["TESTCTX"]["CERTIFICATE"])).key
    assert key.verify(signature, sig_structure(protected, payload))


def test_the_dcc_vectors_are_here() -> None:
    assert len(CASES) == 42 and (DCC / "LICENSE").is_file()
