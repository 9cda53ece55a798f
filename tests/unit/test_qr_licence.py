"""The QR form of a licence (HR1:, docs/formats.md): round trips for every demo licence type in
ES256 and EdDSA, the same verdicts as the JWS form, and a hostile corpus for each new layer
(prefix, base45, zlib, CBOR, COSE, CWT claims) that never passes and never raises."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import base45
import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demo.world import (
    BUSINESS_LICENCE,
    CITY,
    FOOD_BUSINESS_PERMIT,
    FOOD_PRODUCTION_LICENCE,
    IDX_REVOKED,
    IDX_SUSPENDED,
    SHENZHEN,
    ZHONGSHAN,
    DemoWorld,
)
from issuing.licences import licence_claims
from issuing.qr import issue_licence_qr, licence_qr, qr_from_jws
from keys import EDDSA, SigningKey, b64url_decode
from keys import cbor as strict_cbor
from keys.cose import CoseSign1, sig_structure
from tests.support.qr_support import b45_both
from tests.support.verifier_support import deciding_code, describe, next_list, store_with
from trust_lists.authoring import add_key
from verifier import Verifier, hr1
from verifier.verdict import Indication, SubIndication

F, IND, P = Indication.FAILED, Indication.INDETERMINATE, Indication.PASSED
QR_FORMAT_CODES = (
    "format.size",
    "format.qr_prefix",
    "format.qr_encoding",
    "format.qr_compression",
    "format.cbor",
    "format.cose",
    "format.typ",
    "format.claims",
)


# -- building QR licences, right and wrong -------------------------------------------------------


def claims(w: DemoWorld, code: str = SHENZHEN, **overrides: Any) -> dict[str, Any]:
    return licence_claims(**w.licence_fields(code, **overrides))


def protected(key: SigningKey, **extra: Any) -> dict[int, Any]:
    return {
        1: -7 if key.alg == "ES256" else -8,
        4: b64url_decode(key.kid),
        16: hr1.LICENCE_CWT_TYP,
        **extra,
    }


def cose_bytes(
    key: SigningKey,
    payload: bytes,
    *,
    header: dict[int, Any] | bytes | None = None,
    unprotected: dict[int, Any] | None = None,
    tag: bool = True,
    signature: bytes | None = None,
) -> bytes:
    """A COSE_Sign1 of exactly these parts, signed over them by `key` (unless `signature`)."""
    prot = header if isinstance(header, bytes) else cbor2.dumps(header or protected(key))
    sig = signature if signature is not None else key.sign(sig_structure(prot, payload))
    body = [prot, unprotected or {}, payload, sig]
    return cbor2.dumps(cbor2.CBORTag(18, body) if tag else body)


def qr(key: SigningKey, payload: bytes, **kw: Any) -> str:
    return hr1.wrap(cose_bytes(key, payload, **kw))


def signed_raw_claims(w: DemoWorld, raw_claims: bytes) -> str:
    """CWT claims bytes as given, correctly signed by the Shenzhen issuer."""
    return qr(w.issuer_key(SHENZHEN), raw_claims)


def b45(data: bytes) -> str:
    return "HR1:" + base45.b45encode(data).decode()


def verify(w: DemoWorld, text: str | bytes, **kw: Any) -> Any:
    return w.verifier(**kw).verify_licence_qr(text, ZHONGSHAN)


# -- round trips ---------------------------------------------------------------------------------


def eddsa_world(w: DemoWorld) -> tuple[SigningKey, Any]:
    """An EdDSA key added to the Shenzhen issuer's list, and a store holding that list."""
    key = SigningKey.generate(EDDSA)
    tl = add_key(
        w.trust_lists[SHENZHEN],
        CITY[SHENZHEN].issuer_id,
        key.public_key,
        granted_from=w.now - timedelta(days=60),
    )
    return key, store_with(w, updates=[next_list(w, tl)])


TYPES = [
    (SHENZHEN, BUSINESS_LICENCE),
    (SHENZHEN, FOOD_BUSINESS_PERMIT),
    (SHENZHEN, FOOD_PRODUCTION_LICENCE),
    (ZHONGSHAN, BUSINESS_LICENCE),
    (ZHONGSHAN, FOOD_BUSINESS_PERMIT),
]
# EdDSA: the Shenzhen issuer gets an EdDSA key (eddsa_world); every type it issues.
ROUND_TRIPS = [(c, t, "ES256") for c, t in TYPES] + [
    (c, t, "EdDSA") for c, t in TYPES if c == SHENZHEN
]


