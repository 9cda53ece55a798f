"""The trust-list payload: typed, immutable, parsed strictly from and written back to JSON.

After ETSI TS 119 612: one list per jurisdiction, naming its operators (who sign the next list)
and its trusted services, each key with a status history judged at the document's signing time."""

from __future__ import annotations

import dataclasses
import itertools
import re
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from keys import KeyMaterialError, PublicKey, public_key_from_jwk
from trust_lists.errors import DocumentTooLarge, DuplicateKeyId, MalformedDocument
from trust_lists.text import check_text
from trust_lists.timeutil import format_time, parse_time
from trust_lists.uscc import is_valid_uscc

FORMAT = "huren-trust-list"
FORMAT_VERSION = 1

# Caps on what a list may hold ("endless data" in the threat model).
MAX_SERVICES = 10_000
MAX_KEYS_PER_SERVICE = 16
MAX_HISTORY = 32
MAX_OPERATORS = 16
MAX_SCOPE = 64

_JURISDICTION = re.compile(r"\A[1-9][0-9]{5}\Z")  # GB/T 2260 six-digit administrative code
_IDENT = re.compile(r"\A[a-z0-9][a-z0-9._-]{0,63}\Z")


class ServiceKind(StrEnum):
    LICENCE_ISSUER = "licence_issuer"
    SEAL_AUTHORITY = "seal_authority"


