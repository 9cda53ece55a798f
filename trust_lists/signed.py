"""The signed envelope around a trust list, and the rules for accepting one.

Envelope: JWS JSON general serialisation (RFC 7515 7.2.1) whose payload is the canonical JSON of
the list, so any JOSE library can check the signatures and every signer signs the same bytes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from keys import GeneralJWS, MalformedJSON, MalformedJWS, PublicKey, SigningKey, canonical_json
from keys.encoding import strict_json_loads
from trust_lists.errors import (
    AlreadyExpired,
    DocumentTooLarge,
    JurisdictionMismatch,
    MalformedDocument,
    NotYetIssued,
    Rollback,
    RotationNotAuthorised,
    ThresholdNotMet,
)
from trust_lists.model import FORMAT, OperatorPolicy, TrustList
from trust_lists.timeutil import format_time, issued_in_future, shift

TRUST_LIST_TYP = "huren-trust-list+jws"
UNSIGNED_DRAFT = (
    "this is an unsigned draft trust list, not a signed envelope: sign it first "
    "(`huren list sign DRAFT --key KEY --out SIGNED`, one per operator, then `huren list combine`)"
)
MAX_TRUST_LIST_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_SKEW = timedelta(minutes=5)


def parse_canonical_payload(payload: bytes, max_bytes: int) -> object:
    """Parse a signed payload and insist it is in canonical form: one document, one byte string."""
    try:
        value = strict_json_loads(payload, max_bytes=max_bytes)
    except MalformedJSON as exc:
        raise MalformedDocument(str(exc)) from exc
    if not _is_canonical(value, payload):
        raise MalformedDocument("payload is not in canonical JSON form (sorted keys, no spaces)")
    return value


def _is_canonical(value: object, payload: bytes) -> bool:
    """canonical_json(value) == payload, several times faster for large lists: orjson with sorted
    keys writes the json module's exact bytes for strings, integers, booleans, null, lists and
    objects (same escapes, keys sorted by code point). Only floats are written differently, and
    orjson writes every float with a "." or an exponent: so if orjson's bytes equal the payload
    and the payload holds no such number, canonical_json's do too. Anything else is decided by
    canonical_json itself."""
    try:
        fast = orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS)
    except orjson.JSONEncodeError:
        fast = None
    if fast == payload and b"\\" not in payload:
        # No escapes: the pieces between quotes alternate outside / inside strings. Outside,
        # only numbers, true, false, null and punctuation remain; a float needs "." or e/E.
        outside = b"".join(payload.split(b'"')[::2]).replace(b"true", b"").replace(b"false", b"")
        if b"." not in outside and b"e" not in outside and b"E" not in outside:
            return True
    return canonical_json(value) == payload


@dataclass(frozen=True, slots=True)
class SignedTrustList:
    envelope: GeneralJWS
    trust_list: TrustList
    digest: str  # SHA-256 (hex) of the canonical payload: names this exact list

    @classmethod
    def parse(cls, data: bytes, *, max_bytes: int = MAX_TRUST_LIST_BYTES) -> SignedTrustList:
        if len(data) > max_bytes:
            raise DocumentTooLarge(f"trust list larger than {max_bytes} bytes")
        try:
            envelope = GeneralJWS.parse(data, max_bytes=max_bytes, typ=TRUST_LIST_TYP)
        except MalformedJWS as exc:
            if is_unsigned_draft(data):
                raise MalformedDocument(UNSIGNED_DRAFT) from exc
            raise MalformedDocument(f"envelope: {exc}") from exc
        return cls.from_envelope(envelope, max_bytes=max_bytes)

    @classmethod
    def from_envelope(
        cls, envelope: GeneralJWS, *, max_bytes: int = MAX_TRUST_LIST_BYTES
    ) -> SignedTrustList:
        value = parse_canonical_payload(envelope.payload, max_bytes)
        trust_list = TrustList.from_dict(value)
        return cls(envelope, trust_list, hashlib.sha256(envelope.payload).hexdigest())

    @classmethod
    def create(cls, trust_list: TrustList, signers: Iterable[SigningKey]) -> SignedTrustList:
        payload = canonical_json(trust_list.to_dict())
        envelope = GeneralJWS.sign(payload, signers, typ=TRUST_LIST_TYP)
        return cls.from_envelope(envelope)

    def add_signature(self, key: SigningKey) -> SignedTrustList:
        return SignedTrustList(
            self.envelope.add_signature(key, typ=TRUST_LIST_TYP), self.trust_list, self.digest
        )

    def combine(self, other: SignedTrustList) -> SignedTrustList:
        try:
            envelope = self.envelope.combine(other.envelope)
        except MalformedJWS as exc:
            raise MalformedDocument(str(exc)) from exc
        return SignedTrustList(envelope, self.trust_list, self.digest)

    def to_json(self) -> bytes:
        return self.envelope.to_json()


@dataclass(frozen=True, slots=True)
class SignerSet:
    """Who may sign: `threshold` of the keys named by `kids` (keys we hold are in `keys`)."""

    keys: Mapping[str, PublicKey]
    threshold: int
    kids: frozenset[str]

    @classmethod
    def of(cls, policy: OperatorPolicy) -> SignerSet:
        by_kid = policy.by_kid
        return cls(by_kid, policy.threshold, frozenset(by_kid))

    def same_as(self, policy: OperatorPolicy) -> bool:
        return self.threshold == policy.threshold and self.kids == set(policy.by_kid)

    def satisfied_by(self, envelope: GeneralJWS) -> bool:
        return len(envelope.verified_kids(self.keys)) >= self.threshold


@dataclass(frozen=True, slots=True)
class Anchor:
    """The configured root of trust for one jurisdiction: the operator keys that must sign its
    first list, given as public keys or only as their RFC 7638 thumbprints."""

    jurisdiction: str
    threshold: int
    kids: frozenset[str]
    keys: tuple[PublicKey, ...] = ()

    def signer_set_for(self, candidate: TrustList) -> SignerSet:
        keys = {k.kid: k for k in self.keys}
        for key in candidate.operators.keys:
            if key.kid in self.kids:
                keys.setdefault(key.kid, key)
        return SignerSet(keys, self.threshold, self.kids)


def check_successor(
    signed: SignedTrustList,
    *,
    slot: str,
    trusted: SignerSet,
    highest_sequence: int,
    now: datetime | None,
    max_skew: timedelta = DEFAULT_MAX_SKEW,
) -> None:
    """Raise unless `signed` may replace the list whose operators are `trusted`.

    `now` None means replay from disk: times were checked when the list was first accepted."""
    new = signed.trust_list
    if new.jurisdiction != slot:
        raise JurisdictionMismatch(
            f"list is for jurisdiction {new.jurisdiction}, offered as {slot}"
        )
    if new.sequence <= highest_sequence:
        raise Rollback(
            f"sequence {new.sequence} is not above the highest accepted ({highest_sequence}): "
            "make the next version (`huren list bump`) and sign it again"
        )
    old_ok = trusted.satisfied_by(signed.envelope)
    rotating = not trusted.same_as(new.operators)
    if rotating:
        new_ok = SignerSet.of(new.operators).satisfied_by(signed.envelope)
        if not (old_ok and new_ok):
            raise RotationNotAuthorised(
                "an operator key rotation must be signed by a threshold of the current operator "
                f"keys ({trusted.threshold}) and of the new ones ({new.operators.threshold})"
                f"; current: {'ok' if old_ok else 'missing'}, new: {'ok' if new_ok else 'missing'}"
            )
    elif not old_ok:
        found = len(signed.envelope.verified_kids(trusted.keys))
        raise ThresholdNotMet(
            f"{found} valid signature{'s' if found != 1 else ''} of the current operator keys "
            f"found, {trusted.threshold} needed: have more operators sign it (`huren list sign`, "
            "`huren list combine`)"
        )
    if now is not None:
        if issued_in_future(new.issued_at, now, max_skew):
            raise NotYetIssued(
                f"issued_at {format_time(new.issued_at)} is in the future (now "
                f"{format_time(now)}, {int(max_skew.total_seconds())} s of clock skew allowed): "
                "check the signing machine's clock"
            )
        if new.next_update <= now:
            raise AlreadyExpired(
                f"next_update {format_time(new.next_update)} has passed (now {format_time(now)}): "
                "make the next version (`huren list bump`) and sign it again"
            )


def is_unsigned_draft(data: bytes) -> bool:
    """A trust-list payload (what `huren list new` writes) where a signed envelope belongs."""
    try:
        doc = strict_json_loads(data, max_bytes=MAX_TRUST_LIST_BYTES)
    except MalformedJSON:
        return False
    return isinstance(doc, dict) and doc.get("type") == FORMAT


def is_stale(trust_list: TrustList, now: datetime, grace: timedelta = timedelta(0)) -> bool:
    return now >= shift(trust_list.next_update, grace)
