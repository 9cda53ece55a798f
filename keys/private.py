"""Signing keys: generation, PKCS#8 PEM storage (mode 0600, optional passphrase) and signing."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from keys.algorithms import EDDSA, ES256, require_allowed
from keys.errors import KeyMaterialError
from keys.public import EcP256PublicKey, Ed25519PublicKey, PublicKey

_PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


class SigningKey:
    """A private key that signs in the JWS form of its algorithm. Its repr never shows secrets."""

    __slots__ = ("_key", "public_key")

    def __init__(self, key: _PrivateKey) -> None:
        self._key = key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            self.public_key: PublicKey = EcP256PublicKey(key.public_key())
        elif isinstance(key, ed25519.Ed25519PrivateKey):
            self.public_key = Ed25519PublicKey(key.public_key())
        else:  # pragma: no cover - the type says so
            raise KeyMaterialError("unsupported private key type")

    @classmethod
    def generate(cls, alg: str) -> SigningKey:
        require_allowed(alg)
        if alg == ES256:
            return cls(ec.generate_private_key(ec.SECP256R1()))
        return cls(ed25519.Ed25519PrivateKey.generate())

    @property
    def kid(self) -> str:
        return self.public_key.kid

    @property
    def alg(self) -> str:
        return self.public_key.alg

    def sign(self, data: bytes) -> bytes:
        """Sign data; ES256 signatures come back as 64-byte r||s as JWS requires."""
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            r, s = decode_dss_signature(self._key.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return self._key.sign(data)

    def to_pem(self, passphrase: bytes | None = None) -> bytes:
        if passphrase is not None and not passphrase:
            raise KeyMaterialError("an empty passphrase would leave the key unencrypted")
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else serialization.NoEncryption()
        )
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    @classmethod
    def from_pem(cls, pem: bytes, passphrase: bytes | None = None) -> SigningKey:
        try:
            key = serialization.load_pem_private_key(pem, password=passphrase or None)
        except TypeError as exc:
            raise KeyMaterialError(
                "the key is encrypted and needs a passphrase"
                if passphrase is None
                else "the key is not encrypted; give no passphrase"
            ) from exc
        except ValueError as exc:
            raise KeyMaterialError("not a PKCS#8 PEM private key, or a wrong passphrase") from exc
        except UnsupportedAlgorithm as exc:  # e.g. an SM2 key: not a JWS signing key
            raise KeyMaterialError(
                "only P-256 (ES256) and Ed25519 (EdDSA) private keys are supported"
            ) from exc
        if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
            return cls(key)
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return cls(key)
        raise KeyMaterialError("only P-256 (ES256) and Ed25519 (EdDSA) private keys are supported")

    def save(self, path: str | os.PathLike[str], passphrase: bytes | None = None) -> None:
        """Write the PEM with mode 0600 from the start (never world-readable, even briefly)."""
        target = Path(path)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(self.to_pem(passphrase))
            fh.flush()
            os.fsync(fh.fileno())

    @classmethod
    def load(cls, path: str | os.PathLike[str], passphrase: bytes | None = None) -> SigningKey:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise KeyMaterialError(f"cannot read key file {path}: {exc.strerror}") from exc
        return cls.from_pem(data, passphrase)

    def __repr__(self) -> str:
        return f"SigningKey(alg={self.alg!r}, kid={self.kid!r})"


__all__ = ["EDDSA", "ES256", "SigningKey"]
