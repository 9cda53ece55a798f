"""Strict base64url, JSON and canonical JSON helpers shared by every signed format."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from keys.errors import MalformedJSON

_B64URL = re.compile(rb"\A[A-Za-z0-9_-]*\Z")
_URLSAFE_TO_STD = bytes.maketrans(b"-_", b"+/")
_B64_VALUES = {
    c: i for i, c in enumerate(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}

MAX_JSON_DEPTH = 32


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str | bytes) -> bytes:
    """Decode unpadded base64url; reject padding, other alphabets and non-canonical tails."""
    raw = text.encode("ascii", "strict") if isinstance(text, str) else text
    tail = len(raw) % 4
    if not _B64URL.match(raw) or tail == 1:
        raise ValueError("not unpadded base64url")
    # Reject encodings whose unused low bits are set: one value must have one encoding. The last
    # character of a 2- or 3-character tail carries 4 or 2 unused bits.
    if tail and _B64_VALUES[raw[-1]] & (0x0F if tail == 2 else 0x03):
        raise ValueError("non-canonical base64url")
    try:
        # binascii directly: base64.urlsafe_b64decode re-validates and copies what the regex
        # above has already checked.
        return binascii.a2b_base64(raw.translate(_URLSAFE_TO_STD) + b"=" * (-len(raw) % 4))
    except binascii.Error as exc:  # pragma: no cover - the regex already excludes this
        raise ValueError("not base64url") from exc


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):  # only then look for the culprit, to name it
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise MalformedJSON(f"duplicate JSON member {key!r}")
            seen.add(key)
    return out


def _reject_constant(name: str) -> Any:
    raise MalformedJSON(f"non-standard JSON constant {name}")


# One decoder for all calls (json.loads would build a new one per call when given hooks).
_DECODER = json.JSONDecoder(object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant)


def _depth(value: Any, limit: int) -> bool:
    # Iterative walk: json.loads itself only fails at the interpreter's recursion limit.
    # It also refuses strings that are not Unicode scalar values: "\ud800" escapes parse into
    # lone surrogates that cannot be encoded as UTF-8 (I-JSON, RFC 7493 2.1), so canonical_json
    # would fail on them later.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        elif isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError as exc:
                    raise MalformedJSON("JSON string with a lone surrogate") from exc
            continue
        else:
            continue
        if depth > limit:
            return False
        stack.extend(
            (child, depth + 1) for child in children if isinstance(child, dict | list | str)
        )
    return True


def strict_json_loads(data: bytes | str, *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON strictly: UTF-8, no duplicate members, no NaN/Infinity, bounded size and depth."""
    if len(data) > max_bytes:
        raise MalformedJSON(f"JSON larger than {max_bytes} bytes")
    try:
        text = data.decode("utf-8", "strict") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise MalformedJSON("JSON is not valid UTF-8") from exc
    try:
        value = _DECODER.decode(text)
    except MalformedJSON:
        raise
    except RecursionError as exc:
        raise MalformedJSON(f"JSON nested deeper than {max_depth}") from exc
    except ValueError as exc:
        raise MalformedJSON(f"invalid JSON: {exc}") from exc
    # The walk is needed only when the text could break a rule: with at most max_depth opening
    # brackets nothing can nest deeper, and strictly decoded UTF-8 without a \u escape cannot
    # hold a lone surrogate (a str argument could, unless it is ASCII).
    if (
        text.count("{") + text.count("[") > max_depth
        or "\\u" in text
        or not (isinstance(data, bytes) or text.isascii())
    ) and not _depth(value, max_depth):
        raise MalformedJSON(f"JSON nested deeper than {max_depth}")
    return value


def canonical_json(value: Any) -> bytes:
    """Deterministic JSON (sorted keys, no whitespace, UTF-8). Our signed payloads carry no floats,
    so this coincides with RFC 8785 (JCS) for them."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
