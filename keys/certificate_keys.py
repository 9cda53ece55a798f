"""An X.509 certificate file as a trust-list key (`huren keys inspect`, `huren list add-service` /
`add-key --cert`): DER or PEM, one certificate per file, SM2 or P-256.

- SM2, a CA or an end-entity certificate: the key carries the certificate as `x5c` (a CA vouches
  for the certificates it issued, the chain checked at the signing time; an end-entity
  certificate for itself: docs/national-formats.md).
- P-256, an end-entity certificate: the bare ES256 key (JWS keys never carry a certificate, and
  JWS documents are verified with the listed key itself). A P-256 CA certificate is refused:
  nothing it issued could ever be checked against it.

An end-entity certificate whose keyUsage forbids signatures is refused: it could sign nothing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from asn1crypto import pem as a_pem
from asn1crypto import x509 as a_x509
from cryptography import x509 as c_x509
from cryptography.hazmat.primitives.asymmetric import ec

from keys.errors import KeyMaterialError
from keys.public import EcP256PublicKey, PublicKey
from keys.sm2 import Sm2PublicKey
from keys.x509 import MAX_CERT_BYTES, Certificate, CertificateError

MAX_CERT_FILE_BYTES: Final = 4 * MAX_CERT_BYTES  # PEM armour and comments around one certificate
_SM2_CURVE: Final = "1.2.156.10197.1.301"
_P256_CURVE: Final = "1.2.840.10045.3.1.7"
_SIGNING_USAGES: Final = frozenset({"digital_signature", "non_repudiation"})


@dataclass(frozen=True, slots=True)
class CertificateKey:
    """What a certificate file says and the trust-list key it becomes."""

    key: PublicKey
    curve: str  # "SM2" or "P-256"
    subject: str
    issuer: str
    serial: int
    not_before: datetime
    not_after: datetime
    is_ca: bool
    key_usage: frozenset[str] | None  # None: no keyUsage extension
    sha256: str  # of the DER certificate
    carries_certificate: bool  # the JWK holds it as x5c

    @property
    def self_issued(self) -> bool:
        return self.subject == self.issuer

    def validity_at(self, now: datetime) -> str:
        if now < self.not_before:
            return "NOT YET VALID"
        if now > self.not_after:
            return "EXPIRED"
        return "valid now"

    def vouches_for(self) -> str:
        if self.is_ca:
            return (
                "seals and documents whose certificate this CA issued (the chain and each "
                "certificate's validity checked at the signing time)"
            )
        if self.carries_certificate:
            return "seals and documents signed with this very certificate"
        return "JWS documents signed with this very key (ES256)"


def read_certificate(data: bytes, name: str = "the file") -> CertificateKey:
    """The certificate in `data` (DER, or PEM with exactly one CERTIFICATE block) and its key."""
    if len(data) > MAX_CERT_FILE_BYTES:
        raise KeyMaterialError(f"{name} is larger than {MAX_CERT_FILE_BYTES} bytes")
    der = _der(data, name)
    curve = _curve(der, name)
    if curve == _SM2_CURVE:
        return _sm2(der, name)
    if curve == _P256_CURVE:
        return _p256(der, name)
    raise KeyMaterialError(f"{name}: the certificate's key is neither SM2 nor P-256")


def _der(data: bytes, name: str) -> bytes:
    if not a_pem.detect(data):
        return data
    blocks = []
    try:
        for kind, _, body in a_pem.unarmor(data, multiple=True):
            blocks.append((kind, body))
    except ValueError as exc:
        raise KeyMaterialError(f"{name}: malformed PEM ({exc})") from exc
    if any("PRIVATE KEY" in kind for kind, _ in blocks):
        raise KeyMaterialError(f"{name} holds a private key; give the certificate alone")
    if len(blocks) != 1 or blocks[0][0] != "CERTIFICATE":
        raise KeyMaterialError(f"{name}: exactly one CERTIFICATE block, please (one key per file)")
    return bytes(blocks[0][1])


def _curve(der: bytes, name: str) -> str | None:
    try:
        cert = a_x509.Certificate.load(der, strict=True)
        params = cert["tbs_certificate"]["subject_public_key_info"]["algorithm"]["parameters"]
        return params.chosen.dotted if params.name == "named" else None
    except Exception as exc:  # asn1crypto raises many types on malformed input
        raise KeyMaterialError(f"{name} is not an X.509 certificate (DER or PEM): {exc}") from exc


def _refuse_non_signing(is_ca: bool, usage: frozenset[str] | None, name: str) -> None:
    if not is_ca and usage is not None and not usage & _SIGNING_USAGES:
        raise KeyMaterialError(
            f"{name}: the certificate's keyUsage ({', '.join(sorted(usage))}) does not allow "
            "signatures, so it could sign no document"
        )


def _sm2(der: bytes, name: str) -> CertificateKey:
    try:
        cert = Certificate.parse(der)
    except CertificateError as exc:
        raise KeyMaterialError(f"{name}: {exc}") from exc
    is_ca = bool(cert.is_ca)
    _refuse_non_signing(is_ca, cert.key_usage, name)
    return CertificateKey(
        key=Sm2PublicKey.from_certificate(cert),
        curve="SM2",
        subject=cert.subject,
        issuer=cert.issuer,
        serial=cert.serial,
        not_before=cert.not_before,
        not_after=cert.not_after,
        is_ca=is_ca,
        key_usage=cert.key_usage,
        sha256=cert.sha256,
        carries_certificate=True,
    )


_KEY_USAGE_NAMES: Final = (
    ("digital_signature", "digital_signature"),
    ("content_commitment", "non_repudiation"),
    ("key_encipherment", "key_encipherment"),
    ("data_encipherment", "data_encipherment"),
    ("key_agreement", "key_agreement"),
    ("key_cert_sign", "key_cert_sign"),
    ("crl_sign", "crl_sign"),
)


def _p256(der: bytes, name: str) -> CertificateKey:
    try:
        cert = c_x509.load_der_x509_certificate(der)
        public = cert.public_key()
        try:
            ca = cert.extensions.get_extension_for_class(c_x509.BasicConstraints).value.ca
        except c_x509.ExtensionNotFound:
            ca = False
        try:
            ku = cert.extensions.get_extension_for_class(c_x509.KeyUsage).value
            usage: frozenset[str] | None = frozenset(
                ours for theirs, ours in _KEY_USAGE_NAMES if getattr(ku, theirs)
            )
        except c_x509.ExtensionNotFound:
            usage = None
        subject, issuer = cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()
        not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
        serial = cert.serial_number
    except ValueError as exc:
        raise KeyMaterialError(f"{name} is not a well-formed X.509 certificate: {exc}") from exc
    if not isinstance(public, ec.EllipticCurvePublicKey):
        raise KeyMaterialError(f"{name}: the certificate's key is neither SM2 nor P-256")
    if ca:
        raise KeyMaterialError(
            f"{name} is a P-256 CA certificate: JWS documents are verified with the listed key "
            "itself, never through a chain; list the issuer's own certificate or key"
        )
    _refuse_non_signing(False, usage, name)
    return CertificateKey(
        key=EcP256PublicKey(public),
        curve="P-256",
        subject=subject,
        issuer=issuer,
        serial=serial,
        not_before=not_before.astimezone(UTC),
        not_after=not_after.astimezone(UTC),
        is_ca=False,
        key_usage=usage,
        sha256=hashlib.sha256(der).hexdigest(),
        carries_certificate=False,
    )


__all__ = ["MAX_CERT_FILE_BYTES", "CertificateKey", "read_certificate"]
