"""The fast paths of the QR layers against the strict paths they stand in for: over random and
hostile inputs each gives the same result or the same refusal (same exception, same message).

- keys.cbor.loads (cbor2 and a round trip) against the byte walk it stands in for;
- verifier.hr1.cwt_to_claims (keys.cbor.loads inside) against the byte walk, and
  hr1.usual_licence_claims (cbor2, a round trip and formats' fast reading of a licence) against
  the walk and parse_licence_claims;
- keys.cose.CoseSign1.parse (the usual shape read by hand, the Sig_structure cut from the
  input) against the general path through keys.cbor;
- keys.cose.sig_structure (written by hand) against keys.cbor.dumps of the RFC 9052 array;
- verifier.hr1.b45decode over long strings against the base45 package."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demo.world import SHENZHEN, DemoWorld
from issuing.licences import licence_claims
from keys import cbor as strict_cbor
from keys import cose
from keys.cose import CoseSign1, sig_structure
from tests.support.qr_support import b45_both
from verifier import hr1
from verifier.formats import LicenceClaims, parse_licence_claims


def outcome(fn: Callable[[bytes], Any], data: bytes) -> tuple[Any, ...]:
    try:
        return ("ok", fn(data))
    except Exception as exc:  # the refusal itself is compared
        return ("refused", type(exc), str(exc))


def good_cwt(w: DemoWorld) -> bytes:
    fields = w.licence_fields(SHENZHEN, data={"法定代表人": "李明", "注册资本": "1000万元人民币"})
    return hr1.claims_to_cwt(licence_claims(**fields))


# -- CWT claims ----------------------------------------------------------------------------------

_CLAIM_KEYS = [*hr1.CWT_CLAIMS, 2, 7, -1, "other", True, False, 1.0, 4.0, b"jur"]
_scalars = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.text(max_size=8)
    | st.binary(max_size=8)
    | st.booleans()
    | st.none()
    | st.floats(allow_nan=False)
    | st.sampled_from([cbor2.undefined, cbor2.CBORSimpleValue(7), cbor2.CBORTag(1, 0)])
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.text(max_size=4) | st.integers(-3, 3) | st.booleans(), inner, max_size=3
        )
        | st.builds(cbor2.CBORTag, st.sampled_from([2, 3, 24, 28, 55799, 61, 18]), inner)
    ),
    max_leaves=12,
)
_claims_maps = st.dictionaries(st.sampled_from(_CLAIM_KEYS), _values, max_size=8)


def _encode(value: object, canonical: bool) -> bytes:
    try:
        return cbor2.dumps(value, canonical=canonical)
    except Exception:  # a value cbor2 cannot write: the bare map
        return b"\xa0"


def _walked(data: bytes, tags: frozenset[int] = frozenset()) -> Any:
    """keys.cbor.loads without its fast path: the byte walk decides, then cbor2 reads."""
    strict_cbor.check(data, max_bytes=hr1.MAX_INFLATED_BYTES, tags=tags)
    return cbor2.loads(data)


def _walked_claims(payload: bytes) -> dict[str, Any]:
    _walked(payload)  # refuses what the walk refuses, with its message
    return hr1.cwt_to_claims(payload)


def _walked_licence(payload: bytes) -> LicenceClaims:
    return parse_licence_claims(_walked_claims(payload))


@given(_values, st.booleans())
@settings(max_examples=600, deadline=None)
def test_cbor_fast_path_is_the_walk(value: object, canonical: bool) -> None:
    """keys.cbor.loads (cbor2 and a round trip) accepts exactly what the byte walk accepts,
    bignums (tags 2 and 3, integers beyond 64 bits) included."""
    data = _encode(value, canonical)
    tags = frozenset({18, 61})

    def fast(d: bytes) -> Any:
        return strict_cbor.loads(d, max_bytes=hr1.MAX_INFLATED_BYTES, tags=tags)

    assert outcome(fast, data) == outcome(lambda d: _walked(d, tags), data)


@pytest.mark.parametrize(
    "value", [2**64 - 1, 2**64, -(2**64), -(2**64) - 1, {"a": 2**64}, {2**64: 0}, [2**70]]
)
def test_cbor_bignums_are_refused_by_both_readers(value: object) -> None:
    data = cbor2.dumps(value)
    walked = outcome(_walked, data)
    assert outcome(lambda d: strict_cbor.loads(d, max_bytes=100), data) == walked
    assert walked[0] == ("ok" if value in (2**64 - 1, -(2**64)) else "refused")


def _same_claims(payload: bytes) -> None:
    """keys.cbor's fast path inside cwt_to_claims and the verifier's usual_licence_claims give
    what the byte walk and the licence parser give (usual: the same claims, or None)."""
    strict = outcome(_walked_claims, payload)
    assert outcome(hr1.cwt_to_claims, payload) == strict
    usual = hr1.usual_licence_claims(payload)
    assert usual is None or ("ok", usual) == outcome(_walked_licence, payload)


@given(_claims_maps, st.booleans())
@settings(max_examples=600, deadline=None)
def test_claims_of_random_maps(value: dict[Any, Any], canonical: bool) -> None:
    _same_claims(_encode(value, canonical))


# Values that a licence's claims may be swapped for, most of them right or nearly so.
_ints = st.integers(min_value=-(2**65), max_value=2**65) | st.integers(0, 2**34) | st.booleans()
_texts = st.text(min_size=1, max_size=4) | st.binary(max_size=2) | st.none()
_near: dict[object, st.SearchStrategy[Any]] = {
    4: _ints | st.floats(allow_nan=False),
    5: _ints,
    6: _ints,
    "lic_no": _texts | _values,
    "holder": st.fixed_dictionaries(
        {"name": _texts}, optional={"uscc": _texts, "pid": _texts, b"pid": _texts, 1: _texts}
    ),
    65535: st.fixed_dictionaries(
        {"status_list": st.fixed_dictionaries({"idx": _ints, "uri": st.just("https://s.x/1")})}
    )
    | _values,
    "data": st.dictionaries(
        st.text(min_size=1, max_size=3) | st.binary(max_size=2) | st.integers(0, 2),
        _ints | _texts | st.floats(allow_nan=False) | _values,
        max_size=3,
    ),
}
_swaps = st.sampled_from(list(_near)).flatmap(lambda k: st.tuples(st.just(k), _near[k]))


@given(st.lists(_swaps, max_size=2), st.booleans())
@settings(max_examples=800, deadline=None)
def test_claims_of_licences_with_values_swapped(
    demo_world: DemoWorld, swaps: list[tuple[object, Any]], canonical: bool
) -> None:
    """Near-licences, which the usual pass sees through to formats' fast reading."""
    _same_claims(_encode({**cbor2.loads(good_cwt(demo_world)), **dict(swaps)}, canonical))


