"""The QR form of an e-licence, `HR1:` (docs/formats.md): its text layers and its CWT claims.

    "HR1:" + base45( zlib( COSE_Sign1( CWT claims ) ) )

Reading is strict and capped at every layer, and each layer failure names its own check code
(format.qr_prefix, format.qr_encoding, format.qr_compression; then format.cbor and format.cose
for keys.cbor and keys.cose). The CWT claims map onto the JSON claims of a JWS licence one to one
(CWT_CLAIMS), so both forms are read by the one parser, verifier.formats.parse_licence_claims,
and judged by the same checks."""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

import base45
import cbor2

from keys import cbor
from verifier.formats import LicenceClaims, _licence_fast

PREFIX: Final = b"HR1:"
LICENCE_CWT_TYP: Final = "huren-licence+cwt"  # the COSE typ (header 16) of a QR licence
# Version 40 holds 4296 alphanumeric characters: nothing longer comes out of one QR code.
MAX_HR1_CHARS: Final = 4296
# A licence's CWT is well under 2 KiB; a larger inflation is a bomb, not a licence.
MAX_INFLATED_BYTES: Final = 8192
# What a scanner or a keyboard wedge adds around the text (never a space: base45 has spaces).
_AROUND: Final = b"\r\n\t"

# CWT claim keys (RFC 8392 3.1; status: the CWT form of the IETF Token Status List) and
# huren's own claims, which keep their JSON names as text keys.
CWT_CLAIMS: Final[Mapping[int | str, str]] = MappingProxyType(
    {
        1: "iss",
        4: "exp",
        5: "nbf",
        6: "iat",
        65535: "status",
        "jur": "jur",
        "lic_no": "lic_no",
        "lic_type": "lic_type",
        "holder": "holder",
        "data": "data",
    }
)
_JSON_TO_CWT: Final[Mapping[str, int | str]] = MappingProxyType(
    {v: k for k, v in CWT_CLAIMS.items()}
)