@pytest.mark.parametrize(("code", "licence_type", "alg"), ROUND_TRIPS)
def test_round_trip_gives_the_jws_verdict(
    demo_world: DemoWorld, code: str, licence_type: str, alg: str
) -> None:
    w = demo_world
    if alg == "ES256":
        key, store = w.issuer_key(code), w.store()
    else:
        key, store = eddsa_world(w)
    fields = w.licence_fields(code, licence_type=licence_type, data={"经营场所": "深圳市南山区"})
    jws = w.issue_licence(code, key=key, licence_type=licence_type, data=fields["data"])
    text = qr_from_jws(jws, key)
    assert text == text.upper() and text.startswith("HR1:")
    assert issue_licence_qr(key, **fields).startswith("HR1:")
    v = Verifier(store, clock=lambda: w.now)
    for relying in (SHENZHEN, ZHONGSHAN):
        by_qr = v.verify_licence_qr(text, relying)
        by_jws = v.verify_licence(jws, relying)
        assert by_qr.indication == by_jws.indication, describe(by_qr)
        assert by_qr.sub_indication == by_jws.sub_indication
        codes = [c.code for c in by_qr.checks]
        assert codes[: len(QR_FORMAT_CODES)] == list(QR_FORMAT_CODES)
        # After its own format checks, the QR form runs exactly the JWS form's checks.
        jws_after = [(c.code, c.result) for c in by_jws.checks if c.code not in ("format.jws",)]
        qr_after = [(c.code, c.result) for c in by_qr.checks if c.code not in QR_FORMAT_CODES]
        assert qr_after == [x for x in jws_after if x[0] not in QR_FORMAT_CODES]
        assert by_qr.summary == by_jws.summary
    # Issued in its own city, every demo type is recognised there.
    assert v.verify_licence_qr(text, code).indication is P


def test_scanner_line_ending_is_not_part_of_the_text(demo_world: DemoWorld) -> None:
    text = qr_from_jws(demo_world.licence_sz, demo_world.issuer_key(SHENZHEN))
    assert verify(demo_world, text + "\r\n").indication is P
    assert verify(demo_world, text.encode()).indication is P


def test_qr_of_a_licence_needs_the_key_that_signed_it(demo_world: DemoWorld) -> None:
    with pytest.raises(ValueError, match="did not sign"):
        qr_from_jws(demo_world.licence_sz, demo_world.issuer_key(ZHONGSHAN))
    with pytest.raises(ValueError, match="licence claims"):
        licence_qr(demo_world.issuer_key(SHENZHEN), {**claims(demo_world), "jur": "44"})


def test_demo_business_licence_fits_version_20_at_m(demo_world: DemoWorld) -> None:
    from issuing.qr import qr_code

    text = demo_world.samples["licence-sz-business.hr1.txt"].decode().strip()
    code = qr_code(text, "M")
    assert code.version <= 20 and code.error == "M"
    assert demo_world.samples["licence-sz-business.qr.png"].startswith(b"\x89PNG")
    assert b"<svg" in demo_world.samples["licence-zs-food.qr.svg"]


# -- base45: the verifier's decoder against the base45 package -----------------------------------


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
def test_base45_decoder_matches_the_package(data: bytes) -> None:
    assert hr1.b45decode(base45.b45encode(data)) == data


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:a\u00e9", max_size=12))
@settings(max_examples=500, deadline=None)
def test_base45_decoder_refuses_what_the_package_refuses(text: str) -> None:
    raw = text.encode()
    expected, got = b45_both(raw)
    assert got == expected


# -- the hostile corpus --------------------------------------------------------------------------


def _length_3k1(text: str) -> str:
    return text + "0" * ((1 - len(text[4:])) % 3)


def _bomb(w: DemoWorld) -> str:
    return b45(zlib.compress(b"\0" * (2 * 1024 * 1024), 9))


def _zlib(w: DemoWorld, mangle: Callable[[bytes], bytes]) -> str:
    good = cose_bytes(w.issuer_key(SHENZHEN), hr1.claims_to_cwt(claims(w)))
    return b45(mangle(zlib.compress(good, 9)))


def _uncompressed(w: DemoWorld) -> str:
    return b45(cose_bytes(w.issuer_key(SHENZHEN), hr1.claims_to_cwt(claims(w))))