@given(
    st.integers(min_value=0, max_value=10_000), st.binary(min_size=1, max_size=3), st.integers(0, 2)
)
@settings(max_examples=600, deadline=None)
def test_claims_of_mangled_payloads(
    demo_world: DemoWorld, where: int, new: bytes, how: int
) -> None:
    good = good_cwt(demo_world)
    i = where % len(good)
    mangled = [
        good[:i] + new + good[i + len(new) :],  # overwrite
        good[:i] + new + good[i:],  # insert
        good[:i] + good[i + len(new) :],  # delete
    ][how]
    _same_claims(mangled)


def test_claims_of_hostile_payloads(demo_world: DemoWorld) -> None:
    good = good_cwt(demo_world)
    n = good[0] & 0x1F
    body = good[1:]
    hostile = [
        good,
        bytes([0xB8, n]) + body,  # the map's count in a longer head
        b"\xbf" + body + b"\xff",  # indefinite map
        good + b"\x00",  # a byte after the item
        good[:-1],  # truncated
        bytes([0xA0 | (n + 1)]) + body + b"\x01\x63abc",  # iss (1) twice
        bytes([0xA0 | (n + 1)]) + body + b"\xf5\x00",  # true as a key (hashes as 1)
        bytes([0xA0 | (n + 1)]) + body + b"\xf9\x3c\x00\x00",  # 1.0 as a key
        bytes([0xA0 | (n + 1)]) + body + b"\x04\x18\x05",  # exp in a longer form
        bytes([0xA0 | (n + 1)]) + body + b"\x04\xc2\x41\x05",  # exp as a bignum (tag 2)
        bytes([0xA0 | (n + 1)]) + body + b"\x04\xc2\x49\x01" + bytes(8),  # exp = 2**64, bignum
        bytes([0xA0 | (n + 1)]) + body + b"\x04\xf9\x3c\x00",  # exp as a half float
        bytes([0xA0 | (n + 1)]) + body + b"\x04\xf7",  # undefined
        bytes([0xA0 | (n + 1)]) + body + b"\x04\x81\x00",  # an array
        bytes([0xA0 | (n + 1)]) + body + b"\x04\xa1\x01\x00",  # a nested integer key
        bytes([0xA0 | (n + 1)]) + body + b"\x04\x7f\x61a\xff",  # indefinite text
        bytes([0xA0 | (n + 1)]) + body + b"\x04\x62\xc3\x28",  # text that is not UTF-8
        b"\xd9\xd9\xf7" + good,  # self-described CBOR (tag 55799)
        b"\xd8\x3d" + good,  # the CWT tag
        b"\xd9\x01\x00" + good,  # a string-reference namespace (tag 256)
        b"\xd8\x1c" + good,  # shareable (tag 28)
        b"\x80",
        b"",
        _replace(good, "data", {b"k": "v"}),  # a bytes key inside data
        _replace(good, "data", {("k",): "v"}),  # an array as a key inside data
        _replace(good, "data", {"k": 1.0}),  # a float where formats takes an integer
        _replace(good, 6, True),  # iat true
        _replace(good, 6, 2**64),  # iat a bignum
        cbor2.dumps({True if k == 1 else k: v for k, v in cbor2.loads(good).items()}),
        cbor2.dumps({1.0 if k == 1 else k: v for k, v in cbor2.loads(good).items()}),
        cbor2.dumps(cbor2.loads(good), value_sharing=True),
        cbor2.dumps(cbor2.loads(good), string_referencing=True),
        b"\xa5" * 5000,  # over the item cap
        b"\x00" * 9000,  # over the size cap
    ]
    # Nested maps up to 18 deep (the usual pass stops at four, the profile at 16).
    deep: dict[str, Any] = {"x": 1}
    for _ in range(18):
        deep = {"d": deep}
        hostile.append(cbor2.dumps({"jur": "440300", "data": deep}))
    for payload in hostile:
        _same_claims(payload)
    assert hr1.usual_licence_claims(good) is not None  # the usual licence takes the usual pass


