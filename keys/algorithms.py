"""The one place that decides which signature algorithms exist in huren.

Nothing else may accept an algorithm name without asking this module: no "none", no HMAC
(a public key must never become a shared secret), no RSA at all for now (when RSA is added it must
be >= 2048 bits, enforced here)."""

from __future__ import annotations

from typing import Final

from keys.errors import UnsupportedAlgorithm

ES256: Final = "ES256"
EDDSA: Final = "EdDSA"

ALLOWED_ALGORITHMS: Final[frozenset[str]] = frozenset({ES256, EDDSA})

# Minimum RSA modulus, kept here so the rule has a home before RSA is ever admitted.
MIN_RSA_BITS: Final = 2048


def require_allowed(alg: object) -> str:
    """Return alg if it is on the allow-list, else raise UnsupportedAlgorithm."""
    if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS:
        raise UnsupportedAlgorithm(f"algorithm {alg!r} is not allowed")
    return alg
