"""Operator-side editing of trust lists: every change an administrator makes, as a pure function
from one TrustList to the next. The CLI, the demo world and the tests all use these; nothing here
signs or stores (see SignedTrustList and TrustStore)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from keys import PublicKey
from trust_lists.errors import MalformedDocument
from trust_lists.model import (
    KeyStatus,
    OperatorPolicy,
    ServiceKey,
    ServiceKind,
    StatusChange,
    TrustedService,
    TrustList,
    replace_services,
)
from trust_lists.timeutil import format_time


def new_trust_list(
    *,
    jurisdiction: str,
    name_zh: str,
    name_en: str,
    operators: Iterable[PublicKey],
    threshold: int,
    issued_at: datetime,
    validity: timedelta,
    sequence: int = 1,
) -> TrustList:
    return TrustList(
        jurisdiction,
        name_zh,
        name_en,
        sequence,
        issued_at,
        issued_at + validity,
        OperatorPolicy(tuple(operators), threshold),
        (),
    )


def next_version(tl: TrustList, *, issued_at: datetime, validity: timedelta) -> TrustList:
    """Bump the sequence and the issue / next-update times (every published change needs this)."""
    return replace_services(
        tl,
        tl.services,
        sequence=tl.sequence + 1,
        issued_at=issued_at,
        next_update=issued_at + validity,
    )


def add_service(
    tl: TrustList,
    *,
    service_id: str,
    kind: ServiceKind,
    name_zh: str,
    name_en: str,
    credit_code: str,
    scope: Iterable[str],
    keys: Iterable[PublicKey],
    granted_from: datetime,
    status_lists: Iterable[str] = (),
) -> TrustList:
    if tl.service(service_id) is not None:
        raise MalformedDocument(f"service {service_id} already exists")
    service = TrustedService(
        service_id,
        kind,
        name_zh,
        name_en,
        credit_code,
        frozenset(scope),
        tuple(ServiceKey(k, (StatusChange(KeyStatus.GRANTED, granted_from),)) for k in keys),
        frozenset(status_lists),
    )
    return replace_services(tl, (*tl.services, service))


def remove_service(tl: TrustList, service_id: str) -> TrustList:
    """Drop a service entirely. Prefer withdrawing its keys: removal forgets history, so documents
    it signed in the past can no longer be judged."""
    _require(tl, service_id)
    return replace_services(tl, tuple(s for s in tl.services if s.id != service_id))


def add_key(tl: TrustList, service_id: str, key: PublicKey, *, granted_from: datetime) -> TrustList:
    service = _require(tl, service_id)
    new_key = ServiceKey(key, (StatusChange(KeyStatus.GRANTED, granted_from),))
    return _replace_service(tl, _with_keys(service, (*service.keys, new_key)))


def change_key_status(
    tl: TrustList, kid: str, status: KeyStatus, *, effective: datetime
) -> TrustList:
    """Withdraw (retire) or revoke (compromised) a key from `effective` on, or grant it again."""
    entry = tl.find_key(kid)
    if entry is None:
        raise MalformedDocument(
            f"no service key with kid {kid} in this list (`huren list show` lists the kids)"
        )
    history = entry.key.history
    if history[-1].status is KeyStatus.REVOKED:
        raise MalformedDocument(f"key {kid} is already revoked; a revoked key stays revoked")
    if effective <= history[-1].since:
        last = history[-1]
        raise MalformedDocument(
            f"the change ({format_time(effective)}) must be later than the key's last status "
            f"change ({last.status.value} from {format_time(last.since)}): give a later --effective"
        )
    new_key = ServiceKey(entry.key.key, (*history, StatusChange(status, effective)))
    keys = tuple(new_key if k.kid == kid else k for k in entry.service.keys)
    return _replace_service(tl, _with_keys(entry.service, keys))


def set_operators(tl: TrustList, operators: Iterable[PublicKey], threshold: int) -> TrustList:
    """Rotate the operator keys: the resulting list must be signed by a threshold of the old set
    AND of the new set to be accepted."""
    policy = OperatorPolicy(tuple(operators), threshold)
    if not 1 <= threshold <= len(policy.keys):
        raise MalformedDocument("threshold must be between 1 and the number of operator keys")
    return replace_services(tl, tl.services, operators=policy)


def _require(tl: TrustList, service_id: str) -> TrustedService:
    service = tl.service(service_id)
    if service is None:
        raise MalformedDocument(f"no service {service_id} in the list")
    return service


def _with_keys(service: TrustedService, keys: tuple[ServiceKey, ...]) -> TrustedService:
    return TrustedService(
        service.id,
        service.kind,
        service.name_zh,
        service.name_en,
        service.credit_code,
        service.scope,
        keys,
        service.status_lists,
    )


def _replace_service(tl: TrustList, service: TrustedService) -> TrustList:
    return replace_services(tl, tuple(service if s.id == service.id else s for s in tl.services))
