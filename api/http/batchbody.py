"""A batch body's `items` read in pieces: the same values `read_json` gives, without one long
parse of the whole body.

orjson keeps the GIL for the whole of one call, and a batch of 10,000 licences is a 6.7 MB body:
read at once, it held the event loop (which waits for the GIL) for 30-150 ms. Here the `items`
array is cut at item boundaries into pieces of about `piece_bytes`, each read by the same strict
reader (`strict_json_loads` and `read_json`'s number rule), so no single call runs long.

Nothing here decides a refusal. Whenever the body is not a plain `{"items":[...]}` with an
optional `"receipt": true|false` before or after, or any piece fails to read, `read_items`
returns None and the caller reads the whole body as before (with its exact problem answers).

Why a piece that reads is what the whole reading would give: a piece starts where an item
starts (the first one right after `[`, each next one after the `,` that follows the previous
piece), and is read as `[` + piece + `]`, i.e. in the state the whole reading is in at that
point (inside the items array, a value expected). JSON reading is deterministic left to right,
so if the piece reads to its end and its closing bracket, the whole reading is at the same
point after a complete item: a cut inside a string or a deeper bracket cannot read (the string
or bracket is still open when the piece ends). Strictness rules are local to the items
(duplicate members, lone surrogates, numbers, NaN), and depth counts one less inside the
piece's own array than inside the body's object. The quote count only avoids trying cuts that
would fail anyway."""

from __future__ import annotations

import re
from typing import Any

from api.http.jsonbody import exact_numbers
from api.workers import let_others_run
from keys import MalformedJSON
from keys.encoding import MAX_JSON_DEPTH, strict_json_loads

_WS = rb"[ \t\n\r]*"  # JSON whitespace only (not \s: that also takes \x0b and \x0c)
_RECEIPT = rb'"receipt"' + _WS + rb":" + _WS + rb"(true|false)"
_HEAD = re.compile(
    _WS + rb"\{" + _WS + rb"(?:" + _RECEIPT + _WS + rb"," + _WS + rb")?" + rb'"items"' + _WS + rb":"
    + _WS + rb"\["
)  # fmt: skip
_TAIL = re.compile(
    rb"\]" + _WS + rb"(?:," + _WS + _RECEIPT + _WS + rb")?\}" + _WS + rb"\Z"
)  # fmt: skip
_CUT = re.compile(rb"\}" + _WS + rb",")  # where an item may end and the next one begin
_TAIL_WINDOW = 512  # the tail is looked for in the body's last bytes only
_MAX_TRIES = 64  # candidate cuts tried for one piece before giving up on pieces
PIECE_BYTES = 64 * 1024


def read_items(
    body: bytes, max_bytes: int, piece_bytes: int = PIECE_BYTES
) -> tuple[list[list[Any]], bool] | None:
    """The items of a batch body, as lists of JSON values piece by piece, and its receipt flag;
    None when the body must be read whole (anything unusual, or anything that does not read)."""
    if len(body) > max_bytes:
        return None
    head = _HEAD.match(body)
    if head is None:
        return None
    tail = _TAIL.search(body, max(head.end(), len(body) - _TAIL_WINDOW))
    if tail is None:
        return None
    if head.group(1) is not None and tail.group(1) is not None:
        return None  # the receipt twice: a duplicate member
    receipt = (head.group(1) or tail.group(1)) == b"true"
    start, end = head.end(), tail.start()
    pieces: list[list[Any]] = []
    while True:
        cut = None if end - start <= piece_bytes else _next_cut(body, start, end, piece_bytes)
        stop = end if cut is None else cut.start() + 1
        value = _read_piece(body[start:stop], max_bytes)
        if value is None:
            return None
        pieces.append(value)
        let_others_run()
        if cut is None:
            return pieces, receipt
        start = cut.end()


def _next_cut(body: bytes, start: int, end: int, piece_bytes: int) -> re.Match[bytes] | None:
    """The first `},` past start + piece_bytes outside a string (by the count of quotes, which
    is right unless a string holds an escaped quote: then the piece does not read, and the
    body is read whole); None: the rest is one piece."""
    quotes = 0
    seen = start
    for _ in range(_MAX_TRIES):
        cut = _CUT.search(body, start + piece_bytes if seen == start else seen + 1, end)
        if cut is None:
            return None
        quotes += body.count(b'"', seen, cut.start())
        seen = cut.start()
        if quotes % 2 == 0:
            return cut
    return None


def _read_piece(piece: bytes, max_bytes: int) -> list[Any] | None:
    if not piece.strip(b" \t\n\r"):
        return None  # an empty array, or an empty item between commas: the whole reading says
    data = b"[" + piece + b"]"
    try:
        # Read with no bound on depth (every other rule holds), so that the usual piece is not
        # scanned bracket by bracket: depth and numbers are checked below, on the value.
        value = strict_json_loads(data, max_bytes=max_bytes, max_depth=len(data))
    except MalformedJSON:
        return None
    if not isinstance(value, list):
        return None
    # An item that is an object of strings only (the usual item) holds no number and nests
    # no deeper than itself; the others are walked.
    for item in value:
        if type(item) is not dict or not all(type(v) is str for v in item.values()):
            return value if _nests_within(value, DEPTH) and exact_numbers(value) else None
    return value


def _nests_within(value: Any, limit: int) -> bool:
    """No array or object deeper than `limit` (the value itself at depth 1), as the strict
    reader counts depth."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if type(item) is dict else item if type(item) is list else None
        if children is None:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children if type(child) in (dict, list))
    return True


# Inside a piece's own array, one level less than inside the body's {"items": [...]}.
DEPTH = MAX_JSON_DEPTH - 1

__all__ = ["PIECE_BYTES", "read_items"]
