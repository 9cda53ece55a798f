"""COSE_Sign1 (RFC 9052) for the QR form of a licence: the CBOR sibling of keys.jws.CompactJWS.

Written on `cbor2` and `cryptography` (through PublicKey / SigningKey) rather than a COSE library:
the signature bytes are the JWS ones (ES256 raw r||s, Ed25519), so the keys of the trust lists
verify both forms unchanged, and the header rules below are huren's, which a general COSE library
would be more lenient about.

Header rules (one reading, keys only from trust lists):
- the protected header holds alg (1, an id on the allow-list), kid (4, bytes: the decoded RFC 7638
  thumbprint that names the key in the trust list) and optionally typ (16, RFC 9596);
- the unprotected header is empty: an alg or kid there is outside the signature and could be
  read instead of the signed one;
- crit (2) is refused (nothing is understood), and so are key-bearing parameters (x5chain,
  x5t, x5u, COSE_Key) and any other label.
The COSE_Sign1 carries tag 18, optionally inside the CWT tag 61 (RFC 8392 7.1); the payload is
attached, never detached."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final

from cbor2 import CBORTag

from keys import cbor
from keys.algorithms import COSE_IDS, require_allowed_cose
from keys.encoding import b64url_decode, b64url_encode
from keys.private import SigningKey
from keys.public import PublicKey

COSE_SIGN1_TAG: Final = 18
CWT_TAG: Final = 61
ALG, CRIT, KID, TYP = 1, 2, 4, 16
_KEY_BEARING: Final = frozenset({-1, 32, 33, 34, 35})  # COSE_Key-ish, x5bag, x5chain, x5t, x5u
_ALLOWED_LABELS: Final = frozenset({ALG, KID, TYP})
MAX_HEADER_BYTES: Final = 512
MAX_KID_BYTES: Final = 64


class MalformedCOSE(ValueError):
    """Not a COSE_Sign1 of the strict form huren accepts."""

    code = "malformed_cose"


class CoseEmbeddedKey(MalformedCOSE):
    code = "cose_embedded_key"


class CoseCriticalHeader(MalformedCOSE):
    code = "cose_crit_unsupported"


def _bstr(data: bytes, at: int) -> tuple[int, int] | None:
    """Where the content of the byte string whose head is at `at` starts and ends (shortest
    length form only, up to 65535 bytes), or None."""
    try:
        first = data[at]
    except IndexError:
        return None
    if 0x40 <= first < 0x58:
        start, end = at + 1, at + 1 + first - 0x40
    elif first == 0x58:
        start = at + 2
        end = start + data[at + 1] if start <= len(data) else 0
        if end - start < 24:
            return None  # not the shortest form (or truncated): the general path names it
    elif first == 0x59:
        start = at + 3
        end = start + int.from_bytes(data[at + 1 : start], "big") if start <= len(data) else 0
        if end - start < 256:
            return None
    else:
        return None
    return (start, end) if end <= len(data) else None


def _usual_shape(data: bytes) -> tuple[bytes, bytes, bytes, bytes] | None:
    """What every huren issuer writes, read by hand: tag 18, an array of four, the protected
    header, an empty unprotected map, the payload and the signature, nothing after. Anything else
    (None) takes the general path, which accepts or names the fault.

    Also gives the Sig_structure: its protected header and payload are these very byte strings,
    heads included (all shortest forms), so it is cut from the input rather than written."""
    # Tag 18, an array of four, a protected header of 24-255 bytes (a kid of 32 bytes makes it
    # longer than 23), an empty unprotected map.
    if data[:3] != b"\xd2\x84\x58" or len(data) < 4 or data[3] < 24:
        return None
    p1 = 4 + data[3]
    if data[p1 : p1 + 1] != b"\xa0":
        return None
    payload = _bstr(data, p1 + 1)
    if payload is None:
        return None
    q0, q1 = payload
    # A signature of 64 bytes (ES256 r||s, Ed25519), nothing after it.
    if data[q1 : q1 + 2] != b"\x58\x40" or q1 + 66 != len(data):
        return None
    signing_input = b"".join((_SIG1_PREFIX, data[2:p1], b"\x40", data[p1 + 1 : q1]))
    return data[4:p1], data[q0:q1], data[q1 + 2 :], signing_input


def _any_shape(data: bytes, max_bytes: int) -> tuple[bytes, bytes, bytes]:
    # keys.cbor.MalformedCBOR (the bytes) and MalformedCOSE (the structure) stay apart.
    value = cbor.loads(data, max_bytes=max_bytes, tags=frozenset({CWT_TAG, COSE_SIGN1_TAG}))
    if isinstance(value, CBORTag) and value.tag == CWT_TAG:
        value = value.value
    if not isinstance(value, CBORTag) or value.tag != COSE_SIGN1_TAG:
        raise MalformedCOSE("not a tagged COSE_Sign1 (tag 18)")
    body = value.value
    # cbor2 gives the contents of a tag as immutable values (tuple, frozendict).
    if not isinstance(body, list | tuple) or len(body) != 4:
        raise MalformedCOSE("a COSE_Sign1 is an array of four items")
    protected, unprotected, payload, signature = body
    if not isinstance(protected, bytes) or not protected:
        raise MalformedCOSE("the protected header must be non-empty bytes")
    if not isinstance(unprotected, Mapping):
        raise MalformedCOSE("the unprotected header must be a map")
    if not isinstance(payload, bytes):
        raise MalformedCOSE("the payload must be attached bytes")
    if not isinstance(signature, bytes):
        raise MalformedCOSE("the signature must be bytes")
    if ALG in unprotected:
        try:
            header = cbor.loads(protected, max_bytes=MAX_HEADER_BYTES)
        except cbor.MalformedCBOR:
            header = {}
        if not isinstance(header, dict) or ALG not in header:
            raise MalformedCOSE("alg only in the unprotected header, outside the signature")
    if unprotected:
        raise MalformedCOSE(
            f"unprotected header parameters {sorted(map(str, unprotected))[:4]}: "
            "everything is in the protected header"
        )
    return protected, payload, signature


# Validated protected headers by their exact bytes: an issuer writes one header for all its
# licences, so this skips decoding and the rules for all but the first. The same bytes always
# validate the same way, so the cache cannot change an outcome.
_HEADERS: dict[bytes, tuple[dict[int, Any], str, str]] = {}
_HEADERS_MAX = 1024


def _protected_header(protected: bytes) -> tuple[dict[int, Any], str, str]:
    """(header, alg, kid) of valid protected header bytes not yet in _HEADERS (which parse
    looks in first), or MalformedCBOR / MalformedCOSE / UnsupportedAlgorithm."""
    if not protected:
        raise MalformedCOSE("the protected header must be non-empty bytes")
    header = cbor.loads(protected, max_bytes=MAX_HEADER_BYTES)
    if not isinstance(header, dict):
        raise MalformedCOSE("the protected header is not a map")
    alg = require_allowed_cose(header.get(ALG))
    labels = header.keys()
    if CRIT in labels:
        raise CoseCriticalHeader("crit parameters are not understood")
    if labels & _KEY_BEARING:
        raise CoseEmbeddedKey("the header carries a key or certificate")
    unknown = labels - _ALLOWED_LABELS
    if unknown:
        raise MalformedCOSE(f"unknown header parameters {sorted(map(str, unknown))[:4]}")
    kid = header.get(KID)
    if not isinstance(kid, bytes) or not 0 < len(kid) <= MAX_KID_BYTES:
        raise MalformedCOSE("kid missing from the protected header or not 1..64 bytes")
    entry = (header, alg, b64url_encode(kid))
    if len(_HEADERS) >= _HEADERS_MAX:
        _HEADERS.clear()  # bounded; a refill costs one parse per header
    _HEADERS[protected] = entry
    return entry


_SIG1_PREFIX: Final = b"\x84\x6aSignature1"  # an array of four, then the text "Signature1"


def _bstr_head(size: int) -> bytes:
    """The shortest head of a byte string of `size` bytes (RFC 8949 3.1)."""
    if size < 24:
        return bytes((0x40 + size,))
    if size < 0x100:
        return bytes((0x58, size))
    if size < 0x10000:
        return b"\x59" + size.to_bytes(2, "big")
    if size < 0x100000000:
        return b"\x5a" + size.to_bytes(4, "big")
    return b"\x5b" + size.to_bytes(8, "big")


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """RFC 9052 4.4: ["Signature1", protected, external_aad (empty), payload], in deterministic
    CBOR (what keys.cbor.dumps writes, without building the list)."""
    return b"".join(
        (
            _SIG1_PREFIX,
            _bstr_head(len(protected)),
            protected,
            b"\x40",
            _bstr_head(len(payload)),
            payload,
        )
    )


@dataclass(frozen=True, slots=True)
class CoseSign1:
    """A parsed COSE_Sign1. The signature is not yet verified: call `verify_with`."""

    header: dict[int, Any]
    protected: bytes
    payload: bytes
    signature: bytes
    alg: str
    kid: str  # base64url of the kid bytes: the trust list's key id
    # The Sig_structure (sig_structure(protected, payload)): what the signature covers.
    signing_input: bytes = field(repr=False, compare=False)

    @property
    def typ(self) -> object:
        return self.header.get(TYP)

    @classmethod
    def parse(cls, data: bytes, *, max_bytes: int) -> CoseSign1:
        if len(data) > max_bytes:
            raise cbor.MalformedCBOR(f"larger than {max_bytes} bytes")
        usual = _usual_shape(data)
        if usual is not None:
            protected, payload, signature, signing_input = usual
        else:
            protected, payload, signature = _any_shape(data, max_bytes)
            signing_input = b""
        if not signature:
            raise MalformedCOSE("the signature must be non-empty bytes")
        header, alg, kid = _HEADERS.get(protected) or _protected_header(protected)
        if not signing_input:
            signing_input = sig_structure(protected, payload)
        # What the generated __init__ does (a frozen dataclass sets each slot through
        # object.__setattr__), at about half the cost: this runs for every QR licence.
        token = _new(cls)
        _set_header(token, header)
        _set_protected(token, protected)
        _set_payload(token, payload)
        _set_signature(token, signature)
        _set_alg(token, alg)
        _set_kid(token, kid)
        _set_signing_input(token, signing_input)
        return token

    def verify_with(self, key: PublicKey) -> bool:
        """True iff the key's algorithm is the header's and the signature verifies."""
        return key.alg == self.alg and key.verify(self.signature, self.signing_input)


_new = object.__new__
(
    _set_header,
    _set_protected,
    _set_payload,
    _set_signature,
    _set_alg,
    _set_kid,
    _set_signing_input,
) = (CoseSign1.__dict__[f.name].__set__ for f in fields(CoseSign1))


def sign1(payload: bytes, key: SigningKey, *, typ: str | None = None) -> bytes:
    """A tagged COSE_Sign1 over `payload` with alg, kid (and typ) in the protected header."""
    header: dict[int, Any] = {ALG: COSE_IDS[key.alg], KID: b64url_decode(key.kid)}
    if typ is not None:
        header[TYP] = typ
    protected = cbor.dumps(header)
    signature = key.sign(sig_structure(protected, payload))
    return cbor.dumps(CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))


__all__ = [
    "COSE_SIGN1_TAG",
    "CWT_TAG",
    "CoseCriticalHeader",
    "CoseEmbeddedKey",
    "CoseSign1",
    "MalformedCOSE",
    "sig_structure",
    "sign1",
]