def _good_cwt(w: DemoWorld) -> bytes:
    return hr1.claims_to_cwt(claims(w))


def _cwt_map(w: DemoWorld, extra: list[tuple[bytes, bytes]], *, head: bytes | None = None) -> bytes:
    """The good CWT map bytes with raw (key, value) pairs appended (and the count fixed)."""
    good = _good_cwt(w)
    count = good[0] & 0x1F
    body = good[1:] + b"".join(k + v for k, v in extra)
    return (head if head is not None else bytes([0xA0 | (count + len(extra))])) + body


def _replace_value(w: DemoWorld, key: bytes, old: bytes, new: bytes) -> bytes:
    good = _good_cwt(w)
    assert key + old in good
    return good.replace(key + old, key + new, 1)


def _iat(w: DemoWorld) -> bytes:
    return cbor2.dumps(claims(w)["iat"])


HOSTILE: list[tuple[str, Callable[[DemoWorld], str | bytes], Indication, str]] = [
    # -- size and prefix
    ("empty", lambda w: "", F, "format.qr_prefix"),
    ("too-long", lambda w: "HR1:" + "0" * 5000, F, "format.size"),
    (
        "prefix-dcc",
        lambda w: "HC1:" + qr_from_jws(w.licence_sz, w.issuer_key(SHENZHEN))[4:],
        F,
        "format.qr_prefix",
    ),
    (
        "prefix-lower-case",
        lambda w: "hr1:" + qr_from_jws(w.licence_sz, w.issuer_key(SHENZHEN))[4:],
        F,
        "format.qr_prefix",
    ),
    (
        "prefix-next-version",
        lambda w: "HR2:" + qr_from_jws(w.licence_sz, w.issuer_key(SHENZHEN))[4:],
        F,
        "format.qr_prefix",
    ),
    (
        "prefix-missing",
        lambda w: qr_from_jws(w.licence_sz, w.issuer_key(SHENZHEN))[4:],
        F,
        "format.qr_prefix",
    ),
    ("a-jws-given-as-qr", lambda w: w.licence_sz, F, "format.qr_prefix"),
    (
        "prefix-after-space",
        lambda w: " " + qr_from_jws(w.licence_sz, w.issuer_key(SHENZHEN)),
        F,
        "format.qr_prefix",
    ),
    # -- base45
    (
        "base45-lower-case-letter",
        lambda w: (
            qr_from_jws(w.licence_sz, w.issuer_key(SHENZHEN))[:10]
            + "a"
            + qr_from_jws(w.licence_sz, w.issuer_key(SHENZHEN))[11:]
        ),
        F,
        "format.qr_encoding",
    ),
    (
        "base45-3k+1-length",
        lambda w: _length_3k1(qr_from_jws(w.licence_sz, w.issuer_key(SHENZHEN))),
        F,
        "format.qr_encoding",
    ),
    ("base45-group-above-65535", lambda w: "HR1::::", F, "format.qr_encoding"),
    ("base45-pair-above-255", lambda w: "HR1:::", F, "format.qr_encoding"),
    ("base45-non-ascii", lambda w: "HR1:中文".encode(), F, "format.qr_encoding"),
    ("base45-nul", lambda w: b"HR1:00\x00", F, "format.qr_encoding"),
    # -- zlib
    ("zlib-bomb", _bomb, F, "format.qr_compression"),
    (
        "zlib-trailing-data",
        lambda w: _zlib(w, lambda z: z + b"\x00junk"),
        F,
        "format.qr_compression",
    ),
    (
        "zlib-second-stream",
        lambda w: _zlib(w, lambda z: z + zlib.compress(b"x")),
        F,
        "format.qr_compression",
    ),
    ("zlib-truncated", lambda w: _zlib(w, lambda z: z[:-6]), F, "format.qr_compression"),
    (
        "zlib-bad-checksum",
        lambda w: _zlib(w, lambda z: z[:-1] + bytes([z[-1] ^ 1])),
        F,
        "format.qr_compression",
    ),
    ("zlib-raw-deflate", lambda w: _zlib(w, lambda z: z[2:-4]), F, "format.qr_compression"),
    ("not-compressed", _uncompressed, F, "format.qr_compression"),
    # -- CBOR of the COSE_Sign1
    (
        "cose-trailing-cbor",
        lambda w: hr1.wrap(cose_bytes(w.issuer_key(SHENZHEN), _good_cwt(w)) + b"\x00"),
        F,
        "format.cbor",
    ),
    (
        "cose-indefinite-array",
        lambda w: hr1.wrap(
            b"\xd2\x9f" + cose_bytes(w.issuer_key(SHENZHEN), _good_cwt(w), tag=False)[1:] + b"\xff"
        ),
        F,
        "format.cbor",
    ),
    (
        "cose-tag-twice",
        lambda w: hr1.wrap(b"\xd2" + cose_bytes(w.issuer_key(SHENZHEN), _good_cwt(w))),
        F,
        "format.cbor",
    ),
    (
        "cose-tag-1-outside",
        lambda w: hr1.wrap(b"\xc1" + cose_bytes(w.issuer_key(SHENZHEN), _good_cwt(w))),
        F,
        "format.cbor",
    ),
    (
        "cose-tag-long-form",
        lambda w: hr1.wrap(b"\xd8\x12" + cose_bytes(w.issuer_key(SHENZHEN), _good_cwt(w))[1:]),
        F,
        "format.cbor",
    ),
    (
        "cose-truncated",
        lambda w: hr1.wrap(cose_bytes(w.issuer_key(SHENZHEN), _good_cwt(w))[:-3]),
        F,
        "format.cbor",
    ),
    ("cose-float", lambda w: hr1.wrap(cbor2.dumps(1.5)), F, "format.cbor"),
    ("cose-deep-nesting", lambda w: hr1.wrap(b"\x81" * 200 + b"\x00"), F, "format.cbor"),
    (
        "cose-huge-declared-length",
        lambda w: hr1.wrap(b"\xd2\x9b\xff\xff\xff\xff\xff\xff\xff\xff"),
        F,
        "format.cbor",
    ),
    # -- COSE structure and headers
    (
        "cose-untagged",
        lambda w: hr1.wrap(cose_bytes(w.issuer_key(SHENZHEN), _good_cwt(w), tag=False)),
        F,
        "format.cose",
    ),
    (
        "cose-cwt-tag-without-sign1-tag",
        lambda w: hr1.wrap(
            b"\xd8\x3d" + cose_bytes(w.issuer_key(SHENZHEN), _good_cwt(w), tag=False)
        ),
        F,
        "format.cose",
    ),
    (
        "cose-three-items",
        lambda w: hr1.wrap(cbor2.dumps(cbor2.CBORTag(18, [b"\xa0", {}, b""]))),
        F,
        "format.cose",
    ),
    (
        "cose-detached-payload",
        lambda w: hr1.wrap(
            cbor2.dumps(
                cbor2.CBORTag(
                    18, [cbor2.dumps(protected(w.issuer_key(SHENZHEN))), {}, None, b"s" * 64]
                )
            )
        ),
        F,
        "format.cose",
    ),
    (
        "cose-empty-signature",
        lambda w: qr(w.issuer_key(SHENZHEN), _good_cwt(w), signature=b""),
        F,
        "format.cose",
    ),
    (
        "alg-only-in-unprotected",
        lambda w: qr(
            w.issuer_key(SHENZHEN),
            _good_cwt(w),
            header={4: b64url_decode(w.issuer_key(SHENZHEN).kid), 16: hr1.LICENCE_CWT_TYP},
            unprotected={1: -7},
        ),
        F,
        "format.cose",
    ),
    (
        "alg-also-in-unprotected",
        lambda w: qr(w.issuer_key(SHENZHEN), _good_cwt(w), unprotected={1: -8}),
        F,
        "format.cose",
    ),
    (
        "kid-only-in-unprotected",
        lambda w: qr(
            w.issuer_key(SHENZHEN),
            _good_cwt(w),
            header={1: -7, 16: hr1.LICENCE_CWT_TYP},
            unprotected={4: b64url_decode(w.issuer_key(SHENZHEN).kid)},
        ),
        F,
        "format.cose",
    ),
    (
        "kid-missing",
        lambda w: qr(w.issuer_key(SHENZHEN), _good_cwt(w), header={1: -7, 16: hr1.LICENCE_CWT_TYP}),
        F,
        "format.cose",
    ),
    (
        "kid-as-text",
        lambda w: qr(
            w.issuer_key(SHENZHEN),
            _good_cwt(w),
            header={1: -7, 4: w.issuer_key(SHENZHEN).kid, 16: hr1.LICENCE_CWT_TYP},
        ),
        F,
        "format.cose",
    ),
    (
        "protected-header-empty",
        lambda w: qr(w.issuer_key(SHENZHEN), _good_cwt(w), header=b""),
        F,
        "format.cose",
    ),
    (
        "protected-header-not-a-map",
        lambda w: qr(w.issuer_key(SHENZHEN), _good_cwt(w), header=cbor2.dumps([1, -7])),
        F,
        "format.cose",
    ),
    (
        "protected-header-duplicate-alg",
        lambda w: qr(
            w.issuer_key(SHENZHEN),
            _good_cwt(w),
            header=b"\xa4\x01\x26\x01\x27"
            + cbor2.dumps(4)[0:1]
            + cbor2.dumps(b64url_decode(w.issuer_key(SHENZHEN).kid))
            + b"\x10"
            + cbor2.dumps(hr1.LICENCE_CWT_TYP),
        ),
        F,
        "format.cbor",
    ),
    (
        "protected-header-unknown-label",
        lambda w: qr(
            w.issuer_key(SHENZHEN),
            _good_cwt(w),
            header=protected(w.issuer_key(SHENZHEN), **{"x": 1}),
        ),
        F,
        "format.cose",
    ),
    (
        "protected-header-content-type",
        lambda w: qr(
            w.issuer_key(SHENZHEN),
            _good_cwt(w),
            header={**protected(w.issuer_key(SHENZHEN)), 3: 61},
        ),
        F,
        "format.cose",
    ),
    (
        "alg-ps256",
        lambda w: qr(
            w.issuer_key(SHENZHEN),
            _good_cwt(w),
            header={**protected(w.issuer_key(SHENZHEN)), 1: -37},
        ),
        F,
        "format.alg",
    ),
    (
        "alg-hmac",
        lambda w: qr(
            w.issuer_key(SHENZHEN), _good_cwt(w), header={**protected(w.issuer_key(SHENZHEN)), 1: 5}
        ),
        F,
        "format.alg",
    ),
    (
        "alg-as-text",
        lambda w: qr(
            w.issuer_key(SHENZHEN),
            _good_cwt(w),
            header={**protected(w.issuer_key(SHENZHEN)), 1: "ES256"},
        ),
        F,
        "format.alg",
    ),
    (
        "alg-missing",
        lambda w: qr(
            w.issuer_key(SHENZHEN),
            _good_cwt(w),
            header={4: b64url_decode(w.issuer_key(SHENZHEN).kid), 16: hr1.LICENCE_CWT_TYP},
        ),
        F,
        "format.alg",
    ),
    (
        "crit",
        lambda w: qr(
            w.issuer_key(SHENZHEN),
            _good_cwt(w),
            header={**protected(w.issuer_key(SHENZHEN)), 2: [16]},
        ),
        F,
        "format.crit",
    ),
    (
        "x5chain",
        lambda w: qr(
            w.issuer_key(SHENZHEN),
            _good_cwt(w),
            header={**protected(w.issuer_key(SHENZHEN)), 33: b"cert"},
        ),
        F,
        "format.embedded_key",
    ),
    (
        "typ-missing",
        lambda w: qr(
            w.issuer_key(SHENZHEN),
            _good_cwt(w),
            header={1: -7, 4: b64url_decode(w.issuer_key(SHENZHEN).kid)},
        ),
        F,
        "format.typ",
    ),
    (
        "typ-a-jws-licence",
        lambda w: qr(
            w.issuer_key(SHENZHEN),
            _good_cwt(w),
            header={**protected(w.issuer_key(SHENZHEN)), 16: "huren-licence+jwt"},
        ),
        F,
        "format.typ",
    ),
    # -- CBOR of the CWT claims
    (
        "claims-duplicate-jur",
        lambda w: signed_raw_claims(w, _cwt_map(w, [(cbor2.dumps("jur"), cbor2.dumps(SHENZHEN))])),
        F,
        "format.cbor",
    ),
    (
        "claims-duplicate-iss-int-key",
        lambda w: signed_raw_claims(w, _cwt_map(w, [(b"\x01", cbor2.dumps("zs-amr"))])),
        F,
        "format.cbor",
    ),
    (
        "claims-indefinite-map",
        lambda w: signed_raw_claims(w, _good_cwt(w)[:0] + b"\xbf" + _good_cwt(w)[1:] + b"\xff"),
        F,
        "format.cbor",
    ),
    (
        "claims-indefinite-text",
        lambda w: signed_raw_claims(
            w,
            _replace_value(w, cbor2.dumps("jur"), cbor2.dumps(SHENZHEN), b"\x7f\x63440\x63300\xff"),
        ),
        F,
        "format.cbor",
    ),
    (
        "claims-long-form-integer",
        lambda w: signed_raw_claims(
            w, _replace_value(w, b"\x06", _iat(w), b"\x1b" + claims(w)["iat"].to_bytes(8, "big"))
        ),
        F,
        "format.cbor",
    ),
    (
        "claims-tag-1-time",
        lambda w: signed_raw_claims(w, _replace_value(w, b"\x06", _iat(w), b"\xc1" + _iat(w))),
        F,
        "format.cbor",
    ),
    (
        "claims-nested-cose-tag",
        lambda w: signed_raw_claims(w, _cwt_map(w, [(cbor2.dumps("data"), b"\xd2\xa0")])),
        F,
        "format.cbor",
    ),
    (
        "claims-float-time",
        lambda w: signed_raw_claims(
            w, _replace_value(w, b"\x06", _iat(w), cbor2.dumps(float(claims(w)["iat"])))
        ),
        F,
        "format.cbor",
    ),
    (
        "claims-undefined",
        lambda w: signed_raw_claims(w, _replace_value(w, b"\x06", _iat(w), b"\xf7")),
        F,
        "format.cbor",
    ),
    (
        "claims-bad-utf8",
        lambda w: signed_raw_claims(
            w, _replace_value(w, cbor2.dumps("jur"), cbor2.dumps(SHENZHEN), b"\x66\xff\xfe44030")
        ),
        F,
        "format.cbor",
    ),
    (
        "claims-bytes-key",
        lambda w: signed_raw_claims(w, _cwt_map(w, [(cbor2.dumps(b"k"), b"\x00")])),
        F,
        "format.cbor",
    ),
    (
        # exp = 2**64 needs a bignum (tag 2): refused as CBOR by the fast path and the walk alike
        "claims-bignum-exp",
        lambda w: signed_raw_claims(w, cbor2.dumps({**cbor2.loads(_good_cwt(w)), 4: 2**64})),
        F,
        "format.cbor",
    ),
    (
        "claims-negative-bignum-in-data",
        lambda w: signed_raw_claims(
            w, cbor2.dumps({**cbor2.loads(_good_cwt(w)), "data": {"n": -(2**64) - 1}})
        ),
        F,
        "format.cbor",
    ),
    (
        "claims-trailing-item",
        lambda w: signed_raw_claims(w, _good_cwt(w) + b"\x00"),
        F,
        "format.cbor",
    ),
    # -- the CWT claims themselves
    ("claims-not-a-map", lambda w: signed_raw_claims(w, cbor2.dumps(["jur"])), F, "format.claims"),
    (
        "claims-unknown-int",
        lambda w: signed_raw_claims(
            w,
            hr1.claims_to_cwt(claims(w))[:0]
            + cbor2.dumps({**cbor2.loads(_good_cwt(w)), 7: b"cti"}),
        ),
        F,
        "format.claims",
    ),
    (
        "claims-iss-spelt-as-text",
        lambda w: signed_raw_claims(
            w,
            cbor2.dumps(
                {
                    **{k: v for k, v in cbor2.loads(_good_cwt(w)).items() if k != 1},
                    "iss": CITY[SHENZHEN].issuer_id,
                }
            ),
        ),
        F,
        "format.claims",
    ),
    (
        "claims-true-as-iss-key",
        lambda w: signed_raw_claims(w, _cwt_map(w, [(b"\xf5", cbor2.dumps("x"))])),
        F,
        "format.cbor",
    ),
    (
        "claims-holder-int-key",
        lambda w: signed_raw_claims(
            w,
            cbor2.dumps(
                {
                    **cbor2.loads(_good_cwt(w)),
                    "holder": {1: "x", "name": "n", "uscc": claims(w)["holder"]["uscc"]},
                }
            ),
        ),
        F,
        "format.claims",
    ),
    (
        "claims-data-array",
        lambda w: signed_raw_claims(
            w, cbor2.dumps({**cbor2.loads(_good_cwt(w)), "data": {"a": [1]}})
        ),
        F,
        "format.claims",
    ),
    (
        "claims-missing-jur",
        lambda w: signed_raw_claims(
            w, cbor2.dumps({k: v for k, v in cbor2.loads(_good_cwt(w)).items() if k != "jur"})
        ),
        F,
        "format.claims",
    ),
    (
        "claims-status-http",
        lambda w: signed_raw_claims(
            w,
            cbor2.dumps(
                {**cbor2.loads(_good_cwt(w)), 65535: {"status_list": {"idx": 0, "uri": "http://x"}}}
            ),
        ),
        F,
        "format.claims",
    ),
    (
        "claims-iat-bytes",
        lambda w: signed_raw_claims(w, cbor2.dumps({**cbor2.loads(_good_cwt(w)), 6: b"\x01"})),
        F,
        "format.claims",
    ),
    # -- signatures and keys
    (
        "signature-altered",
        lambda w: qr(w.issuer_key(SHENZHEN), _good_cwt(w), signature=bytes(64)),
        F,
        "signature.valid",
    ),
    (
        "claims-altered-after-signing",
        lambda w: qr(
            w.issuer_key(SHENZHEN),
            hr1.claims_to_cwt(claims(w, number="X-1")),
            signature=w.issuer_key(SHENZHEN).sign(
                sig_structure(cbor2.dumps(protected(w.issuer_key(SHENZHEN))), _good_cwt(w))
            ),
        ),
        F,
        "signature.valid",
    ),
    (
        "kid-of-another-issuer",
        lambda w: qr(
            w.issuer_key(SHENZHEN), _good_cwt(w), header=protected(w.issuer_key(ZHONGSHAN))
        ),
        F,
        "signature.valid",
    ),
    (
        "key-from-another-city",
        lambda w: licence_qr(w.issuer_key(ZHONGSHAN), claims(w)),
        IND,
        "key.found",
    ),
    (
        "eddsa-alg-with-the-es256-kid",
        lambda w: qr(
            SigningKey.generate(EDDSA),
            _good_cwt(w),
            header={**protected(w.issuer_key(SHENZHEN)), 1: -8},
        ),
        F,
        "signature.valid",
    ),
    (
        "unknown-signer",
        lambda w: licence_qr(SigningKey.generate("ES256"), claims(w)),
        IND,
        "key.found",
    ),
    (
        "seal-authority-key",
        lambda w: licence_qr(w.seal_authority_key(SHENZHEN), claims(w)),
        F,
        "key.issuer",
    ),
    # -- status
    (
        "revoked",
        lambda w: licence_qr(
            w.issuer_key(SHENZHEN),
            claims(w, status=(IDX_REVOKED, CITY[SHENZHEN].issuer_status_uri)),
        ),
        F,
        "status.revoked",
    ),
    (
        "suspended",
        lambda w: licence_qr(
            w.issuer_key(SHENZHEN),
            claims(w, status=(IDX_SUSPENDED, CITY[SHENZHEN].issuer_status_uri)),
        ),
        IND,
        "status.suspended",
    ),
    (
        "status-list-of-another-issuer",
        lambda w: licence_qr(
            w.issuer_key(SHENZHEN), claims(w, status=(0, CITY[ZHONGSHAN].issuer_status_uri))
        ),
        IND,
        "status.undeclared",
    ),
    (
        "expired-licence",
        lambda w: licence_qr(w.issuer_key(SHENZHEN), claims(w, valid_to=w.now - timedelta(days=1))),
        F,
        "validity.expired",
    ),
]


