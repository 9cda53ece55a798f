"""Public keys as typed objects, read from and written to JWK (RFC 7517).

A new key type (SM2, an X.509 certificate) is one new subclass registered with `register`:
the trust list, the store and the verifier only ever talk to `PublicKey`."""

from __future__ import annotations

import functools
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from keys.algorithms import EDDSA, ES256, require_key_algorithm
from keys.encoding import b64url_decode, b64url_encode, canonical_json
from keys.errors import KeyMaterialError

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())  # immutable; built once, not per verification
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_ORDER_BYTES = _P256_ORDER.to_bytes(32, "big")
_ZERO_32 = bytes(32)


def raw_to_der(signature: bytes) -> bytes | None:
    """A 64-byte JWS ES256 signature r||s as the DER SEQUENCE of two INTEGERs `cryptography`
    verifies, or None unless 0 < r, s < n. encode_dss_signature(r, s) does the same from ints;
    on the bytes (equal-length big-endian compares as the numbers do) it costs half as much."""
    r, s = signature[:32], signature[32:]
    if not (_ZERO_32 < r < _ORDER_BYTES and _ZERO_32 < s < _ORDER_BYTES):
        return None
    r, s = r.lstrip(b"\0"), s.lstrip(b"\0")  # minimal INTEGERs: never empty, as r, s > 0
    if r[0] >= 0x80:
        r = b"\0" + r  # positive: a set top bit needs a leading zero
    if s[0] >= 0x80:
        s = b"\0" + s
    lr, ls = len(r), len(s)  # at most 33 each: short-form lengths throughout
    return b"".join((b"\x30", bytes((lr + ls + 4, 2, lr)), r, bytes((2, ls)), s))


_P256_PRIME = 2**256 - 2**224 + 2**192 + 2**96 - 1

# Ed25519: y coordinates (mod p) of the eight small-order points (orders 1, 2, 4, 8). A public key
# among them verifies forged signatures (the identity accepts R = [S]B for any message), so such
# keys are refused whatever their encoding (sign bit, y >= p).
_ED25519_P = 2**255 - 19
_ED25519_Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022
_ED25519_SMALL_ORDER_Y = frozenset({0, 1, _ED25519_P - 1, _ED25519_Y8, _ED25519_P - _ED25519_Y8})
_ED25519_D = -121665 * pow(121666, -1, _ED25519_P) % _ED25519_P


class PublicKey(ABC):
    """A verification key. `kid` is the RFC 7638 thumbprint of its JWK.

    `identity` is what makes two keys the same key: the thumbprint of the members re-derived
    from the key material itself, never from the strings it was read from. Every JWK the parser
    accepts is the one canonical encoding of its key (fixed-length coordinates below the field
    prime, a point on the curve), so for a parsed key `identity == kid`; counting thresholds and
    finding duplicates by `identity` holds even for a key type that got its parser wrong."""

    alg: ClassVar[str]
    __slots__ = ("_identity", "_kid")

    def __init__(self) -> None:
        self._kid = self._thumbprint()
        self._identity: str | None = None

    def _thumbprint(self) -> str:
        return jwk_thumbprint(self.thumbprint_members())

    @property
    def kid(self) -> str:
        return self._kid

    @property
    def identity(self) -> str:
        """The public key's identity (see the class docstring); computed once, when first asked."""
        if self._identity is None:
            members = self.canonical_members()
            same = members == self.thumbprint_members()
            self._identity = self._kid if same else jwk_thumbprint(members)
        return self._identity

    @abstractmethod
    def thumbprint_members(self) -> dict[str, str]:
        """The required JWK members, the input of the RFC 7638 thumbprint."""

    def canonical_members(self) -> dict[str, str]:
        """The required JWK members written afresh from the key material, not from the input.
        The default suits types whose members are always written from the key material."""
        return self.thumbprint_members()

    @abstractmethod
    def verify(self, signature: bytes, data: bytes) -> bool:
        """True iff signature is valid over data. Never raises for a bad signature."""

    def to_jwk(self) -> dict[str, str]:
        return {**self.thumbprint_members(), "kid": self.kid, "alg": self.alg, "use": "sig"}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other.identity == self.identity

    def __hash__(self) -> int:
        return hash(self.identity)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kid={self.kid!r})"


def jwk_thumbprint(members: Mapping[str, str]) -> str:
    """RFC 7638: base64url(SHA-256(canonical JSON of the required members))."""
    return b64url_encode(hashlib.sha256(canonical_json(dict(members))).digest())


