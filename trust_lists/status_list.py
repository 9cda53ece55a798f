"""Status lists after the IETF OAuth Token Status List draft.

A status list token is a compact JWS (typ "statuslist+jwt") signed by an issuer key from a trust
list, with claims sub (the list's URI), iat, exp and status_list {bits, lst}, where lst is the
base64url of the zlib-compressed bit array. Entry i sits at bit offset i*bits, least significant
bits first. It is held decompressed: `bits` bits per entry, nothing more. The signed token itself
is not kept in memory (only its SHA-256): the trust store writes it to its directory, where it can
be read back."""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

from keys import CompactJWS, MalformedJWS, SigningKey, b64url_decode, b64url_encode, sign_compact
from trust_lists.errors import DocumentTooLarge, MalformedDocument
from trust_lists.text import check_text
from trust_lists.timeutil import LAST_EPOCH_SECOND, from_epoch

STATUS_LIST_TYP = "statuslist+jwt"
MAX_STATUS_LIST_TOKEN_BYTES = 4 * 1024 * 1024
MAX_STATUS_LIST_ENTRIES = 16 * 1024 * 1024
_ALLOWED_BITS = (1, 2, 4, 8)


class Status(IntEnum):
    VALID = 0
    INVALID = 1  # revoked
    SUSPENDED = 2


@dataclass(frozen=True, slots=True)
class StatusList:
    uri: str
    issued_at: datetime
    expires_at: datetime
    bits: int
    data: bytes
    signer_kid: str
    digest: str  # hex SHA-256 of the token's bytes (token_bytes), which are not kept here

    @property
    def size(self) -> int:
        return len(self.data) * 8 // self.bits

    def status(self, idx: int) -> int | None:
        """The status value at idx, or None when idx is outside the list."""
        if idx < 0 or idx >= self.size:
            return None
        offset = idx * self.bits
        return (self.data[offset >> 3] >> (offset & 7)) & ((1 << self.bits) - 1)

    @classmethod
    def parse(cls, token: str | bytes) -> tuple[StatusList, CompactJWS]:
        """Parse and bound the token. The signature is checked by the trust store, which knows
        which issuer keys are trusted."""
        try:
            jws = CompactJWS.parse(
                token, max_bytes=MAX_STATUS_LIST_TOKEN_BYTES, typ=STATUS_LIST_TYP
            )
            claims = jws.payload_json(MAX_STATUS_LIST_TOKEN_BYTES)
        except MalformedJWS as exc:
            raise MalformedDocument(f"status list: {exc}") from exc
        allowed = {"sub", "iat", "exp", "ttl", "iss", "status_list"}
        if set(claims) - allowed:
            raise MalformedDocument(
                f"status list has unknown claims {sorted(set(claims) - allowed)}"
            )
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.startswith("https://") or len(sub) > 512:
            raise MalformedDocument("status list sub must be its https URI")
        check_text(sub, "status list sub")
        iat, exp = claims.get("iat"), claims.get("exp")
        if not (isinstance(iat, int) and isinstance(exp, int) and _is_int(iat) and _is_int(exp)):
            raise MalformedDocument("status list needs integer iat and exp")
        if exp <= iat:
            raise MalformedDocument("status list needs integer iat and exp, exp after iat")
        body = claims.get("status_list")
        if not isinstance(body, dict) or set(body) != {"bits", "lst"}:
            raise MalformedDocument("status_list must be {bits, lst}")
        bits, lst = body["bits"], body["lst"]
        if bits not in _ALLOWED_BITS or isinstance(bits, bool) or not isinstance(lst, str):
            raise MalformedDocument("status_list.bits must be 1, 2, 4 or 8")
        data = _inflate(lst, MAX_STATUS_LIST_ENTRIES * bits // 8)
        digest = hashlib.sha256(token_bytes(token)).hexdigest()
        return cls(sub, from_epoch(iat), from_epoch(exp), bits, data, jws.kid, digest), jws


def token_bytes(token: str | bytes) -> bytes:
    """The token as stored and digested: ASCII, surrounding whitespace removed (what `parse`
    accepted; raises UnicodeError for a token `parse` would have refused)."""
    text = token.decode("ascii") if isinstance(token, bytes) else token
    return text.strip().encode("ascii")


def _is_int(value: Any) -> bool:
    # A time a datetime holds: from_epoch beyond 9999 would raise outside any refusal.
    return (
        isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= LAST_EPOCH_SECOND
    )


def _inflate(lst: str, limit: int) -> bytes:
    try:
        compressed = b64url_decode(lst)
        inflater = zlib.decompressobj()
        data = inflater.decompress(compressed, limit)
        if inflater.unconsumed_tail or not inflater.eof:
            raise DocumentTooLarge(f"status list inflates beyond {limit} bytes or is truncated")
    except (ValueError, zlib.error) as exc:
        raise MalformedDocument(f"status_list.lst is not base64url zlib data: {exc}") from exc
    if not data:
        raise MalformedDocument("status list is empty")
    return data


def encode_status_list(statuses: list[int] | bytes, bits: int) -> str:
    """Pack status values (each < 2**bits) and compress them into the `lst` form."""
    if bits not in _ALLOWED_BITS:
        raise ValueError("bits must be 1, 2, 4 or 8")
    per_byte = 8 // bits
    out = bytearray((len(statuses) + per_byte - 1) // per_byte)
    for i, value in enumerate(statuses):
        if not 0 <= value < (1 << bits):
            raise ValueError(f"status {value} does not fit in {bits} bits")
        offset = i * bits
        out[offset >> 3] |= value << (offset & 7)
    return b64url_encode(zlib.compress(bytes(out), 9))


def sign_status_list(
    key: SigningKey,
    *,
    uri: str,
    statuses: list[int] | bytes,
    bits: int,
    issued_at: datetime,
    expires_at: datetime,
) -> str:
    """Issuer-side helper: a signed status list token."""
    claims = {
        "sub": uri,
        "iat": int(issued_at.timestamp()),
        "exp": int(expires_at.timestamp()),
        "status_list": {"bits": bits, "lst": encode_status_list(statuses, bits)},
    }
    return sign_compact(claims, key, typ=STATUS_LIST_TYP)
