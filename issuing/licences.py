"""Issuer-side helpers: build and sign e-licences, enterprise e-seals and sealed-document
signatures (docs/formats.md). Used by issuers, the demo world and the tests.

Each `*_claims` function returns the plain claims dict (tests alter it to craft bad documents);
the signing functions check their own output with the verifier's strict parsers first, so an
issuer cannot publish a document the verifier would refuse as malformed."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from keys import CompactJWS, PublicKey, SigningKey, sign_compact
from trust_lists.uscc import is_valid_uscc
from verifier.formats import (
    LICENCE_TYP,
    SEAL_TYP,
    SEALED_DOC_TYP,
    ClaimError,
    is_valid_pid,
    parse_licence_claims,
    parse_seal_claims,
    parse_sealed_doc_claims,
)

MAX_EMBEDDED_SEAL_BYTES = 16 * 1024


def _ts(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not accepted; pass an aware UTC time")
    return int(value.timestamp())


def _status(status: tuple[int, str] | None) -> dict[str, Any] | None:
    if status is None:
        return None
    idx, uri = status
    return {"status_list": {"idx": idx, "uri": uri}}


def licence_claims(
    *,
    jurisdiction: str,
    issuer: str,
    number: str,
    licence_type: str,
    holder_name: str,
    holder_uscc: str | None = None,
    holder_pid: str | None = None,
    issued_at: datetime,
    valid_from: datetime | None = None,
    valid_to: datetime | None = None,
    data: Mapping[str, str | int | bool] | None = None,
    status: tuple[int, str] | None = None,
) -> dict[str, Any]:
    """The claims of an e-licence. `status` is (idx, uri) into the issuer's status list."""
    holder: dict[str, str] = {"name": holder_name}
    if holder_uscc is not None:
        holder["uscc"] = holder_uscc
    if holder_pid is not None:
        holder["pid"] = holder_pid
    claims: dict[str, Any] = {
        "jur": jurisdiction,
        "iss": issuer,
        "lic_no": number,
        "lic_type": licence_type,
        "holder": holder,
        "iat": _ts(issued_at),
        "nbf": _ts(valid_from or issued_at),
    }
    if valid_to is not None:
        claims["exp"] = _ts(valid_to)
    if data:
        claims["data"] = dict(data)
    if status is not None:
        claims["status"] = _status(status)
    return claims


def seal_claims(
    *,
    jurisdiction: str,
    issuer: str,
    seal_id: str,
    seal_type: str,
    enterprise_name: str,
    enterprise_uscc: str,
    enterprise_key: PublicKey,
    image: bytes,
    image_type: str | None = "image/png",
    issued_at: datetime,
    valid_from: datetime | None = None,
    valid_to: datetime,
    name: str | None = None,
    status: tuple[int, str] | None = None,
) -> dict[str, Any]:
    """The claims of an enterprise e-seal binding `enterprise_key` to the enterprise."""
    img: dict[str, str] = {"sha256": hashlib.sha256(image).hexdigest()}
    if image_type is not None:
        img["type"] = image_type
    claims: dict[str, Any] = {
        "jur": jurisdiction,
        "iss": issuer,
        "seal_id": seal_id,
        "seal_type": seal_type,
        "ent": {"name": enterprise_name, "uscc": enterprise_uscc},
        "img": img,
        "cnf": {"jwk": enterprise_key.to_jwk()},
        "iat": _ts(issued_at),
        "nbf": _ts(valid_from or issued_at),
        "exp": _ts(valid_to),
    }
    if name is not None:
        claims["name"] = name
    if status is not None:
        claims["status"] = _status(status)
    return claims


def sealed_doc_claims(
    document: bytes,
    seal: str,
    *,
    signed_at: datetime,
    embed_seal: bool = True,
    seal_id: str | None = None,
    document_name: str | None = None,
    document_type: str | None = None,
) -> dict[str, Any]:
    doc: dict[str, str] = {"sha256": hashlib.sha256(document).hexdigest()}
    if document_name is not None:
        doc["name"] = document_name
    if document_type is not None:
        doc["type"] = document_type
    claims: dict[str, Any] = {"doc": doc, "iat": _ts(signed_at)}
    if embed_seal:
        claims["seal"] = seal
    else:
        if seal_id is None:
            seal_id = str(
                CompactJWS.parse(seal, max_bytes=MAX_EMBEDDED_SEAL_BYTES, typ=SEAL_TYP)
                .payload_json(MAX_EMBEDDED_SEAL_BYTES)
                .get("seal_id")
            )
        claims["seal_ref"] = {
            "seal_id": seal_id,
            "sha256": hashlib.sha256(seal.encode("ascii")).hexdigest(),
        }
    return claims


def _check_ids(*codes: tuple[str, str | None]) -> None:
    for kind, code in codes:
        if code is None:
            continue
        ok = is_valid_uscc(code) if kind == "uscc" else is_valid_pid(code)
        if not ok:
            raise ValueError(f"{kind} {code!r} has a wrong check character")


def issue_licence(key: SigningKey, **fields: Any) -> str:
    """Sign an e-licence (keyword arguments as for `licence_claims`). `key` is the issuer's key
    as listed in its jurisdiction's trust list."""
    claims = licence_claims(**fields)
    try:
        parsed = parse_licence_claims(claims)
    except ClaimError as exc:
        raise ValueError(f"licence claims: {exc}") from exc
    _check_ids(("uscc", parsed.holder.uscc), ("pid", parsed.holder.pid))
    return sign_compact(claims, key, typ=LICENCE_TYP)


def make_seal(key: SigningKey, **fields: Any) -> str:
    """Make (sign) an enterprise e-seal with a seal-making authority's key (keyword arguments as
    for `seal_claims`)."""
    claims = seal_claims(**fields)
    try:
        parsed = parse_seal_claims(claims)
    except ClaimError as exc:
        raise ValueError(f"seal claims: {exc}") from exc
    _check_ids(("uscc", parsed.enterprise.uscc))
    return sign_compact(claims, key, typ=SEAL_TYP)


def sign_sealed_document(
    enterprise_key: SigningKey,
    document: bytes,
    seal: str,
    *,
    signed_at: datetime,
    embed_seal: bool = True,
    seal_id: str | None = None,
    document_name: str | None = None,
    document_type: str | None = None,
) -> str:
    """The enterprise signs the document's SHA-256 with the key bound in `seal`. With
    `embed_seal=False` the signature carries only the seal's id and digest, and the seal must be
    supplied alongside when verifying."""
    claims = sealed_doc_claims(
        document,
        seal,
        signed_at=signed_at,
        embed_seal=embed_seal,
        seal_id=seal_id,
        document_name=document_name,
        document_type=document_type,
    )
    try:
        parse_sealed_doc_claims(claims, max_seal_bytes=MAX_EMBEDDED_SEAL_BYTES)
    except ClaimError as exc:
        raise ValueError(f"sealed-document claims: {exc}") from exc
    return sign_compact(claims, enterprise_key, typ=SEALED_DOC_TYP)


__all__ = [
    "issue_licence",
    "licence_claims",
    "make_seal",
    "seal_claims",
    "sealed_doc_claims",
    "sign_sealed_document",
]
