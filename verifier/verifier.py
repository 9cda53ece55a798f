"""The verifier: judges e-licences, enterprise e-seals and sealed documents against one snapshot
of the trust store and returns ETSI-style verdicts (docs/verdicts.md).

Rules that hold everywhere:
- the store snapshot is read once per verification; everything is judged against it;
- document bytes never raise: anything malformed is a FAILED FORMAT_FAILURE verdict; only caller
  mistakes (unknown relying jurisdiction, naive datetimes, wrong argument types) raise
  `VerificationInputError`;
- checks run in a fixed order; the first FAILED check ends the run and decides the verdict; an
  INDETERMINATE check is recorded and the run goes on (a later FAILED still wins), unless nothing
  after it can be judged;
- key status is judged at the signing time the document claims, the validity window at the
  validation time `at`, trust freshness and status-list expiry at the real now (max(now, at)).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache, partial
from typing import Any, Final, Protocol, TypeVar

from keys import CompactJWS, KeyMaterialError, MalformedJWS, UnsupportedAlgorithm, b64url_decode
from keys.cbor import MalformedCBOR
from keys.cose import CoseCriticalHeader, CoseEmbeddedKey, CoseSign1, MalformedCOSE
from keys.jws import CriticalHeaderRejected, DuplicateMember, EmbeddedKeyRejected, make_compact
from keys.public import PublicKey
from trust_lists.model import KeyEntry, ServiceKind
from trust_lists.status_list import Status, StatusList
from trust_lists.store import TrustStore
from trust_lists.timeutil import format_time, issued_in_future
from trust_lists.uscc import is_valid_uscc
from verifier import hr1, messages
from verifier._job import (
    JobBase,
    Stop,
    UnknownServiceItem,
    VerificationInputError,
    call_times,
    resolve_item,
)
from verifier._job import clip as _clip
from verifier.formats import (
    KNOWN_TYPS,
    LICENCE_TYP,
    SEAL_TYP,
    SEAL_TYPES,
    SEALED_DOC_TYP,
    ClaimError,
    Holder,
    LicenceClaims,
    SealClaims,
    SealedDocClaims,
    StatusRef,
    is_valid_pid,
    parse_licence_claims,
    parse_seal_claims,
    parse_sealed_doc_claims,
    usual_licence_json,
)
from verifier.messages import PASSED, SEAL_PREFIX
from verifier.verdict import (
    Check,
    DocumentKind,
    DocumentSummary,
    SubIndication,
    Verdict,
    make_summary,
)

Clock = Callable[[], datetime]


class SignedToken(Protocol):
    """A parsed signed licence or seal in either encoding (CompactJWS, CoseSign1)."""

    @property
    def kid(self) -> str: ...

    def verify_with(self, key: PublicKey) -> bool: ...


_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class VerificationPolicy:
    # Cap on a signed token (licence, seal, sealed-document signature) read from outside.
    max_token_bytes: int = 64 * 1024
    # How far a claimed issue/signing time may lie after the validation time (clock skew).
    max_clock_skew: timedelta = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Expectations:
    """What the caller expects; a mismatch is FAILED SIG_CONSTRAINTS_FAILURE.

    holder_id: the holder's credit code (or personal id); for seals and sealed documents the
    enterprise's credit code. licence_type applies to licences, seal_type to seals and sealed
    documents. service_item is not an expectation about the document but the question asked:
    a document not accepted for the item is FAILED item.refused."""

    holder_id: str | None = None
    licence_type: str | None = None
    seal_type: str | None = None
    # The code of a service item (政务服务事项) of the relying city in the recognition catalogue:
    # recognition is then judged for that item (item.accepted / item.refused), not city-wide. An
    # item the held catalogue does not list raises UnknownServiceItem.
    service_item: str | None = None


# ASCII whitespace (what a copy adds); other bytes outside the alphabet are format.jws's.
_WHITESPACE: Final = re.compile(rb"[ \t\r\n\f\v]")
_COMPACT_SHAPE: Final = re.compile(rb"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_LICENCE: Final = DocumentKind.LICENCE
_SEAL: Final = DocumentKind.SEAL
_SEALED: Final = DocumentKind.SEALED_DOCUMENT

_DOC_NAMES: Final = {
    _LICENCE: ("电子证照", "an e-licence", "e-licences"),
    _SEAL: ("企业电子印章", "an enterprise e-seal", "enterprise e-seals"),
    _SEALED: ("盖章文档的签名", "a sealed-document signature", "sealed documents"),
}


def _as_bytes(value: object, what: str, *, text: bool = True) -> bytes:
    """Tokens may come as str or bytes; images and documents only as bytes."""
    if isinstance(value, bytes):
        return value
    if text and isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    kinds = "bytes or str" if text else "bytes"
    raise VerificationInputError(f"{what} must be {kinds}, not {type(value).__name__}")


def inputs_digest(parts: list[tuple[str, bytes]]) -> str:
    """Verdict.document_sha256: SHA-256 of the token itself when it is the only input, else of
    "huren-inputs-v1" and, per input in order, NUL name NUL SHA-256(input) (docs/verdicts.md)."""
    if len(parts) == 1:
        return hashlib.sha256(parts[0][1]).hexdigest()
    h = hashlib.sha256(b"huren-inputs-v1")
    for name, data in parts:
        h.update(b"\0" + name.encode("ascii") + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


# Validated protected headers by their exact base64url bytes. Issuers reuse one header for many
# documents, so this skips decoding, strict JSON and the header rules for all but the first; the
# same bytes always validate the same way, so the cache cannot change an outcome.
_HEADER_CACHE: dict[bytes, dict[str, Any]] = {}
_HEADER_CACHE_MAX = 4096
_HEADER_CACHE_ENTRY_MAX = 512


def _parse_compact(raw: bytes, limit: int) -> CompactJWS:
    """CompactJWS.parse (no typ, no crit understood), with the header cache in front."""
    token = raw.strip()
    # The two dots by find (memchr), not split, which walks every byte and copies every part.
    first = token.find(b".")
    second = token.find(b".", first + 1) if first > 0 else -1
    if second > 0 and token.find(b".", second + 1) < 0:
        header = _HEADER_CACHE.get(token[:first])
        if header is not None:
            try:
                payload = b64url_decode(token[first + 1 : second])
                signature = b64url_decode(token[second + 1 :])
            except ValueError as exc:
                raise MalformedJWS(f"bad base64url: {exc}") from exc
            if not signature:
                raise MalformedJWS("empty signature")
            return make_compact(header, payload, token[:second], signature)
    jws = CompactJWS.parse(raw, max_bytes=limit)
    if first <= _HEADER_CACHE_ENTRY_MAX:  # parsed: first is the header's length
        if len(_HEADER_CACHE) >= _HEADER_CACHE_MAX:
            _HEADER_CACHE.clear()  # crude but bounded; a refill costs one parse per header
        _HEADER_CACHE[token[:first]] = jws.header
    return jws


def _blank_inside(raw: bytes) -> int | None:
    """The 1-based position of the first space or line break inside `raw` when `raw` is a
    compact JWS but for them (the usual damage of a token copied out of an e-mail or a chat),
    else None. They are refused with this hint, never removed: the bytes judged are the bytes
    hashed and receipted. Around a token (a file's final newline) they are no part of it."""
    inner = raw.strip()
    blank = _WHITESPACE.search(inner)
    if blank is None or not _COMPACT_SHAPE.fullmatch(_WHITESPACE.sub(b"", inner)):
        return None
    return len(raw) - len(raw.lstrip()) + blank.start() + 1


# messages.PASSED as plain dicts by unprefixed code, one per prefix ("" and SEAL_PREFIX).
_PASSED_PLAIN: Final[dict[str, Check]] = {
    code: check for code, check in PASSED.items() if not code.startswith(SEAL_PREFIX)
}
_PASSED_SEAL: Final[dict[str, Check]] = {
    code.removeprefix(SEAL_PREFIX): check
    for code, check in PASSED.items()
    if code.startswith(SEAL_PREFIX)
}


# Passing checks that follow one another when all goes well, recorded in one go (same order).
_RUNS: Final[dict[str, dict[str, tuple[Check, ...]]]] = {
    prefix: {
        run: tuple(table[code] for code in codes)
        for run, codes in {
            "parsed": ("format.jws", "format.typ"),
            "key_found": ("issuer.jurisdiction", "trust.list_available", "key.found"),
            "service": ("key.issuer", "key.service_kind", "key.scope"),
        }.items()
    }
    for prefix, table in (("", _PASSED_PLAIN), (SEAL_PREFIX, _PASSED_SEAL))
}
# A usual licence's checks from key.status to validity.window, by (uscc given) + 2 * (pid given).
_USUAL: Final[tuple[tuple[Check, ...], ...]] = tuple(
    tuple(
        _PASSED_PLAIN[code]
        for code in ("key.status", "key.revocation", *ids, "trust.fresh", "validity.window")
    )
    for ids in (
        (),
        ("identifier.uscc",),
        ("identifier.pid",),
        ("identifier.uscc", "identifier.pid"),
    )
)


# The QR form's format checks in their order (parse_hr1 records those that passed in one go).
_QR_FORMAT: Final = (
    "format.size",
    "format.qr_prefix",
    "format.qr_encoding",
    "format.qr_compression",
    "format.cbor",
    "format.cose",
    "format.typ",
)
_QR_PASSED: Final[dict[str, tuple[Check, ...]]] = {
    prefix: tuple(table[code] for code in _QR_FORMAT)
    for prefix, table in (("", _PASSED_PLAIN), (SEAL_PREFIX, _PASSED_SEAL))
}


@lru_cache(maxsize=65536)
def _valid_uscc(code: str) -> bool:
    # Counters see the same enterprises again and again; the check is pure.
    return is_valid_uscc(code)


class _LicencePlan:
    """What judging a licence reads from one snapshot, for licences of one (relying city,
    jurisdiction, kid, issuer, type, status list, city-wide or for an item): made only when
    every rule that reads the snapshot alone passes (the key is listed and belongs to the
    issuer, of the right kind and scope; the list is held; the status list is declared, held,
    the issuer's, and signed by a listed key; the type is known and, city-wide, the relying city
    recognises it), so that per licence only the rules on its own times, identifiers and status
    slot are left, the signature, and for an item its decision (it reads the holder and data)."""

    __slots__ = ("entry", "fresh_before", "key", "key_revoked", "passed", "status_list", "until")

    def __init__(
        self,
        entry: KeyEntry,
        fresh_before: datetime,
        status_list: StatusList | None,
        until: datetime,
        status_check: Check,
        *,
        city_wide: bool,
    ) -> None:
        self.entry = entry
        self.key = entry.key
        self.key_revoked = entry.key.revoked_since
        # The freshness rules (the trust list's, the status list's and its signer's) pass while
        # the real now is before this; each of those times bounds the verdict too.
        self.fresh_before = fresh_before
        self.status_list = status_list
        self.until = until
        # The checks after key.found, by (uscc given) + 2 * (pid given); an item's own check
        # comes from its decision, per licence.
        service = _RUNS[""]["service"]
        accepted = (_PASSED_PLAIN["recognition.accepted"],) if city_wide else ()
        self.passed = tuple(
            (_PASSED_PLAIN["signature.valid"], *service, *usual, status_check, *accepted)
            for usual in _USUAL
        )


def _licence_plan(job: _Job, key: _PlanKey) -> _LicencePlan | None:
    """The plan for licences of `key` (relying city, jurisdiction, kid, issuer, type, status list
    URI, city-wide) under the job's snapshot, made on first use; None when a rule that reads the
    snapshot alone would not pass (not kept: the steps one by one then decide)."""
    state, anchors = job.state, job.anchors
    held, held_anchors, plans = _PLANS[0]
    if held is not state or held_anchors is not anchors:
        plans = {}
        _PLANS[0] = (state, anchors, plans)  # another thread sees the old or the new
    plan = plans.get(key)
    if plan is not None:
        return plan
    relying, jur, kid, issuer, type_code, uri, city_wide = key
    signed = state.lists.get(jur) if jur in anchors else None
    entry = signed.trust_list.find_key(kid) if signed is not None else None
    stale_from = state.stale_from(jur)
    cat = state.catalogue
    if (
        entry is None
        or entry.service.id != issuer
        or entry.service.kind is not ServiceKind.LICENCE_ISSUER
        or type_code not in entry.service.scope
        or stale_from is None
        or cat is None
        or cat.catalogue.licence_types.get(type_code) is None
        or (city_wide and not cat.catalogue.recognises(relying, jur, licence_type=type_code))
    ):
        return None
    limits = [stale_from]
    sl: StatusList | None = None
    if uri is None:
        status_check = _PASSED_PLAIN["status.not_referenced"]
    else:
        issued = state.status_lists.get(uri)
        if (
            uri not in entry.service.status_lists
            or issued is None
            or issued.jurisdiction != jur
            or issued.service_id != entry.service.id
        ):
            return None
        sl = issued.status_list
        signer = state.find_key(jur, sl.signer_kid)
        if signer is None:
            return None
        signer_revoked = signer.key.revoked_since
        limits += [sl.expires_at] if signer_revoked is None else [sl.expires_at, signer_revoked]
        status_check = _PASSED_PLAIN["status.valid"]
    fresh_before = min(limits)
    revoked = entry.key.revoked_since
    until = fresh_before if revoked is None else min(fresh_before, revoked)
    plan = _LicencePlan(entry, fresh_before, sl, until, status_check, city_wide=city_wide)
    if len(plans) >= _PLANS_MAX:
        plans.clear()  # bounded; a refill costs one plan per kind of licence
    plans[key] = plan
    return plan


# The plans of the last snapshot (and its store's anchors).
_PlanKey = tuple[str, str, str, str, str, str | None, bool]
_PLANS: list[tuple[object, object, dict[_PlanKey, _LicencePlan]]] = [(None, None, {})]
_PLANS_MAX = 4096


class JwsVerifier:
    """Verifies compact JWS licences, seals and sealed-document signatures against a trust store
    under a policy. Thread-safe and stateless: each call reads `store.state` once. `clock` gives
    the real now (an aware datetime). verifier.entry.Verifier adds the national formats and the
    one entry, `verify(request)`."""

    def __init__(
        self,
        store: TrustStore,
        policy: VerificationPolicy | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        self._store = store
        self.policy = policy or VerificationPolicy()
        self._clock: Clock = clock or (lambda: datetime.now(UTC))

    def verify_licence(
        self,
        token: bytes | str,
        relying: str,
        at: datetime | None = None,
        *,
        expect: Expectations | None = None,
    ) -> Verdict:
        """Verify an e-licence for use in `relying` at validation time `at` (default: now)."""
        job = self._job(relying, at, expect)
        return job.licence(_as_bytes(token, "token"), expect)

    def verify_licence_qr(
        self,
        text: bytes | str,
        relying: str,
        at: datetime | None = None,
        *,
        expect: Expectations | None = None,
    ) -> Verdict:
        """Verify an e-licence in its QR form (the `HR1:` string a scanner reads); the same
        checks and verdicts as verify_licence, after the QR form's own format checks."""
        job = self._job(relying, at, expect)
        return job.licence_qr(_as_bytes(text, "text"), expect)

    def verify_seal(
        self,
        token: bytes | str,
        relying: str,
        at: datetime | None = None,
        *,
        image: bytes | None = None,
        expect: Expectations | None = None,
    ) -> Verdict:
        """Verify an enterprise e-seal; when the seal image is given it must match its digest."""
        job = self._job(relying, at, expect)
        img = _as_bytes(image, "image", text=False) if image is not None else None
        return job.seal(_as_bytes(token, "token"), img, expect)

    def verify_sealed_document(
        self,
        document: bytes,
        signature: bytes | str,
        relying: str,
        at: datetime | None = None,
        *,
        seal: bytes | str | None = None,
        seal_image: bytes | None = None,
        expect: Expectations | None = None,
    ) -> Verdict:
        """Verify a document sealed by an enterprise: `signature` is the sealed-document JWS over
        the document's SHA-256. The seal travels inside the signature or, when the signature
        carries only a reference, is passed as `seal` (an embedded seal wins over `seal`)."""
        job = self._job(relying, at, expect)
        return job.sealed(
            _as_bytes(document, "document", text=False),
            _as_bytes(signature, "signature"),
            _as_bytes(seal, "seal") if seal is not None else None,
            _as_bytes(seal_image, "seal_image", text=False) if seal_image is not None else None,
            expect,
        )

    def _job(self, relying: object, at: object, expect: Expectations | None) -> _Job:
        relying, now, when = call_times(self._store.anchors, self._clock, relying, at)
        state = self._store.state
        job = _Job(self.policy, self._store.anchors, state, relying=relying, now=now, at=when)
        if expect is not None:
            job.item = resolve_item(state, relying, expect.service_item)
        return job


class _Job(JobBase[VerificationPolicy]):
    """One JWS verification (see JobBase); passing checks come from messages.PASSED."""

    __slots__ = ()

    def ok(self, code: str) -> None:
        self.checks.append((_PASSED_SEAL if self.prefix else _PASSED_PLAIN)[code])

    def _failed(
        self, code: str, prefix: str, params: Mapping[str, object]
    ) -> tuple[Check, SubIndication | None]:
        return messages.failed(code, prefix, **params)

    def verdict(self, digest: str, summary: DocumentSummary) -> Verdict:
        return self._verdict(summary, digest)

    # -- the three documents -----------------------------------------------------------------

    def licence(self, raw: bytes, expect: Expectations | None) -> Verdict:
        claims: LicenceClaims | None = None
        try:
            jws = self.parse_jws(raw, LICENCE_TYP, _LICENCE)
            claims = usual_licence_json(jws.payload, self.policy.max_token_bytes)
            if claims is None:
                claims = self.claims(jws, parse_licence_claims)
            else:
                self.ok("format.claims")
            self.judge_licence(jws, claims, expect)
        except Stop:
            pass
        # inputs_digest of the one input: the token's SHA-256.
        return self.verdict(hashlib.sha256(raw).hexdigest(), self.licence_summary(claims))

    def licence_qr(self, raw: bytes, expect: Expectations | None) -> Verdict:
        """The QR form (HR1:, docs/formats.md): its own format checks, then the licence's."""
        claims: LicenceClaims | None = None
        try:
            cose = self.parse_hr1(raw)
            claims = hr1.usual_licence_claims(cose.payload)
            if claims is None:  # the strict route decides, and names the fault
                try:
                    claims = parse_licence_claims(hr1.cwt_to_claims(cose.payload))
                except MalformedCBOR as exc:
                    self.stop("format.cbor", detail=_clip(str(exc)))
                except ValueError as exc:  # ClaimError and CWT claim keys
                    self.stop("format.claims", detail=_clip(str(exc), 200))
            self.ok("format.claims")
            self.judge_licence(cose, claims, expect)
        except Stop:
            pass
        # inputs_digest of the one input: the text's SHA-256.
        return self.verdict(hashlib.sha256(raw).hexdigest(), self.licence_summary(claims))

    def judge_licence(
        self, signed: SignedToken, claims: LicenceClaims, expect: Expectations | None
    ) -> None:
        """Everything about a parsed licence, whatever its encoding."""
        self.jurisdiction = claims.jurisdiction
        if not self.usual_licence(signed, claims):
            entry = self.resolve_key(
                signed, claims.jurisdiction, claims.issuer, _LICENCE, claims.licence_type
            )
            self.key_status(entry.key, claims.issued_at)
            self.holder_ids(claims.holder)
            self.fresh(claims.jurisdiction)
            self.validity(claims.issued_at, claims.valid_from, claims.valid_to, self.at)
            self.status(claims.status, entry, claims.jurisdiction, None)
            self.recognition(
                claims.jurisdiction,
                claims.licence_type,
                licence=True,
                enterprise=claims.holder.uscc is not None,
                data=claims.data,
            )
        if expect is not None:
            self.expect_holder(expect.holder_id, claims.holder.id)
            self.expect_type(
                expect.licence_type, claims.licence_type, partial(self.type_names, _LICENCE)
            )

    def usual_licence(self, signed: SignedToken, claims: LicenceClaims) -> bool:
        """The steps from resolve_key to recognition in one go when every rule but perhaps the
        signature passes, recording what they would (the same checks in the same order, the
        same bounds; a bad signature stops as resolve_key stops). What the rules read from the
        snapshot comes from the licence's _LicencePlan; an item's decision is the step's own.
        False, having recorded nothing, when any rule before that decision would not pass: the
        steps then run one by one."""
        item, status = self.item, claims.status
        plan = _licence_plan(
            self,
            (
                self.relying,
                claims.jurisdiction,
                signed.kid,
                claims.issuer,
                claims.licence_type,
                status.uri if status is not None else None,
                item is None,
            ),
        )
        if plan is None:
            return False
        at, issued, holder = self.at, claims.issued_at, claims.holder
        valid_to, revoked, sl = claims.valid_to, plan.key_revoked, plan.status_list
        if not (
            plan.key.granted_at(issued)
            and (revoked is None or revoked > at)
            and (holder.uscc is None or _valid_uscc(holder.uscc))
            and (holder.pid is None or is_valid_pid(holder.pid))
            and self.fresh_now < plan.fresh_before
            and not issued_in_future(issued, at, self.policy.max_clock_skew)
            and at >= claims.valid_from
            and (valid_to is None or at < valid_to)
            and (sl is None or (status is not None and sl.status(status.idx) == Status.VALID))
        ):
            return False
        self.checks += _RUNS[""]["key_found"]
        if not signed.verify_with(plan.key.key):
            self.stop("signature.valid")
        self.entry = plan.entry
        self.checks += plan.passed[(holder.uscc is not None) + 2 * (holder.pid is not None)]
        self.bound(plan.until)
        self.bound(valid_to)
        if item is not None:
            self.recognition(
                claims.jurisdiction,
                claims.licence_type,
                licence=True,
                enterprise=holder.uscc is not None,
                data=claims.data,
            )
        return True

    def seal(self, raw: bytes, image: bytes | None, expect: Expectations | None) -> Verdict:
        claims: SealClaims | None = None
        try:
            jws = self.parse_jws(raw, SEAL_TYP, _SEAL)
            claims = self.claims(jws, parse_seal_claims)
            self.jurisdiction = claims.jurisdiction
            self.judge_seal(jws, claims, self.at, None)
            self.picture(image, claims)
            if expect is not None:
                self.expect_holder(expect.holder_id, claims.enterprise.id)
                self.expect_type(
                    expect.seal_type, claims.seal_type, partial(self.type_names, _SEAL)
                )
        except Stop:
            pass
        parts = [("token", raw)] + ([("image", image)] if image is not None else [])
        return self.verdict(inputs_digest(parts), self.seal_summary(claims))

    def sealed(
        self,
        doc: bytes,
        sig: bytes,
        supplied: bytes | None,
        image: bytes | None,
        expect: Expectations | None,
    ) -> Verdict:
        parts = [("document", doc), ("signature", sig)]
        if supplied is not None:
            parts.append(("seal", supplied))
        if image is not None:
            parts.append(("image", image))
        claims: SealedDocClaims | None = None
        seal: SealClaims | None = None
        try:
            jws = self.parse_jws(sig, SEALED_DOC_TYP, _SEALED)
            limit = self.policy.max_token_bytes
            claims = self.claims(jws, lambda c: parse_sealed_doc_claims(c, max_seal_bytes=limit))
            signed_at = claims.signed_at
            # First what needs no seal and no trust list: is this the document that was signed?
            if hashlib.sha256(doc).hexdigest() != claims.doc_sha256:
                self.stop("sealed.hash")
            self.ok("sealed.hash")
            ref = claims.seal_ref
            if claims.seal is not None:
                seal_raw = claims.seal.encode("utf-8", "surrogatepass")
            else:
                assert ref is not None  # the parser demands exactly one of seal and seal_ref
                if supplied is None or hashlib.sha256(supplied).hexdigest() != ref.sha256:
                    self.stop("sealed.seal_ref", seal_id=_clip(ref.seal_id))
                seal_raw = supplied
            self.prefix = SEAL_PREFIX
            seal_jws = self.parse_jws(seal_raw, SEAL_TYP, _SEAL)
            seal = self.claims(seal_jws, parse_seal_claims)
            self.prefix = ""
            self.jurisdiction = seal.jurisdiction
            if ref is not None:
                if ref.seal_id != seal.seal_id:
                    self.stop("sealed.seal_ref", seal_id=_clip(ref.seal_id))
                self.ok("sealed.seal_ref")
            # Then: did the key bound in the seal sign it?
            if jws.kid != seal.key.kid:
                self.stop("sealed.key_binding", kid=_clip(jws.kid, 64))
            self.ok("sealed.key_binding")
            if not jws.verify_with(seal.key):
                self.stop("signature.valid")
            self.ok("signature.valid")
            # Then the seal itself, judged at the signing time the signature claims.
            self.prefix = SEAL_PREFIX
            self.judge_seal(seal_jws, seal, signed_at, signed_at)
            self.prefix = ""
            self.not_yet_issued(signed_at)
            if self.at >= seal.valid_to:
                self.flag(
                    "sealed.seal_period",
                    exp=format_time(seal.valid_to),
                    signed=format_time(signed_at),
                )
            else:
                self.ok("sealed.seal_period")
                self.bound(seal.valid_to)
            self.prefix = SEAL_PREFIX
            self.picture(image, seal)
            self.prefix = ""
            if expect is not None:
                self.expect_holder(expect.holder_id, seal.enterprise.id)
                self.expect_type(expect.seal_type, seal.seal_type, partial(self.type_names, _SEAL))
        except Stop:
            pass
        return self.verdict(inputs_digest(parts), self.sealed_summary(claims, seal))

    def judge_seal(
        self,
        jws: CompactJWS,
        claims: SealClaims,
        validity_at: datetime,
        sealed_at: datetime | None,
    ) -> None:
        """Everything about a parsed seal. Inside a sealed document (`sealed_at` set) its
        validity is judged at that claimed signing time; on its own, at the validation time."""
        entry = self.resolve_key(jws, claims.jurisdiction, claims.issuer, _SEAL, claims.seal_type)
        self.key_status(entry.key, claims.issued_at)
        self.holder_ids(claims.enterprise)
        self.fresh(claims.jurisdiction)
        self.validity(
            claims.issued_at, claims.valid_from, claims.valid_to, validity_at, sealed_at is None
        )
        self.status(claims.status, entry, claims.jurisdiction, sealed_at)
        self.recognition(claims.jurisdiction, claims.seal_type)

    def picture(self, image: bytes | None, claims: SealClaims) -> None:
        """Is the picture given the one issued with the seal? Judged after the seal, so the
        seal's own checks are all reported; only the exact bytes match (nothing is decoded)."""
        if image is None:
            return
        actual = hashlib.sha256(image).hexdigest()
        if actual != claims.image_sha256:
            self.stop("seal.image_not_issued", actual=actual, expected=claims.image_sha256)
        self.ok("seal.image")

    # -- steps -------------------------------------------------------------------------------

    def parse_jws(self, raw: bytes, typ: str, kind: DocumentKind) -> CompactJWS:
        limit = self.policy.max_token_bytes
        if len(raw) > limit:
            self.stop("format.size", size=len(raw), limit=limit)
        self.ok("format.size")
        try:
            jws = _parse_compact(raw, limit)
        except UnsupportedAlgorithm as exc:
            self.stop("format.alg", detail=_clip(str(exc)))
        except EmbeddedKeyRejected as exc:
            self.stop("format.embedded_key", detail=_clip(str(exc)))
        except CriticalHeaderRejected as exc:
            self.stop("format.crit", detail=_clip(str(exc)))
        except DuplicateMember as exc:
            self.stop("format.duplicate_member", detail=_clip(str(exc)))
        except (MalformedJWS, KeyMaterialError, ValueError) as exc:
            position = _blank_inside(raw)
            if position is not None:
                self.stop("format.whitespace", position=position)
            self.stop("format.jws", detail=_clip(str(exc)))
        actual = jws.header.get("typ")
        if actual == typ:
            self.checks += _RUNS[self.prefix]["parsed"]
            return jws
        self.ok("format.jws")
        known = KNOWN_TYPS.get(actual) if isinstance(actual, str) else None
        zh, en, _ = _DOC_NAMES[kind]
        self.stop(
            "format.typ",
            expected_zh=zh,
            expected_en=en,
            actual=_clip(actual, 64),
            hint_zh=f"（{known[0]}）" if known else "",
            hint_en=f" ({known[1]})" if known else "",
        )

    def parse_hr1(self, raw: bytes) -> CoseSign1:
        """The HR1 layers down to a COSE_Sign1 whose header passed its rules."""
        limit = hr1.MAX_HR1_CHARS
        if len(raw) > limit:
            self.stop("format.size", size=len(raw), limit=limit)
        passed = _QR_PASSED[self.prefix]
        # The three text layers in a row; each failure names its own layer's code, after the
        # checks before it.
        try:
            packed = hr1.inflate(hr1.b45decode(hr1.unprefix(raw)))
        except hr1.LayerError as exc:
            self.checks += passed[: _QR_FORMAT.index(exc.code)]
            self.stop(exc.code, detail=_clip(str(exc)))
        self.checks += passed[:4]  # format.size and the three text layers
        try:
            cose = CoseSign1.parse(packed, max_bytes=hr1.MAX_INFLATED_BYTES)
        except MalformedCBOR as exc:
            self.stop("format.cbor", detail=_clip(str(exc)))
        except UnsupportedAlgorithm as exc:
            self.stop("format.alg", detail=_clip(str(exc)))
        except CoseEmbeddedKey as exc:
            self.stop("format.embedded_key", detail=_clip(str(exc)))
        except CoseCriticalHeader as exc:
            self.stop("format.crit", detail=_clip(str(exc)))
        except MalformedCOSE as exc:
            self.stop("format.cose", detail=_clip(str(exc)))
        if cose.typ != hr1.LICENCE_CWT_TYP:
            self.checks += passed[4:6]  # format.cbor, format.cose
            zh, en, _ = _DOC_NAMES[_LICENCE]
            self.stop(
                "format.typ",
                expected_zh=zh,
                expected_en=en,
                actual=_clip(cose.typ, 64),
                hint_zh="",
                hint_en="",
            )
        self.checks += passed[4:]  # format.cbor, format.cose, format.typ
        return cose

    def claims(self, jws: CompactJWS, parse: Callable[[dict[str, Any]], _T]) -> _T:
        try:
            claims = parse(jws.payload_json(self.policy.max_token_bytes))
        except DuplicateMember as exc:
            self.stop("format.duplicate_member", detail=_clip(str(exc)))
        except (MalformedJWS, ClaimError) as exc:
            self.stop("format.claims", detail=_clip(str(exc), 200))
        self.ok("format.claims")
        return claims

    def resolve_key(
        self,
        jws: SignedToken,
        jurisdiction: str,
        issuer: str,
        doc_kind: DocumentKind,
        type_code: str,
    ) -> KeyEntry:
        """The kid in the list of the jurisdiction the document claims, then (integrity before
        any other trust decision) the signature with that key, then the key belonging to the
        service the document names, of the right kind, with the type in its scope."""
        kid = jws.kid
        # The usual case first: every rule below passes, its checks recorded in one go; else
        # the rules one by one, which end in the failing check.
        signed = self.state.lists.get(jurisdiction) if jurisdiction in self.anchors else None
        entry = signed.trust_list.find_key(kid) if signed is not None else None
        if entry is not None:
            self.checks += _RUNS[self.prefix]["key_found"]
        else:
            entry = self.find_key(jws, jurisdiction)
        if not jws.verify_with(entry.key.key):
            self.stop("signature.valid")
        self.ok("signature.valid")
        self.entry = entry
        service = entry.service
        wanted = ServiceKind.LICENCE_ISSUER if doc_kind == _LICENCE else ServiceKind.SEAL_AUTHORITY
        if service.id == issuer and service.kind is wanted and type_code in service.scope:
            self.checks += _RUNS[self.prefix]["service"]
            return entry
        if service.id != issuer:
            self.stop("key.issuer", claimed=issuer, actual=service.id)
        self.ok("key.issuer")
        if service.kind is not wanted:
            doc_zh, _, doc_en = _DOC_NAMES[doc_kind]
            self.wrong_service_kind(service, doc_zh, doc_en)
        self.ok("key.service_kind")
        self.scope(service, type_code, partial(self.type_names, doc_kind))
        return entry

    def find_key(self, jws: SignedToken, jurisdiction: str) -> KeyEntry:
        """The kid's entry in the claimed jurisdiction's list, rule by rule."""
        kid = jws.kid
        if jurisdiction not in self.anchors:
            self.signature_elsewhere(jws)
            self.stop("issuer.jurisdiction", jur=jurisdiction)
        self.ok("issuer.jurisdiction")
        signed = self.state.lists.get(jurisdiction)
        if signed is None:
            self.signature_elsewhere(jws)
            self.stop("trust.list_available", jur=jurisdiction)
        self.ok("trust.list_available")
        tl = signed.trust_list
        entry = tl.find_key(kid)
        if entry is None:
            self.signature_elsewhere(jws)
            self.stop(
                "key.found",
                kid=_clip(kid, 64),
                jur=jurisdiction,
                jur_zh=tl.name_zh,
                jur_en=tl.name_en,
            )
        self.ok("key.found")
        return entry

    def signature_elsewhere(self, jws: SignedToken) -> None:
        """Before "the signer cannot be confirmed" for a kid the claimed jurisdiction's list does
        not hold: a kid is its key's RFC 7638 thumbprint, so another held list with that kid
        holds that very key, and a signature it does not verify is alteration (FAILED), whatever
        jurisdiction the altered claims now name. One that verifies stays unconfirmed."""
        for code in sorted(self.state.lists):
            entry = self.state.lists[code].trust_list.find_key(jws.kid)
            if entry is not None:
                if not jws.verify_with(entry.key.key):
                    self.stop("signature.valid")
                return

    def holder_ids(self, holder: Holder) -> None:
        if holder.uscc is not None:
            if not _valid_uscc(holder.uscc):
                self.stop("identifier.uscc", code=_clip(holder.uscc, 64))
            self.ok("identifier.uscc")
        if holder.pid is not None:
            if not is_valid_pid(holder.pid):
                self.stop("identifier.pid", code=_clip(holder.pid, 64))
            self.ok("identifier.pid")

    def status(
        self,
        ref: StatusRef | None,
        entry: KeyEntry,
        jurisdiction: str,
        sealed_at: datetime | None,
    ) -> None:
        """The document's slot in its issuer's status list (IETF Token Status List)."""
        if ref is None:
            self.ok("status.not_referenced")
            return
        service = entry.service
        if ref.uri not in service.status_lists:
            self.flag("status.undeclared", uri=_clip(ref.uri, 200))
            return
        issued = self.state.status_lists.get(ref.uri)
        if issued is None:
            self.flag("status.missing", uri=_clip(ref.uri, 200))
            return
        sl = issued.status_list
        if issued.jurisdiction != jurisdiction or issued.service_id != service.id:
            by = f"{issued.jurisdiction}/{issued.service_id}"
            self.flag(
                "status.untrusted",
                uri=_clip(ref.uri, 200),
                reason_zh=f"它由 {by} 签发，而非本文档的签发机构",
                reason_en=f"it was signed by {by}, not by this document's issuer",
            )
            return
        signer = self.state.find_key(issued.jurisdiction, sl.signer_kid)
        revoked = signer.key.revoked_since if signer is not None else None
        if signer is None or (revoked is not None and revoked <= self.fresh_now):
            self.flag(
                "status.untrusted",
                uri=_clip(ref.uri, 200),
                reason_zh="签发它的密钥已不在信任列表中或已被吊销",
                reason_en="the key that signed it is no longer listed or has been revoked",
            )
            return
        self.bound(revoked)
        if sl.expires_at <= self.fresh_now:
            self.flag("status.expired", uri=_clip(ref.uri, 200), exp=format_time(sl.expires_at))
            return
        self.bound(sl.expires_at)
        value = sl.status(ref.idx)
        if value is None:
            self.flag("status.out_of_range", uri=_clip(ref.uri, 200), idx=ref.idx, size=sl.size)
        elif value == Status.VALID:
            self.ok("status.valid")
        elif value == Status.INVALID:
            if sealed_at is None:
                self.stop("status.revoked")
            # Status lists carry no revocation time: the document may predate the revocation.
            self.flag("sealed.seal_revoked", unprefixed=True, signed=format_time(sealed_at))
        elif value == Status.SUSPENDED:
            self.flag("status.suspended")
        else:
            self.flag("status.unknown_value", value=value)

    # -- names and summaries -----------------------------------------------------------------

    def type_names(self, doc_kind: DocumentKind, code: str) -> tuple[str, str]:
        cat = self.state.catalogue
        if cat is not None:
            c = cat.catalogue
            t = (c.licence_types if doc_kind == _LICENCE else c.seal_types).get(code)
            if t is not None:
                return t.name_zh, t.name_en
        if doc_kind != _LICENCE and code in SEAL_TYPES:
            return SEAL_TYPES[code]
        return code, code

    def issuer_names(self, issuer: str) -> tuple[str | None, str | None]:
        # Name the issuer only when the signing key really belongs to the claimed service.
        entry = self.entry
        if entry is not None and entry.service.id == issuer:
            return entry.service.name_zh, entry.service.name_en
        return None, None

    def licence_summary(self, c: LicenceClaims | None) -> DocumentSummary:
        if c is None:
            return DocumentSummary(_LICENCE)
        type_zh, type_en = self.type_names(_LICENCE, c.licence_type)
        name_zh, name_en = self.issuer_names(c.issuer)
        extra: dict[str, Any] = {}
        if c.data:
            extra["data"] = dict(c.data)
        if c.status is not None:
            extra["status_list"] = {"idx": c.status.idx, "uri": c.status.uri}
        return make_summary(
            _LICENCE,
            c.number,
            c.licence_type,
            type_zh,
            type_en,
            c.holder.name,
            c.holder.id,
            c.issuer,
            name_zh,
            name_en,
            c.jurisdiction,
            c.issued_at,
            c.valid_from,
            c.valid_to,
            extra,
        )

    def seal_summary(self, c: SealClaims | None) -> DocumentSummary:
        if c is None:
            return DocumentSummary(_SEAL)
        type_zh, type_en = self.type_names(_SEAL, c.seal_type)
        name_zh, name_en = self.issuer_names(c.issuer)
        extra: dict[str, Any] = {"image_sha256": c.image_sha256, "enterprise_kid": c.key.kid}
        if c.name is not None:
            extra["seal_name"] = c.name
        if c.status is not None:
            extra["status_list"] = {"idx": c.status.idx, "uri": c.status.uri}
        return make_summary(
            _SEAL,
            c.seal_id,
            c.seal_type,
            type_zh,
            type_en,
            c.enterprise.name,
            c.enterprise.id,
            c.issuer,
            name_zh,
            name_en,
            c.jurisdiction,
            c.issued_at,
            c.valid_from,
            c.valid_to,
            extra,
        )

    def sealed_summary(self, c: SealedDocClaims | None, seal: SealClaims | None) -> DocumentSummary:
        if c is None:
            return DocumentSummary(_SEALED)
        extra: dict[str, Any] = {"signed_at": format_time(c.signed_at)}
        if c.doc_name is not None:
            extra["document_name"] = c.doc_name
        if c.doc_type is not None:
            extra["document_type"] = c.doc_type
        if seal is None:
            return DocumentSummary(_SEALED, c.doc_sha256, issued_at=c.signed_at, extra=extra)
        extra["seal_id"] = seal.seal_id
        type_zh, type_en = self.type_names(_SEAL, seal.seal_type)
        name_zh, name_en = self.issuer_names(seal.issuer)
        return make_summary(
            _SEALED,
            c.doc_sha256,
            seal.seal_type,
            type_zh,
            type_en,
            seal.enterprise.name,
            seal.enterprise.id,
            seal.issuer,
            name_zh,
            name_en,
            seal.jurisdiction,
            c.signed_at,
            seal.valid_from,
            seal.valid_to,
            extra,
        )


__all__ = [
    "Expectations",
    "JwsVerifier",
    "UnknownServiceItem",
    "VerificationInputError",
    "VerificationPolicy",
]