def _replace(payload: bytes, key: object, value: object) -> bytes:
    """The CWT with one claim's value replaced (or added), written back in the same order."""
    return cbor2.dumps({**cbor2.loads(payload), key: value})


# -- COSE_Sign1 ----------------------------------------------------------------------------------


def good_cose(w: DemoWorld) -> bytes:
    from issuing.qr import licence_qr

    fields = w.licence_fields(SHENZHEN)
    return hr1.unwrap(licence_qr(w.issuer_key(SHENZHEN), licence_claims(**fields)).encode())


def _general_parse(data: bytes) -> CoseSign1:
    usual = cose._usual_shape
    cose._usual_shape = lambda data: None  # type: ignore[assignment]
    try:
        return CoseSign1.parse(data, max_bytes=hr1.MAX_INFLATED_BYTES)
    finally:
        cose._usual_shape = usual


def _parse(data: bytes) -> CoseSign1:
    return CoseSign1.parse(data, max_bytes=hr1.MAX_INFLATED_BYTES)


def _same_cose(data: bytes) -> None:
    fast, general = outcome(_parse, data), outcome(_general_parse, data)
    assert fast == general
    if fast[0] == "ok":
        token = fast[1]
        # compare=False on signing_input: check it by hand, against the RFC 9052 array.
        assert token.signing_input == general[1].signing_input
        assert token.signing_input == strict_cbor.dumps(
            ["Signature1", token.protected, b"", token.payload]
        )


