"""The positional makers (keys/frozen.py) build exactly what the dataclass's own __init__ builds,
and the licence path's shortcuts answer what the long way answers."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from demo.world import CITY, SHENZHEN, ZHONGSHAN, DemoWorld
from keys.frozen import positional_maker
from keys.jws import CompactJWS, make_compact
from trust_lists.model import KeyStatus, ServiceKey, StatusChange
from verifier import _job, formats
from verifier.verdict import (
    Check,
    CheckResult,
    DocumentKind,
    DocumentSummary,
    Indication,
    TrustContext,
    Verdict,
    make_summary,
    make_trust,
    make_verdict,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _summary_args() -> tuple[object, ...]:
    return (DocumentKind.LICENCE, "n", "t", "tz", "te", "h", "hid", "s", "sz", "se", "440300",
            T0, T0, None, {"data": {"a": 1}})  # fmt: skip


def _cases() -> list[tuple[type, object, tuple[object, ...]]]:
    trust = TrustContext("442000", "440300", 3, "d" * 64, 2, "v" * 32)
    summary = DocumentSummary(*_summary_args())  # type: ignore[arg-type]
    check = Check("format.size", CheckResult.PASSED, "zh", "en")
    verdict_args = (Indication.PASSED, None, (check,), summary, trust, T0, None, "f" * 64)
    holder = formats.Holder("name", "91440300MA5G2U8T1P", None)
    status = formats.StatusRef(3, "https://status.example/1")
    licence_args = ("440300", "sz-amr", "no", "business_licence", holder, T0, T0, None,
                    MappingProxyType({}), status)  # fmt: skip
    return [
        (DocumentSummary, make_summary, _summary_args()),
        (TrustContext, make_trust, ("442000", None, None, None, None, "v" * 32)),
        (Verdict, make_verdict, verdict_args),
        (formats.Holder, formats._make_holder, ("name", None, "11010519491231002X")),
        (formats.StatusRef, formats._make_status, (0, "https://x")),
        (formats.LicenceClaims, formats._make_licence, licence_args),
        (CompactJWS, make_compact, ({"alg": "ES256"}, b"p", b"h.p", b"s")),
    ]


@pytest.mark.parametrize("cls,make,args", _cases(), ids=lambda v: getattr(v, "__name__", ""))
def test_a_maker_builds_what_the_class_builds(cls: type, make: object, args: tuple) -> None:
    made = make(*args)  # type: ignore[operator]
    assert type(made) is cls
    assert made == cls(*args)
    assert [getattr(made, f.name) for f in dataclasses.fields(cls) if f.init] == list(args)
    assert repr(made) == repr(cls(*args))
    assert copy.copy(made) == made
    assert dataclasses.replace(made) == made
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.__setattr__(dataclasses.fields(cls)[0].name, None)
    with pytest.raises(AttributeError):
        made.__dict__  # still slots only


def test_a_maker_gives_init_false_fields_their_default() -> None:
    make = positional_maker(Check)
    made = make("c", CheckResult.PASSED, "zh", "en")
    assert made == Check("c", CheckResult.PASSED, "zh", "en")
    assert made.to_dict() == {"code": "c", "result": "PASSED", "message_zh": "zh",
                              "message_en": "en"}  # fmt: skip


def test_makers_are_refused_where_they_would_skip_something() -> None:
    @dataclasses.dataclass(slots=True)
    class Mutable:
        a: int

    with pytest.raises(TypeError):
        positional_maker(Mutable)
    with pytest.raises(TypeError):
        positional_maker(ServiceKey)  # its __post_init__ derives _times

    @dataclasses.dataclass(frozen=True, slots=True)
    class Measured(float):  # a float's objects cannot be built as object's, nor change class
        unit: str

    with pytest.raises(TypeError, match="twin"):
        positional_maker(Measured)


@pytest.mark.parametrize("offset_days", [-1, 0, 1, 5, 10, 20, 40])
def test_granted_at_is_state_at_granted(offset_days: int) -> None:
    from keys import SigningKey

    key = SigningKey.generate("ES256").public_key
    history = (
        StatusChange(KeyStatus.GRANTED, T0),
        StatusChange(KeyStatus.WITHDRAWN, T0 + timedelta(days=10)),
        StatusChange(KeyStatus.GRANTED, T0 + timedelta(days=20)),
        StatusChange(KeyStatus.REVOKED, T0 + timedelta(days=30)),
    )
    sk = ServiceKey(key, history)
    when = T0 + timedelta(days=offset_days)
    assert sk.granted_at(when) == (sk.state_at(when).status is KeyStatus.GRANTED)


def _edge_scalars() -> list[bytes]:
    from keys.public import _P256_ORDER

    n = _P256_ORDER
    values = [0, 1, 0x7F, 0x80, 0xFF, 0x100, 2**255 - 1, 2**255, n - 1, n, n + 1, 2**256 - 1]
    return [v.to_bytes(32, "big") for v in values]


def test_raw_to_der_is_encode_dss_signature_within_range() -> None:
    import os

    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    from keys.public import _P256_ORDER, raw_to_der

    halves = _edge_scalars() + [os.urandom(32) for _ in range(200)]
    halves += [bytes(k) + os.urandom(32 - k) for k in range(1, 4)]  # leading zero bytes
    for r in halves:
        for s in halves[:40]:
            ri, si = int.from_bytes(r, "big"), int.from_bytes(s, "big")
            expected = encode_dss_signature(ri, si) if 0 < ri < _P256_ORDER > si > 0 else None
            assert raw_to_der(r + s) == expected


def test_the_fast_claims_reader_names_every_member_the_rules_know() -> None:
    # _licence_fast reads members by name; a member added to the rules must be added there too.
    required = {"jur", "iss", "lic_no", "lic_type", "holder", "iat", "nbf"}
    assert {"exp", "data", "status"} == formats._LICENCE_OPTIONAL
    assert required == formats._LICENCE_REQUIRED


_VALID_CLAIMS: dict[str, Any] = {
    "jur": "440300",
    "iss": "sz-amr",
    "lic_no": "440300-BL-1",
    "lic_type": "business_licence",
    "holder": {"name": "深圳市前海互认科技有限公司", "uscc": "91440300MA5G2U8T1P"},
    "iat": 1793636529,
    "nbf": 1793636529,
    "exp": 1893636529,
    "data": {"scope": "software", "n": 3, "ok": True},
    "status": {"status_list": {"idx": 3, "uri": "https://status.example/1"}},
}
_ODD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-2, max_value=2**64),
    st.sampled_from(["", "x", "440300", "https://s", "http://s", "a" * 65, "a" * 257, "Sz"]),
    st.dictionaries(
        st.sampled_from(["name", "uscc", "pid", "status_list", "idx", "uri", "z"]),
        st.one_of(st.none(), st.integers(-1, 3), st.sampled_from(["n", "https://u"])),
        max_size=4,
    ),
)
_PATHS = [(k,) for k in [*_VALID_CLAIMS, "zz"]] + [
    ("holder", "name"), ("holder", "uscc"), ("holder", "pid"), ("holder", "zz"),
    ("status", "status_list"), ("status", "zz"), ("status", "status_list", "idx"),
    ("status", "status_list", "uri"), ("status", "status_list", "zz"), ("data", "k"),
]  # fmt: skip


def _outcome_of(parse: Any, claims: object) -> tuple[str, object]:
    try:
        return "ok", parse(claims)
    except formats.ClaimError as exc:
        return "error", str(exc)


def _edited(edits: list[Any]) -> dict[str, Any]:
    """_VALID_CLAIMS with each (path, delete, value) edit applied where its path leads."""
    claims = copy.deepcopy(_VALID_CLAIMS)
    for path, delete, value in edits:
        node: Any = claims
        for step in path[:-1]:
            node = node.get(step) if isinstance(node, dict) else None
        if isinstance(node, dict):
            if delete:
                node.pop(path[-1], None)
            else:
                node[path[-1]] = value
    return claims


@settings(max_examples=800, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_PATHS), st.booleans(), _ODD), max_size=3))
def test_the_fast_claims_reader_agrees_with_the_rules(edits: list[Any]) -> None:
    claims = _edited(edits)
    fast = _outcome_of(formats._licence_fast, claims)
    if fast != ("ok", None):
        assert fast == _outcome_of(formats._licence_long, claims)
    assert _outcome_of(formats.parse_licence_claims, claims) == _outcome_of(
        formats._licence_long, claims
    )


def test_the_good_codes_memo_is_bounded_and_changes_no_answer() -> None:
    import copy

    peak = 0
    for i in range(formats._GOOD_CODES_MAX + 10):
        claims = copy.deepcopy(_VALID_CLAIMS)
        claims["iss"] = f"issuer-{i}"
        assert formats.parse_licence_claims(claims) == formats._licence_long(claims)
        peak = max(peak, len(formats._GOOD_CODES))
    assert peak == formats._GOOD_CODES_MAX
    bad = copy.deepcopy(_VALID_CLAIMS) | {"iss": "Not-An-Id"}
    assert _outcome_of(formats.parse_licence_claims, bad) == (
        "error",
        "iss must be a trust-list service id",
    )
    for odd in (["440300"], {"a": 1}, 440300):  # unhashable or not text: refused, never raised
        assert _outcome_of(formats.parse_licence_claims, _VALID_CLAIMS | {"jur": odd})[0] == "error"


def test_verdicts_under_one_snapshot_share_its_trust_context(demo_world: DemoWorld) -> None:
    """JobBase._trust keeps the last snapshot's contexts: shared while the snapshot holds,
    built anew from the next one, and never more than _TRUSTS_MAX of them."""
    store = demo_world.store()
    verifier = demo_world.verifier(store)
    first = verifier.verify_licence(demo_world.licence_sz, ZHONGSHAN)
    again = verifier.verify_licence(demo_world.licence_sz, ZHONGSHAN)
    assert again.trust is first.trust
    signed = store.state.lists[SHENZHEN]
    assert first.trust == TrustContext(ZHONGSHAN, SHENZHEN, signed.trust_list.sequence,
                                       signed.digest, store.state.catalogue.catalogue.sequence,
                                       store.state.version)  # fmt: skip
    uri = CITY[SHENZHEN].issuer_status_uri
    newer = demo_world.sign_status_list(uri, issued_at=demo_world.now - timedelta(minutes=1))
    store.submit_status_list(newer, now=demo_world.now)
    later = verifier.verify_licence(demo_world.licence_sz, ZHONGSHAN)
    assert later.trust.trust_state_version == store.state.version != first.trust.trust_state_version
    assert later.trust == dataclasses.replace(first.trust, trust_state_version=store.state.version)
    job = verifier._job(ZHONGSHAN, None, None)
    codes = [f"{110000 + i}" for i in range(_job._TRUSTS_MAX + 10)]
    contexts = [job._trust(code) for code in codes]
    assert len(_job._TRUSTS[0][1]) == _job._TRUSTS_MAX
    assert [job._trust(code) for code in codes] == contexts
    assert {c.issuing_jurisdiction for c in contexts} == set(codes)


def _strict_claims(payload: bytes) -> tuple[str, object]:
    """The strict route of a licence's payload: strict_json_loads, then the claim rules."""
    from keys.encoding import strict_json_loads
    from keys.errors import MalformedJSON

    try:
        return "ok", formats.parse_licence_claims(strict_json_loads(payload, max_bytes=4096))
    except (MalformedJSON, formats.ClaimError) as exc:
        return "error", str(exc)


