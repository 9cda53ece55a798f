"""What the two verifiers' jobs share: recording checks and what they imply (verdict, valid_until),
and the trust rules that read the same for JWS documents (verifier/verifier.py) and national
formats (verifier/national/job.py). Each job subclasses JobBase and supplies its own message
tables through `ok` and `_failed`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Generic, NoReturn, Protocol, TypedDict, TypeVar

from trust_lists.catalogue import DocumentType
from trust_lists.items import ItemRule, ServiceItem
from trust_lists.model import KeyEntry, KeyStatus, ServiceKey, ServiceKind, TrustedService
from trust_lists.store import TrustState
from trust_lists.timeutil import format_time, issued_in_future, shift
from verifier import messages
from verifier.verdict import (
    Check,
    CheckResult,
    DocumentSummary,
    Indication,
    SubIndication,
    TrustContext,
    Verdict,
    make_trust,
    make_verdict,
)


class _Policy(Protocol):
    @property
    def max_clock_skew(self) -> timedelta: ...


_P = TypeVar("_P", bound=_Policy)
# What each kind of trusted service is called in messages.
_KIND_NAMES: Final = {
    ServiceKind.LICENCE_ISSUER: ("证照签发机构", "licence issuer"),
    ServiceKind.SEAL_AUTHORITY: ("印章制作机构", "seal-making authority"),
}
# A document type's names (Chinese, English) by its code, as the job's format names them.
TypeNames = Callable[[str], tuple[str, str]]


class VerificationInputError(ValueError):
    """A caller mistake, not a document problem: an unknown relying jurisdiction, a naive
    datetime, an argument of the wrong type. Documents themselves never raise."""


def clip(value: object, limit: int = 120) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def aware(value: object, what: str) -> datetime:
    if type(value) is datetime and value.tzinfo is UTC:
        return value  # what every clock here gives: already aware and in UTC
    if not isinstance(value, datetime):
        raise VerificationInputError(f"{what} must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise VerificationInputError(f"{what} is a naive datetime; pass an aware UTC time")
    return value.astimezone(UTC)


def call_times(
    jurisdictions: Mapping[str, object],
    clock: Callable[[], datetime],
    relying: object,
    at: object,
) -> tuple[str, datetime, datetime]:
    """Check a verify call's arguments: (relying jurisdiction, real now, validation time)."""
    if not isinstance(relying, str) or relying not in jurisdictions:
        raise VerificationInputError(
            f"relying jurisdiction {clip(relying, 32)} is not configured here"
        )
    now = aware(clock(), "the clock's time")
    return relying, now, now if at is None else aware(at, "at")


class UnknownServiceItem(VerificationInputError):
    """The caller names a service item the held catalogue does not list for the relying city."""

    code = "unknown_service_item"


def resolve_item(state: TrustState, relying: str, code: object) -> ServiceItem | None:
    """The service item `code` of `relying` in the snapshot's catalogue; None when no item is
    asked or no catalogue is held (recognition then cannot be decided: INDETERMINATE)."""
    if code is None:
        return None
    if not isinstance(code, str):
        raise VerificationInputError("the service item must be a string")
    signed = state.catalogue
    if signed is None:
        return None
    item = signed.catalogue.item(relying, code)
    if item is None:
        raise UnknownServiceItem(
            f"the recognition catalogue (version {signed.catalogue.sequence}) lists no service "
            f"item {clip(code, 64)} for {relying}"
        )
    return item


class _ServiceNames(TypedDict):
    service_zh: str
    service_en: str


def _named(service: TrustedService) -> _ServiceNames:
    """How a message names a trusted service: by both its names."""
    return {"service_zh": service.name_zh, "service_en": service.name_en}


class Stop(Exception):
    """Ends a job: a FAILED check, or an INDETERMINATE one nothing after can be judged without."""


