"""CBOR (RFC 8949) read strictly, written deterministically: the CBOR twin of strict_json_loads.

Reading first walks the bytes against huren's profile, then lets `cbor2` build the values, so
`cbor2` never sees anything two decoders could read two ways:
- definite lengths only (no indefinite strings, arrays or maps, no break byte);
- preferred (shortest) encoding of every length, integer and tag number;
- integers of major types 0 and 1 only (64 bits): no bignums (tags 2 and 3);
- map keys are integers or text, never repeated;
- no floats, no undefined, no simple values other than false, true and null;
- text is valid UTF-8;
- tags only where the caller allows them, as a prefix of the top-level item;
- caps on the size, the nesting depth and the number of items;
- exactly one item, nothing after it.

Writing uses cbor2's canonical mode (RFC 8949 4.2.1 core deterministic encoding)."""

from __future__ import annotations

from typing import Any, Final

import cbor2

MAX_DEPTH: Final = 16
MAX_ITEMS: Final = 4096


class MalformedCBOR(ValueError):
    """The bytes are not CBOR of huren's profile; the message says where."""

    code = "cbor_malformed"


def dumps(value: object) -> bytes:
    """Deterministic CBOR (sorted map keys, shortest forms)."""
    return cbor2.dumps(value, canonical=True)


