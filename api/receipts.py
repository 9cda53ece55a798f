"""Verification receipts: a compact JWS (typ "huren-receipt+jwt", ES256) by the service's receipt
key over the verdict, a digest of the request and the time, so a counter can keep proof of what
the service answered. Anyone can check one offline with the keys at /v1/receipts/jwks.json."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from keys import ES256, SigningKey, sign_compact

RECEIPT_TYP = "huren-receipt+jwt"
RECEIPT_ISSUER = "huren"

log = logging.getLogger("huren.receipts")


class ReceiptSigner:
    def __init__(self, key: SigningKey, *, issuer: str = RECEIPT_ISSUER) -> None:
        if key.alg != ES256:
            raise ValueError("the receipt key must be a P-256 (ES256) key")
        self.key = key
        self.issuer = issuer

    @classmethod
    def from_settings(cls, path: Path | None) -> ReceiptSigner:
        if path is None:
            log.warning(
                "no receipt key configured: generated an ephemeral ES256 key; receipts will not "
                "verify against this service after a restart"
            )
            return cls(SigningKey.generate(ES256))
        return cls(SigningKey.load(path))

    @property
    def kid(self) -> str:
        return self.key.kid

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [self.key.public_key.to_jwk()]}

    def sign(
        self,
        *,
        verdict: Mapping[str, Any],
        request_sha256: str,
        kind: str,
        cached: bool,
        now: datetime,
    ) -> str:
        claims = {
            "iss": self.issuer,
            "iat": int(now.timestamp()),
            "jti": secrets.token_hex(16),
            "kind": kind,
            "request_sha256": request_sha256,
            "cached": cached,
            "verdict": dict(verdict),
        }
        return sign_compact(claims, self.key, typ=RECEIPT_TYP)


__all__ = ["RECEIPT_TYP", "ReceiptSigner"]
