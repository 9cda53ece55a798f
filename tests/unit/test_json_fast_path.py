"""strict_json_loads has a fast path for bytes (orjson, keys/encoding.py _fast_loads) and the
reference path for str (the json module with its hooks). Differential: for any text, both give
the same value (same types: 1 is not 1.0, nor true) or the same MalformedJSON message. The texts
are built to hit what the fast path argues about: repeated members, whitespace before colons,
strings that start like a member name (' :'), integers beyond 64 bits, deep nesting.

Verdict.reports_json joins JSON made once per check with the head and tail rendered once for
both reports; for any verdict (hostile strings, subclasses and big integers orjson refuses,
times in any offset) it gives to_json's bytes, which are the json module's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from demo.world import CITY, IDX_REVOKED, IDX_SUSPENDED, SHENZHEN, ZHONGSHAN, DemoWorld
from keys.encoding import strict_json_loads
from keys.errors import MalformedJSON
from trust_lists.timeutil import format_time
from verifier import messages
from verifier.verdict import (
    Check,
    CheckResult,
    DocumentKind,
    DocumentSummary,
    Indication,
    SubIndication,
    TrustContext,
    Verdict,
)

_TEXT = st.text(alphabet=st.sampled_from(list('ab :{}[]",统\t')), max_size=6)
_WS = st.sampled_from(["", " ", "\n", "\t ", "\r"])
_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    _TEXT,
)


@st.composite
def _json_text(draw: st.DrawFn, depth: int = 0) -> str:
    """A JSON text whose objects may repeat member names, with random whitespace."""
    kind = draw(st.sampled_from(["scalar", "list", "object"] if depth < 4 else ["scalar"]))
    if kind == "scalar":
        return json.dumps(draw(_SCALAR), ensure_ascii=False)
    n = draw(st.integers(min_value=0, max_value=4))
    items = [draw(_json_text(depth + 1)) for _ in range(n)]
    if kind == "list":
        return "[" + ",".join(draw(_WS) + i for i in items) + "]"
    keys = draw(st.lists(_TEXT, min_size=n, max_size=n))
    if n and draw(st.booleans()):
        keys[-1] = keys[0]  # a repeated member
    members = [
        json.dumps(k, ensure_ascii=False) + draw(_WS) + ":" + draw(_WS) + v
        for k, v in zip(keys, items, strict=True)
    ]
    return "{" + ",".join(members) + "}"


def _typed(value: Any) -> Any:
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    return (type(value).__name__, value)


def _outcome(data: str | bytes) -> tuple[str, Any]:
    try:
        return "ok", _typed(strict_json_loads(data, max_bytes=10**6, max_depth=3))
    except MalformedJSON as exc:
        return "error", str(exc)


@settings(max_examples=600, deadline=None)
@given(_json_text())
@example('{"a":1,"a":2}')
@example('{"a" :1,"b":" :"}')
@example('{"b":" :","a":1,"a":1}')
@example('{":a":1}')
@example("[123456789012345678901234567890]")
@example('{"x":[[[[1]]]]}')
def test_the_fast_path_answers_as_the_reference_path(text: str) -> None:
    assert _outcome(text.encode()) == _outcome(text)


# -- Verdict.reports_json: joined per-check fragments against the whole dump --------------------

_HOSTILE = st.text(
    alphabet=st.one_of(
        st.sampled_from(list('"\\/\x00\x1f\x7f\u2028\u2029\ufeff统 :,{}[]')),
        st.characters(),
    ),
    max_size=8,
)
_SHARED = sorted(messages.PASSED.values(), key=lambda c: c.code)
_RESULTS = list(CheckResult)


class _Str(str):
    pass


@st.composite
def _check(draw: st.DrawFn) -> Check:
    if draw(st.booleans()):
        return draw(st.sampled_from(_SHARED))  # rendered once per process, then joined
    zh, en = draw(_HOSTILE), draw(_HOSTILE)
    odd = draw(st.integers(0, 19))
    if odd == 0:
        en = _Str(en)  # orjson hands subclasses to the json module
    elif odd == 1:
        zh += "\ud800"  # a lone surrogate: orjson refuses it, and UTF-8 cannot hold it
    return Check(draw(_HOSTILE), draw(st.sampled_from(_RESULTS)), zh, en)


_VALUE = st.one_of(
    _HOSTILE,
    st.integers(min_value=-(2**70), max_value=2**70),  # beyond 64 bits: the json module's
    st.booleans(),
    st.none(),
)
_TIME = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(-timedelta(hours=5))]),
)


@st.composite
def _verdict(draw: st.DrawFn) -> Verdict:
    summary = None
    if draw(st.booleans()):
        summary = DocumentSummary(
            draw(st.sampled_from(list(DocumentKind))),
            draw(st.none() | _HOSTILE),
            holder_name=draw(st.none() | _HOSTILE),
            issued_at=draw(st.none() | _TIME),
            valid_to=draw(st.none() | _TIME),
            extra=draw(st.dictionaries(_HOSTILE, _VALUE | st.dictionaries(_HOSTILE, _VALUE))),
        )
    trust = TrustContext(
        draw(_HOSTILE), draw(st.none() | _HOSTILE), draw(st.none() | st.integers(0, 2**70)),
        None, draw(st.none() | st.integers(0, 9)), draw(_HOSTILE),
    )  # fmt: skip
    return Verdict(
        draw(st.sampled_from(list(Indication))),
        draw(st.none() | st.sampled_from(list(SubIndication))),
        tuple(draw(st.lists(_check(), max_size=20))),
        summary,
        trust,
        draw(_TIME),
        draw(st.none() | _TIME),
        draw(_HOSTILE),
    )


def _dumped(verdict: Verdict, detailed: bool) -> tuple[str, Any]:
    """The reference: the json module's compact UTF-8 of to_dict (what to_json must equal)."""
    try:
        text = json.dumps(
            verdict.to_dict(detailed=detailed), ensure_ascii=False, allow_nan=False,
            separators=(",", ":"),
        )  # fmt: skip
        return "ok", text.encode("utf-8")
    except UnicodeEncodeError:
        return "error", UnicodeEncodeError


