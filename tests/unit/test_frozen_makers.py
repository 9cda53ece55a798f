"""The positional makers (keys/frozen.py) build exactly what the dataclass's own __init__ builds,
and the hot-path shortcuts of issue 18 answer what the long way answers."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

import pytest

from keys.frozen import positional_maker
from keys.jws import CompactJWS, make_compact
from trust_lists.model import KeyStatus, ServiceKey, StatusChange
from verifier import formats
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
    assert [getattr(made, f.name) for f in dataclasses.fields(cls)] == list(args)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.__setattr__(dataclasses.fields(cls)[0].name, None)


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
