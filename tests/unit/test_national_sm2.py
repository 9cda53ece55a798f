"""SM2 (keys/sm2.py), X.509 (keys/x509.py) and SM2 keys in trust lists.

Vectors: ../shared/vectors/sm2 (GB/T 32918.2 Annex A.2 and OpenSSL's evppkey_sm2.txt) and the
ofdrw test PKI (tests/data/national, exported from ../shared/vectors/ofdrw/keys)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from issuing.national import certificate_chain, make_certificate
from keys import (
    ALLOWED_ALGORITHMS,
    CompactJWS,
    KeyMaterialError,
    MalformedJWS,
    UnsupportedAlgorithm,
    public_key_from_jwk,
    require_allowed,
    require_key_algorithm,
)
from keys import sm2_algorithm as sm2mod
from keys.algorithms import is_sm3_digest, require_ses_signature_oid
from keys.encoding import b64url_encode
from keys.sm2 import (
    DEFAULT_ID,
    Sm2PrivateKey,
    Sm2PublicKey,
    Sm2Unavailable,
    Sm2Verifier,
    decode_signature,
    encode_signature,
    parse_point,
    raw_to_der,
    za,
)
from keys.x509 import Certificate, CertificateError, ChainError, SignatureCache, build_chain
from tests.support.national_world import cert, key
from tests.support.vectors import load_json
from trust_lists.model import ServiceKey

SM2_VECTORS = load_json("sm2", "gbt32918_and_openssl_sm2_vectors.json")["tests"]


def _vector(tc: int) -> dict[str, Any]:
    return next(t for t in SM2_VECTORS if t["tcId"] == tc)


# ------------------------------------------------------------------ the SM2 vectors


def test_gbt32918_annex_a2_za_and_signature() -> None:
    t = _vector(1)
    point = bytes.fromhex(t["public_key_hex"])
    assert za(point, t["id_ascii"].encode()).hex().upper() == t["ZA_hex"]
    sig = encode_signature(int(t["r_hex"], 16), int(t["s_hex"], 16))
    v = Sm2Verifier(point)
    assert v.verify(sig, bytes.fromhex(t["message_hex"])) is t["expected_valid"]
    # The same through an explicit (default) id and through the digest path.
    assert v.verify(sig, b"message digest", uid=DEFAULT_ID)
    e = sm2mod.sm3(za(point) + b"message digest")
    assert v.verify_digest(sig, e)
    # Any change fails.
    assert not v.verify(sig, b"message digesT")
    assert not v.verify(
        encode_signature(int(t["r_hex"], 16), int(t["s_hex"], 16) ^ 1), b"message digest"
    )
    assert not v.verify(sig, b"message digest", uid=b"ALICE123@YAHOO.COM")


@pytest.mark.parametrize("tc", [2, 3])
def test_openssl_prehashed_vectors(tc: int) -> None:
    t = _vector(tc)
    v = Sm2Verifier(bytes.fromhex(t["public_key_hex"]))
    sig = bytes.fromhex(t["signature_der_hex"])
    e = bytes.fromhex(t["digest_e_hex"])
    assert v.verify_digest(sig, e) is True
    assert v.verify_digest(sig, bytes(32)) is False


def test_openssl_sha512_digest_is_refused() -> None:
    """tcId 4: a 64-byte digest. SM2 is used with SM3 alone here, so it is refused."""
    t = _vector(4)
    v = Sm2Verifier(bytes.fromhex(t["public_key_hex"]))
    assert (
        v.verify_digest(bytes.fromhex(t["signature_der_hex"]), bytes.fromhex(t["digest_e_hex"]))
        is False
    )


def test_non_default_id_goes_through_za() -> None:
    k = Sm2PrivateKey.generate()
    sig = k.sign(b"data")
    v = Sm2Verifier(k.point)
    assert v.verify(sig, b"data")
    assert not v.verify(sig, b"data", uid=b"another id")


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\x30\x00",
        bytes.fromhex("3006020100020101"),  # r = 0
        bytes.fromhex("300602010102010100"),  # trailing byte
        bytes.fromhex("300702020001020101"),  # non-minimal r
        bytes.fromhex("3006020181020101"),  # negative r
        b"\x30\x81\x06" + bytes.fromhex("020101020101"),  # long-form length for a short value
    ],
)
def test_malformed_signatures_are_false(bad: bytes) -> None:
    with pytest.raises(ValueError):
        decode_signature(bad)
    assert Sm2Verifier(bytes.fromhex(_vector(1)["public_key_hex"])).verify(bad, b"x") is False


def test_s_equal_to_n_is_refused() -> None:
    with pytest.raises(ValueError):
        decode_signature(encode_signature(1, sm2mod.N))


def test_raw_signature_form() -> None:
    t = _vector(1)
    raw = bytes.fromhex(t["r_hex"] + t["s_hex"])
    assert decode_signature(raw_to_der(raw)) == (int(t["r_hex"], 16), int(t["s_hex"], 16))
    with pytest.raises(ValueError):
        raw_to_der(raw[:63])


@pytest.mark.parametrize(
    "point",
    [
        b"\x04" + b"\x00" * 64,
        b"\x02" + b"\x11" * 32,
        bytes.fromhex(_vector(1)["public_key_hex"])[:-1] + b"\x00",
        b"\x04" + (sm2mod.P).to_bytes(32, "big") + b"\x00" * 32,
    ],
)
def test_points_off_the_curve_are_refused(point: bytes) -> None:
    with pytest.raises(KeyMaterialError):
        parse_point(point)


def test_missing_backend_raises_never_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> None:
        raise Sm2Unavailable("no backend")

    monkeypatch.setattr(sm2mod, "backend", unavailable)
    v = Sm2Verifier(bytes.fromhex(_vector(1)["public_key_hex"]))
    t = _vector(1)
    with pytest.raises(Sm2Unavailable):
        v.verify(encode_signature(int(t["r_hex"], 16), int(t["s_hex"], 16)), b"message digest")
    assert sm2mod.backend_available() is False


# ------------------------------------------------------------------ algorithms


def test_sm2_is_a_key_algorithm_but_never_a_jws_algorithm() -> None:
    assert "SM2" not in ALLOWED_ALGORITHMS
    assert require_key_algorithm("SM2") == "SM2"
    with pytest.raises(UnsupportedAlgorithm):
        require_allowed("SM2")
    header = b64url_encode(b'{"alg":"SM2","kid":"k","typ":"x"}')
    with pytest.raises((UnsupportedAlgorithm, MalformedJWS)):
        CompactJWS.parse(f"{header}.{b64url_encode(b'{}')}.{b64url_encode(b'sig')}", max_bytes=4096)


def test_signature_and_digest_identifiers() -> None:
    assert require_ses_signature_oid("1.2.156.10197.1.501") == "SM2"
    for bad in ("1.2.156.10197.1.301.1", "1.2.840.10045.4.3.2", "", None):
        with pytest.raises(UnsupportedAlgorithm):
            require_ses_signature_oid(bad)
    assert is_sm3_digest("SM3") and is_sm3_digest("1.2.156.10197.1.401")
    assert not is_sm3_digest("1.2.156.10197.1.401.2")  # keyed SM3
    assert not is_sm3_digest("MD5") and not is_sm3_digest(None)


# ------------------------------------------------------------------ certificates


def test_ofdrw_pki_parses_and_chains() -> None:
    root, user, builder = cert("ROOT"), cert("USER"), cert("SealBuilder")
    assert root.is_ca is True and root.self_issued
    assert user.is_ca is False and user.issuer == root.subject
    assert user.signed_by(root) and builder.signed_by(root) and root.signed_by(root)
    assert not user.signed_by(builder)
    when = datetime(2021, 1, 1, tzinfo=UTC)
    assert build_chain(builder, [root], when) == [builder, root]
    assert build_chain(builder, [builder], when) == [builder]
    with pytest.raises(ChainError):
        build_chain(builder, [user], when)  # names do not match
    with pytest.raises(ChainError):
        build_chain(builder, [root], datetime(2031, 1, 1, tzinfo=UTC))  # the anchor expired


def test_chain_refuses_forged_issuer_name() -> None:
    """A certificate naming ROOT as issuer but signed by another key has no path."""
    forger = Sm2PrivateKey.generate()
    victim = Sm2PrivateKey.generate()
    root = cert("ROOT")
    fake = make_certificate(
        issuer_key=forger,
        issuer_certificate=root.der,
        subject={"common_name": "fake maker", "country_name": "CN"},
        subject_point=victim.point,
        not_before=datetime(2021, 1, 1, tzinfo=UTC),
        not_after=datetime(2022, 1, 1, tzinfo=UTC),
        serial=7,
    )
    c = Certificate.parse(fake)
    assert c.issuer_der == root.subject_der
    with pytest.raises(ChainError):
        build_chain(c, [root], datetime(2021, 6, 1, tzinfo=UTC))


def test_chain_through_an_intermediate_ca() -> None:
    t0 = datetime(2021, 1, 1, tzinfo=UTC)
    (_, root), (_, mid), (_, leaf) = certificate_chain(
        ["root", "mid", "leaf"], not_before=t0, not_after=t0 + timedelta(days=3650)
    )
    r, m, lf = (Certificate.parse(x) for x in (root, mid, leaf))
    assert build_chain(lf, [r], t0 + timedelta(days=1), [m]) == [lf, m, r]
    with pytest.raises(ChainError):
        build_chain(lf, [r], t0 + timedelta(days=1))  # no intermediate given
    cache = SignatureCache()
    build_chain(lf, [r], t0 + timedelta(days=1), [m], verified=cache)
    assert len(cache) == 2
    assert cache.get((lf.sha256, m.sha256)) is True and cache.get((m.sha256, r.sha256)) is True


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d + b"\x00",
        lambda d: d[:-5],
        lambda d: b"",
        lambda d: b"\x30" + d[1:30],
    ],
)
def test_malformed_certificates(mutate: Any) -> None:
    with pytest.raises(CertificateError):
        Certificate.parse(mutate(cert("USER").der))


def test_lenient_names_of_real_certificates() -> None:
    """A third-party certificate whose subjectAltName does not parse is still usable."""
    from tests.support.national_world import third_party_makers

    makers = third_party_makers()
    assert "国家税务总局电子印章测试系统" in makers["tax"].subject
    assert makers["hebei"].is_ca is False


# ------------------------------------------------------------------ SM2 keys in trust lists


def test_sm2_jwk_with_certificate_round_trips() -> None:
    k = Sm2PublicKey.from_certificate(cert("ROOT"))
    jwk = k.to_jwk()
    assert jwk["kty"] == "EC" and jwk["crv"] == "SM2" and jwk["alg"] == "SM2"
    assert base64.b64decode(jwk["x5c"][0]) == cert("ROOT").der
    back = public_key_from_jwk(jwk)
    assert isinstance(back, Sm2PublicKey) and back.certificate == cert("ROOT")
    assert back.kid == k.kid == Sm2PublicKey(cert("ROOT").public_point).kid
    sk = ServiceKey.from_dict(
        {"jwk": jwk, "history": [{"status": "granted", "from": "2020-01-01T00:00:00Z"}]}, "k"
    )
    assert sk.to_dict()["jwk"] == jwk


def test_sm2_jwk_without_certificate() -> None:
    k = key("USER").public_key
    back = public_key_from_jwk(k.to_jwk())
    assert back == k and isinstance(back, Sm2PublicKey) and back.certificate is None
    assert back.verify(key("USER").sign(b"abc"), b"abc")


@pytest.mark.parametrize(
    "change",
    [
        {"x5c": []},
        {"x5c": ["a", "b"]},
        {"x5c": "MIIB"},
        {"x5c": ["!!!"]},
        {"x5c": [base64.b64encode(b"\x30\x03\x02\x01\x01").decode()]},
        {"alg": "ES256"},
        {"crv": "sm2"},
    ],
)
def test_bad_sm2_jwks_are_refused(change: dict[str, Any]) -> None:
    jwk = {**Sm2PublicKey.from_certificate(cert("ROOT")).to_jwk(), **change}
    with pytest.raises(KeyMaterialError):
        public_key_from_jwk(jwk)


def test_x5c_must_hold_the_jwk_key() -> None:
    jwk = Sm2PublicKey.from_certificate(cert("ROOT")).to_jwk()
    other = Sm2PublicKey(cert("USER").public_point).to_jwk()
    jwk["x"], jwk["y"] = other["x"], other["y"]
    jwk.pop("kid")
    with pytest.raises(KeyMaterialError, match="does not hold"):
        public_key_from_jwk(jwk)


def test_x5c_is_refused_on_other_key_types() -> None:
    from keys import ES256, SigningKey

    jwk = {**SigningKey.generate(ES256).public_key.to_jwk(), "x5c": ["MIIB"]}
    with pytest.raises(KeyMaterialError, match="unsupported JWK members"):
        public_key_from_jwk(jwk)


def test_private_key_pem_round_trip() -> None:
    k = Sm2PrivateKey.generate()
    again = Sm2PrivateKey.from_pem(k.to_pem())
    assert again.point == k.point
    assert "PRIVATE" not in repr(k)
    with pytest.raises(KeyMaterialError):
        Sm2PrivateKey.from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
