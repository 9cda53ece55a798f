"""The QR form of an e-licence (`HR1:`, docs/formats.md), issuer side: the string and the picture.

`licence_qr` signs a licence's claims as a CWT in a COSE_Sign1 with the issuer's trust-list key;
`qr_from_jws` turns an existing JWS licence into its QR form (same claims, same key);
`qr_image` draws the string as a QR code (PNG or SVG) and says its version and error-correction
level. Every string made here is read back by the verifier's own parsers first, so an issuer
cannot hand out a code the counter would refuse as malformed."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import segno

from keys import CompactJWS, SigningKey
from keys.cose import CoseSign1, sign1
from verifier import hr1
from verifier.formats import LICENCE_TYP, ClaimError, parse_licence_claims

# Error correction M (15 %) survives a scratched phone screen and still keeps the demo business
# licence within version 20; the counter can ask for another level.
DEFAULT_ERROR: Final = "M"
MAX_JWS_BYTES: Final = 64 * 1024


def licence_qr(key: SigningKey, claims: Mapping[str, Any]) -> str:
    """The HR1 string of a licence's claims (the JSON claims of docs/formats.md), signed with
    `key`, the issuer's key as listed in its jurisdiction's trust list."""
    try:
        parse_licence_claims(dict(claims))
    except ClaimError as exc:
        raise ValueError(f"licence claims: {exc}") from exc
    cose = sign1(hr1.claims_to_cwt(claims), key, typ=hr1.LICENCE_CWT_TYP)
    text = hr1.wrap(cose)
    # Read back through the verifier's layers: the same bytes, the same claims.
    back = CoseSign1.parse(hr1.unwrap(text.encode("ascii")), max_bytes=hr1.MAX_INFLATED_BYTES)
    if hr1.cwt_to_claims(back.payload) != dict(claims) or not back.verify_with(key.public_key):
        raise ValueError("the QR form does not read back as these claims")  # pragma: no cover
    if len(text) > hr1.MAX_HR1_CHARS:
        raise ValueError(f"the QR form has {len(text)} characters, over {hr1.MAX_HR1_CHARS}")
    return text


def issue_licence_qr(key: SigningKey, **fields: Any) -> str:
    """Sign an e-licence in its QR form (keyword arguments as for `licence_claims`)."""
    from issuing.licences import _check_ids, licence_claims

    claims = licence_claims(**fields)
    parsed = parse_licence_claims(claims)
    _check_ids(("uscc", parsed.holder.uscc), ("pid", parsed.holder.pid))
    return licence_qr(key, claims)


def qr_from_jws(token: str | bytes, key: SigningKey) -> str:
    """The QR form of a JWS licence: its claims signed again, as a CWT, by the same key. The
    key must be the one that signed the JWS (its kid and a valid signature), so the QR form
    never says more than the licence it comes from."""
    jws = CompactJWS.parse(token, max_bytes=MAX_JWS_BYTES, typ=LICENCE_TYP)
    if jws.kid != key.kid or not jws.verify_with(key.public_key):
        raise ValueError("this key did not sign this licence; use the issuer's key that did")
    return licence_qr(key, jws.payload_json(MAX_JWS_BYTES))


@dataclass(frozen=True, slots=True)
class QrImage:
    data: bytes
    version: int
    error: str  # L, M, Q or H

    @property
    def modules(self) -> int:
        return 17 + 4 * self.version


def qr_code(text: str, error: str = DEFAULT_ERROR) -> segno.QRCode:
    """The QR code of an HR1 string: alphanumeric mode (base45 is the QR alphanumeric set), the
    smallest version at `error`, the level kept as asked (not boosted) so it is the one printed."""
    return segno.make_qr(text, error=error.lower(), mode="alphanumeric", boost_error=False)


def qr_image(
    text: str,
    kind: Literal["png", "svg"] = "png",
    *,
    error: str = DEFAULT_ERROR,
    scale: int = 4,
) -> QrImage:
    """The QR code of `text` as PNG or SVG, with its version and error-correction level."""
    code = qr_code(text, error)
    out = io.BytesIO()
    code.save(out, kind=kind, scale=scale, border=4)
    return QrImage(out.getvalue(), int(code.version), str(code.error).upper())


__all__ = [
    "DEFAULT_ERROR",
    "QrImage",
    "issue_licence_qr",
    "licence_qr",
    "qr_code",
    "qr_from_jws",
    "qr_image",
]