class EcP256PublicKey(PublicKey):
    """ECDSA on P-256 with SHA-256, JWS signatures in the raw r||s form (RFC 7518 3.4)."""

    alg = ES256
    __slots__ = ("_key", "_x", "_y")

    def __init__(self, key: ec.EllipticCurvePublicKey, _xy: tuple[str, str] | None = None) -> None:
        """`_xy`: the coordinates' canonical base64url when the caller already has them
        (from_jwk), which spares reading them back out of the key."""
        if not isinstance(key.curve, ec.SECP256R1):
            raise KeyMaterialError("ES256 needs a P-256 key")
        self._key = key
        if _xy is None:
            nums = key.public_numbers()
            _xy = (
                b64url_encode(nums.x.to_bytes(32, "big")),
                b64url_encode(nums.y.to_bytes(32, "big")),
            )
        self._x, self._y = _xy
        super().__init__()

    def _thumbprint(self) -> str:
        # canonical_json of thumbprint_members, written out: base64url needs no escaping.
        members = f'{{"crv":"P-256","kty":"EC","x":"{self._x}","y":"{self._y}"}}'
        return b64url_encode(hashlib.sha256(members.encode("ascii")).digest())

    @property
    def crypto_key(self) -> ec.EllipticCurvePublicKey:
        return self._key

    def thumbprint_members(self) -> dict[str, str]:
        return {"crv": "P-256", "kty": "EC", "x": self._x, "y": self._y}

    def canonical_members(self) -> dict[str, str]:
        nums = self._key.public_numbers()
        return {
            "crv": "P-256",
            "kty": "EC",
            "x": b64url_encode(nums.x.to_bytes(32, "big")),
            "y": b64url_encode(nums.y.to_bytes(32, "big")),
        }

    def verify(self, signature: bytes, data: bytes) -> bool:
        if len(signature) != 64:
            return False
        der = raw_to_der(signature)
        if der is None:
            return False
        try:
            self._key.verify(der, data, _ECDSA_SHA256)
        except InvalidSignature:
            return False
        return True

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> EcP256PublicKey:
        if jwk.get("crv") != "P-256":
            raise KeyMaterialError("EC JWK must use crv P-256")
        x = int.from_bytes(_coordinate(jwk, "x", 32), "big")
        y = int.from_bytes(_coordinate(jwk, "y", 32), "big")
        if x >= _P256_PRIME or y >= _P256_PRIME:
            # OpenSSL reduces x + p to x: the same point under a second thumbprint (one key
            # counted twice towards a threshold).
            raise KeyMaterialError("EC coordinates must be below the P-256 field prime")
        try:
            key = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        except ValueError as exc:
            raise KeyMaterialError("EC point is not on P-256") from exc
        # b64url_decode accepts only the canonical encoding and both values are below p, so
        # these strings are exactly what encoding the point again gives.
        return cls(key, (jwk["x"], jwk["y"]))


class Ed25519PublicKey(PublicKey):
    """EdDSA with Ed25519 (RFC 8037)."""

    alg = EDDSA
    __slots__ = ("_key", "_x")

    def __init__(self, key: ed25519.Ed25519PublicKey) -> None:
        from cryptography.hazmat.primitives import serialization

        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        y = int.from_bytes(raw, "little") & ((1 << 255) - 1)
        if y % _ED25519_P in _ED25519_SMALL_ORDER_Y:
            raise KeyMaterialError("Ed25519 public key of small order (would accept forgeries)")
        if y >= _ED25519_P:
            # RFC 8032 5.1.3: y >= p is not a valid encoding; it would name the point y - p
            # under a second thumbprint. (x = 0 with the sign bit set is y = +-1: small order.)
            raise KeyMaterialError("Ed25519 public key is not canonically encoded (y >= p)")
        if not _ed25519_has_x(y):
            raise KeyMaterialError("Ed25519 public key is not a point on the curve")
        self._key = key
        self._x = b64url_encode(raw)
        super().__init__()

    def thumbprint_members(self) -> dict[str, str]:
        return {"crv": "Ed25519", "kty": "OKP", "x": self._x}

    def verify(self, signature: bytes, data: bytes) -> bool:
        if len(signature) != 64:
            return False
        try:
            self._key.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> Ed25519PublicKey:
        if jwk.get("crv") != "Ed25519":
            raise KeyMaterialError("OKP JWK must use crv Ed25519")
        x = _coordinate(jwk, "x", 32)
        return cls(ed25519.Ed25519PublicKey.from_public_bytes(x))