# Text an issuer never writes but a hostile one might: each is spliced into the canonical payload.
_HOSTILE = [
    b" ", b"\n", b'\\"', b"\\u00e9", b"\\ud800", b"\xef\xbb\xbf", b"\xff", b"\xed\xa0\x80",
    b'"iss":"sz-amr",', b'"jur":"440300",', b"18446744073709551616", b"1.0", b"1e3", b"-0",
    b"[" * 40, b"{", b"}", b",", b"NaN", b"null", b"true", b'"', b"\x00", "é".encode(),
]  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(_PATHS), st.booleans(), _ODD), max_size=2),
    st.lists(
        st.tuples(st.integers(0, 400), st.sampled_from(_HOSTILE), st.integers(0, 2)), max_size=2
    ),
    st.booleans(),
)
def test_the_usual_licence_json_is_the_strict_route(edits: list[Any], splices: list[Any],
                                                    sorted_keys: bool) -> None:  # fmt: skip
    """formats.usual_licence_json gives claims only where strict_json_loads and
    parse_licence_claims give the same ones, for random claims written canonically or not and
    then spliced with hostile text; and it gives them for the canonical payload of good claims."""
    import json

    from keys.encoding import canonical_json

    claims = _edited(edits)
    if sorted_keys:
        payload = canonical_json(claims)
    else:
        payload = json.dumps(claims, ensure_ascii=False).encode()
    for where, text, cut in splices:
        at = min(where, len(payload))
        payload = payload[:at] + text + payload[at + cut :]
    fast = formats.usual_licence_json(payload, 4096)
    strict = _strict_claims(payload)
    if fast is not None:
        assert strict == ("ok", fast)
    if sorted_keys and not splices and strict[0] == "ok":
        assert fast is not None
    assert formats.usual_licence_json(canonical_json(_VALID_CLAIMS), 4096) is not None
    assert formats.usual_licence_json(canonical_json(_VALID_CLAIMS), 100) is None  # too long