class JobBase(Generic[_P]):
    """One verification: the snapshot it is judged against, the checks so far and what they
    imply. Steps record a check each; a FAILED one raises Stop."""

    __slots__ = (
        "anchors",
        "at",
        "checks",
        "entry",
        "failed",
        "fresh_now",
        "indeterminate",
        "item",
        "jurisdiction",
        "policy",
        "prefix",
        "relying",
        "state",
        "until",
    )

    def __init__(
        self,
        policy: _P,
        anchors: Mapping[str, object],
        state: TrustState,
        *,
        relying: str,
        now: datetime,
        at: datetime,
    ) -> None:
        self.policy = policy
        self.anchors = anchors
        self.state = state
        self.relying = relying
        self.at = at
        # Freshness is a fact about the real now; judging a future time cannot make it fresher.
        self.fresh_now = max(now, at)
        self.checks: list[Check] = []
        self.failed: SubIndication | None = None
        self.indeterminate: SubIndication | None = None
        self.until: datetime | None = None
        self.prefix = ""  # the seal's prefix while judging the seal inside a signed document
        self.jurisdiction: str | None = None
        self.entry: KeyEntry | None = None
        self.item: ServiceItem | None = None  # the service item the document is verified for

    # -- message tables (per format) ---------------------------------------------------------

    def ok(self, code: str) -> None:
        """Record the passing check `code`."""
        raise NotImplementedError

    def _failed(
        self, code: str, prefix: str, params: Mapping[str, object]
    ) -> tuple[Check, SubIndication | None]:
        """The failing check `code` with its parameters filled in, and its sub-indication."""
        raise NotImplementedError

    # -- recording ---------------------------------------------------------------------------

    def bound(self, when: datetime | None) -> None:
        """`when` is a time at which a check judged so far could come out otherwise."""
        if when is not None and (self.until is None or when < self.until):
            self.until = when

    def _record(self, code: str, prefix: str, params: Mapping[str, object]) -> Check:
        check, sub = self._failed(code, prefix, params)
        self.checks.append(check)
        if check.result is CheckResult.FAILED:
            self.failed = sub
        elif self.indeterminate is None:
            self.indeterminate = sub
        return check

    def stop(self, code: str, /, *, until: datetime | None = None, **params: object) -> NoReturn:
        """Record a failing check and end the job (every FAILED check does this)."""
        self._record(code, self.prefix, params)
        self.bound(until)
        raise Stop

    def flag(self, code: str, /, *, unprefixed: bool = False, **params: object) -> None:
        """Record an INDETERMINATE check and go on: a later FAILED check would still win."""
        check = self._record(code, "" if unprefixed else self.prefix, params)
        assert check.result is CheckResult.INDETERMINATE, code

    def _indication(self) -> tuple[Indication, SubIndication | None]:
        if self.failed is not None:
            return Indication.FAILED, self.failed
        if self.indeterminate is not None:
            return Indication.INDETERMINATE, self.indeterminate
        return Indication.PASSED, None

    def _trust(self, jurisdiction: str | None) -> TrustContext:
        state = self.state
        held, trusts = _TRUSTS[0]
        if held is not state:
            trusts = {}
            _TRUSTS[0] = (state, trusts)  # one store: another thread sees the old or the new
        key = (self.relying, jurisdiction)
        trust = trusts.get(key)
        if trust is None:
            signed = state.lists.get(jurisdiction) if jurisdiction is not None else None
            cat = state.catalogue
            trust = make_trust(
                self.relying,
                jurisdiction,
                signed.trust_list.sequence if signed is not None else None,
                signed.digest if signed is not None else None,
                cat.catalogue.sequence if cat is not None else None,
                state.version,
            )
            if len(trusts) < _TRUSTS_MAX:
                trusts[key] = trust
        return trust

    def _verdict(self, summary: DocumentSummary, digest: str) -> Verdict:
        indication, sub = self._indication()
        return make_verdict(
            indication,
            sub,
            tuple(self.checks),
            summary,
            self._trust(self.jurisdiction),
            self.at,
            self.until,
            digest,
        )

    # -- trust rules -------------------------------------------------------------------------

    def key_status(self, key: ServiceKey, signed: datetime) -> None:
        """The key's status at the signing time the document claims, then its revocation."""
        if not key.granted_at(signed):
            state = key.state_at(signed)
            signed_text = format_time(signed)
            since = format_time(state.since) if state.since else ""
            if state.status is None:
                self.stop("key.not_yet_granted", signed=signed_text)
            if state.status is KeyStatus.WITHDRAWN:
                self.stop("key.withdrawn", since=since, signed=signed_text)
            self.stop("key.revoked", since=since, signed=signed_text)
        self.ok("key.status")
        revoked = key.revoked_since
        if revoked is not None and revoked <= self.at:
            # It claims to predate the compromise, but the signer's own clock proves nothing.
            self.flag("key.revocation", since=format_time(revoked), signed=format_time(signed))
        else:
            self.ok("key.revocation")
            self.bound(revoked)

    def fresh(self, jurisdiction: str | None) -> None:
        stale_from = self.state.stale_from(jurisdiction) if jurisdiction else None
        if stale_from is None or self.fresh_now >= stale_from:
            self.flag("trust.fresh", stale_from=format_time(stale_from) if stale_from else "-")
        else:
            self.ok("trust.fresh")
            self.bound(stale_from)

    def not_yet_issued(
        self, issued: datetime, when: datetime | None = None, *, moving: bool = True
    ) -> None:
        """FAILED when `issued` lies past `when` (default: the validation time) by more than the
        policy's clock skew (timeutil.issued_in_future). `moving`: `when` is the validation
        time, so the verdict changes once it reaches `issued` less the skew."""
        when = self.at if when is None else when
        skew = self.policy.max_clock_skew
        if issued_in_future(issued, when, skew):
            self.stop(
                "validity.not_yet_issued",
                until=shift(issued, -skew) if moving else None,
                iat=format_time(issued),
                at=format_time(when),
            )

    def validity(
        self,
        issued: datetime,
        valid_from: datetime,
        valid_to: datetime | None,
        when: datetime,
        moving: bool = True,
    ) -> None:
        """The validity window at `when`. `moving`: `when` is the validation time, so the edges
        of the window are times at which the verdict can change (a signing time is fixed)."""
        self.not_yet_issued(issued, when, moving=moving)
        if when < valid_from:
            self.stop(
                "validity.not_yet_valid",
                until=valid_from if moving else None,
                nbf=format_time(valid_from),
                at=format_time(when),
            )
        if valid_to is not None and when >= valid_to:
            self.stop("validity.expired", exp=format_time(valid_to), at=format_time(when))
        self.ok("validity.window")
        if moving:
            self.bound(valid_to)

    def wrong_service_kind(self, service: TrustedService, doc_zh: str, doc_en: str) -> NoReturn:
        """FAILED key.service_kind: a key of this kind of service never makes these documents
        (a licence issuer's key does not make seals, nor a seal-making authority's licences)."""
        kind_zh, kind_en = _KIND_NAMES[service.kind]
        self.stop(
            "key.service_kind",
            **_named(service),
            kind_zh=kind_zh,
            kind_en=kind_en,
            doc_zh=doc_zh,
            doc_en=doc_en,
        )

    def scope(self, service: TrustedService, type_code: str, names: TypeNames) -> None:
        """The service may issue documents of this type (its scope in the trust list)."""
        if type_code not in service.scope:
            type_zh, type_en = names(type_code)
            self.stop("key.scope", **_named(service), type_zh=type_zh, type_en=type_en)
        self.ok("key.scope")

    def recognition(
        self,
        issuing: str,
        type_code: str,
        *,
        licence: bool = False,
        enterprise: bool = True,
        data: Mapping[str, object] | None = None,
    ) -> None:
        """Whether the relying jurisdiction recognises `issuing`'s documents of this type (a
        licence type when `licence`, else a seal type), by the recognition catalogue: for the
        service item asked (`self.item`), else city-wide. `enterprise` and `data` are what the
        document carries, for an item rule's conditions."""
        signed = self.state.catalogue
        if signed is None:
            self.flag("recognition.catalogue_missing")
            return
        cat = signed.catalogue
        types = cat.licence_types if licence else cat.seal_types
        t = types.get(type_code)
        if t is None:
            self.stop("recognition.type_unknown", type=type_code, seq=cat.sequence)
        lic, seal = (type_code, None) if licence else (None, type_code)
        item = self.item
        if item is None:
            if not cat.recognises(self.relying, issuing, licence_type=lic, seal_type=seal):
                self.stop("recognition.refused", **self._names(cat.sequence, issuing, t))
            self.ok("recognition.accepted")
            return
        decision = cat.decide_item(
            item, issuing, licence_type=lic, seal_type=seal, enterprise=enterprise, data=data
        )
        if not decision.accepted:
            why_zh, why_en = _why(decision.by_item_rules, decision.unmet, enterprise)
            names = self._names(cat.sequence, issuing, t, item)
            self.stop("item.refused", why_zh=why_zh, why_en=why_en, **names)
        # The passing check depends only on these (the names come from the snapshot).
        key = (self.state.version, self.prefix, self.relying, issuing, licence, type_code,
               item.code, decision.by_item_rules)  # fmt: skip
        check = _ACCEPTED.get(key)
        if check is None:
            basis_zh, basis_en = ("", "") if decision.by_item_rules else _CITY_WIDE
            names = self._names(cat.sequence, issuing, t, item)
            check = messages.passed_with(
                "item.accepted", self.prefix, basis_zh=basis_zh, basis_en=basis_en, **names
            )
            if len(_ACCEPTED) >= _ACCEPTED_MAX:
                _ACCEPTED.clear()  # bounded; a refill costs one message per question
            _ACCEPTED[key] = check
        self.checks.append(check)

    def _names(
        self, seq: int, issuing: str, t: DocumentType, item: ServiceItem | None = None
    ) -> dict[str, Any]:
        """The message parameters naming the catalogue version, both cities, the type and the
        item (when one is asked)."""
        relying_zh, relying_en = self.jurisdiction_names(self.relying)
        issuing_zh, issuing_en = self.jurisdiction_names(issuing)
        names: dict[str, Any] = {
            "seq": seq,
            "relying_zh": relying_zh,
            "relying_en": relying_en,
            "issuing_zh": issuing_zh,
            "issuing_en": issuing_en,
            "type_zh": t.name_zh,
            "type_en": t.name_en,
        }
        if item is not None:
            names |= {"item": item.code, "item_zh": item.name_zh, "item_en": item.name_en}
        return names

    def jurisdiction_names(self, code: str) -> tuple[str, str]:
        tl = self.state.trust_list(code)
        return (tl.name_zh, tl.name_en) if tl is not None else (code, code)

    # -- what the caller expects -------------------------------------------------------------

    def expect_holder(self, expected: str | None, actual: str) -> None:
        if expected is None:
            return
        if expected != actual:
            self.stop("expect.holder", actual=clip(actual, 64), expected=clip(expected, 64))
        self.ok("expect.holder")

    def expect_type(self, expected: str | None, actual: str, names: TypeNames) -> None:
        if expected is None:
            return
        if expected != actual:
            a_zh, a_en = names(actual)
            e_zh, e_en = names(clip(expected, 64))
            self.stop(
                "expect.type", actual_zh=a_zh, actual_en=a_en, expected_zh=e_zh, expected_en=e_en
            )
        self.ok("expect.type")


