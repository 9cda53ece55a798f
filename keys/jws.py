"""JSON Web Signatures (RFC 7515) in the two forms huren uses, parsed strictly.

- Compact form for licences, seals, sealed-document signatures, status lists and receipts.
- General JSON form (several signatures over one payload) for trust lists and the catalogue.

The header may never bring its own key: jwk, jku, x5u and x5c are refused, so trust can only come
from a trust list. `crit` is refused unless every listed parameter is one the caller understands."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from keys.algorithms import require_allowed
from keys.encoding import b64url_decode, b64url_encode, canonical_json, strict_json_loads
from keys.errors import MalformedJSON, MalformedJWS, UnsupportedAlgorithm
from keys.frozen import positional_maker
from keys.private import SigningKey
from keys.public import PublicKey

MAX_HEADER_BYTES = 4096
_KEY_BEARING_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"})


class EmbeddedKeyRejected(MalformedJWS):
    code = "jws_embedded_key"


class CriticalHeaderRejected(MalformedJWS):
    code = "jws_crit_unsupported"


class DuplicateMember(MalformedJWS):
    code = "jws_duplicate_member"


def _load_json(raw: bytes, what: str, max_bytes: int) -> dict[str, Any]:
    try:
        value = strict_json_loads(raw, max_bytes=max_bytes)
    except MalformedJSON as exc:
        if "duplicate" in str(exc):
            raise DuplicateMember(f"{what}: {exc}") from exc
        raise MalformedJWS(f"{what}: {exc}") from exc
    if not isinstance(value, dict):
        raise MalformedJWS(f"{what} is not a JSON object")
    return value


def check_header(
    header: Mapping[str, Any], *, typ: str | None, understood_crit: frozenset[str]
) -> str:
    """Validate a protected header; return its alg."""
    alg = require_allowed(header.get("alg"))
    embedded = _KEY_BEARING_HEADERS & header.keys()
    if embedded:
        raise EmbeddedKeyRejected(
            f"header carries {sorted(embedded)}; keys come only from trust lists"
        )
    if "crit" in header:
        crit = header["crit"]
        if (
            not isinstance(crit, list)
            or not crit
            or not all(isinstance(c, str) and c in header for c in crit)
        ):
            raise CriticalHeaderRejected("malformed crit header")
        unknown = set(crit) - understood_crit
        if unknown:
            raise CriticalHeaderRejected(
                f"critical header parameters not understood: {sorted(unknown)}"
            )
    kid = header.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= 128:
        raise MalformedJWS("header kid missing or not a short string")
    if typ is not None and header.get("typ") != typ:
        raise MalformedJWS(f"header typ is {header.get('typ')!r}, expected {typ!r}")
    return alg


@dataclass(frozen=True, slots=True)
class CompactJWS:
    """A parsed compact JWS. The signature is not yet verified: call `verify_with`."""

    header: dict[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes

    @property
    def alg(self) -> str:
        return str(self.header["alg"])

    @property
    def kid(self) -> str:
        return str(self.header["kid"])

    @classmethod
    def parse(
        cls,
        token: str | bytes,
        *,
        max_bytes: int,
        typ: str | None = None,
        understood_crit: frozenset[str] = frozenset(),
    ) -> CompactJWS:
        if isinstance(token, str):
            try:
                token = token.encode("ascii")
            except UnicodeEncodeError as exc:
                raise MalformedJWS("a compact JWS is ASCII only") from exc
        token = token.strip()
        if len(token) > max_bytes:
            raise MalformedJWS(f"token larger than {max_bytes} bytes")
        parts = token.split(b".")
        if len(parts) != 3:
            raise MalformedJWS("a compact JWS has exactly three dot-separated parts")
        h64, p64, s64 = parts
        if not h64:
            raise MalformedJWS("empty header")
        try:
            raw_header = b64url_decode(h64)
            payload = b64url_decode(p64)
            signature = b64url_decode(s64)
        except ValueError as exc:
            raise MalformedJWS(f"bad base64url: {exc}") from exc
        header = _load_json(raw_header, "header", MAX_HEADER_BYTES)
        # The header first, so an unsigned alg "none" token is reported as the algorithm it is.
        check_header(header, typ=typ, understood_crit=understood_crit)
        if not signature:
            raise MalformedJWS("empty signature")
        return make_compact(header, payload, h64 + b"." + p64, signature)

    def payload_json(self, max_bytes: int) -> dict[str, Any]:
        return _load_json(self.payload, "payload", max_bytes)

    def verify_with(self, key: PublicKey) -> bool:
        """True iff the key's algorithm is the header's and the signature verifies."""
        return key.alg == self.alg and key.verify(self.signature, self.signing_input)


make_compact = positional_maker(CompactJWS)  # every verification parses one


def sign_compact(
    payload: Mapping[str, Any] | bytes,
    key: SigningKey,
    *,
    typ: str,
    extra_header: Mapping[str, Any] | None = None,
) -> str:
    """Sign a payload (a claims mapping, serialised canonically, or raw bytes) as compact JWS."""
    extra = dict(extra_header or {})
    reserved = extra.keys() & ({"alg", "kid", "typ", "crit"} | _KEY_BEARING_HEADERS)
    if reserved:
        raise ValueError(f"extra_header may not set {sorted(reserved)}")
    header = {"alg": key.alg, "kid": key.kid, "typ": typ, **extra}
    body = payload if isinstance(payload, bytes) else canonical_json(dict(payload))
    signing_input = (
        b64url_encode(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url_encode(body)
    )
    return signing_input + "." + b64url_encode(key.sign(signing_input.encode("ascii")))


@dataclass(frozen=True, slots=True)
class JWSSignature:
    protected_b64: str
    header: dict[str, Any]
    signature: bytes

    @property
    def kid(self) -> str:
        return str(self.header["kid"])

    @property
    def alg(self) -> str:
        return str(self.header["alg"])


@dataclass(frozen=True, slots=True)
class GeneralJWS:
    """RFC 7515 7.2.1 general JSON serialisation: one payload, any number of signatures."""

    payload: bytes
    signatures: tuple[JWSSignature, ...]

    @property
    def payload_b64(self) -> str:
        return b64url_encode(self.payload)

    def signing_input(self, sig: JWSSignature) -> bytes:
        return (sig.protected_b64 + "." + self.payload_b64).encode("ascii")

    @classmethod
    def parse(
        cls, data: bytes, *, max_bytes: int, typ: str, max_signatures: int = 32
    ) -> GeneralJWS:
        try:
            doc = strict_json_loads(data, max_bytes=max_bytes)
        except MalformedJSON as exc:
            raise MalformedJWS(str(exc)) from exc
        if not isinstance(doc, dict) or set(doc) != {"payload", "signatures"}:
            raise MalformedJWS("expected exactly the members 'payload' and 'signatures'")
        sigs = doc["signatures"]
        if not isinstance(doc["payload"], str) or not isinstance(sigs, list):
            raise MalformedJWS("payload must be a string and signatures a list")
        if not 0 < len(sigs) <= max_signatures:
            raise MalformedJWS(f"between 1 and {max_signatures} signatures are allowed")
        try:
            payload = b64url_decode(doc["payload"])
        except ValueError as exc:
            raise MalformedJWS(f"payload: {exc}") from exc
        parsed: list[JWSSignature] = []
        for entry in sigs:
            if not isinstance(entry, dict) or set(entry) != {"protected", "signature"}:
                raise MalformedJWS("each signature has exactly 'protected' and 'signature'")
            if not isinstance(entry["protected"], str) or not isinstance(entry["signature"], str):
                raise MalformedJWS("protected and signature must be strings")
            try:
                header = _load_json(
                    b64url_decode(entry["protected"]), "protected header", MAX_HEADER_BYTES
                )
                signature = b64url_decode(entry["signature"])
            except ValueError as exc:
                raise MalformedJWS(f"signature entry: {exc}") from exc
            check_header(header, typ=typ, understood_crit=frozenset())
            parsed.append(JWSSignature(entry["protected"], header, signature))
        return cls(payload, tuple(parsed))

    def to_json(self) -> bytes:
        return canonical_json(
            {
                "payload": self.payload_b64,
                "signatures": [
                    {"protected": s.protected_b64, "signature": b64url_encode(s.signature)}
                    for s in self.signatures
                ],
            }
        )

    @classmethod
    def sign(cls, payload: bytes, keys: Iterable[SigningKey], *, typ: str) -> GeneralJWS:
        doc = cls(payload, ())
        for key in keys:
            doc = doc.add_signature(key, typ=typ)
        return doc

    def add_signature(self, key: SigningKey, *, typ: str) -> GeneralJWS:
        """A new envelope with key's signature added; signing twice with one key replaces it."""
        header = {"alg": key.alg, "kid": key.kid, "typ": typ}
        protected = b64url_encode(canonical_json(header))
        sig = JWSSignature(protected, header, b"")
        sig = JWSSignature(protected, header, key.sign(self.signing_input(sig)))
        kept = tuple(s for s in self.signatures if s.kid != key.kid)
        return GeneralJWS(self.payload, (*kept, sig))

    def combine(self, other: GeneralJWS) -> GeneralJWS:
        """Merge signatures from another envelope over the same payload (operators sign apart)."""
        if other.payload != self.payload:
            raise MalformedJWS("cannot combine signatures over different payloads")
        seen = {s.kid for s in self.signatures}
        extra = tuple(s for s in other.signatures if s.kid not in seen)
        return GeneralJWS(self.payload, self.signatures + extra)

    def verified_kids(self, keys: Mapping[str, PublicKey]) -> frozenset[str]:
        """The kids among `keys` that produced a valid signature here, one per key: should two
        kids name one public key (same `identity`), only the first counts, so the size of the
        answer is the number of distinct keys that signed (what a threshold counts)."""
        good: set[str] = set()
        signed: set[str] = set()
        for sig in self.signatures:
            key = keys.get(sig.kid)
            if key is None or sig.kid in good or key.alg != sig.alg or key.identity in signed:
                continue
            try:
                require_allowed(sig.alg)
            except UnsupportedAlgorithm:
                continue
            if key.verify(sig.signature, self.signing_input(sig)):
                good.add(sig.kid)
                signed.add(key.identity)
        return frozenset(good)