@functools.lru_cache(maxsize=4096)
def _ed25519_has_x(y: int) -> bool:
    """True iff some x satisfies -x^2 + y^2 = 1 + d x^2 y^2 (RFC 8032 5.1.3): x^2 = u / v must be
    a square mod p, i.e. u * v must be (v is never 0: d is not a square). The Jacobi symbol
    answers that about twice as fast as Euler's criterion in Python (~60 us); cached, because
    the same keys come back in every version of a list, replayed at each start."""
    p = _ED25519_P
    a, n, t = (y * y - 1) * (_ED25519_D * y * y + 1) % p, p, 1
    while a:
        while not a & 1:
            a >>= 1
            if n & 7 in (3, 5):
                t = -t
        a, n = n, a
        if a & 3 == 3 and n & 3 == 3:
            t = -t
        a %= n
    return t == 1 or n != 1  # n != 1: a was 0 mod p (x = 0)


def _coordinate(jwk: Mapping[str, Any], name: str, size: int) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise KeyMaterialError(f"JWK member {name!r} missing or not a string")
    try:
        raw = b64url_decode(value)
    except ValueError as exc:
        raise KeyMaterialError(f"JWK member {name!r} is not base64url") from exc
    if len(raw) != size:
        raise KeyMaterialError(f"JWK member {name!r} must be {size} bytes")
    return raw


# (kty, crv) -> parser. Registering here is all a new key type needs.
_PARSERS: dict[tuple[str, str], Callable[[Mapping[str, Any]], PublicKey]] = {}
# Key types whose parser reads an x5c certificate (keys.sm2); for every other type x5c is refused.
_X5C_TYPES: set[tuple[str, str]] = set()

# JWK members we understand; anything else (x5u, jku, d, ...) is refused rather than ignored.
_ALLOWED_MEMBERS = frozenset({"kty", "crv", "x", "y", "kid", "alg", "use", "key_ops"})


def register(
    kty: str, crv: str, parser: Callable[[Mapping[str, Any]], PublicKey], *, x5c: bool = False
) -> None:
    _PARSERS[(kty, crv)] = parser
    if x5c:
        _X5C_TYPES.add((kty, crv))


register("EC", "P-256", EcP256PublicKey.from_jwk)
register("OKP", "Ed25519", Ed25519PublicKey.from_jwk)


def public_key_from_jwk(jwk: object) -> PublicKey:
    """Parse a public JWK strictly. A private member ("d") is an error, never silently dropped."""
    if not isinstance(jwk, Mapping):
        raise KeyMaterialError("a JWK must be a JSON object")
    if "d" in jwk:
        raise KeyMaterialError("a private key was given where a public JWK is expected")
    kty, crv = jwk.get("kty"), jwk.get("crv")
    x5c_ok = isinstance(kty, str) and isinstance(crv, str) and (kty, crv) in _X5C_TYPES
    unknown = set(jwk) - _ALLOWED_MEMBERS - ({"x5c"} if x5c_ok else set())
    if unknown:
        raise KeyMaterialError(f"unsupported JWK members: {sorted(unknown)}")
    if jwk.get("use", "sig") != "sig":
        raise KeyMaterialError("a verification JWK must have use 'sig'")
    key_ops = jwk.get("key_ops", ["verify"])
    if not isinstance(key_ops, list) or not set(key_ops) <= {"verify"} or not key_ops:
        raise KeyMaterialError("a verification JWK may only have key_ops ['verify']")
    parser = _PARSERS.get((kty, crv)) if isinstance(kty, str) and isinstance(crv, str) else None
    if parser is None:
        raise KeyMaterialError(f"unsupported key type kty={kty!r} crv={crv!r}")
    key = parser(jwk)
    if "alg" in jwk and require_key_algorithm(jwk["alg"]) != key.alg:
        raise KeyMaterialError(f"JWK alg {jwk['alg']!r} does not fit a {kty}/{crv} key")
    if key.identity != key.kid:
        # Every type's parser should have refused this already; this holds for all of them.
        raise KeyMaterialError("JWK is not the canonical encoding of its key")
    if "kid" in jwk and jwk["kid"] != key.kid:
        raise KeyMaterialError("JWK kid is not the RFC 7638 thumbprint of the key")
    return key
