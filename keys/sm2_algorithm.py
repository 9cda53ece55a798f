"""SM2 signatures (GB/T 32918.2) with SM3 (GB/T 32905) and the default user id, as an algorithm:
the curve, SM3, Z_A, the one reading of a signature's encodings, and the one module that talks to
the SM2 backend, so that the backend can be swapped. No key types and no certificates: keys/x509.py
(certificates, whose signatures are SM2) and keys/sm2.py (the key types, which may carry a
certificate) both build on this.

The backend is `tongsuopy` (a maintained binary wheel of Tongsuo, an OpenSSL fork with SM2). It is
imported lazily, on first use: `import keys` works without it, and when it is missing every
verification raises `Sm2Unavailable` (the national verifier turns that into INDETERMINATE, never
PASSED). Point validation, ZA and signature parsing are plain Python and need no backend."""

from __future__ import annotations

import functools
from typing import Any, Final

from cryptography.hazmat.primitives import hashes

from keys.errors import KeyMaterialError

# GB/T 32918.5 recommended curve (sm2p256v1).
P: Final = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A: Final = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B: Final = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N: Final = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX: Final = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY: Final = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

DEFAULT_ID: Final = b"1234567812345678"  # GB/T 35276 default user id
MAX_ID_BYTES: Final = 8191  # ENTL is a 16-bit count of bits


class Sm2Unavailable(KeyMaterialError):
    """No SM2 backend (tongsuopy) could be loaded on this machine: nothing can be verified."""

    code = "sm2_unavailable"


def sm3_hash() -> hashes.Hash:
    """An incremental SM3 (update(), finalize()), for data read in chunks."""
    return hashes.Hash(hashes.SM3())


def sm3(data: bytes) -> bytes:
    """SM3 digest (GB/T 32905), through pyca/cryptography."""
    h = sm3_hash()
    h.update(data)
    return h.finalize()


def is_on_curve(x: int, y: int) -> bool:
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


def parse_point(data: bytes) -> bytes:
    """A public key as 65 bytes 04||x||y on the SM2 curve (the infinity point cannot be written
    this way; the cofactor is 1, so every point on the curve is in the group). Compressed points
    are refused: certificates and seals carry uncompressed ones."""
    if len(data) != 65 or data[0] != 4:
        raise KeyMaterialError("an SM2 public key must be an uncompressed point (65 bytes, 04...)")
    x = int.from_bytes(data[1:33], "big")
    y = int.from_bytes(data[33:], "big")
    if not is_on_curve(x, y):
        raise KeyMaterialError("the point is not on the SM2 curve")
    return bytes(data)


def za(point: bytes, uid: bytes = DEFAULT_ID) -> bytes:
    """ZA = SM3(ENTL || ID || a || b || xG || yG || xA || yA) (GB/T 32918.2 5.5)."""
    if len(uid) > MAX_ID_BYTES:
        raise KeyMaterialError("SM2 user id too long")
    parse_point(point)
    entl = (len(uid) * 8).to_bytes(2, "big")
    return sm3(
        entl
        + uid
        + b"".join(v.to_bytes(32, "big") for v in (A, B, GX, GY))
        + point[1:33]
        + point[33:]
    )


def _der_int(data: bytes, pos: int) -> tuple[int, int]:
    if pos + 2 > len(data) or data[pos] != 0x02:
        raise ValueError("INTEGER expected")
    length = data[pos + 1]
    if length & 0x80 or length == 0 or pos + 2 + length > len(data):
        raise ValueError("bad INTEGER length")
    body = data[pos + 2 : pos + 2 + length]
    if body[0] & 0x80:
        raise ValueError("negative INTEGER")
    if length > 1 and body[0] == 0 and not body[1] & 0x80:
        raise ValueError("non-minimal INTEGER")
    return int.from_bytes(body, "big"), pos + 2 + length


def decode_signature(signature: bytes) -> tuple[int, int]:
    """(r, s) from a DER SEQUENCE { INTEGER r, INTEGER s }, strictly: minimal encodings, no
    trailing bytes, 1 <= r, s < n. Raises ValueError otherwise."""
    if len(signature) < 8 or len(signature) > 72 or signature[0] != 0x30:
        raise ValueError("an SM2 signature must be a DER SEQUENCE of two INTEGERs")
    if signature[1] & 0x80 or signature[1] != len(signature) - 2:
        raise ValueError("bad SEQUENCE length")
    r, pos = _der_int(signature, 2)
    s, pos = _der_int(signature, pos)
    if pos != len(signature):
        raise ValueError("trailing bytes after the signature")
    if not (0 < r < N and 0 < s < N):
        raise ValueError("r or s out of range")
    return r, s


def encode_signature(r: int, s: int) -> bytes:
    """DER SEQUENCE { INTEGER r, INTEGER s }."""

    def integer(v: int) -> bytes:
        body = v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big")
        return b"\x02" + bytes([len(body)]) + body

    body = integer(r) + integer(s)
    return b"\x30" + bytes([len(body)]) + body


def raw_to_der(signature: bytes) -> bytes:
    """A 64-byte r||s signature (as some vendors write it) in DER form."""
    if len(signature) != 64:
        raise ValueError("a raw SM2 signature is 64 bytes")
    return encode_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )


def der_to_raw(signature: bytes) -> bytes:
    """A strict DER SM2 signature as 64-byte r||s (how some vendors write it)."""
    r, s = decode_signature(signature)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def signature_der(value: bytes) -> bytes:
    """The one reading of an SM2 signature value as producers write it (docs/national-formats.md):
    exactly 64 bytes is raw r||s (32 bytes each, big-endian), anything else must be a strict DER
    SEQUENCE { r, s }; 1 <= r, s < n either way. A 64-byte value that is also strict DER has two
    readings and is refused. Returns the DER form; raises ValueError for anything else."""
    if len(value) != 64:
        decode_signature(value)
        return value
    try:
        decode_signature(value)
    except ValueError:
        pass
    else:
        raise ValueError("a 64-byte value that reads both as DER and as r||s")
    r, s = int.from_bytes(value[:32], "big"), int.from_bytes(value[32:], "big")
    if not (0 < r < N and 0 < s < N):
        raise ValueError("r or s out of range")
    return encode_signature(r, s)


# -- the backend ----------------------------------------------------------------------------


class _Backend:
    """tongsuopy, loaded once. Its public API computes ZA itself (default id) when verifying a
    message; EVP_PKEY_verify on an SM2 key verifies a digest e = SM3(ZA || M) as it is."""

    def __init__(self) -> None:
        try:
            import tongsuopy
            from tongsuopy.backends.tongsuo.backend import backend
            from tongsuopy.crypto import hashes as t_hashes
            from tongsuopy.crypto import serialization
            from tongsuopy.crypto.asymciphers import ec
            from tongsuopy.crypto.exceptions import InvalidSignature
        except ImportError as exc:  # pragma: no cover - exercised by monkeypatching in tests
            raise Sm2Unavailable(f"the SM2 backend tongsuopy cannot be imported: {exc}") from exc
        self.ec = ec
        self.serialization = serialization
        self.algorithm = ec.ECDSA(t_hashes.SM3())  # "ECDSA" is tongsuopy's name for SM2 here
        self.invalid = InvalidSignature
        self.lib = backend._lib
        self.ffi = backend._ffi
        self.backend = backend
        self.name = f"tongsuopy {getattr(tongsuopy, '__version__', '?')}"

    def public_key(self, point: bytes) -> Any:
        try:
            return self.ec.EllipticCurvePublicKey.from_encoded_point(self.ec.SM2(), point)
        except ValueError as exc:
            raise KeyMaterialError(f"SM2 backend refused the point: {exc}") from exc

    def verify(self, key: Any, signature_der: bytes, message: bytes) -> bool:
        try:
            key.verify(signature_der, message, self.algorithm)
        except self.invalid:
            return False
        return True

    def verify_digest(self, key: Any, signature_der: bytes, digest: bytes) -> bool:
        lib, ffi = self.lib, self.ffi
        ctx = lib.EVP_PKEY_CTX_new(key._evp_pkey, ffi.NULL)
        if ctx == ffi.NULL:  # pragma: no cover - allocation failure
            raise Sm2Unavailable("SM2 backend: cannot allocate a verification context")
        ctx = ffi.gc(ctx, lib.EVP_PKEY_CTX_free)
        if lib.EVP_PKEY_verify_init(ctx) != 1:  # pragma: no cover
            self.backend._consume_errors()
            raise Sm2Unavailable("SM2 backend: cannot initialise digest verification")
        res = lib.EVP_PKEY_verify(ctx, signature_der, len(signature_der), digest, len(digest))
        self.backend._consume_errors()
        return bool(res == 1)


@functools.lru_cache(maxsize=1024)
def _backend_key(be: _Backend, point: bytes) -> Any:
    """Backend key objects by point (building one costs about half a verification)."""
    return be.public_key(point)


@functools.cache
def _load_backend() -> _Backend:
    return _Backend()


def backend() -> _Backend:
    """The SM2 backend, or raise Sm2Unavailable. Loaded (and cached) on first use."""
    try:
        return _load_backend()
    except Sm2Unavailable:
        _load_backend.cache_clear()  # a later install is picked up
        raise


def backend_available() -> bool:
    try:
        backend()
    except Sm2Unavailable:
        return False
    return True


def backend_name() -> str:
    return backend().name


# -- verification ---------------------------------------------------------------------------


class Sm2Verifier:
    """Verifies SM2 signatures for one public point; the backend key object is built once."""

    __slots__ = ("_key", "point")

    def __init__(self, point: bytes) -> None:
        self.point = parse_point(point)
        self._key: Any = None

    def _backend_key(self) -> tuple[_Backend, Any]:
        be = backend()
        if self._key is None:
            self._key = _backend_key(be, self.point)
        return be, self._key

    def verify(self, signature: bytes, message: bytes, uid: bytes = DEFAULT_ID) -> bool:
        """True iff `signature` (DER) is a valid SM2 signature of `message` with SM3 and `uid`.
        A malformed signature is False; a missing backend raises Sm2Unavailable."""
        try:
            r, s = decode_signature(signature)
        except ValueError:
            return False
        be, key = self._backend_key()
        der = encode_signature(r, s)
        if uid == DEFAULT_ID:
            return be.verify(key, der, message)
        return be.verify_digest(key, der, sm3(za(self.point, uid) + message))

    def verify_digest(self, signature: bytes, digest: bytes) -> bool:
        """Verify against e = SM3(ZA || M) given directly. Only 32-byte (SM3) digests are
        accepted: SM2 is used with SM3 alone here."""
        if len(digest) != 32:
            return False
        try:
            r, s = decode_signature(signature)
        except ValueError:
            return False
        be, key = self._backend_key()
        return be.verify_digest(key, encode_signature(r, s), digest)


def verify(point: bytes, signature: bytes, message: bytes, uid: bytes = DEFAULT_ID) -> bool:
    """One-shot: see Sm2Verifier.verify."""
    return Sm2Verifier(point).verify(signature, message, uid)