class KeyStatus(StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"  # retired in good order: what it signed before stays good
    REVOKED = "revoked"  # compromised from this time on: terminal


class _Fields:
    """Reads a JSON object field by field; unknown or missing members are errors."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise MalformedDocument(f"{where} must be a JSON object")
        self._data = data
        self._where = where
        self._seen: set[str] = set()

    def get(self, name: str, kind: type | tuple[type, ...], *, optional: bool = False) -> Any:
        self._seen.add(name)
        if name not in self._data:
            if optional:
                return None
            raise MalformedDocument(f"{self._where}.{name} is missing")
        value = self._data[name]
        if type(value) is kind:  # exactly the type asked for (JSON gives no subclasses)
            return value
        # bool is an int in Python; never let true stand for 1.
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise MalformedDocument(f"{self._where}.{name} has the wrong type")
        if not isinstance(value, kind):
            raise MalformedDocument(f"{self._where}.{name} has the wrong type")
        return value

    def text(self, name: str, *, max_len: int = 256, optional: bool = False) -> Any:
        value = self.get(name, str, optional=optional)
        if value is not None and not 0 < len(value) <= max_len:
            raise MalformedDocument(f"{self._where}.{name} must be 1..{max_len} characters")
        if value is not None:
            check_text(value, f"{self._where}.{name}")
        return value

    def time(self, name: str, *, optional: bool = False) -> datetime | None:
        value = self.get(name, str, optional=optional)
        if value is None:
            return None
        try:
            return parse_time(value, f"{self._where}.{name}")
        except ValueError as exc:
            raise MalformedDocument(str(exc)) from exc

    def done(self) -> None:
        if self._data.keys() <= self._seen:
            return
        unknown = set(self._data) - self._seen
        if unknown:
            raise MalformedDocument(f"{self._where} has unknown members {sorted(unknown)}")


def _jwk(value: object, where: str) -> PublicKey:
    try:
        return public_key_from_jwk(value)
    except KeyMaterialError as exc:
        raise MalformedDocument(f"{where}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class StatusChange:
    status: KeyStatus
    since: datetime


@dataclass(frozen=True, slots=True)
class KeyState:
    """A key's status at one instant, with the interval it holds for."""

    status: KeyStatus | None  # None: not yet granted at that time
    since: datetime | None
    until: datetime | None  # next change, if any


@dataclass(frozen=True, slots=True)
class ServiceKey:
    key: PublicKey
    history: tuple[StatusChange, ...]
    _times: tuple[datetime, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_times", tuple(c.since for c in self.history))

    @property
    def kid(self) -> str:
        return self.key.kid

    def state_at(self, when: datetime) -> KeyState:
        i = bisect_right(self._times, when)
        nxt = self._times[i] if i < len(self._times) else None
        if i == 0:
            return KeyState(None, None, nxt)
        change = self.history[i - 1]
        return KeyState(change.status, change.since, nxt)

    def granted_at(self, when: datetime) -> bool:
        """state_at(when).status is GRANTED, without building the KeyState (every document)."""
        i = bisect_right(self._times, when)
        return i > 0 and self.history[i - 1].status is KeyStatus.GRANTED

    @property
    def revoked_since(self) -> datetime | None:
        last = self.history[-1]
        return last.since if last.status is KeyStatus.REVOKED else None

    @classmethod
    def from_dict(cls, data: object, where: str) -> ServiceKey:
        f = _Fields(data, where)
        key = _jwk(f.get("jwk", dict), f"{where}.jwk")
        raw_history = f.get("history", list)
        f.done()
        if not 0 < len(raw_history) <= MAX_HISTORY:
            raise MalformedDocument(f"{where}.history must have 1..{MAX_HISTORY} entries")
        history: list[StatusChange] = []
        for i, entry in enumerate(raw_history):
            hf = _Fields(entry, f"{where}.history[{i}]")
            status_text = hf.get("status", str)
            since = hf.time("from")
            hf.done()
            try:
                status = KeyStatus(status_text)
            except ValueError as exc:
                raise MalformedDocument(f"{where}.history[{i}].status is unknown") from exc
            assert since is not None
            history.append(StatusChange(status, since))
        if history[0].status is not KeyStatus.GRANTED:
            raise MalformedDocument(f"{where}.history must start with 'granted'")
        for prev, cur in itertools.pairwise(history):
            if cur.since <= prev.since:
                raise MalformedDocument(f"{where}.history must be in strictly increasing time")
            if prev.status is KeyStatus.REVOKED:
                raise MalformedDocument(f"{where}.history: nothing may follow 'revoked'")
        return cls(key, tuple(history))

    def to_dict(self) -> dict[str, Any]:
        return {
            "jwk": self.key.to_jwk(),
            "history": [
                {"status": c.status.value, "from": format_time(c.since)} for c in self.history
            ],
        }


@dataclass(frozen=True, slots=True)
class TrustedService:
    id: str
    kind: ServiceKind
    name_zh: str
    name_en: str
    credit_code: str
    scope: frozenset[str]
    keys: tuple[ServiceKey, ...]
    status_lists: frozenset[str] = frozenset()

    @classmethod
    def from_dict(cls, data: object, where: str) -> TrustedService:
        f = _Fields(data, where)
        ident = f.text("id", max_len=64)
        kind_text = f.get("kind", str)
        name_zh = f.text("name_zh")
        name_en = f.text("name_en")
        credit_code = f.get("credit_code", str)
        scope = f.get("scope", list)
        raw_keys = f.get("keys", list)
        status_lists = f.get("status_lists", list, optional=True) or []
        f.done()
        if not _IDENT.match(ident):
            raise MalformedDocument(f"{where}.id must be lower-case letters, digits, . _ -")
        try:
            kind = ServiceKind(kind_text)
        except ValueError as exc:
            raise MalformedDocument(
                f"{where}.kind must be one of {[k.value for k in ServiceKind]}"
            ) from exc
        if not is_valid_uscc(credit_code):
            raise MalformedDocument(
                f"{where}.credit_code is not a valid unified social credit code"
            )
        if not 0 < len(scope) <= MAX_SCOPE or not all(
            isinstance(s, str) and _IDENT.match(s) for s in scope
        ):
            raise MalformedDocument(f"{where}.scope must list 1..{MAX_SCOPE} type codes")
        if not all(
            isinstance(u, str) and u.startswith("https://") and len(u) <= 512 for u in status_lists
        ):
            raise MalformedDocument(f"{where}.status_lists must be https URIs")
        for i, uri in enumerate(status_lists):
            check_text(uri, f"{where}.status_lists[{i}]")
        if not 0 < len(raw_keys) <= MAX_KEYS_PER_SERVICE:
            raise (DocumentTooLarge if raw_keys else MalformedDocument)(
                f"{where}.keys must have 1..{MAX_KEYS_PER_SERVICE} entries"
            )
        keys = tuple(ServiceKey.from_dict(k, f"{where}.keys[{i}]") for i, k in enumerate(raw_keys))
        return cls(
            ident,
            kind,
            name_zh,
            name_en,
            credit_code,
            frozenset(scope),
            keys,
            frozenset(status_lists),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind.value,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "credit_code": self.credit_code,
            "scope": sorted(self.scope),
            "keys": [k.to_dict() for k in self.keys],
        }
        if self.status_lists:
            out["status_lists"] = sorted(self.status_lists)
        return out


@dataclass(frozen=True, slots=True)
class OperatorPolicy:
    """Who signs the next list: k of these n keys."""

    keys: tuple[PublicKey, ...]
    threshold: int

    @property
    def by_kid(self) -> dict[str, PublicKey]:
        return {k.kid: k for k in self.keys}

    def same_as(self, other: OperatorPolicy) -> bool:
        return self.threshold == other.threshold and set(self.by_kid) == set(other.by_kid)

    @classmethod
    def from_dict(cls, data: object, where: str) -> OperatorPolicy:
        f = _Fields(data, where)
        threshold = f.get("threshold", int)
        raw = f.get("keys", list)
        f.done()
        if not 0 < len(raw) <= MAX_OPERATORS:
            raise MalformedDocument(f"{where}.keys must have 1..{MAX_OPERATORS} entries")
        keys = tuple(_jwk(k, f"{where}.keys[{i}]") for i, k in enumerate(raw))
        if len({k.identity for k in keys}) != len(keys):
            raise MalformedDocument(f"{where}.keys lists one key twice")
        if not 1 <= threshold <= len(keys):
            raise MalformedDocument(f"{where}.threshold must be between 1 and the number of keys")
        return cls(keys, threshold)

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "keys": [k.to_jwk() for k in self.keys]}


@dataclass(frozen=True, slots=True)
class KeyEntry:
    service: TrustedService
    key: ServiceKey


@dataclass(frozen=True, slots=True)
class TrustList:
    jurisdiction: str
    name_zh: str
    name_en: str
    sequence: int
    issued_at: datetime
    next_update: datetime
    operators: OperatorPolicy
    services: tuple[TrustedService, ...]
    _index: dict[str, KeyEntry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, KeyEntry] = {}
        # By identity, not kid: one public key under two kids is still one key.
        seen = {k.identity for k in self.operators.keys}
        for service in self.services:
            for key in service.keys:
                if key.key.identity in seen:
                    raise DuplicateKeyId(f"key {key.kid} appears more than once in the list")
                seen.add(key.key.identity)
                index[key.kid] = KeyEntry(service, key)
        if len({s.id for s in self.services}) != len(self.services):
            raise MalformedDocument("service ids must be unique within a list")
        object.__setattr__(self, "_index", index)

    def find_key(self, kid: str) -> KeyEntry | None:
        """O(1): the service and key entry for a kid, or None."""
        return self._index.get(kid)

    def service(self, service_id: str) -> TrustedService | None:
        return next((s for s in self.services if s.id == service_id), None)

    @classmethod
    def from_dict(cls, data: object) -> TrustList:
        f = _Fields(data, "trust_list")
        if f.get("type", str) != FORMAT:
            raise MalformedDocument(f"trust_list.type must be {FORMAT!r}")
        if f.get("format_version", int) != FORMAT_VERSION:
            raise MalformedDocument(f"trust_list.format_version must be {FORMAT_VERSION}")
        jf = _Fields(f.get("jurisdiction", dict), "trust_list.jurisdiction")
        code = jf.get("code", str)
        name_zh = jf.text("name_zh")
        name_en = jf.text("name_en")
        jf.done()
        if not _JURISDICTION.match(code):
            raise MalformedDocument(
                "trust_list.jurisdiction.code must be a six-digit GB/T 2260 code"
            )
        sequence = f.get("sequence", int)
        if not 0 < sequence < 2**53:
            raise MalformedDocument("trust_list.sequence must be a positive integer")
        issued_at = f.time("issued_at")
        next_update = f.time("next_update")
        assert issued_at is not None and next_update is not None
        if next_update <= issued_at:
            raise MalformedDocument("trust_list.next_update must be after issued_at")
        operators = OperatorPolicy.from_dict(f.get("operators", dict), "trust_list.operators")
        raw_services = f.get("services", list)
        f.done()
        if len(raw_services) > MAX_SERVICES:
            raise DocumentTooLarge(f"a trust list may name at most {MAX_SERVICES} services")
        services = tuple(
            TrustedService.from_dict(s, f"trust_list.services[{i}]")
            for i, s in enumerate(raw_services)
        )
        return cls(code, name_zh, name_en, sequence, issued_at, next_update, operators, services)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": FORMAT,
            "format_version": FORMAT_VERSION,
            "jurisdiction": {
                "code": self.jurisdiction,
                "name_zh": self.name_zh,
                "name_en": self.name_en,
            },
            "sequence": self.sequence,
            "issued_at": format_time(self.issued_at),
            "next_update": format_time(self.next_update),
            "operators": self.operators.to_dict(),
            "services": [s.to_dict() for s in self.services],
        }


def replace_services(
    tl: TrustList, services: Sequence[TrustedService], **changes: Any
) -> TrustList:
    """A copy of tl with other services and fields (re-indexed and re-checked)."""
    return dataclasses.replace(tl, services=tuple(services), **changes)
