"""Issuer-side editing of status lists: the draft form an administrator reviews, the edits
(revoke, suspend, reinstate, renew), the diff between two versions and signing.

A draft is pretty JSON holding the list's URI, bits, size, times and only the entries that are not
valid (a revocation is one line in a review). A signed token (`StatusList`) can always be turned
back into a draft. Like `trust_lists.authoring`, every edit is a pure function; nothing here stores
or checks trust (the trust store does, on submission)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from keys import SigningKey
from trust_lists.errors import MalformedDocument
from trust_lists.status_list import (
    _ALLOWED_BITS,
    MAX_STATUS_LIST_ENTRIES,
    Status,
    StatusList,
    sign_status_list,
)
from trust_lists.timeutil import format_time, parse_time

DRAFT_TYPE = "huren-status-list-draft/1"
_NAMES = {
    int(Status.VALID): "valid",
    int(Status.INVALID): "revoked",
    int(Status.SUSPENDED): "suspended",
}
_BY_NAME = {name: value for value, name in _NAMES.items()}


def status_name(value: int) -> str:
    """valid, revoked, suspended, or the number of an application-specific value."""
    return _NAMES.get(value, str(value))


@dataclass(frozen=True, slots=True)
class StatusListDraft:
    uri: str
    bits: int
    statuses: bytes  # one value per entry
    issued_at: datetime
    expires_at: datetime

    @property
    def size(self) -> int:
        return len(self.statuses)

    def not_valid(self) -> dict[int, int]:
        return {i: v for i, v in enumerate(self.statuses) if v}

    def counts(self) -> dict[str, int]:
        out = {"valid": 0, "revoked": 0, "suspended": 0}
        for value in set(self.statuses):
            out[status_name(value)] = self.statuses.count(value)
        return out

    @classmethod
    def from_status_list(cls, sl: StatusList) -> StatusListDraft:
        values = bytes(sl.status(i) or 0 for i in range(sl.size))
        return cls(sl.uri, sl.bits, values, sl.issued_at, sl.expires_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": DRAFT_TYPE,
            "uri": self.uri,
            "bits": self.bits,
            "size": self.size,
            "issued_at": format_time(self.issued_at),
            "expires_at": format_time(self.expires_at),
            "entries": {str(i): status_name(v) for i, v in self.not_valid().items()},
        }

    def to_json(self) -> bytes:
        return (json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    @classmethod
    def from_dict(cls, doc: object) -> StatusListDraft:
        if not isinstance(doc, dict) or doc.get("type") != DRAFT_TYPE:
            raise MalformedDocument(f"not a status list draft (expected type {DRAFT_TYPE!r})")
        expected = {"type", "uri", "bits", "size", "issued_at", "expires_at", "entries"}
        if set(doc) != expected:
            raise MalformedDocument(
                f"a status list draft has exactly the members {sorted(expected)}"
            )
        uri, bits, size, entries = doc["uri"], doc["bits"], doc["size"], doc["entries"]
        if not isinstance(uri, str) or not uri.startswith("https://") or len(uri) > 512:
            raise MalformedDocument("uri must be the list's https URI (at most 512 characters)")
        if isinstance(bits, bool) or bits not in _ALLOWED_BITS:
            raise MalformedDocument("bits must be 1, 2, 4 or 8")
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise MalformedDocument("size must be a whole number of entries, at least 1")
        if size > MAX_STATUS_LIST_ENTRIES:
            raise MalformedDocument(f"size {size} is above the limit {MAX_STATUS_LIST_ENTRIES}")
        try:
            issued_at = parse_time(doc["issued_at"], "issued_at")
            expires_at = parse_time(doc["expires_at"], "expires_at")
        except ValueError as exc:
            raise MalformedDocument(str(exc)) from None
        if not isinstance(entries, dict):
            raise MalformedDocument('entries must be an object like {"17": "revoked"}')
        values = bytearray(size)
        for key, name in entries.items():
            if not key.isdigit() or (len(key) > 1 and key[0] == "0"):
                raise MalformedDocument(f"entry {key!r}: an index is a whole number like 17")
            idx = int(key)
            if idx >= size:
                raise MalformedDocument(f"entry {idx} is outside the list (size {size})")
            values[idx] = _value(name, bits, f"entry {idx}")
        draft = cls(uri, bits, bytes(values), issued_at, expires_at)
        _check_times(draft)
        return draft

    def sign(self, key: SigningKey) -> str:
        _check_times(self)
        return sign_status_list(
            key,
            uri=self.uri,
            statuses=self.statuses,
            bits=self.bits,
            issued_at=self.issued_at,
            expires_at=self.expires_at,
        )


def _value(name: object, bits: int, where: str) -> int:
    if isinstance(name, str) and name in _BY_NAME:
        value = _BY_NAME[name]
    elif isinstance(name, str) and name.isdigit():
        value = int(name)
    else:
        raise MalformedDocument(f"{where}: status must be revoked, suspended or valid")
    if value >= 1 << bits:
        raise MalformedDocument(
            f"{where}: {name} does not fit in a {bits}-bit list (values 0..{(1 << bits) - 1})"
        )
    return value


def _check_times(draft: StatusListDraft) -> None:
    if draft.expires_at <= draft.issued_at:
        raise MalformedDocument(
            f"expires_at {format_time(draft.expires_at)} must be after issued_at "
            f"{format_time(draft.issued_at)}"
        )


def new_status_list(
    *, uri: str, size: int, bits: int, issued_at: datetime, validity: timedelta
) -> StatusListDraft:
    """A list of `size` entries, all valid."""
    draft = StatusListDraft(uri, bits, bytes(size), issued_at, issued_at + validity)
    return StatusListDraft.from_dict(draft.to_dict())  # the same checks as a draft read back


def set_status(draft: StatusListDraft, indices: Iterable[int], status: Status) -> StatusListDraft:
    """Revoke, suspend or reinstate entries. A revocation is final: a revoked entry is never
    suspended or reinstated (issue a new document instead)."""
    values = bytearray(draft.statuses)
    for idx in indices:
        if not 0 <= idx < draft.size:
            raise MalformedDocument(
                f"entry {idx} is outside the list ({draft.size} entries, 0..{draft.size - 1})"
            )
        if status is Status.SUSPENDED and draft.bits < 2:
            raise MalformedDocument(
                "a 1-bit list can only say valid or revoked; suspension needs bits 2 or more"
            )
        if values[idx] == Status.INVALID and status is not Status.INVALID:
            raise MalformedDocument(
                f"entry {idx} is revoked and a revocation is final; issue a new document "
                "with a new entry instead"
            )
        values[idx] = int(status)
    return replace(draft, statuses=bytes(values))


def renew(draft: StatusListDraft, *, issued_at: datetime, validity: timedelta) -> StatusListDraft:
    """New issue and expiry times. The store takes a status list only if it was issued later than
    the one it holds: a renewal must move issued_at forward."""
    if issued_at <= draft.issued_at:
        raise MalformedDocument(
            f"the new issue time {format_time(issued_at)} must be later than the current one "
            f"{format_time(draft.issued_at)}"
        )
    return replace(draft, issued_at=issued_at, expires_at=issued_at + validity)


@dataclass(frozen=True, slots=True)
class StatusChange:
    index: int
    old: str
    new: str


def diff_status_lists(
    old: StatusListDraft, new: StatusListDraft
) -> tuple[list[str], list[StatusChange], list[str]]:
    """(header changes, entry changes, warnings for the reviewer)."""
    header: list[str] = []
    for label, a, b in (
        ("uri", old.uri, new.uri),
        ("bits", str(old.bits), str(new.bits)),
        ("size", str(old.size), str(new.size)),
        ("issued_at", format_time(old.issued_at), format_time(new.issued_at)),
        ("expires_at", format_time(old.expires_at), format_time(new.expires_at)),
    ):
        if a != b:
            header.append(f"{label}: {a} -> {b}")
    changes = []
    for idx in range(max(old.size, new.size)):
        was = old.statuses[idx] if idx < old.size else None
        now = new.statuses[idx] if idx < new.size else None
        if was != now:
            changes.append(
                StatusChange(
                    idx,
                    "(absent)" if was is None else status_name(was),
                    "(absent)" if now is None else status_name(now),
                )
            )
    warnings = []
    if old.uri != new.uri:
        warnings.append("the URI differs: these are two different lists")
    if new.issued_at <= old.issued_at:
        warnings.append(
            f"issued_at {format_time(new.issued_at)} is not later than "
            f"{format_time(old.issued_at)}: the service will refuse it as not newer"
        )
    reinstated = [c.index for c in changes if c.old == "revoked"]
    if reinstated:
        warnings.append(f"revoked entries changed (a revocation is final): {reinstated[:20]}")
    if new.size < old.size:
        warnings.append(
            f"the list shrank from {old.size} to {new.size} entries: documents pointing past "
            "the end become INDETERMINATE"
        )
    return header, changes, warnings