@pytest.mark.parametrize(
    ("name", "build", "indication", "code"), HOSTILE, ids=[h[0] for h in HOSTILE]
)
def test_hostile_qr_licence(
    demo_world: DemoWorld,
    name: str,
    build: Callable[[DemoWorld], str | bytes],
    indication: Indication,
    code: str,
) -> None:
    verdict = verify(demo_world, build(demo_world))
    assert (verdict.indication, deciding_code(verdict)) == (indication, code), describe(verdict)
    for check in verdict.checks:
        assert check.message_zh and check.message_en


def test_expired_trust_lists_never_pass(demo_world: DemoWorld) -> None:
    text = qr_from_jws(demo_world.licence_sz, demo_world.issuer_key(SHENZHEN))
    later = demo_world.now + timedelta(days=45)
    verdict = demo_world.verifier(now=later).verify_licence_qr(text, ZHONGSHAN)
    assert verdict.indication is not P
    assert "trust.fresh" in {c.code for c in verdict.checks if c.result.value != "PASSED"}


def test_format_failures_carry_format_failure(demo_world: DemoWorld) -> None:
    verdict = verify(demo_world, "HR1::::")
    assert verdict.sub_indication is SubIndication.FORMAT_FAILURE


@given(st.binary(max_size=600))
@settings(max_examples=300, deadline=None)
def test_any_bytes_after_the_prefix_never_raise_or_pass(demo_world: DemoWorld, tail: bytes) -> None:
    for text in (
        b"HR1:" + tail,
        hr1.wrap(tail).encode(),
        b"HR1:" + base45.b45encode(zlib.compress(tail)),
    ):
        assert verify(demo_world, text).indication is not P


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=255))
@settings(max_examples=300, deadline=None)
def test_one_changed_byte_never_passes(demo_world: DemoWorld, where: int, value: int) -> None:
    cose = bytearray(cose_bytes(demo_world.issuer_key(SHENZHEN), _good_cwt(demo_world)))
    i = where % len(cose)
    if cose[i] == value:
        return
    cose[i] = value
    verdict = verify(demo_world, hr1.wrap(bytes(cose)))
    assert verdict.indication is not P, describe(verdict)


