"""What changed between two trust lists: what an administrator reviews before signing.

A pure function from (old, new) to an ordered tuple of changes, each with a stable kind, and the
warnings an operator should read twice (a rotation of the operator keys, a lowered threshold, a
service or key dropped together with its history, a key history rewritten instead of extended).
Rendering is the caller's business (see `huren list diff`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from keys import PublicKey
from keys.sm2 import Sm2PublicKey
from trust_lists.model import KeyStatus, ServiceKey, StatusChange, TrustedService, TrustList
from trust_lists.timeutil import format_time


class ChangeKind(StrEnum):
    JURISDICTION = "jurisdiction"
    NAME = "name"
    SEQUENCE = "sequence"
    ISSUED_AT = "issued_at"
    NEXT_UPDATE = "next_update"
    OPERATOR_ADDED = "operator_added"
    OPERATOR_REMOVED = "operator_removed"
    OPERATOR_THRESHOLD = "operator_threshold"
    SERVICE_ADDED = "service_added"
    SERVICE_REMOVED = "service_removed"
    SERVICE_CHANGED = "service_changed"
    KEY_ADDED = "key_added"
    KEY_REMOVED = "key_removed"
    KEY_MOVED = "key_moved"
    KEY_STATUS = "key_status"
    KEY_HISTORY_REWRITTEN = "key_history_rewritten"
    KEY_CERTIFICATE = "key_certificate"


@dataclass(frozen=True, slots=True)
class Change:
    """One difference. `subject` names what changed (a service id, a kid, or "" for the list
    itself); `field` the attribute where that helps; `old`/`new` are display strings."""

    kind: ChangeKind
    subject: str = ""
    field: str = ""
    old: str | None = None
    new: str | None = None
    service: str | None = None  # the service a key belongs to (in the new list if still there)
    warning: str | None = None  # set when the change deserves a second look before signing


@dataclass(frozen=True, slots=True)
class TrustListDiff:
    old: TrustList
    new: TrustList
    changes: tuple[Change, ...]

    @property
    def empty(self) -> bool:
        return not self.changes

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(c.warning for c in self.changes if c.warning)

    @property
    def rotates_operators(self) -> bool:
        return not self.old.operators.same_as(self.new.operators)

    def of_kind(self, kind: ChangeKind) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.kind is kind)


def _history_text(history: tuple[StatusChange, ...]) -> str:
    return ", ".join(f"{c.status.value} from {format_time(c.since)}" for c in history)


def _certificate_text(key: PublicKey) -> str | None:
    """The certificate an SM2 key is listed with: what it vouches for besides its own point (a
    CA certificate: every certificate that CA issued). None for a bare key."""
    cert = key.certificate if isinstance(key, Sm2PublicKey) else None
    if cert is None:
        return None
    kind = "CA certificate" if cert.is_ca else "certificate"
    return f"{kind} {cert.subject}, SHA-256 {cert.sha256[:16]}"


def _service_text(s: TrustedService) -> str:
    return f"{s.kind.value} {s.name_zh} / {s.name_en}"


def diff_trust_lists(old: TrustList, new: TrustList) -> TrustListDiff:
    """Every difference from `old` to `new`, list-level first, then operators, services, keys."""
    changes: list[Change] = []
    add = changes.append

    if old.jurisdiction != new.jurisdiction:
        add(
            Change(
                ChangeKind.JURISDICTION,
                old=old.jurisdiction,
                new=new.jurisdiction,
                warning="the lists belong to different jurisdictions: one cannot replace the other",
            )
        )
    for name in ("name_zh", "name_en"):
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            add(Change(ChangeKind.NAME, field=name, old=before, new=after))
    if old.issued_at != new.issued_at:
        add(
            Change(
                ChangeKind.ISSUED_AT,
                old=format_time(old.issued_at),
                new=format_time(new.issued_at),
                warning=None
                if new.issued_at > old.issued_at
                else "the new list claims an earlier issue time than the old one",
            )
        )
    if old.next_update != new.next_update:
        add(
            Change(
                ChangeKind.NEXT_UPDATE,
                old=format_time(old.next_update),
                new=format_time(new.next_update),
            )
        )

    changes.extend(_operator_changes(old, new))
    changes.extend(_service_changes(old, new))
    changes.extend(_key_changes(old, new))
    # Placed after the jurisdiction and names; an identical list gives an empty diff.
    at = sum(1 for c in changes if c.kind in (ChangeKind.JURISDICTION, ChangeKind.NAME))
    if new.sequence > old.sequence:
        changes.insert(
            at, Change(ChangeKind.SEQUENCE, old=str(old.sequence), new=str(new.sequence))
        )
    elif changes or new.sequence != old.sequence:
        changes.insert(
            at,
            Change(
                ChangeKind.SEQUENCE,
                old=str(old.sequence),
                new=str(new.sequence),
                warning="the sequence does not increase: the new list would be refused as a "
                "rollback (run `huren list bump`)",
            ),
        )
    return TrustListDiff(old, new, tuple(changes))


def _operator_changes(old: TrustList, new: TrustList) -> list[Change]:
    out: list[Change] = []
    before, after = old.operators.by_kid, new.operators.by_kid
    rotating = not old.operators.same_as(new.operators)
    rotation_note = (
        "operator rotation: the list must be signed by "
        f"{old.operators.threshold} of the current operator keys AND "
        f"{new.operators.threshold} of the new ones"
    )
    noted = False

    def note() -> str | None:
        nonlocal noted
        if rotating and not noted:
            noted = True
            return rotation_note
        return None

    for kid in sorted(after.keys() - before.keys()):
        out.append(
            Change(ChangeKind.OPERATOR_ADDED, subject=kid, new=after[kid].alg, warning=note())
        )
    for kid in sorted(before.keys() - after.keys()):
        out.append(
            Change(ChangeKind.OPERATOR_REMOVED, subject=kid, old=before[kid].alg, warning=note())
        )
    if old.operators.threshold != new.operators.threshold:
        lowered = new.operators.threshold < old.operators.threshold
        out.append(
            Change(
                ChangeKind.OPERATOR_THRESHOLD,
                old=str(old.operators.threshold),
                new=str(new.operators.threshold),
                warning=(
                    f"the operator threshold is lowered from {old.operators.threshold} to "
                    f"{new.operators.threshold} (this list itself still needs "
                    f"{old.operators.threshold} signatures of the current operator keys)"
                )
                if lowered
                else note(),
            )
        )
    return out


def _service_changes(old: TrustList, new: TrustList) -> list[Change]:
    out: list[Change] = []
    before = {s.id: s for s in old.services}
    after = {s.id: s for s in new.services}
    for sid in sorted(after.keys() - before.keys()):
        out.append(Change(ChangeKind.SERVICE_ADDED, subject=sid, new=_service_text(after[sid])))
    for sid in sorted(before.keys() - after.keys()):
        out.append(
            Change(
                ChangeKind.SERVICE_REMOVED,
                subject=sid,
                old=_service_text(before[sid]),
                warning=f"service {sid} is removed with its key history: documents it signed in "
                "the past can no longer be judged (withdraw its keys instead)",
            )
        )
    for sid in sorted(before.keys() & after.keys()):
        a, b = before[sid], after[sid]
        for name in ("kind", "name_zh", "name_en", "credit_code"):
            va, vb = str(getattr(a, name)), str(getattr(b, name))
            if va != vb:
                out.append(
                    Change(
                        ChangeKind.SERVICE_CHANGED,
                        subject=sid,
                        field=name,
                        old=va,
                        new=vb,
                        warning=f"service {sid} changes kind" if name == "kind" else None,
                    )
                )
        for name in ("scope", "status_lists"):
            sa, sb = getattr(a, name), getattr(b, name)
            if sa != sb:
                out.append(
                    Change(
                        ChangeKind.SERVICE_CHANGED,
                        subject=sid,
                        field=name,
                        old=",".join(sorted(sa)) or None,
                        new=",".join(sorted(sb)) or None,
                    )
                )
    return out


def _keys(tl: TrustList) -> dict[str, tuple[str, ServiceKey]]:
    return {k.kid: (s.id, k) for s in tl.services for k in s.keys}


def _key_changes(old: TrustList, new: TrustList) -> list[Change]:
    out: list[Change] = []
    before, after = _keys(old), _keys(new)
    for kid in sorted(after.keys() - before.keys()):
        sid, key = after[kid]
        out.append(
            Change(
                ChangeKind.KEY_ADDED,
                subject=kid,
                new=f"{key.key.alg}: {_history_text(key.history)}",
                service=sid,
            )
        )
    for kid in sorted(before.keys() - after.keys()):
        sid, key = before[kid]
        out.append(
            Change(
                ChangeKind.KEY_REMOVED,
                subject=kid,
                old=f"{key.key.alg}: {_history_text(key.history)}",
                service=sid,
                warning=f"key {kid} is removed with its history: what it signed can no longer be "
                "judged (withdraw or revoke it instead)"
                + _removed_effect(new.service(sid) or old.service(sid), kid),
            )
        )
    for kid in sorted(before.keys() & after.keys()):
        (sid_a, a), (sid_b, b) = before[kid], after[kid]
        if sid_a != sid_b:
            out.append(
                Change(
                    ChangeKind.KEY_MOVED,
                    subject=kid,
                    old=sid_a,
                    new=sid_b,
                    service=sid_b,
                    warning=f"key {kid} moves from service {sid_a} to {sid_b}",
                )
            )
        cert_a, cert_b = _certificate_text(a.key), _certificate_text(b.key)
        if cert_a != cert_b:  # one point, so one kid: only the certificate tells them apart
            out.append(
                Change(
                    ChangeKind.KEY_CERTIFICATE,
                    subject=kid,
                    old=cert_a,
                    new=cert_b,
                    service=sid_b,
                    warning=f"key {kid} is now listed with "
                    f"{cert_b or 'no certificate'} (was {cert_a or 'no certificate'}): what it "
                    "vouches for changes (a CA certificate: everything that CA issued)",
                )
            )
        n = len(a.history)
        if b.history[:n] != a.history:
            out.append(
                Change(
                    ChangeKind.KEY_HISTORY_REWRITTEN,
                    subject=kid,
                    old=_history_text(a.history),
                    new=_history_text(b.history),
                    service=sid_b,
                    warning=f"the past status history of key {kid} is rewritten, not extended: "
                    "the judgement of documents signed earlier changes",
                )
            )
            continue
        last = a.history[-1]
        for change in b.history[n:]:
            retroactive = change.status is KeyStatus.WITHDRAWN and change.since < new.issued_at
            warnings = [
                f"key {kid} is withdrawn retroactively (before this list's issue time): "
                "documents it signed since then lose their validity"
                if retroactive
                else None,
                _status_list_effect(new.service(sid_b), kid, change.status, change.since),
            ]
            out.append(
                Change(
                    ChangeKind.KEY_STATUS,
                    subject=kid,
                    old=f"{last.status.value} from {format_time(last.since)}",
                    new=f"{change.status.value} from {format_time(change.since)}",
                    service=sid_b,
                    warning="; ".join(w for w in warnings if w) or None,
                )
            )
            last = change
    return out


def _removed_effect(service: TrustedService | None, kid: str) -> str:
    if service is None or not service.status_lists:
        return ""
    uris = ", ".join(sorted(service.status_lists))
    return (
        f"; a status list of service {service.id} ({uris}) signed with it becomes untrusted and "
        "every licence or seal it covers INDETERMINATE"
    )


def _status_list_effect(
    service: TrustedService | None, kid: str, status: KeyStatus, since: datetime
) -> str | None:
    """The side effect on the status lists a service publishes when one of its keys goes: the
    verifier trusts no status list signed by a revoked (or removed) key, and the store takes no
    new version signed by a key no longer granted."""
    if service is None or not service.status_lists or status is KeyStatus.GRANTED:
        return None
    uris = ", ".join(sorted(service.status_lists))
    others = [
        k.kid
        for k in service.keys
        if k.kid != kid and k.state_at(since).status is KeyStatus.GRANTED
    ]
    with_key = (
        f"another granted key of the service ({others[0]})"
        if others
        else "a new key of the service (it has no other granted key: `huren list add-key` first)"
    )
    if status is KeyStatus.REVOKED:
        return (
            f"service {service.id} publishes status lists ({uris}): one signed with key {kid} is "
            f"untrusted from {format_time(since)}, and every licence or seal it covers becomes "
            f"INDETERMINATE; sign and submit it again with {with_key} "
            "(`huren status renew`, `huren status sign`)"
        )
    return (
        f"service {service.id} publishes status lists ({uris}): a new version signed with key "
        f"{kid} is refused once it is withdrawn ({format_time(since)}); sign the next versions "
        f"with {with_key} before the current one expires"
    )


__all__ = ["Change", "ChangeKind", "TrustListDiff", "diff_trust_lists"]
