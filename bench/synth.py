"""Synthetic trust state for the scale figures: big trust lists, filler jurisdictions, keys.

Filler keys are real Ed25519 public keys (random points, never used to verify), built through
the project's own `Ed25519PublicKey`, so every kid is a real RFC 7638 thumbprint and unique."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.asymmetric import ed25519

from keys import Ed25519PublicKey, PublicKey, SigningKey
from trust_lists import (
    KeyStatus,
    OperatorPolicy,
    ServiceKey,
    ServiceKind,
    StatusChange,
    TrustedService,
    TrustList,
    make_uscc,
)
from trust_lists.uscc import ALPHABET

_SMALL_ORDER_GUARD = 64  # retries for the (astronomically unlikely) small-order random point


def filler_key() -> PublicKey:
    for _ in range(_SMALL_ORDER_GUARD):
        try:
            return Ed25519PublicKey(ed25519.Ed25519PublicKey.from_public_bytes(os.urandom(32)))
        except Exception:
            continue
    raise RuntimeError("could not draw a filler key")


def credit_code(n: int) -> str:
    digits = []
    for _ in range(8):
        n, r = divmod(n, len(ALPHABET))
        digits.append(ALPHABET[r])
    return make_uscc("91440300" + "".join(digits) + "X")


def filler_service(
    ident: str, n_keys: int, granted: datetime, seq: int, keys: list[PublicKey] | None = None
) -> TrustedService:
    ks = keys if keys is not None else [filler_key() for _ in range(n_keys)]
    return TrustedService(
        ident,
        ServiceKind.LICENCE_ISSUER,
        f"填充机构{seq}",
        f"Filler issuer {seq}",
        credit_code(seq),
        frozenset({"food-business"}),
        tuple(ServiceKey(k, (StatusChange(KeyStatus.GRANTED, granted),)) for k in ks),
        frozenset({f"https://status.example/{ident}/1"}),
    )


def filler_list(
    code: str,
    n_services: int,
    keys_per_service: int,
    issued: datetime,
    operators: list[PublicKey],
    *,
    prefix: str = "svc",
) -> TrustList:
    services = tuple(
        filler_service(f"{prefix}-{code}-{i}", keys_per_service, issued - timedelta(days=30), i)
        for i in range(n_services)
    )
    return TrustList(
        code,
        f"填充辖区{code}",
        f"Filler {code}",
        1,
        issued,
        issued + timedelta(days=7),
        OperatorPolicy(tuple(operators), 1),
        services,
    )


def filler_codes(n: int, avoid: set[str]) -> list[str]:
    out = []
    i = 0
    while len(out) < n:
        code = f"{510100 + i}"
        i += 1
        if code not in avoid:
            out.append(code)
    return out


def operator_keys(n: int, alg: str = "ES256") -> list[SigningKey]:
    return [SigningKey.generate(alg) for _ in range(n)]
