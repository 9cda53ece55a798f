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
from dataclasses import dataclass
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


def _bstr(data: bytes, at: int) -> tuple[bytes, int] | None:
    """The byte string whose head is at `at` (shortest length form only), and where it ends."""
    if at >= len(data) or data[at] >> 5 != 2:
        return None
    info = data[at] & 0x1F
    if info < 24:
        size, at = info, at + 1
    elif info in (24, 25):
        width = 1 if info == 24 else 2
        size = int.from_bytes(data[at + 1 : at + 1 + width], "big")
        if size < (24 if width == 1 else 256):
            return None  # not the shortest form: the general path names it
        at += 1 + width
    else:
        return None
    end = at + size
    return (data[at:end], end) if end <= len(data) else None


def _usual_shape(data: bytes) -> tuple[bytes, bytes, bytes] | None:
    """What every huren issuer writes, read by hand: tag 18, an array of four, the protected
    header, an empty unprotected map, the payload and the signature, nothing after. Anything else
    (None) takes the general path, which accepts or names the fault."""
    if data[:2] != b"\xd2\x84":
        return None
    protected = _bstr(data, 2)
    if protected is None or protected[1] >= len(data) or data[protected[1]] != 0xA0:
        return None
    payload = _bstr(data, protected[1] + 1)
    if payload is None:
        return None
    signature = _bstr(data, payload[1])
    if signature is None or signature[1] != len(data):
        return None
    return protected[0], payload[0], signature[0]


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
    """(header, alg, kid) of valid protected header bytes, or MalformedCBOR / MalformedCOSE /
    UnsupportedAlgorithm."""
    known = _HEADERS.get(protected)
    if known is not None:
        return known
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


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """RFC 9052 4.4: ["Signature1", protected, external_aad (empty), payload]."""
    return cbor.dumps(["Signature1", protected, b"", payload])


@dataclass(frozen=True, slots=True)
class CoseSign1:
    """A parsed COSE_Sign1. The signature is not yet verified: call `verify_with`."""

    header: dict[int, Any]
    protected: bytes
    payload: bytes
    signature: bytes
    alg: str
    kid: str  # base64url of the kid bytes: the trust list's key id

    @property
    def typ(self) -> object:
        return self.header.get(TYP)

    @classmethod
    def parse(cls, data: bytes, *, max_bytes: int) -> CoseSign1:
        if len(data) > max_bytes:
            raise cbor.MalformedCBOR(f"larger than {max_bytes} bytes")
        parts = _usual_shape(data)
        if parts is None:
            parts = _any_shape(data, max_bytes)
        protected, payload, signature = parts
        if not signature:
            raise MalformedCOSE("the signature must be non-empty bytes")
        header, alg, kid = _protected_header(protected)
        return cls(header, protected, payload, signature, alg, kid)

    @property
    def signing_input(self) -> bytes:
        return sig_structure(self.protected, self.payload)

    def verify_with(self, key: PublicKey) -> bool:
        """True iff the key's algorithm is the header's and the signature verifies."""
        return key.alg == self.alg and key.verify(self.signature, self.signing_input)


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
