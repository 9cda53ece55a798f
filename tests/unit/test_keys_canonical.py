"""One public key, one JWK (GitHub issue 19, finding 5): a JWK is accepted only as the one
canonical encoding of its key, so its RFC 7638 kid names the key, and thresholds count keys.

P-256: both coordinates exactly 32 bytes and below the field prime p, the point on the curve
(OpenSSL reduces x + p to x: the same point under a second kid). Ed25519: 32 bytes, y below p,
a point on the curve, not of small order. SM2: as P-256 with its own prime."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import (
    ES256,
    EcP256PublicKey,
    GeneralJWS,
    KeyMaterialError,
    SigningKey,
    b64url_decode,
    b64url_encode,
    canonical_json,
    public_key_from_jwk,
)
from keys import public as key_types
from keys.jws import JWSSignature
from keys.sm2 import A as SM2_A
from keys.sm2 import B as SM2_B
from keys.sm2 import P as SM2_P

P256_P = 2**256 - 2**224 + 2**192 + 2**96 - 1
P256_A = P256_P - 3
P256_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
ED_P = 2**255 - 19


def _b64(value: int, size: int = 32, order: str = "big") -> str:
    return b64url_encode(value.to_bytes(size, order))  # type: ignore[arg-type]


def ec_jwk(x: int, y: int, crv: str = "P-256", size: int = 32) -> dict[str, str]:
    return {"kty": "EC", "crv": crv, "x": _b64(x, size), "y": _b64(y, size)}


def point_with_x(x: int, p: int, a: int, b: int) -> int | None:
    """y of a point with this x on y^2 = x^3 + ax + b (p = 3 mod 4), or None."""
    rhs = (x**3 + a * x + b) % p
    y = pow(rhs, (p + 1) // 4, p)
    return y if y * y % p == rhs else None


def small_x_point(p: int, a: int, b: int, start: int = 1) -> tuple[int, int]:
    """A point whose x is small enough that x + p still fits in 32 bytes."""
    x = start
    while (y := point_with_x(x, p, a, b)) is None:
        x += 1
    return x, y


def reserialised(jwk: dict[str, str]) -> bytes:
    return canonical_json(public_key_from_jwk(jwk).to_jwk())


# -- finding 5: x + p -------------------------------------------------------------------------


def test_p256_x_plus_p_is_refused() -> None:
    x, y = small_x_point(P256_P, P256_A, P256_B)
    key = public_key_from_jwk(ec_jwk(x, y))
    with pytest.raises(KeyMaterialError, match="below the P-256 field prime"):
        public_key_from_jwk(ec_jwk(x + P256_P, y))
    # Why: the backend reduces x + p to x, so the refused JWK was this very point, whose kid
    # (taken from the strings) would have differed.
    reduced = ec.EllipticCurvePublicNumbers(x + P256_P, y, ec.SECP256R1()).public_key()
    assert reduced.public_numbers() == key.crypto_key.public_numbers()  # type: ignore[attr-defined]


def test_sm2_x_plus_p_is_refused() -> None:
    x, y = small_x_point(SM2_P, SM2_A, SM2_B)
    public_key_from_jwk(ec_jwk(x, y, "SM2"))
    with pytest.raises(KeyMaterialError, match="not on the SM2 curve"):
        public_key_from_jwk(ec_jwk(x + SM2_P, y, "SM2"))


def test_one_key_under_two_kids_counts_once_towards_a_threshold() -> None:
    """A second kid for one public key (what x + p gave) adds nothing to a threshold. The alias
    is built past the parser, as a key type with a careless parser would build it."""
    signer = SigningKey.generate(ES256)
    key = signer.public_key
    assert isinstance(key, EcP256PublicKey)
    members = key.thumbprint_members()
    alias = EcP256PublicKey(key.crypto_key, (members["x"], members["y"] + "A"))
    assert alias.kid != key.kid and alias.identity == key.identity == key.kid
    assert alias == key and len({alias, key}) == 1
    envelope = GeneralJWS.sign(b'{"a":1}', [signer], typ="t")
    (sig,) = envelope.signatures
    header = {**sig.header, "kid": alias.kid}
    protected = b64url_encode(canonical_json(header))
    twin = JWSSignature(protected, header, b"")
    twin = dataclasses.replace(twin, signature=signer.sign(envelope.signing_input(twin)))
    both = dataclasses.replace(envelope, signatures=(sig, twin))
    keys = {key.kid: key, alias.kid: alias}
    assert alias.verify(twin.signature, both.signing_input(twin))  # a valid signature...
    assert len(both.verified_kids(keys)) == 1  # ...by a key already counted


# -- every other encoding refused ---------------------------------------------------------------


def test_p256_coordinates_of_other_lengths_are_refused() -> None:
    key = SigningKey.generate(ES256).public_key.to_jwk()
    x = int.from_bytes(b64url_decode(key["x"]), "big")
    y = int.from_bytes(b64url_decode(key["y"]), "big")
    with pytest.raises(KeyMaterialError, match="must be 32 bytes"):
        public_key_from_jwk(ec_jwk(x, y, size=33))  # a leading zero byte
    short_x, short_y = small_x_point(P256_P, P256_A, P256_B)
    with pytest.raises(KeyMaterialError, match="must be 32 bytes"):
        public_key_from_jwk(
            {"kty": "EC", "crv": "P-256", "x": _b64(short_x, 31), "y": _b64(short_y)}
        )
    with pytest.raises(KeyMaterialError, match="not on P-256"):
        public_key_from_jwk(ec_jwk(x, (y + 1) % P256_P))


def test_ed25519_non_canonical_y_is_refused() -> None:
    """y + p for y = 2..18 (0 and 1 are small order) fits in 255 bits: a second encoding."""
    for y in range(2, 19):
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64(ED_P + y, order="little")}
        with pytest.raises(KeyMaterialError, match=r"not canonically encoded|small order"):
            public_key_from_jwk(jwk)


def test_ed25519_off_curve_y_is_refused() -> None:
    y = 2
    while key_types._ed25519_has_x(y):
        y += 1
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64(y, order="little")}
    with pytest.raises(KeyMaterialError, match="not a point on the curve"):
        public_key_from_jwk(jwk)


# -- properties -----------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.integers(1, P256_N - 1))
def test_every_accepted_p256_jwk_reserialises_byte_identical(d: int) -> None:
    nums = ec.derive_private_key(d, ec.SECP256R1()).public_key().public_numbers()
    jwk = ec_jwk(nums.x, nums.y)
    key = public_key_from_jwk(jwk)
    assert key.identity == key.kid
    again = key.to_jwk()
    assert {k: again[k] for k in jwk} == jwk
    assert reserialised(again) == canonical_json(again)


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_every_accepted_ed25519_jwk_reserialises_byte_identical(seed: bytes) -> None:
    pub = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(pub)}
    key = public_key_from_jwk(jwk)
    assert key.identity == key.kid and key.to_jwk()["x"] == jwk["x"]
    assert reserialised(key.to_jwk()) == canonical_json(key.to_jwk())


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**224 - 2**192), st.booleans())
def test_p256_x_plus_p_never_accepted(start: int, on_curve: bool) -> None:
    x, y = small_x_point(P256_P, P256_A, P256_B, start) if on_curve else (start, 1)
    if x + P256_P >= 2**256:
        return
    with pytest.raises(KeyMaterialError):
        public_key_from_jwk(ec_jwk(x + P256_P, y))


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_any_32_bytes_as_ed25519_either_refused_or_canonical(raw: bytes) -> None:
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
    y = int.from_bytes(raw, "little") & (2**255 - 1)
    try:
        key = public_key_from_jwk(jwk)
    except KeyMaterialError:
        assert (
            y >= ED_P
            or not key_types._ed25519_has_x(y)
            or y % ED_P in key_types._ED25519_SMALL_ORDER_Y
        )
        return
    assert y < ED_P and key_types._ed25519_has_x(y)
    assert key.identity == key.kid and key.to_jwk()["x"] == jwk["x"]
