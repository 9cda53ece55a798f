"""strict_json_loads has a fast path for bytes (orjson, keys/encoding.py _fast_loads) and the
reference path for str (the json module with its hooks). Differential: for any text, both give
the same value (same types: 1 is not 1.0, nor true) or the same MalformedJSON message. The texts
are built to hit what the fast path argues about: repeated members, whitespace before colons,
strings that start like a member name (' :'), integers beyond 64 bits, deep nesting."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from keys.encoding import strict_json_loads
from keys.errors import MalformedJSON

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
