"""The one place that decides which signature algorithms exist in huren.

Nothing else may accept an algorithm name without asking this module: no "none", no HMAC
(a public key must never become a shared secret), no RSA at all for now (when RSA is added it must
be >= 2048 bits, enforced here).

Two families, kept apart on purpose:
- JWS (`ALLOWED_ALGORITHMS`, `require_allowed`): what a JWS header may name and what huren signs
  with. SM2 is deliberately not here: no JOSE registration exists for it, so a licence, seal or
  trust list in JWS form can never be signed with SM2.
- National formats (`SM2`, `SES_SIGNATURE_OIDS`, `SM3_DIGEST_OIDS`): SM2 with SM3 and the default
  user id (GB/T 32918, GB/T 35276), only inside GB/T 38540 / GM/T 0031 seals and signatures, GB/T
  35275 signed messages and X.509 certificates (docs/national-formats.md).
A key in a trust list may carry any of `KEY_ALGORITHMS` (`require_key_algorithm`); a JWS verifies
only when its header alg equals its key's alg, so an SM2 key can never verify a JWS."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from keys.errors import UnsupportedAlgorithm

ES256: Final = "ES256"
EDDSA: Final = "EdDSA"
SM2: Final = "SM2"  # SM2 signature with SM3 and the default id 1234567812345678

ALLOWED_ALGORITHMS: Final[frozenset[str]] = frozenset({ES256, EDDSA})  # JWS only
KEY_ALGORITHMS: Final[frozenset[str]] = ALLOWED_ALGORITHMS | {SM2}

# Signature algorithm identifiers accepted in SES_Seal / SES_Signature / certificates / GB/T 35275
# signed messages: only SM2 with SM3 (GM/T 0006: 1.2.156.10197.1.501). SM2 without a named hash
# (1.2.156.10197.1.301.1) and every RSA/ECDSA identifier are refused.
SES_SIGNATURE_OIDS: Final[Mapping[str, str]] = MappingProxyType({"1.2.156.10197.1.501": SM2})

# GB/T 35275 signed messages name the signature "SM2-1" (1.2.156.10197.1.301.1) beside an SM3
# digestAlgorithm; accepted there only, and only together with SM3.
SM2_SIGN: Final = "1.2.156.10197.1.301.1"

# Digest identifiers accepted for OFD check values and signed-message digests: SM3 without a key
# (GM/T 0006 1.2.156.10197.1.401 and .401.1; OFD files also write the name "SM3").
# 1.2.156.10197.1.401.2 is SM3 *with* a key, which a verifier without the key cannot recompute.
SM3_DIGEST_NAMES: Final[frozenset[str]] = frozenset(
    {"SM3", "sm3", "1.2.156.10197.1.401", "1.2.156.10197.1.401.1"}
)

# COSE (RFC 9053) algorithm ids for the same allow-list: a QR licence (COSE_Sign1) may name only
# these; every other id (PS256 -37, ES384 -35, ...) is refused like an unknown JWS alg.
COSE_ALGORITHMS: Final[Mapping[int, str]] = MappingProxyType({-7: ES256, -8: EDDSA})
COSE_IDS: Final[Mapping[str, int]] = MappingProxyType({v: k for k, v in COSE_ALGORITHMS.items()})

# Minimum RSA modulus, kept here so the rule has a home before RSA is ever admitted.
MIN_RSA_BITS: Final = 2048


def require_allowed(alg: object) -> str:
    """Return alg if a JWS may use it (ES256, EdDSA), else raise UnsupportedAlgorithm."""
    if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS:
        raise UnsupportedAlgorithm(f"algorithm {alg!r} is not allowed")
    return alg


def require_allowed_cose(alg: object) -> str:
    """The JWS name of a COSE algorithm id on the allow-list (-7 ES256, -8 EdDSA), or raise."""
    if type(alg) is not int or alg not in COSE_ALGORITHMS:
        raise UnsupportedAlgorithm(f"COSE algorithm {alg!r} is not allowed")
    return COSE_ALGORITHMS[alg]


def require_key_algorithm(alg: object) -> str:
    """Return alg if a key (a JWK in a trust list) may carry it, else raise UnsupportedAlgorithm."""
    if not isinstance(alg, str) or alg not in KEY_ALGORITHMS:
        raise UnsupportedAlgorithm(f"algorithm {alg!r} is not allowed")
    return alg


def require_ses_signature_oid(oid: object) -> str:
    """The algorithm name for an SES / certificate signature algorithm OID, or raise."""
    if not isinstance(oid, str) or oid not in SES_SIGNATURE_OIDS:
        raise UnsupportedAlgorithm(
            f"signature algorithm {oid!r} is not allowed (only SM2 with SM3)"
        )
    return SES_SIGNATURE_OIDS[oid]


def is_sm3_digest(name: object) -> bool:
    """True iff `name` (an OFD CheckMethod or a digest OID) means SM3 without a key."""
    return isinstance(name, str) and name.strip() in SM3_DIGEST_NAMES