@given(
    st.integers(min_value=0, max_value=10_000), st.binary(min_size=1, max_size=3), st.integers(0, 2)
)
@settings(max_examples=600, deadline=None)
def test_cose_of_mangled_bytes(demo_world: DemoWorld, where: int, new: bytes, how: int) -> None:
    good = good_cose(demo_world)
    i = where % len(good)
    mangled = [
        good[:i] + new + good[i + len(new) :],
        good[:i] + new + good[i:],
        good[:i] + good[i + len(new) :],
    ][how]
    _same_cose(mangled)


@pytest.mark.parametrize("payload_size", [0, 1, 23, 24, 255, 256, 4000])
@pytest.mark.parametrize("signature_size", [0, 1, 64, 255, 256])
def test_cose_of_every_length_form(
    demo_world: DemoWorld, payload_size: int, signature_size: int
) -> None:
    good = _parse(good_cose(demo_world))
    body = [good.protected, {}, b"p" * payload_size, b"s" * signature_size]
    for data in (
        cbor2.dumps(cbor2.CBORTag(18, body)),
        cbor2.dumps(cbor2.CBORTag(61, cbor2.CBORTag(18, body))),
        cbor2.dumps(body),
    ):
        _same_cose(data)
        _same_cose(data[:-1])


def _long_head(item: bytes) -> bytes:
    """A byte string item (short head) with its length in a longer head than needed."""
    return bytes([0x58, item[0] - 0x40]) + item[1:]


def test_cose_with_longer_heads(demo_world: DemoWorld) -> None:
    good = _parse(good_cose(demo_world))
    short = b"hello"
    item = cbor2.dumps(short)
    for body in (
        [short, {}, good.payload, good.signature],
        [good.protected, {}, short, good.signature],
        [good.protected, {}, good.payload, short],
    ):
        data = cbor2.dumps(cbor2.CBORTag(18, body))
        _same_cose(data)
        assert item in data
        longer = data.replace(item, _long_head(item), 1)
        _same_cose(longer)
        assert outcome(_parse, longer)[0] == "refused"
    data = good_cose(demo_world)
    assert data[-66:-64] == b"\x58\x40"  # ES256: 64 signature bytes
    _same_cose(data[:-66] + b"\x59\x00\x40" + data[-64:])


def test_parsed_cose_is_the_frozen_dataclass(demo_world: DemoWorld) -> None:
    token = _parse(good_cose(demo_world))
    twin = CoseSign1(*(getattr(token, f.name) for f in dataclasses.fields(CoseSign1)))
    assert token == twin and repr(token) == repr(twin) and hash(token.kid) == hash(twin.kid)
    with pytest.raises(dataclasses.FrozenInstanceError):
        token.kid = "x"  # type: ignore[misc]


@given(st.integers(min_value=0, max_value=70_000), st.integers(min_value=0, max_value=300))
@settings(max_examples=200, deadline=None)
def test_sig_structure_is_the_deterministic_array(payload_size: int, protected_size: int) -> None:
    protected, payload = b"\xa1" * protected_size, b"\x00" * payload_size
    expected = strict_cbor.dumps(["Signature1", protected, b"", payload])
    assert sig_structure(protected, payload) == expected


@pytest.mark.parametrize("size", [0, 23, 24, 255, 256, 65535, 65536])
def test_sig_structure_at_each_head_width(size: int) -> None:
    expected = strict_cbor.dumps(["Signature1", b"h" * size, b"", b"p" * size])
    assert sig_structure(b"h" * size, b"p" * size) == expected


# -- Base45 --------------------------------------------------------------------------------------


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", max_size=400))
@settings(max_examples=400, deadline=None)
def test_base45_long_strings_as_the_package(text: str) -> None:
    raw = text.encode()
    expected, got = b45_both(raw)
    assert got == expected


@pytest.mark.parametrize("at", [0, 1, 50, 99])
@pytest.mark.parametrize("group", ["FGW", "GGW", "HGW", ":::", "ZZZ"])
def test_base45_one_group_out_of_range(at: int, group: str) -> None:
    """One group above 65535 ('FGW' is 65535 exactly, 'GGW' one more) among valid ones."""
    groups = ["A0B"] * 100
    groups[at] = group
    text = "".join(groups).encode()
    expected, got = b45_both(text)
    assert got == expected
    assert (expected is None) == (group != "FGW")