def test_strict_cbor_profile_is_the_walkers() -> None:
    """The fast path of keys.cbor.loads accepts nothing the byte walk refuses."""
    samples = [
        b"\xa2\x01\x02\x01\x03",  # duplicate key
        b"\xbf\x01\x02\xff",  # indefinite map
        b"\x18\x05",  # long form
        b"\xf9\x3c\x00",  # half float
        b"\xc1\x00",  # tag
        b"\xa1\x41k\x00",  # bytes key
        b"\xf7",  # undefined
        b"\x00\x00",  # two items
        b"\xc2\x49\x01" + bytes(8),  # 2**64: a bignum (tag 2)
        b"\xc3\x49\x01" + bytes(8),  # -(2**64) - 1: a bignum (tag 3)
        b"\xa1\x61a\xc2\x49\x01" + bytes(8),  # a bignum value in a map
        b"\xa1\xc2\x49\x01" + bytes(8) + b"\x00",  # a bignum map key
    ]
    for data in samples:
        with pytest.raises(strict_cbor.MalformedCBOR):
            strict_cbor.loads(data, max_bytes=100)
    assert strict_cbor.loads(b"\xa2\x03\x01\x01\x02", max_bytes=100) == {3: 1, 1: 2}
    # The largest integers of major types 0 and 1 are no bignums.
    assert strict_cbor.loads(b"\x1b" + b"\xff" * 8, max_bytes=100) == 2**64 - 1
    assert strict_cbor.loads(b"\x3b" + b"\xff" * 8, max_bytes=100) == -(2**64)
    assert CoseSign1  # imported for the builders' types


