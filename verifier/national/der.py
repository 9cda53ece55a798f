"""A small, strict, bounded DER reader for the SES structures (GB/T 38540 / GM/T 0031).

Why not a schema library: a verifier must sign-check the exact bytes that were signed, must know
where every field starts and ends, and must refuse what is not DER: indefinite lengths, non-minimal
lengths, high tag numbers, trailing bytes, absurd counts. Every failure is a `DerError` naming the
field it was reading."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

# Universal tags (identifier octets, class universal).
BOOLEAN: Final = 0x01
INTEGER: Final = 0x02
BIT_STRING: Final = 0x03
OCTET_STRING: Final = 0x04
OID: Final = 0x06
UTF8_STRING: Final = 0x0C
PRINTABLE_STRING: Final = 0x13
IA5_STRING: Final = 0x16
UTC_TIME: Final = 0x17
GENERALIZED_TIME: Final = 0x18
SEQUENCE: Final = 0x30
SET: Final = 0x31

MAX_CHILDREN: Final = 4096
MAX_INTEGER_BYTES: Final = 32

_NAMES: Final = {
    BOOLEAN: "BOOLEAN",
    INTEGER: "INTEGER",
    BIT_STRING: "BIT STRING",
    OCTET_STRING: "OCTET STRING",
    OID: "OBJECT IDENTIFIER",
    UTF8_STRING: "UTF8String",
    PRINTABLE_STRING: "PrintableString",
    IA5_STRING: "IA5String",
    UTC_TIME: "UTCTime",
    GENERALIZED_TIME: "GeneralizedTime",
    SEQUENCE: "SEQUENCE",
    SET: "SET",
}


class DerError(ValueError):
    """The bytes are not the DER structure expected (the message names the field)."""


def tag_name(tag: int) -> str:
    if tag in _NAMES:
        return _NAMES[tag]
    klass = ("UNIVERSAL", "APPLICATION", "", "PRIVATE")[tag >> 6]
    return f"[{klass + ' ' if klass else ''}{tag & 0x1F}]"


@dataclass(frozen=True, slots=True)
class Tlv:
    tag: int  # the identifier octet
    raw: bytes  # the whole encoding: identifier, length and contents
    value: bytes  # the contents

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)

    def is_context(self, number: int) -> bool:
        return self.tag & 0xC0 == 0x80 and self.tag & 0x1F == number


def read(data: bytes, pos: int, what: str) -> tuple[Tlv, int]:
    """The TLV at data[pos:], and the position after it."""
    end = len(data)
    if pos + 2 > end:
        raise DerError(f"{what}: truncated")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DerError(f"{what}: high tag numbers are not used here")
    first = data[pos + 1]
    hdr = 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise DerError(f"{what}: indefinite length (BER, not DER)")
    else:
        count = first & 0x7F
        if count > 4 or pos + 2 + count > end:
            raise DerError(f"{what}: bad length")
        length_bytes = data[pos + 2 : pos + 2 + count]
        if length_bytes[0] == 0:
            raise DerError(f"{what}: non-minimal length")
        length = int.from_bytes(length_bytes, "big")
        if length < 0x80:
            raise DerError(f"{what}: non-minimal length")
        hdr += count
    start = pos + hdr
    if start + length > end:
        raise DerError(f"{what}: length runs past the end of the data")
    return Tlv(tag, data[pos : start + length], data[start : start + length]), start + length


def parse(data: bytes, what: str) -> Tlv:
    """Exactly one TLV, nothing after it."""
    tlv, pos = read(data, 0, what)
    if pos != len(data):
        raise DerError(f"{what}: {len(data) - pos} trailing bytes")
    return tlv


def children(tlv: Tlv, what: str, *, max_count: int = MAX_CHILDREN) -> list[Tlv]:
    if not tlv.constructed:
        raise DerError(f"{what}: a constructed value was expected")
    out: list[Tlv] = []
    pos = 0
    data = tlv.value
    while pos < len(data):
        if len(out) >= max_count:
            raise DerError(f"{what}: more than {max_count} elements")
        child, pos = read(data, pos, f"{what}[{len(out)}]")
        out.append(child)
    return out


def expect(tlv: Tlv, tag: int | tuple[int, ...], what: str) -> Tlv:
    tags = tag if isinstance(tag, tuple) else (tag,)
    if tlv.tag not in tags:
        wanted = " or ".join(tag_name(t) for t in tags)
        raise DerError(f"{what}: {wanted} expected, found {tag_name(tlv.tag)}")
    return tlv


def sequence(tlv: Tlv, what: str, *, min_len: int = 0, max_len: int = MAX_CHILDREN) -> list[Tlv]:
    items = children(expect(tlv, SEQUENCE, what), what, max_count=max_len)
    if len(items) < min_len:
        raise DerError(f"{what}: {len(items)} elements, at least {min_len} expected")
    return items


def integer(tlv: Tlv, what: str, *, max_bytes: int = MAX_INTEGER_BYTES) -> int:
    v = expect(tlv, INTEGER, what).value
    if not v or len(v) > max_bytes:
        raise DerError(f"{what}: INTEGER of {len(v)} bytes")
    if len(v) > 1 and ((v[0] == 0 and not v[1] & 0x80) or (v[0] == 0xFF and v[1] & 0x80)):
        raise DerError(f"{what}: non-minimal INTEGER")
    return int.from_bytes(v, "big", signed=True)


def small_int(tlv: Tlv, what: str, lo: int = 0, hi: int = 2**31 - 1) -> int:
    value = integer(tlv, what, max_bytes=8)
    if not lo <= value <= hi:
        raise DerError(f"{what}: {value} is outside {lo}..{hi}")
    return value


def boolean(tlv: Tlv, what: str) -> bool:
    v = expect(tlv, BOOLEAN, what).value
    if len(v) != 1 or v[0] not in (0x00, 0xFF):
        raise DerError(f"{what}: a DER BOOLEAN is one byte 00 or FF")
    return v[0] == 0xFF


def octets(tlv: Tlv, what: str, *, max_len: int) -> bytes:
    v = expect(tlv, OCTET_STRING, what).value
    if len(v) > max_len:
        raise DerError(f"{what}: {len(v)} bytes, at most {max_len} allowed")
    return v


def bits(tlv: Tlv, what: str, *, max_len: int) -> bytes:
    """A BIT STRING holding whole bytes (unused bits 0), as bytes."""
    v = expect(tlv, BIT_STRING, what).value
    if not v or v[0] != 0:
        raise DerError(f"{what}: a BIT STRING of whole bytes (0 unused bits) expected")
    if len(v) - 1 > max_len:
        raise DerError(f"{what}: {len(v) - 1} bytes, at most {max_len} allowed")
    return v[1:]


def oid(tlv: Tlv, what: str) -> str:
    v = expect(tlv, OID, what).value
    if not v or len(v) > 64 or v[-1] & 0x80:
        raise DerError(f"{what}: malformed OBJECT IDENTIFIER")
    arcs: list[int] = []
    acc = 0
    fresh = True
    for b in v:
        if fresh and b == 0x80:
            raise DerError(f"{what}: non-minimal OBJECT IDENTIFIER arc")
        acc = (acc << 7) | (b & 0x7F)
        fresh = not b & 0x80
        if fresh:
            arcs.append(acc)
            acc = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])


def encode_oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        rest = arc
        chunk = [rest & 0x7F]
        rest >>= 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        body += bytes(reversed(chunk))
    return tlv_bytes(OID, bytes(body))


def text(tlv: Tlv, what: str, tags: tuple[int, ...], *, max_len: int = 1024) -> str:
    """A string: IA5/Printable strictly ASCII, UTF8String decoded (invalid bytes replaced: such
    strings are only displayed)."""
    t = expect(tlv, tags, what)
    if len(t.value) > max_len:
        raise DerError(f"{what}: longer than {max_len} bytes")
    if t.tag == UTF8_STRING:
        return t.value.decode("utf-8", "replace")
    try:
        return t.value.decode("ascii")
    except UnicodeDecodeError as exc:
        raise DerError(f"{what}: {tag_name(t.tag)} with non-ASCII bytes") from exc


# re.ASCII: \d is 0-9 only (int() would read full-width and other Unicode digits too).
_UTC = re.compile(r"\A(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z\Z", re.ASCII)
_GEN = re.compile(r"\A(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,9}))?Z\Z", re.ASCII)
_ISO = re.compile(
    r"\A(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?\Z",
    re.ASCII,
)
_DIGITS14 = re.compile(r"\A\d{14}\Z", re.ASCII)
CHINA_STANDARD_TIME: Final = timezone(timedelta(hours=8), "CST")


def _build(parts: tuple[str | None, ...], tz: timezone = UTC) -> datetime:
    y, mo, d, h, mi, s = (int(p or 0) for p in parts[:6])
    frac = parts[6] if len(parts) > 6 else None
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        return datetime(y, mo, d, h, mi, s, micro, tzinfo=tz).astimezone(UTC)
    except OverflowError as exc:  # an offset carrying year 1 or 9999 past datetime's range
        raise ValueError(f"{exc} in UTC") from exc


def time(tlv: Tlv, what: str) -> datetime:
    """UTCTime or GeneralizedTime, in UTC ('Z') as DER requires."""
    t = expect(tlv, (UTC_TIME, GENERALIZED_TIME), what)
    try:
        s = t.value.decode("ascii")
    except UnicodeDecodeError as exc:
        raise DerError(f"{what}: not ASCII") from exc
    try:
        if t.tag == UTC_TIME:
            m = _UTC.match(s)
            if m is None:
                raise DerError(f"{what}: UTCTime must be YYMMDDHHMMSSZ, not {s[:32]!r}")
            yy = int(m.group(1))
            return _build((str(yy + (2000 if yy < 50 else 1900)), *m.groups()[1:]))
        m = _GEN.match(s)
        if m is None:
            raise DerError(f"{what}: GeneralizedTime must be YYYYMMDDHHMMSS[.f]Z, not {s[:32]!r}")
        return _build(m.groups())
    except ValueError as exc:
        if isinstance(exc, DerError):
            raise
        raise DerError(f"{what}: not a valid date ({exc})") from exc


def loose_time(
    text_value: str, what: str, *, default_tz: timezone = CHINA_STANDARD_TIME
) -> datetime:
    """A time written as text by OFD producers and GM/T 0031 seals: UTCTime, GeneralizedTime or
    ISO 8601 forms ('2020-04-22 16:22:44', '2020-01-25T07:31:56.377Z', '20201010151120').
    Without a zone it is taken in `default_tz` (China Standard Time, UTC+8)."""
    s = text_value.strip()
    try:
        if m := _UTC.match(s):
            yy = int(m.group(1))
            return _build((str(yy + (2000 if yy < 50 else 1900)), *m.groups()[1:]))
        if m := _GEN.match(s):
            return _build(m.groups())
        if _DIGITS14.match(s):
            return _build((s[0:4], s[4:6], s[6:8], s[8:10], s[10:12], s[12:14]), default_tz)
        if m := _ISO.match(s):
            zone = m.group(8)
            tz = default_tz
            if zone == "Z":
                tz = UTC
            elif zone:
                sign = -1 if zone[0] == "-" else 1
                digits = zone[1:].replace(":", "")
                tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
            return _build(m.groups()[:7], tz)
    except ValueError as exc:
        raise DerError(f"{what}: not a valid date ({exc})") from exc
    raise DerError(f"{what}: unrecognised time {s[:40]!r}")


def length_bytes(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv_bytes(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + length_bytes(len(value)) + value


__all__ = [
    "BIT_STRING",
    "BOOLEAN",
    "GENERALIZED_TIME",
    "IA5_STRING",
    "INTEGER",
    "OCTET_STRING",
    "OID",
    "PRINTABLE_STRING",
    "SEQUENCE",
    "SET",
    "UTC_TIME",
    "UTF8_STRING",
    "DerError",
    "Tlv",
    "bits",
    "boolean",
    "children",
    "encode_oid",
    "expect",
    "integer",
    "loose_time",
    "octets",
    "oid",
    "parse",
    "read",
    "sequence",
    "small_int",
    "text",
    "time",
    "tlv_bytes",
]
