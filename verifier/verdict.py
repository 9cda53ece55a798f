"""Verdicts after ETSI EN 319 102-1: an indication, a sub-indication, and the ordered checks that
led there, each with a stable code and a reason in Chinese and English."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

import orjson

from keys.frozen import positional_maker
from trust_lists.timeutil import format_time, parse_time


class DocumentKind(StrEnum):
    """What a document is: the question a verification request asks (a licence, a seal, a
    sealed document) and the `kind` a verdict's summary names. The national formats add two:
    an SES_Signature judged on its own, and a signed OFD document as a whole (its overall
    verdict; each signature in it is a `sealed_document` or a `signed_document`)."""

    LICENCE = "licence"
    SEAL = "seal"
    SEALED_DOCUMENT = "sealed_document"
    SIGNED_DOCUMENT = "signed_document"
    OFD_DOCUMENT = "ofd_document"


class Indication(StrEnum):
    PASSED = "PASSED"
    FAILED = "FAILED"
    INDETERMINATE = "INDETERMINATE"


class SubIndication(StrEnum):
    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    REVOKED = "REVOKED"
    REVOKED_NO_POE = "REVOKED_NO_POE"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
    NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"
    TRY_LATER = "TRY_LATER"


class CheckResult(StrEnum):
    PASSED = "PASSED"
    FAILED = "FAILED"
    INDETERMINATE = "INDETERMINATE"


@dataclass(frozen=True, slots=True)
class Check:
    code: str  # stable, e.g. "signature.valid"; listed in docs/verdicts.md
    result: CheckResult
    message_zh: str
    message_en: str
    # to_dict's answer and its JSON, made on first use: passing checks are shared by every
    # verdict, so each is rendered once per process and then only copied or joined.
    _rendered: dict[str, str] | None = field(default=None, init=False, repr=False, compare=False)
    _json: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def to_dict(self) -> dict[str, str]:
        return self._render().copy()

    def _fragment(self) -> bytes:
        """The JSON of to_dict() as orjson writes it inside a verdict (JSONEncodeError when
        orjson cannot: the verdict then goes the whole way through _dump)."""
        fragment = self._json
        if fragment is None:
            fragment = orjson.dumps(self._render(), option=orjson.OPT_PASSTHROUGH_SUBCLASS)
            object.__setattr__(self, "_json", fragment)
        return fragment

    def _render(self) -> dict[str, str]:
        """The shared rendering: never hand it out to be mutated."""
        rendered = self._rendered
        if rendered is None:
            rendered = {
                "code": self.code,
                "result": self.result.value,
                "message_zh": self.message_zh,
                "message_en": self.message_en,
            }
            object.__setattr__(self, "_rendered", rendered)
        return rendered

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Check:
        return cls(d["code"], CheckResult(d["result"]), d["message_zh"], d["message_en"])


def _time_or_none(value: object) -> object:
    return format_time(value) if isinstance(value, datetime) else value


@dataclass(frozen=True, slots=True)
class DocumentSummary:
    """What the document says about itself (only filled in as far as it could be read)."""

    kind: DocumentKind
    document_id: str | None = None
    type_code: str | None = None
    type_name_zh: str | None = None
    type_name_en: str | None = None
    holder_name: str | None = None
    holder_id: str | None = None
    issuer_service: str | None = None
    issuer_name_zh: str | None = None
    issuer_name_en: str | None = None
    issuing_jurisdiction: str | None = None
    issued_at: datetime | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "document_id": self.document_id,
            "type_code": self.type_code,
            "type_name_zh": self.type_name_zh,
            "type_name_en": self.type_name_en,
            "holder_name": self.holder_name,
            "holder_id": self.holder_id,
            "issuer_service": self.issuer_service,
            "issuer_name_zh": self.issuer_name_zh,
            "issuer_name_en": self.issuer_name_en,
            "issuing_jurisdiction": self.issuing_jurisdiction,
            "issued_at": _time_or_none(self.issued_at),
            "valid_from": _time_or_none(self.valid_from),
            "valid_to": _time_or_none(self.valid_to),
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DocumentSummary:
        times = {"issued_at", "valid_from", "valid_to"}
        kwargs: dict[str, Any] = {
            k: (parse_time(v, k) if k in times and v is not None else v) for k, v in d.items()
        }
        kwargs["kind"] = DocumentKind(kwargs["kind"])
        return cls(**kwargs)


@dataclass(frozen=True, slots=True)
class TrustContext:
    """The trust state a verdict was judged under."""

    relying_jurisdiction: str
    issuing_jurisdiction: str | None
    list_sequence: int | None
    list_digest: str | None
    catalogue_sequence: int | None
    trust_state_version: str
    # to_dict's answer, made on first use: verifications under one trust state share a context.
    _rendered: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return self._render().copy()

    def _render(self) -> dict[str, Any]:
        """The shared rendering: never hand it out to be mutated."""
        rendered = self._rendered
        if rendered is None:
            rendered = {
                "relying_jurisdiction": self.relying_jurisdiction,
                "issuing_jurisdiction": self.issuing_jurisdiction,
                "list_sequence": self.list_sequence,
                "list_digest": self.list_digest,
                "catalogue_sequence": self.catalogue_sequence,
                "trust_state_version": self.trust_state_version,
            }
            object.__setattr__(self, "_rendered", rendered)
        return rendered

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrustContext:
        return cls(**d)


C = TypeVar("C", Check, dict[str, Any])


def reported_checks(checks: Sequence[C], *, detailed: bool) -> list[C]:
    """The checks a report lists, in run order. Detailed: every check. Simple (after EU DSS's
    simple report): the checks that did not pass; the deciding one is among them (the first
    FAILED, else the first INDETERMINATE), so a PASSED verdict lists none. Takes Check objects
    or their dicts (a verdict read back from JSON)."""
    if detailed:
        return list(checks)
    return [c for c in checks if _result(c) != "PASSED"]


def _result(check: object) -> object:
    if isinstance(check, Check):
        return check.result  # a StrEnum compares as its text, without .value's property call
    return check.get("result") if isinstance(check, dict) else None


@dataclass(frozen=True, slots=True)
class Verdict:
    indication: Indication
    sub_indication: SubIndication | None
    checks: tuple[Check, ...]
    summary: DocumentSummary | None
    trust: TrustContext
    validation_time: datetime
    # The earliest time at which the same inputs could give another verdict; caches rely on it.
    valid_until: datetime | None
    document_sha256: str

    @property
    def passed(self) -> bool:
        return self.indication is Indication.PASSED

    def to_dict(self, *, detailed: bool = True) -> dict[str, Any]:
        """The verdict as JSON values. `detailed=False` is the simple report: the same fields,
        with only the checks that did not pass (see `reported_checks`)."""
        out = self._plain(detailed)
        out["checks"] = [c.copy() for c in out["checks"]]
        out["trust"] = self.trust.to_dict()
        return out

    def to_json(self, *, detailed: bool = True) -> bytes:
        """to_dict(detailed=...) as compact UTF-8 JSON in its key order (what the service sends),
        without copying the shared check renderings. orjson writes the json module's exact bytes
        for these values; what it cannot encode the same way (an integer beyond 64 bits, a
        subclass of str or dict in the claims' data) is left to the json module."""
        return _dump(self._plain(detailed))

    def reports_json(self) -> tuple[bytes, bytes]:
        """(to_json(detailed=False), to_json()) from shared parts: the head and the fields after
        the checks rendered once for both, each check's JSON made once per Check (the passing
        ones are shared by every verdict). orjson's compact JSON of an object is its members'
        JSON joined, so the bytes are to_json's; what orjson refuses goes to_json's way."""
        checks = self.checks
        try:
            fragments: list[Any] = [c._json for c in checks]  # bytes, once all(fragments)
            if not all(fragments):  # some check not rendered yet
                fragments = [c._fragment() for c in checks]
            rest = orjson.dumps(self._rest(), option=orjson.OPT_PASSTHROUGH_SUBCLASS)
        except orjson.JSONEncodeError:
            return self.to_json(detailed=False), self.to_json()
        head = _head(self.indication, self.sub_indication)
        tail = b"]," + rest[1:]
        shown = [c._fragment() for c in reported_checks(checks, detailed=False)]  # made above
        return head + b",".join(shown) + tail, head + b",".join(fragments) + tail

    def _plain(self, detailed: bool = True) -> dict[str, Any]:
        return {
            "indication": self.indication.value,
            "sub_indication": self.sub_indication.value if self.sub_indication else None,
            "checks": [c._render() for c in reported_checks(self.checks, detailed=detailed)],
            **self._rest(),
        }

    def _rest(self) -> dict[str, Any]:
        """The fields after the checks, in their order."""
        return {
            "summary": self.summary.to_dict() if self.summary else None,
            "trust": self.trust._render(),
            "validation_time": format_time(self.validation_time),
            "valid_until": format_time(self.valid_until) if self.valid_until else None,
            "document_sha256": self.document_sha256,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Verdict:
        return cls(
            Indication(d["indication"]),
            SubIndication(d["sub_indication"]) if d["sub_indication"] else None,
            tuple(Check.from_dict(c) for c in d["checks"]),
            DocumentSummary.from_dict(d["summary"]) if d["summary"] else None,
            TrustContext.from_dict(d["trust"]),
            parse_time(d["validation_time"], "validation_time"),
            parse_time(d["valid_until"], "valid_until") if d["valid_until"] else None,
            d["document_sha256"],
        )


# Positional makers (keys/frozen.py) for the objects every verification builds.
make_verdict = positional_maker(Verdict)
make_summary = positional_maker(DocumentSummary)
make_trust = positional_maker(TrustContext)


# A report's opening up to its checks, by (indication, sub-indication): a few dozen at most.
_HEADS: dict[tuple[str, str | None], bytes] = {}


def _head(indication: Indication, sub: SubIndication | None) -> bytes:
    # _value_ is what .value returns, without the enum property's Python-level call.
    key = (indication._value_, sub._value_ if sub else None)
    head = _HEADS.get(key)
    if head is None:
        opening = orjson.dumps({"indication": key[0], "sub_indication": key[1]})
        head = opening[:-1] + b',"checks":['
        if len(_HEADS) < 64:  # the enums' pairs fit
            _HEADS[key] = head
    return head


def _dump(plain: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(plain, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    except orjson.JSONEncodeError:
        return json.dumps(plain, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(
            "utf-8"
        )
