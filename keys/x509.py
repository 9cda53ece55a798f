"""X.509 certificates with SM2 keys (GM/T 0015), parsed with asn1crypto, leniently where real
certificates need it and strictly where trust depends on it.

Lenient: names. Real certificates carry attributes that strict parsers reject (non-UTF-8 bytes in
a TeletexString, attribute 2.5.4.45 written as a UTF8String); names are only displayed (decoded
with replacement characters) and compared as exact DER bytes, never re-encoded. A non-critical
extension that does not parse is ignored.

Strict: the public key must be an SM2 point on the curve; the signature algorithm must be SM2 with
SM3, the same inside and outside the TBSCertificate; validity times must parse; basicConstraints
and keyUsage, when needed for a decision, must parse; an unknown *critical* extension makes the
certificate unusable in a chain (RFC 5280 4.2)."""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from asn1crypto import x509 as a_x509

from keys.algorithms import SES_SIGNATURE_OIDS
from keys.errors import KeyMaterialError
from keys.sm2_algorithm import Sm2Verifier, parse_point, sm3

MAX_CERT_BYTES: Final = 16 * 1024
MAX_CHAIN_DEPTH: Final = 4

_EC_PUBLIC_KEY: Final = "1.2.840.10045.2.1"
_SM2_CURVE: Final = "1.2.156.10197.1.301"
_BASIC_CONSTRAINTS: Final = "2.5.29.19"
_KEY_USAGE: Final = "2.5.29.15"
# Extensions whose criticality we can honour: processed here, or informational for a verifier
# that builds chains only to anchors named in a trust list and checks no revocation.
_UNDERSTOOD: Final = frozenset(
    {
        _BASIC_CONSTRAINTS,
        _KEY_USAGE,
        "2.5.29.14",  # subjectKeyIdentifier
        "2.5.29.35",  # authorityKeyIdentifier
        "2.5.29.17",  # subjectAltName
        "2.5.29.37",  # extKeyUsage
        "2.5.29.32",  # certificatePolicies (no policy is required)
        "2.5.29.31",  # cRLDistributionPoints (revocation is not checked: documented)
    }
)

# Short labels for display of common attributes.
_ATTR_LABELS: Final = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.5": "serialNumber",
    "2.5.4.97": "organizationIdentifier",
    "1.2.840.113549.1.9.1": "E",
}


class CertificateError(KeyMaterialError):
    """A certificate that cannot be used (malformed, wrong key type, disallowed algorithm)."""

    code = "certificate_invalid"


def _text(value: Any) -> str:
    """An attribute value as text, never raising: native if it parses, else its bytes decoded."""
    try:
        native = value.native
    except Exception:  # asn1crypto raises many types on bad attribute values
        native = None
    if isinstance(native, str):
        return native
    try:
        raw: bytes = value.contents if hasattr(value, "contents") else value.dump()
    except Exception:
        return "?"
    if raw and raw[0] in (0x0C, 0x13, 0x14, 0x16, 0x1E) and len(raw) > 2:  # a tagged string
        raw = raw[2:] if raw[1] < 0x80 else raw[2 + (raw[1] & 0x7F) :]
    return raw.decode("utf-8", "replace")


def name_text(name: Any) -> str:
    """A Name as 'CN=..., O=...' in its own order, leniently."""
    parts: list[str] = []
    try:
        rdns = name.chosen
        for rdn in rdns:
            for atv in rdn:
                oid = atv["type"].dotted
                parts.append(f"{_ATTR_LABELS.get(oid, oid)}={_text(atv['value'])}")
    except Exception:
        return "(unreadable name)"
    return ", ".join(parts)


def name_attributes(name: Any) -> list[tuple[str, str]]:
    """(OID, text) for every attribute of a Name, leniently (empty when unreadable)."""
    out: list[tuple[str, str]] = []
    try:
        for rdn in name.chosen:
            for atv in rdn:
                out.append((atv["type"].dotted, _text(atv["value"])))
    except Exception:
        return []
    return out


