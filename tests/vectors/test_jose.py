"""JOSE examples from RFC 7515 A.3, RFC 8037 and RFC 7520 (ietf-jose/cookbook, public domain).

The RFC tokens carry no kid, and huren's strict parser demands one (keys come only from a trust
list, looked up by kid), so the published compact tokens must be REJECTED by CompactJWS.parse;
their signatures are still checked with the project's own verify over the signing input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from keys import (
    CompactJWS,
    EcP256PublicKey,
    Ed25519PublicKey,
    GeneralJWS,
    KeyMaterialError,
    MalformedJWS,
    SigningKey,
    UnsupportedAlgorithm,
    b64url_decode,
    public_key_from_jwk,
    sign_compact,
    strict_json_loads,
)
from tests.support.vectors import load_json

COOKBOOK = ("jose", "ietf-jose-cookbook")
MAX = 64 * 1024


def _public_jwk(jwk: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in jwk.items() if k in {"kty", "crv", "x", "y"}}


# ---------------------------------------------------------------- RFC 8037 Ed25519


@pytest.fixture(scope="module")
def rfc8037() -> dict[str, Any]:
    doc: dict[str, Any] = load_json(*COOKBOOK, "curve25519", "jws.json")
    return doc


def test_rfc8037_thumbprint(rfc8037: dict[str, Any]) -> None:
    jwk = rfc8037["input"]["key"]
    key = public_key_from_jwk(_public_jwk(jwk))
    assert isinstance(key, Ed25519PublicKey)
    # RFC 8037 appendix A.3
    assert key.kid == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_rfc8037_signature_verifies_and_is_reproduced(rfc8037: dict[str, Any]) -> None:
    jwk = rfc8037["input"]["key"]
    key = public_key_from_jwk(_public_jwk(jwk))
    signing_input = rfc8037["signing"]["sig-input"].encode("ascii")
    sig = b64url_decode(rfc8037["signing"]["sig"])
    assert key.verify(sig, signing_input)
    assert not key.verify(sig, signing_input + b"x")
    # Ed25519 is deterministic: our SigningKey reproduces the published signature exactly.
    private = SigningKey(ed25519.Ed25519PrivateKey.from_private_bytes(b64url_decode(jwk["d"])))
    assert private.kid == key.kid
    assert private.sign(signing_input) == sig
    compact = rfc8037["output"]["compact"]
    assert compact == signing_input.decode() + "." + rfc8037["signing"]["sig"]


def test_rfc8037_compact_rejected_for_missing_kid(rfc8037: dict[str, Any]) -> None:
    with pytest.raises(MalformedJWS, match="kid"):
        CompactJWS.parse(rfc8037["output"]["compact"], max_bytes=MAX, typ=None)


def test_rfc8037_general_json_rejected_for_missing_kid(rfc8037: dict[str, Any]) -> None:
    data = json.dumps(rfc8037["output"]["json"]).encode()
    with pytest.raises(MalformedJWS, match="kid"):
        GeneralJWS.parse(data, max_bytes=MAX, typ="x")
    flat = json.dumps(rfc8037["output"]["json_flat"]).encode()
    with pytest.raises(MalformedJWS):
        GeneralJWS.parse(flat, max_bytes=MAX, typ="x")


def test_rfc8037_key_with_kid_round_trip(rfc8037: dict[str, Any]) -> None:
    jwk = rfc8037["input"]["key"]
    private = SigningKey(ed25519.Ed25519PrivateKey.from_private_bytes(b64url_decode(jwk["d"])))
    payload = rfc8037["input"]["payload"].encode()
    token = sign_compact(payload, private, typ="example")
    parsed = CompactJWS.parse(token, max_bytes=MAX, typ=None)
    assert parsed.kid == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    assert parsed.payload == payload
    key = public_key_from_jwk({**_public_jwk(jwk), "kid": parsed.kid, "alg": "EdDSA", "use": "sig"})
    assert parsed.verify_with(key)
    with pytest.raises(MalformedJWS, match="typ"):
        CompactJWS.parse(token, max_bytes=MAX, typ="licence+jwt")


def test_rfc8037_private_jwk_refused_as_public(rfc8037: dict[str, Any]) -> None:
    with pytest.raises(KeyMaterialError, match="private"):
        public_key_from_jwk(rfc8037["input"]["key"])


# ---------------------------------------------------------------- RFC 7515 A.3 ES256


@pytest.fixture(scope="module")
def rfc7515_a3() -> dict[str, Any]:
    doc: dict[str, Any] = load_json("jose", "rfc7515_A3_es256.json")
    return doc


def test_rfc7515_a3_compact_rejected_for_missing_kid(rfc7515_a3: dict[str, Any]) -> None:
    with pytest.raises(MalformedJWS, match="kid"):
        CompactJWS.parse(rfc7515_a3["compact"], max_bytes=MAX, typ=None)


def test_rfc7515_a3_raw_signature_verifies(rfc7515_a3: dict[str, Any]) -> None:
    key = public_key_from_jwk(rfc7515_a3["jwk_public"])
    assert isinstance(key, EcP256PublicKey)
    signing_input = (rfc7515_a3["protected_b64u"] + "." + rfc7515_a3["payload_b64u"]).encode()
    assert rfc7515_a3["compact"].startswith(signing_input.decode() + ".")
    sig = b64url_decode(rfc7515_a3["signature_b64u"])
    assert len(sig) == 64
    assert key.verify(sig, signing_input) is rfc7515_a3["expected_signature_valid"] is True
    tampered = bytearray(sig)
    tampered[5] ^= 1
    assert not key.verify(bytes(tampered), signing_input)
    assert not key.verify(sig, signing_input[:-1])
    # The same key through cryptography's point decoder gives the same kid.
    x = b64url_decode(rfc7515_a3["jwk_public"]["x"])
    y = b64url_decode(rfc7515_a3["jwk_public"]["y"])
    point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + x + y)
    assert EcP256PublicKey(point).kid == key.kid


def test_rfc7515_a3_payload_expired_in_2011(rfc7515_a3: dict[str, Any]) -> None:
    claims = strict_json_loads(b64url_decode(rfc7515_a3["payload_b64u"]), max_bytes=MAX)
    assert claims == {"iss": "joe", "exp": 1300819380, "http://example.com/is_root": True}
    exp = datetime.fromtimestamp(claims["exp"], UTC)
    assert exp.year == 2011
    assert exp < datetime.now(UTC)


def test_rfc7515_a3_key_signs_our_form(rfc7515_a3: dict[str, Any]) -> None:
    d = int.from_bytes(b64url_decode(rfc7515_a3["jwk_private"]["d"]), "big")
    private = SigningKey(ec.derive_private_key(d, ec.SECP256R1()))
    public = public_key_from_jwk(rfc7515_a3["jwk_public"])
    assert private.kid == public.kid
    token = sign_compact({"iss": "joe"}, private, typ="example")
    parsed = CompactJWS.parse(token, max_bytes=MAX, typ="example")
    assert parsed.verify_with(public)
    assert parsed.payload_json(MAX) == {"iss": "joe"}


# ---------------------------------------------------------------- RFC 7520 (not allowed here)


def test_rfc7520_es512_rejected() -> None:
    doc = load_json(*COOKBOOK, "jws", "4_3.ecdsa_signature.json")
    with pytest.raises(UnsupportedAlgorithm):
        CompactJWS.parse(doc["output"]["compact"], max_bytes=MAX, typ=None)
    with pytest.raises(KeyMaterialError):
        public_key_from_jwk(load_json(*COOKBOOK, "jwk", "3_1.ec_public_key.json"))


def test_rfc7520_multiple_signatures_rejected() -> None:
    doc = load_json(*COOKBOOK, "jws", "4_8.multiple_signatures.json")
    with pytest.raises(MalformedJWS):
        GeneralJWS.parse(json.dumps(doc["output"]["json"]).encode(), max_bytes=MAX, typ="x")