def test_the_formats_doc_describes_the_qr_form() -> None:
    """docs/formats.md keeps step with the code: every check code of the QR layers, every CWT
    claim key, the typ and the caps."""
    doc = Path(__file__).resolve().parents[2] / "docs" / "formats.md"
    text = doc.read_text(encoding="utf-8")
    section = text[text.index("## E-licence in a QR code") : text.index("## Enterprise e-seal")]
    for code in QR_FORMAT_CODES:
        assert f"`{code}`" in section, code
    for key in hr1.CWT_CLAIMS:
        assert (f"`{key}`" if isinstance(key, int) else f'`"{key}"`') in section, key
    assert f'"{hr1.LICENCE_CWT_TYP}"' in section
    assert str(hr1.MAX_HR1_CHARS) in section and str(hr1.MAX_INFLATED_BYTES) in section


def test_the_one_entry_reads_the_qr_form(demo_world: DemoWorld) -> None:
    """Verifier.verify: a licence whose data starts with HR1: is its QR form (the prefix is the
    dispatch, the same request otherwise)."""
    from verifier import DocumentKind, VerificationRequest

    text = qr_from_jws(demo_world.licence_sz, demo_world.issuer_key(SHENZHEN))
    verifier = demo_world.verifier()
    verdict = verifier.verify(VerificationRequest(DocumentKind.LICENCE, text, ZHONGSHAN))
    assert verdict.indication is P
    assert [c.code for c in verdict.checks][1] == "format.qr_prefix"
    jws = verifier.verify(
        VerificationRequest(DocumentKind.LICENCE, demo_world.licence_sz, ZHONGSHAN)
    )
    assert jws.summary == verdict.summary