def _rendered(render: Any) -> tuple[str, Any]:
    try:
        return "ok", render()
    except UnicodeEncodeError:
        return "error", UnicodeEncodeError


@settings(max_examples=400, deadline=None)
@given(_verdict())
def test_both_reports_are_the_json_of_the_verdict(verdict: Verdict) -> None:
    simple, detailed = _dumped(verdict, False), _dumped(verdict, True)
    assert _rendered(lambda: verdict.to_json(detailed=False)) == simple
    assert _rendered(verdict.to_json) == detailed
    both = _rendered(verdict.reports_json)
    if simple[0] == detailed[0] == "ok":
        assert both == ("ok", (simple[1], detailed[1]))
    else:
        assert both == ("error", UnicodeEncodeError)
    # Rendering again (now from the checks' memos) gives the same bytes.
    assert _rendered(verdict.reports_json) == both


def test_the_reports_of_verified_licences_are_their_json(demo_world: DemoWorld) -> None:
    """Real verdicts of each indication, as the service renders them (twice: the second time
    from the checks' memos)."""
    verifier = demo_world.verifier()
    tokens = [
        demo_world.licence_sz,  # PASSED
        demo_world.issue_licence(status=(IDX_SUSPENDED, CITY[SHENZHEN].issuer_status_uri)),
        demo_world.issue_licence(status=(IDX_REVOKED, CITY[SHENZHEN].issuer_status_uri)),
        demo_world.issue_licence(holder_name='"\\统\u2028\x00'),
        demo_world.licence_sz[:-8] + "AAAAAAAA",  # altered signature
        "x.y.z",
        "不是 a licence",
    ]
    for token in tokens:
        verdict = verifier.verify_licence(token, ZHONGSHAN)
        expected = (_dumped(verdict, False)[1], _dumped(verdict, True)[1])
        assert verdict.reports_json() == expected
        assert verdict.reports_json() == expected
    indications = {verifier.verify_licence(t, ZHONGSHAN).indication for t in tokens}
    assert indications == set(Indication)


@settings(max_examples=300, deadline=None)
@given(_TIME)
def test_format_time_is_the_utc_seconds_of_any_instant(value: datetime) -> None:
    text = value.astimezone(UTC).isoformat(timespec="seconds")[:-6] + "Z"
    assert format_time(value) == text
    assert format_time(value) == text  # and again from the memo
