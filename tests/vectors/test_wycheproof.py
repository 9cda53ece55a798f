"""Wycheproof (C2SP/wycheproof, Apache-2.0) against huren's own verify methods.

Every "invalid" case must be rejected and every "valid" case accepted; "acceptable" may go either
way. Keys are built from the vector's raw public key, never from its JWK (whose kid is "none")."""

from __future__ import annotations

from collections import Counter
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from keys import EcP256PublicKey, Ed25519PublicKey, PublicKey
from tests.support.vectors import load_json


def _ec_key(group: dict[str, Any]) -> PublicKey:
    point = bytes.fromhex(group["publicKey"]["uncompressed"])
    return EcP256PublicKey(ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point))


def _ed_key(group: dict[str, Any]) -> PublicKey:
    raw = bytes.fromhex(group["publicKey"]["pk"])
    return Ed25519PublicKey(ed25519.Ed25519PublicKey.from_public_bytes(raw))


def _run(doc: dict[str, Any], make_key: Any, convert: Any = None) -> Counter[str]:
    """Check every case; return counts. `convert` maps a vector signature to our form or None."""
    counts: Counter[str] = Counter()
    wrong: list[str] = []
    for group in doc["testGroups"]:
        try:
            key = make_key(group)
        except ValueError:
            counts["skipped_groups"] += 1
            counts["skipped_cases"] += len(group["tests"])
            continue
        for case in group["tests"]:
            sig = bytes.fromhex(case["sig"])
            if convert is not None:
                sig = convert(sig)
                if sig is None:
                    counts[f"not_applicable_{case['result']}"] += 1
                    continue
            accepted = key.verify(sig, bytes.fromhex(case["msg"]))
            counts[f"{case['result']}_{'accepted' if accepted else 'rejected'}"] += 1
            if case["result"] == "valid" and not accepted:
                wrong.append(f"tcId {case['tcId']} valid but rejected: {case['comment']}")
            if case["result"] == "invalid" and accepted:
                wrong.append(f"tcId {case['tcId']} INVALID BUT ACCEPTED: {case['comment']}")
    assert not wrong, "\n".join(wrong)
    total = sum(len(g["tests"]) for g in doc["testGroups"])
    assert total == doc["numberOfTests"]
    return counts


def test_ecdsa_p256_sha256_p1363() -> None:
    doc = load_json("wycheproof", "ecdsa_secp256r1_sha256_p1363_test.json")
    assert doc["algorithm"] == "ECDSA"
    counts = _run(doc, _ec_key)
    assert counts["skipped_groups"] == 0
    assert counts["valid_accepted"] > 100
    assert counts["invalid_rejected"] > 50
    tested = sum(v for k, v in counts.items() if not k.startswith("skipped"))
    assert tested == doc["numberOfTests"]


def test_ed25519() -> None:
    doc = load_json("wycheproof", "ed25519_test.json")
    assert doc["algorithm"] == "EDDSA"
    counts = _run(doc, _ed_key)
    assert counts["valid_accepted"] > 50
    assert counts["invalid_rejected"] > 50
    tested = sum(v for k, v in counts.items() if not k.startswith("skipped"))
    assert tested + counts["skipped_cases"] == doc["numberOfTests"]


def _der_to_raw(der: bytes) -> bytes | None:
    """Strict DER ECDSA-Sig-Value to r||s; None where the case only tests DER encoding."""
    try:
        r, s = decode_dss_signature(der)
    except ValueError:
        return None
    if encode_dss_signature(r, s) != der or not (0 <= r < 2**256 and 0 <= s < 2**256):
        return None
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def test_ecdsa_p256_sha256_der_cases_as_raw() -> None:
    """The DER file mostly tests ASN.1 parsing, which our r||s API does not do. The cases whose
    DER is canonical and whose r, s fit 32 bytes still test the arithmetic: convert them."""
    doc = load_json("wycheproof", "ecdsa_secp256r1_sha256_test.json")
    counts = _run(doc, _ec_key, _der_to_raw)
    assert counts["valid_accepted"] > 100
    assert counts["invalid_rejected"] > 50
    assert counts.get("not_applicable_valid", 0) == 0, "every valid DER case must convert"


def test_raw_signature_wrong_lengths_rejected() -> None:
    doc = load_json("wycheproof", "ecdsa_secp256r1_sha256_p1363_test.json")
    group = doc["testGroups"][0]
    key = _ec_key(group)
    case = next(c for c in group["tests"] if c["result"] == "valid")
    sig, msg = bytes.fromhex(case["sig"]), bytes.fromhex(case["msg"])
    assert key.verify(sig, msg)
    assert not key.verify(b"\x00" + sig, msg)
    assert not key.verify(sig[:-1], msg)
    assert not key.verify(sig + b"\x00", msg)
    assert not key.verify(bytes(64), msg)
    assert not key.verify(b"", msg)