@dataclass(frozen=True, slots=True, eq=False)
class Certificate:
    """An X.509 certificate holding an SM2 key, with the facts a verifier needs."""

    der: bytes
    sha256: str
    tbs: bytes
    signature_oid: str
    signature: bytes
    subject_der: bytes
    issuer_der: bytes
    subject: str
    issuer: str
    serial: int
    not_before: datetime
    not_after: datetime
    public_point: bytes
    is_ca: bool | None  # None: no (readable) basicConstraints
    key_usage: frozenset[str] | None  # None: no keyUsage extension
    unknown_critical: tuple[str, ...]
    subject_attributes: tuple[tuple[str, str], ...] = field(default=())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Certificate) and other.der == self.der

    def __repr__(self) -> str:
        return f"Certificate(subject={self.subject!r}, sha256={self.sha256[:16]})"

    def __hash__(self) -> int:
        return hash(self.der)

    @property
    def sm3(self) -> bytes:
        return sm3(self.der)

    @property
    def display_name(self) -> str:
        """How a person is shown this certificate: its subject's common name, else its
        organisation, else the start of its SHA-256 fingerprint."""
        attrs = dict(self.subject_attributes)
        for oid in ("2.5.4.3", "2.5.4.10"):  # commonName, organizationName
            name = attrs.get(oid, "").strip()
            if name:
                return name
        return f"SHA-256 {self.sha256[:16]}"

    @property
    def self_issued(self) -> bool:
        return self.subject_der == self.issuer_der

    def valid_at(self, when: datetime) -> bool:
        return self.not_before <= when <= self.not_after

    def allows_signing(self) -> bool:
        """keyUsage (if present) permits digital signatures or non-repudiation."""
        ku = self.key_usage
        return ku is None or bool(ku & {"digital_signature", "non_repudiation"})

    def signed_by(self, issuer: Certificate) -> bool:
        """True iff issuer's key made this certificate's SM2 signature (and names match)."""
        if self.issuer_der != issuer.subject_der:
            return False
        return Sm2Verifier(issuer.public_point).verify(self.signature, self.tbs)

    @classmethod
    def parse(cls, der: bytes) -> Certificate:
        """Parse (or take from a bounded cache: certificates are immutable) a DER certificate."""
        if not isinstance(der, bytes) or not 0 < len(der) <= MAX_CERT_BYTES:
            raise CertificateError(f"a certificate must be 1..{MAX_CERT_BYTES} bytes")
        return _parse_cached(der)

    @classmethod
    def _parse(cls, der: bytes) -> Certificate:
        try:
            cert = a_x509.Certificate.load(der, strict=True)
            tbs = cert["tbs_certificate"]
            tbs_der = tbs.dump()
            outer_alg = cert["signature_algorithm"]["algorithm"].dotted
            inner_alg = tbs["signature"]["algorithm"].dotted
            signature = bytes(cert["signature_value"].native)
            serial = int(tbs["serial_number"].native)
            validity = tbs["validity"]
            not_before = _aware(validity["not_before"].native)
            not_after = _aware(validity["not_after"].native)
            subject = tbs["subject"]
            issuer = tbs["issuer"]
            subject_der = subject.dump()
            issuer_der = issuer.dump()
            spki = tbs["subject_public_key_info"]
            key_alg = spki["algorithm"]["algorithm"].dotted
            params = spki["algorithm"]["parameters"]
            curve = (
                params.chosen.dotted
                if key_alg == _EC_PUBLIC_KEY and params.name == "named"
                else None
            )
            point_bits = spki["public_key"].contents
        except CertificateError:
            raise
        except Exception as exc:  # asn1crypto raises ValueError, TypeError, KeyError, ...
            raise CertificateError(f"not a well-formed X.509 certificate ({exc})") from exc
        if der != cert.dump():
            raise CertificateError("trailing bytes after the certificate")
        if outer_alg != inner_alg:
            raise CertificateError("the two signature algorithm fields differ")
        if outer_alg not in SES_SIGNATURE_OIDS:
            raise CertificateError(
                f"certificate signature algorithm {outer_alg} is not SM2-with-SM3"
            )
        if key_alg == _EC_PUBLIC_KEY and curve != _SM2_CURVE:
            raise CertificateError("the certificate's key is not on the SM2 curve")
        if key_alg not in (_EC_PUBLIC_KEY, _SM2_CURVE):
            raise CertificateError(f"the certificate's key algorithm {key_alg} is not SM2")
        if not point_bits or point_bits[0] != 0:
            raise CertificateError("malformed public key bit string")
        try:
            point = parse_point(point_bits[1:])
        except KeyMaterialError as exc:
            raise CertificateError(str(exc)) from exc
        if not_after < not_before:
            raise CertificateError("notAfter is before notBefore")
        is_ca, key_usage, unknown = _extensions(tbs)
        return cls(
            der=der,
            sha256=hashlib.sha256(der).hexdigest(),
            tbs=tbs_der,
            signature_oid=outer_alg,
            signature=signature,
            subject_der=subject_der,
            issuer_der=issuer_der,
            subject=name_text(subject),
            issuer=name_text(issuer),
            serial=serial,
            not_before=not_before,
            not_after=not_after,
            public_point=point,
            is_ca=is_ca,
            key_usage=key_usage,
            unknown_critical=unknown,
            subject_attributes=tuple(name_attributes(subject)),
        )


@functools.lru_cache(maxsize=2048)
def _parse_cached(der: bytes) -> Certificate:
    return Certificate._parse(der)


def _aware(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise CertificateError("validity time is not a time")
    aware: datetime = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC)