class _Walk:
    __slots__ = ("data", "end", "items", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.end = len(data)
        self.pos = 0
        self.items = 0

    def head(self) -> tuple[int, int, int]:
        """(major type, additional info, argument) of the next item; minimal forms only."""
        if self.pos >= self.end:
            raise MalformedCBOR(f"truncated at byte {self.pos}")
        first = self.data[self.pos]
        major, info = first >> 5, first & 0x1F
        self.pos += 1
        if info < 24:
            return major, info, info
        if info > 27:
            # 28-30 are reserved; 31 is an indefinite length or a break
            kind = "indefinite length" if info == 31 else "reserved additional information"
            raise MalformedCBOR(f"{kind} at byte {self.pos - 1}")
        size = 1 << (info - 24)
        if major == 7:
            return major, info, 0  # floats and one-byte simple values: refused by the caller
        if self.pos + size > self.end:
            raise MalformedCBOR(f"truncated at byte {self.pos}")
        arg = int.from_bytes(self.data[self.pos : self.pos + size], "big")
        self.pos += size
        if (size == 1 and arg < 24) or (size > 1 and arg < 1 << (4 * size)):
            raise MalformedCBOR(f"non-shortest integer or length at byte {self.pos - size - 1}")
        return major, info, arg

    def item(self, depth: int, tags: frozenset[int]) -> None:
        if depth > MAX_DEPTH:
            raise MalformedCBOR(f"nested deeper than {MAX_DEPTH}")
        self.items += 1
        if self.items > MAX_ITEMS:
            raise MalformedCBOR(f"more than {MAX_ITEMS} items")
        start = self.pos
        major, info, arg = self.head()
        if major in (0, 1):
            return
        if major in (2, 3):
            if arg > self.end - self.pos:
                raise MalformedCBOR(f"string at byte {start} runs past the end")
            chunk = self.data[self.pos : self.pos + arg]
            self.pos += arg
            if major == 3:
                try:
                    chunk.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise MalformedCBOR(f"text at byte {start} is not UTF-8") from exc
            return
        if major == 4:
            if arg > self.end - self.pos:  # each item is at least one byte
                raise MalformedCBOR(f"array at byte {start} runs past the end")
            for _ in range(arg):
                self.item(depth + 1, frozenset())
            return
        if major == 5:
            if 2 * arg > self.end - self.pos:
                raise MalformedCBOR(f"map at byte {start} runs past the end")
            seen: set[bytes] = set()
            for _ in range(arg):
                key_start = self.pos
                key_major = self.data[self.pos] >> 5 if self.pos < self.end else -1
                if key_major not in (0, 1, 3):
                    raise MalformedCBOR(f"map key at byte {key_start} is not an integer or text")
                self.item(depth + 1, frozenset())
                # Shortest forms only, so equal keys are equal bytes.
                key = self.data[key_start : self.pos]
                if key in seen:
                    raise MalformedCBOR(f"duplicate map key at byte {key_start}")
                seen.add(key)
                self.item(depth + 1, frozenset())
            return
        if major == 6:
            if arg not in tags:
                raise MalformedCBOR(f"tag {arg} at byte {start} is not allowed here")
            self.item(depth + 1, tags - {arg})
            return
        # major 7: false, true and null only
        if info >= 24 or arg not in (20, 21, 22):
            raise MalformedCBOR(f"float or simple value at byte {start} is not allowed")


def check(data: bytes, *, max_bytes: int, tags: frozenset[int] = frozenset()) -> None:
    """Raise MalformedCBOR unless `data` is exactly one item of huren's profile (see the module
    docstring); `tags` may wrap the top-level item, each at most once."""
    if len(data) > max_bytes:
        raise MalformedCBOR(f"larger than {max_bytes} bytes")
    walk = _Walk(data)
    walk.item(0, tags)
    if walk.pos != walk.end:
        raise MalformedCBOR(f"{walk.end - walk.pos} bytes after the item")


_SCALARS: Final = frozenset({str, bytes, bool, type(None)})
# Integers of major types 0 and 1; cbor2 reads larger ones from bignum tags (2, 3), which the walk
# refuses, and writes them back the same way, so the round trip alone would let them through.
INT_MIN: Final = -(2**64)
INT_MAX: Final = 2**64 - 1
# cbor2 gives what sits inside a tag as immutable values: tuple for arrays, frozendict for maps.
_ARRAYS: Final = frozenset({list, tuple})
_MAPS: Final = frozenset({dict, cbor2.frozendict})


def _plain(value: object, depth: int = 0) -> bool:
    """True iff the decoded value holds only what the profile admits (integers of 64 bits, text,
    bytes, false, true, null, arrays, maps with integer or text keys), within the depth cap."""
    t = type(value)
    if t is int:
        return INT_MIN <= value <= INT_MAX  # type: ignore[operator]
    if t in _SCALARS:
        return True
    if depth >= MAX_DEPTH:
        return False
    if t in _ARRAYS:
        # Loops, not all(<generator>): this runs for every QR licence.
        for v in value:  # type: ignore[attr-defined]  # noqa: SIM110
            if not _plain(v, depth + 1):
                return False
        return True
    if t in _MAPS:
        for k, v in value.items():  # type: ignore[attr-defined]
            tk = type(k)
            if tk is int:
                if not INT_MIN <= k <= INT_MAX:
                    return False
            elif tk is not str:
                return False
            if not _plain(v, depth + 1):
                return False
        return True
    return False


def _plain_tagged(value: object, tags: frozenset[int]) -> bool:
    """_plain, with a chain of distinct tags from `tags` allowed around the top-level item."""
    seen: set[int] = set()
    while isinstance(value, cbor2.CBORTag):
        if value.tag not in tags or value.tag in seen:
            return False
        seen.add(value.tag)
        value = value.value
    return _plain(value, len(seen))


def loads(data: bytes, *, max_bytes: int, tags: frozenset[int] = frozenset()) -> Any:
    """The value of `data`, checked against the profile. Tags come back as cbor2.CBORTag.

    Fast path: cbor2 decodes, and the bytes are accepted when cbor2 writes the decoded value
    back to exactly these bytes (it writes definite lengths and shortest forms, keeps the map
    order and cannot write a key twice) and the value holds only what the profile admits.
    Anything else takes the byte walk, which names the first fault."""
    if len(data) > max_bytes:
        raise MalformedCBOR(f"larger than {max_bytes} bytes")
    try:
        value = cbor2.loads(data)
    except Exception:  # noqa: S110 - the walk below names the fault
        pass
    else:
        if len(data) <= MAX_ITEMS and _plain_tagged(value, tags) and cbor2.dumps(value) == data:
            return value
    check(data, max_bytes=max_bytes, tags=tags)
    try:
        return cbor2.loads(data)
    except (cbor2.CBORDecodeError, ValueError) as exc:  # pragma: no cover - profile is narrower
        raise MalformedCBOR(str(exc)) from exc


__all__ = [
    "INT_MAX",
    "INT_MIN",
    "MAX_DEPTH",
    "MAX_ITEMS",
    "MalformedCBOR",
    "check",
    "dumps",
    "loads",
]
