"""SM2 keys. The algorithm (curve, SM3, signature encodings, the tongsuopy backend, verification)
is keys/sm2_algorithm.py, re-exported here; this module adds what builds on certificates too.

`Sm2PublicKey` is the key type: kty "EC", crv "SM2", alg "SM2", registered with keys.public. It
may carry an X.509 certificate (JWK member x5c, one certificate): a trust list then names a
seal-making authority by its certificate or by its CA certificate (docs/national-formats.md)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any, Final

from keys.algorithms import SM2
from keys.encoding import b64url_encode
from keys.errors import KeyMaterialError
from keys.public import PublicKey, _coordinate, register

# The algorithm, re-exported: importers of SM2 have one name to import from.
from keys.sm2_algorithm import (
    DEFAULT_ID,
    GX,
    GY,
    MAX_ID_BYTES,
    A,
    B,
    N,
    P,
    Sm2Unavailable,
    Sm2Verifier,
    backend,
    backend_available,
    backend_name,
    decode_signature,
    der_to_raw,
    encode_signature,
    is_on_curve,
    parse_point,
    raw_to_der,
    signature_der,
    sm3,
    sm3_hash,
    verify,
    za,
)
from keys.x509 import Certificate, CertificateError

MAX_X5C_CERT_BYTES: Final = 16 * 1024


class Sm2PrivateKey:
    """An SM2 signing key (demo and test material: seal makers, signers, CAs). Its repr never
    shows the secret."""

    __slots__ = ("_key", "point")

    def __init__(self, key: Any) -> None:
        be = backend()
        if not isinstance(key.curve, be.ec.SM2):
            raise KeyMaterialError("not an SM2 private key")
        self._key = key
        self.point: bytes = key.public_key().public_bytes(
            be.serialization.Encoding.X962, be.serialization.PublicFormat.UncompressedPoint
        )

    @classmethod
    def generate(cls) -> Sm2PrivateKey:
        be = backend()
        return cls(be.ec.generate_private_key(be.ec.SM2()))

    @classmethod
    def from_pem(cls, pem: bytes, password: bytes | None = None) -> Sm2PrivateKey:
        be = backend()
        try:
            key = be.serialization.load_pem_private_key(pem, password)
        except (ValueError, TypeError) as exc:
            raise KeyMaterialError("not a PEM SM2 private key, or a wrong password") from exc
        return cls(key)

    def to_pem(self) -> bytes:
        s = backend().serialization
        data: bytes = self._key.private_bytes(
            s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()
        )
        return data

    def sign(self, message: bytes) -> bytes:
        """DER SM2 signature of message (SM3, default id)."""
        be = backend()
        sig: bytes = self._key.sign(message, be.algorithm)
        return sig

    @property
    def public_key(self) -> Sm2PublicKey:
        return Sm2PublicKey(self.point)

    def __repr__(self) -> str:
        return f"Sm2PrivateKey(kid={self.public_key.kid!r})"


# -- the key type ---------------------------------------------------------------------------


class Sm2PublicKey(PublicKey):
    """An SM2 public key, optionally with the X.509 certificate it comes from. The kid is the RFC
    7638 thumbprint of {crv, kty, x, y}: the same key with or without its certificate has the
    same kid (so a trust list cannot list one key twice)."""

    alg = SM2
    __slots__ = ("_certificate", "_verifier", "_x", "_y")

    def __init__(self, point: bytes, certificate: Certificate | None = None) -> None:
        self._verifier = Sm2Verifier(point)
        if certificate is not None and certificate.public_point != self._verifier.point:
            raise KeyMaterialError("the certificate does not hold this key")
        self._certificate = certificate
        self._x = b64url_encode(point[1:33])
        self._y = b64url_encode(point[33:])
        super().__init__()

    @property
    def point(self) -> bytes:
        return self._verifier.point

    @property
    def certificate(self) -> Certificate | None:
        return self._certificate

    def thumbprint_members(self) -> dict[str, str]:
        return {"crv": "SM2", "kty": "EC", "x": self._x, "y": self._y}

    def verify(self, signature: bytes, data: bytes) -> bool:
        """SM2 (DER signature, SM3, default id). Raises Sm2Unavailable without a backend."""
        return self._verifier.verify(signature, data)

    def verify_digest(self, signature: bytes, digest: bytes) -> bool:
        return self._verifier.verify_digest(signature, digest)

    def to_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = dict(super().to_jwk())
        if self._certificate is not None:
            jwk["x5c"] = [base64.b64encode(self._certificate.der).decode("ascii")]
        return jwk

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any]) -> Sm2PublicKey:
        if jwk.get("kty") != "EC" or jwk.get("crv") != "SM2":
            raise KeyMaterialError("an SM2 JWK has kty EC and crv SM2")
        point = b"\x04" + _coordinate(jwk, "x", 32) + _coordinate(jwk, "y", 32)
        certificate = None
        if "x5c" in jwk:
            certificate = _x5c_certificate(jwk["x5c"])
        return cls(point, certificate)

    @classmethod
    def from_certificate(cls, certificate: Certificate) -> Sm2PublicKey:
        return cls(certificate.public_point, certificate)


def _x5c_certificate(value: object) -> Certificate:
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], str):
        raise KeyMaterialError("x5c must be a list of exactly one base64 certificate")
    text = value[0]
    if len(text) > MAX_X5C_CERT_BYTES * 4 // 3 + 4:
        raise KeyMaterialError("x5c certificate too large")
    try:
        der = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyMaterialError("x5c is not standard base64") from exc
    if base64.b64encode(der).decode("ascii") != text:
        raise KeyMaterialError("x5c is not canonical base64")
    try:
        return Certificate.parse(der)
    except CertificateError as exc:
        raise KeyMaterialError(f"x5c: {exc}") from exc


def point_fingerprint(point: bytes) -> str:
    """Hex SHA-256 of the point, for logs and indexes."""
    return hashlib.sha256(point).hexdigest()


register("EC", "SM2", Sm2PublicKey.from_jwk, x5c=True)

__all__ = [
    "DEFAULT_ID",
    "GX",
    "GY",
    "MAX_ID_BYTES",
    "MAX_X5C_CERT_BYTES",
    "A",
    "B",
    "N",
    "P",
    "Sm2PrivateKey",
    "Sm2PublicKey",
    "Sm2Unavailable",
    "Sm2Verifier",
    "backend",
    "backend_available",
    "backend_name",
    "decode_signature",
    "der_to_raw",
    "encode_signature",
    "is_on_curve",
    "parse_point",
    "point_fingerprint",
    "raw_to_der",
    "signature_der",
    "sm3",
    "sm3_hash",
    "verify",
    "za",
]