def _extensions(tbs: Any) -> tuple[bool | None, frozenset[str] | None, tuple[str, ...]]:
    is_ca: bool | None = None
    key_usage: frozenset[str] | None = None
    unknown: list[str] = []
    try:
        extensions = list(tbs["extensions"])
    except Exception as exc:
        raise CertificateError(f"unreadable extensions ({exc})") from exc
    for ext in extensions:
        try:
            oid = ext["extn_id"].dotted
            critical = bool(ext["critical"].native)
        except Exception as exc:
            raise CertificateError(f"unreadable extension ({exc})") from exc
        if oid == _BASIC_CONSTRAINTS:
            try:
                is_ca = bool(ext["extn_value"].parsed["ca"].native)
            except Exception as exc:
                if critical:
                    raise CertificateError("unreadable critical basicConstraints") from exc
        elif oid == _KEY_USAGE:
            try:
                key_usage = frozenset(ext["extn_value"].parsed.native)
            except Exception as exc:
                if critical:
                    raise CertificateError("unreadable critical keyUsage") from exc
        elif critical and oid not in _UNDERSTOOD:
            unknown.append(oid)
    return is_ca, key_usage, tuple(unknown)


class ChainError(KeyMaterialError):
    """No acceptable path from a certificate to a trusted one."""

    code = "chain_invalid"


def build_chain(
    leaf: Certificate,
    anchors: Sequence[Certificate],
    when: datetime,
    intermediates: Sequence[Certificate] = (),
    *,
    verified: SignatureCache | None = None,
) -> list[Certificate]:
    """The path leaf -> ... -> anchor, each certificate's SM2 signature and validity at `when`
    checked. An anchor is a certificate named in a trust list: it is taken as a name and a key
    (RFC 5280 6.1.1 d; its own keyUsage is not judged), but its validity at `when` is. The leaf
    itself being an anchor is the path [leaf]. The leaf's validity is not judged here.
    Intermediates (from the document) must be CA
    certificates allowed to sign certificates. `verified` remembers signature results (see
    SignatureCache).
    Raises ChainError with the reason."""
    if any(anchor.der == leaf.der for anchor in anchors):
        return [leaf]  # the leaf's own validity is the caller's to judge (and to name)
    if leaf.unknown_critical:
        raise ChainError(f"unknown critical extensions {list(leaf.unknown_critical)}")
    path = [leaf]
    current = leaf
    for _ in range(MAX_CHAIN_DEPTH):
        for anchor in anchors:
            if current.issuer_der == anchor.subject_der and _signed(current, anchor, verified):
                if not anchor.valid_at(when):
                    raise ChainError(
                        f"the trusted CA certificate {anchor.subject} is not valid then"
                    )
                if anchor.is_ca is False:
                    raise ChainError(f"the trusted certificate {anchor.subject} is not a CA")
                return [*path, anchor]
        nxt = None
        for cand in intermediates:
            if cand in path or current.issuer_der != cand.subject_der:
                continue
            if _signed(current, cand, verified):
                nxt = cand
                break
        if nxt is None:
            break
        if nxt.is_ca is not True or (
            nxt.key_usage is not None and "key_cert_sign" not in nxt.key_usage
        ):
            raise ChainError(f"{nxt.subject} may not issue certificates")
        if nxt.unknown_critical:
            raise ChainError(f"{nxt.subject} has unknown critical extensions")
        if not nxt.valid_at(when):
            raise ChainError(f"the intermediate certificate {nxt.subject} is not valid then")
        path.append(nxt)
        current = nxt
    raise ChainError(f"no trusted certificate issued {current.subject} (issuer {current.issuer})")


def _signed(cert: Certificate, issuer: Certificate, cache: SignatureCache | None) -> bool:
    if cache is None:
        return cert.signed_by(issuer)
    key = (cert.sha256, issuer.sha256)
    hit = cache.get(key)
    if hit is None:
        hit = cert.signed_by(issuer)
        cache.put(key, hit)
    return hit


# Certificate signatures a long-running verifier remembers: every (certificate, issuer) pair a
# document can bring is a new entry, so the memory is capped, the least recently used going
# first. 4,096 pairs hold every chain of a city's makers and issuers many times over, at about
# 300 bytes each.
SIGNATURE_CACHE_SIZE: Final = 4096


class SignatureCache:
    """Whether a certificate's signature verifies under an issuer's key, by (certificate SHA-256,
    issuer SHA-256): certificates are immutable, so the answer never changes and the cache
    cannot change an outcome. Least recently used first out past `size`; thread-safe."""

    __slots__ = ("_items", "_lock", "size")

    def __init__(self, size: int = SIGNATURE_CACHE_SIZE) -> None:
        if size < 1:
            raise ValueError("a signature cache holds at least one entry")
        self.size = size
        self._items: OrderedDict[tuple[str, str], bool] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: tuple[str, str]) -> bool | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: tuple[str, str], verified: bool) -> None:
        with self._lock:
            self._items[key] = verified
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


__all__ = [
    "MAX_CERT_BYTES",
    "Certificate",
    "CertificateError",
    "ChainError",
    "SignatureCache",
    "build_chain",
    "name_attributes",
    "name_text",
]
