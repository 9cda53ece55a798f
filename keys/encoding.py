"""Strict base64url, JSON and canonical JSON helpers shared by every signed format."""

from __future__ import annotations

import base64
import binascii
import itertools
import json
from array import array
from typing import Any

import orjson

from keys.errors import MalformedJSON

# base64url -> standard alphabet; the standard-only characters and "=" become "!", which
# a2b_base64(strict_mode=True) refuses like any other character outside the alphabet.
_URLSAFE_TO_STD = bytes.maketrans(b"-_+/=", b"+/!!!")
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
    if tail == 1:
        raise ValueError("not unpadded base64url")
    try:
        # One C pass checks the alphabet and decodes (no regex): strict mode refuses every
        # character outside the standard alphabet, including whitespace and the translated
        # "+", "/" and "=" of the input; the padding added here is the only padding.
        data = binascii.a2b_base64(
            raw.translate(_URLSAFE_TO_STD) + b"==="[: -tail % 4], strict_mode=True
        )
    except binascii.Error as exc:
        raise ValueError("not unpadded base64url") from exc
    # Reject encodings whose unused low bits are set: one value must have one encoding. The last
    # character of a 2- or 3-character tail carries 4 or 2 unused bits.
    if tail and _B64_VALUES[raw[-1]] & (0x0F if tail == 2 else 0x03):
        raise ValueError("non-canonical base64url")
    return data


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


# The fast path of strict_json_loads (below) and what it relies on.
_SLOW: Any = object()
# The pattern counted: a quote, JSON whitespace, a colon (see _fast_loads).
_JSON_WS = b" \t\n\r"
# orjson reads integers beyond 64 bits as floats: texts with 19 digits in a row that are not
# their own re-encoding go the slow way (see _fast_loads).
_DIGITS_AS_ZERO = bytes.maketrans(b"0123456789", b"0000000000")
_LONG_DIGITS = b"0" * 19
_BRACKETS = bytes.maketrans(b"{[}]", b"\x01\x01\xff\xff")  # +1 / -1 as signed bytes
_NOT_BRACKETS = bytes(set(range(256)) - set(b"{[}]"))


def _fast_loads(data: bytes, max_depth: int) -> Any:
    """orjson for the common case, or _SLOW whenever the answer could differ in any way from
    the reference path (which then decides, with its own error messages).

    Only texts without a backslash come here, so no string holds an escape (no lone surrogate,
    orjson refuses invalid UTF-8) and every quote delimits a string. Then a member name is a
    string followed by optional whitespace and a colon, and a string whose content starts with
    optional whitespace and a colon matches the same pattern; re-encoding the parsed value keeps
    every string that survived parsing. So the pattern occurs as often in the re-encoding as in
    the text iff parsing dropped nothing: iff no object repeats a member name."""
    try:
        value = orjson.loads(data)
        again = orjson.dumps(value)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return _SLOW  # malformed, or beyond what orjson represents exactly
    # A text that is its own re-encoding (what canonical_json writes: every issuer's payload)
    # holds the pattern as often as the re-encoding, and no integer orjson read as a float
    # (floats are written with "." or "e"). Only other texts need the two checks.
    if again != data:
        if data.translate(_DIGITS_AS_ZERO).find(_LONG_DIGITS) >= 0:
            return _SLOW  # an integer beyond 64 bits: orjson would read a float
        # With JSON whitespace deleted, each occurrence of the pattern is exactly one '":'
        # (two cannot overlap: only their first byte is a quote).
        if data.translate(None, _JSON_WS).count(b'":') != again.translate(None, _JSON_WS).count(
            b'":'
        ):
            return _SLOW  # a duplicate member
    if data.count(b"{") + data.count(b"[") > max_depth:
        # Without backslashes, the pieces between quotes alternate: outside, string, outside...
        outside = b"".join(data.split(b'"')[::2])
        brackets = outside.translate(_BRACKETS, _NOT_BRACKETS)
        if max(itertools.accumulate(array("b", brackets)), default=0) > max_depth:
            return _SLOW
    return value


def strict_json_loads(data: bytes | str, *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON strictly: UTF-8, no duplicate members, no NaN/Infinity, bounded size and depth."""
    if len(data) > max_bytes:
        raise MalformedJSON(f"JSON larger than {max_bytes} bytes")
    # find, not `in`: bytes.__contains__ first reads its argument as an integer and formats the
    # TypeError it then swallows (about as much work as the rest of this test).
    if isinstance(data, bytes) and data.find(b"\\") < 0:
        value = _fast_loads(data, max_depth)
        if value is not _SLOW:
            return value
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
