"""Keys: generation, loading and serialisation, key ids, the algorithm allow-list, JWS helpers."""

from keys.algorithms import (
    ALLOWED_ALGORITHMS,
    EDDSA,
    ES256,
    KEY_ALGORITHMS,
    SM2,
    require_allowed,
    require_key_algorithm,
)
from keys.encoding import b64url_decode, b64url_encode, canonical_json, strict_json_loads
from keys.errors import KeyMaterialError, MalformedJSON, MalformedJWS, UnsupportedAlgorithm
from keys.jws import CompactJWS, GeneralJWS, sign_compact
from keys.private import SigningKey
from keys.public import (
    EcP256PublicKey,
    Ed25519PublicKey,
    PublicKey,
    jwk_thumbprint,
    public_key_from_jwk,
    register,
)
from keys.sm2 import Sm2PublicKey, Sm2Unavailable  # registers kty EC / crv SM2

__all__ = [
    "ALLOWED_ALGORITHMS",
    "EDDSA",
    "ES256",
    "KEY_ALGORITHMS",
    "SM2",
    "CompactJWS",
    "EcP256PublicKey",
    "Ed25519PublicKey",
    "GeneralJWS",
    "KeyMaterialError",
    "MalformedJSON",
    "MalformedJWS",
    "PublicKey",
    "SigningKey",
    "Sm2PublicKey",
    "Sm2Unavailable",
    "UnsupportedAlgorithm",
    "b64url_decode",
    "b64url_encode",
    "canonical_json",
    "jwk_thumbprint",
    "public_key_from_jwk",
    "register",
    "require_allowed",
    "require_key_algorithm",
    "sign_compact",
    "strict_json_loads",
]