class LayerError(ValueError):
    """A text layer of an HR1 string is wrong; `code` is the check code that fails."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def looks_like_hr1(text: bytes | str) -> bool:
    """True when the input is meant as a QR licence (it starts with the prefix, any case):
    how the API and the CLI tell it from a JWS."""
    raw = text if isinstance(text, bytes) else text[:8].encode("utf-8", "replace")
    return raw.lstrip(_AROUND)[:4].upper() == PREFIX


def strip(raw: bytes) -> bytes:
    """The text without what a scanner or a keyboard wedge adds around it (CR, LF, tab)."""
    return raw.strip(_AROUND)


def unprefix(raw: bytes, prefix: bytes = PREFIX) -> bytes:
    """The Base45 text after the prefix (another one only to read outside material, such as the
    EU DCC's HC1: in the conformance tests), or LayerError."""
    text = strip(raw)
    if not text.startswith(prefix):
        shown = text[:4].decode("ascii", "replace")
        raise LayerError("format.qr_prefix", f"starts with {shown!r}")
    return text[len(prefix) :]


def unwrap(raw: bytes) -> bytes:
    """The COSE_Sign1 bytes inside an HR1 string, or LayerError."""
    return inflate(b45decode(unprefix(raw)))


_B45_ALPHABET: Final = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_DIGITS: Final = bytes(
    _B45_ALPHABET.index(c) if c in _B45_ALPHABET else 0xFF for c in range(256)
)


_MASKS: dict[int, tuple[int, int, int]] = {}


def _lane_masks(groups: int) -> tuple[int, int, int]:
    """Masks of the first, second and third byte of `groups` three-byte groups (a bounded
    cache: licences of one issuer have a few lengths)."""
    masks = _MASKS.get(groups)
    if masks is None:
        if len(_MASKS) >= 64:
            _MASKS.clear()
        ones = int.from_bytes(b"\0\0\xff" * groups, "big")
        masks = _MASKS[groups] = (ones << 16, ones << 8, ones)
    return masks


def b45decode(text: bytes) -> bytes:
    """RFC 9285 Base45, strictly: the alphabet only, no length of 3k+1, no group above its byte
    range (so each byte string has exactly one encoding).

    The `base45` package encodes (issuing) and is the reference in the tests; this decoder is
    the same function in whole-string operations (three-byte groups of one big integer), many
    times faster than a loop per group on the verification path."""
    digits = text.translate(_B45_DIGITS)
    if 0xFF in digits:  # an int needle: a bytes one is first tried as an int, at a cost
        raise LayerError("format.qr_encoding", "a character outside the Base45 alphabet")
    groups, rest = divmod(len(digits), 3)
    if rest == 1:
        raise LayerError("format.qr_encoding", "a length of 3k+1 characters")
    if rest:  # the final pair, as a group whose third digit is 0
        digits += b"\0"
        groups += 1
    # The digits as one big integer of three-byte groups [d0 d1 d2]; masks pick each digit of
    # every group at once, and each group gets 256 times its value d0 + 45*d1 + 2025*d2 <= 91124
    # in its own three bytes, the last of them 0. A value above 65535 carries one bit out of its
    # group: into the last byte of the group before, or out of the number for the first group.
    number = int.from_bytes(digits, "big")
    high, middle, low = _lane_masks(groups)
    total = (number & low) * 518400 + (number & middle) * 45 + ((number & high) >> 8)
    if total & low or total >> 24 * groups:
        raise LayerError("format.qr_encoding", "a group of three characters above 65535")
    out = bytearray(total.to_bytes(3 * groups, "big"))
    del out[2::3]  # the last byte of each group, now known to be 0
    if rest:
        if out[-2]:
            raise LayerError("format.qr_encoding", "a final pair of characters above 255")
        del out[-2]
    return bytes(out)


def inflate(packed: bytes, limit: int = MAX_INFLATED_BYTES) -> bytes:
    """zlib (RFC 1950) data inflated to at most `limit` bytes; the stream must end exactly at
    the end of the data (no truncation, nothing after it)."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(packed, limit + 1)
    except zlib.error as exc:
        raise LayerError("format.qr_compression", f"not zlib data: {exc}") from exc
    if len(out) > limit:
        raise LayerError("format.qr_compression", f"inflates to more than {limit} bytes")
    if not inflater.eof:
        raise LayerError("format.qr_compression", "the zlib stream is truncated")
    if inflater.unused_data:
        raise LayerError(
            "format.qr_compression", f"{len(inflater.unused_data)} bytes after the zlib stream"
        )
    return out


def wrap(cose: bytes) -> str:
    """The HR1 string of COSE_Sign1 bytes (zlib at level 9: the smallest QR code)."""
    packed: bytes = base45.b45encode(zlib.compress(cose, 9))
    return PREFIX.decode() + packed.decode("ascii")


def _text_keys(value: object, where: str) -> None:
    """Nested maps of the claims have text keys only (JSON's rule), so their parser compares
    like with like; arrays are no part of a licence. (keys.cbor already admitted only integers,
    text, bytes, booleans, null, arrays and maps.)"""
    if type(value) is dict:
        for k, v in value.items():
            if type(k) is not str:
                raise ValueError(f"{where}: member names must be text, not {type(k).__name__}")
            if type(v) is dict or type(v) is list:
                _text_keys(v, where)
    elif type(value) is list:
        raise ValueError(f"{where}: arrays are not part of a licence")


_CLAIM_NAMES: Final[dict[int | str, str]] = dict(CWT_CLAIMS)  # a dict: faster than the proxy


def usual_licence_claims(payload: bytes) -> LicenceClaims | None:
    """The licence claims of a CWT that is plainly right, in one pass; None for anything else,
    which cwt_to_claims and parse_licence_claims then accept or refuse (and name the fault).

    It gives claims only where that strict route gives the same ones: the claim keys are the
    documented ones (integers or text, so never true or 1.0, which hash as 1); formats'
    fast reading of a licence accepts the values, and it takes only text, integers within ±2**53
    (no bignums), booleans and the text-keyed maps of holder and status, and data (whose keys are
    checked to be text here): a subset of keys.cbor's profile and of _text_keys; and cbor2
    writes the value back to exactly these bytes (keys.cbor.loads' round trip: definite lengths,
    shortest forms, no key twice, no tag, nothing after the item)."""
    if len(payload) > cbor.MAX_ITEMS:  # more items than the profile's cap cannot fit
        return None
    try:
        value = cbor2.loads(payload)
        if type(value) is not dict:
            return None
        names = _CLAIM_NAMES
        claims: dict[str, Any] = {}
        for key, item in value.items():
            # Never true or 1.0 (which hash as 1); a key outside the table is a KeyError.
            if type(key) is not int and type(key) is not str:
                return None
            claims[names[key]] = item
        licence = _licence_fast(claims)
        if licence is None:
            return None
        data = claims.get("data")
        if data is not None:
            for key in data:
                if type(key) is not str:
                    return None
        if cbor2.dumps(value) != payload:
            return None
    except Exception:  # the strict route names the fault
        return None
    return licence


def cwt_to_claims(payload: bytes) -> dict[str, Any]:
    """The CWT claims (strict CBOR: keys.cbor's profile) as the JSON claims dict of a licence;
    ValueError (with keys.cbor.MalformedCBOR for the CBOR itself) when the claim keys are not
    the documented ones or a nested map has other than text keys."""
    value = cbor.loads(payload, max_bytes=MAX_INFLATED_BYTES)
    if not isinstance(value, dict):
        raise ValueError("the CWT claims are not a map")
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = CWT_CLAIMS.get(key)
        if name is None:
            raise ValueError(f"unknown CWT claim {str(key)[:32]!r}")
        if type(item) is dict or type(item) is list:
            _text_keys(item, name)
        out[name] = item
    return out


def claims_to_cwt(claims: Mapping[str, Any]) -> bytes:
    """The deterministic CBOR CWT of a licence's JSON claims (issuer side)."""
    try:
        return cbor.dumps({_JSON_TO_CWT[k]: v for k, v in claims.items()})
    except KeyError as exc:
        raise ValueError(f"claim {exc.args[0]!r} has no CWT form") from exc


__all__ = [
    "CWT_CLAIMS",
    "LICENCE_CWT_TYP",
    "MAX_HR1_CHARS",
    "MAX_INFLATED_BYTES",
    "PREFIX",
    "LayerError",
    "b45decode",
    "claims_to_cwt",
    "cwt_to_claims",
    "inflate",
    "looks_like_hr1",
    "strip",
    "unprefix",
    "unwrap",
    "usual_licence_claims",
    "wrap",
]