# The trust contexts of the last snapshot by (relying, issuing) jurisdiction: every verdict under
# one snapshot names one of a few, which are then built and rendered once (TrustContext._render).
_TRUSTS: list[tuple[TrustState | None, dict[tuple[str, str | None], TrustContext]]] = [(None, {})]
_TRUSTS_MAX = 1024

# item.accepted checks by the question they answer (see JobBase.recognition).
_ACCEPTED: dict[tuple[object, ...], Check] = {}
_ACCEPTED_MAX = 4096

_CITY_WIDE = (
    "（该事项未另设规则，适用全市互认）",
    " (the item has no rules of its own: the city-wide recognitions apply)",
)


def _why(by_item_rules: bool, unmet: ItemRule | None, enterprise: bool) -> tuple[str, str]:
    """Why an item refuses a document, as the end of the reason (zh, en)."""
    if not by_item_rules:
        return _CITY_WIDE
    if unmet is None:
        return "", ""
    if unmet.holder is not None and not enterprise:
        return "：该事项要求持有人为企业", ": the item requires the holder to be an enterprise"
    assert unmet.data_includes is not None
    d = unmet.data_includes
    values_zh = "、".join(f"「{v}」" for v in d.any_of)
    values_en = ", ".join(f"“{v}”" for v in d.any_of)
    return (
        f"：该事项要求证照的「{d.field}」包含{values_zh}之一",
        f": the item requires the licence's “{d.field}” to include one of {values_en}",
    )
