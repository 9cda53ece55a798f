"""Shared builders for the trust-list tests: real keys, lists made with trust_lists.authoring,
and the "nothing changed" assertion every refusal test makes (memory and disk)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from keys import ES256, GeneralJWS, SigningKey, canonical_json
from trust_lists import authoring
from trust_lists.errors import TrustStateError
from trust_lists.model import ServiceKind, TrustList, replace_services
from trust_lists.signed import TRUST_LIST_TYP, Anchor, SignedTrustList
from trust_lists.storage import LOCK_FILES, STAMP, TrustDirectory
from trust_lists.store import TrustStore
from trust_lists.uscc import make_uscc

SZ, ZS, GZ, FS = "440300", "442000", "440100", "440600"
NAMES = {
    SZ: ("深圳市", "Shenzhen"),
    ZS: ("中山市", "Zhongshan"),
    GZ: ("广州市", "Guangzhou"),
    FS: ("佛山市", "Foshan"),
}
T0 = datetime(2026, 11, 26, 8, 0, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)
VALID = timedelta(days=30)
URI1 = "https://sz.example.gov.cn/status/amr-1"
URI2 = "https://sz.example.gov.cn/status/amr-2"

_KEYS: dict[str, SigningKey] = {}


def key(name: str) -> SigningKey:
    """A named key, generated once per test session (ES256; names starting "ed" are EdDSA)."""
    if name not in _KEYS:
        _KEYS[name] = SigningKey.generate("EdDSA" if name.startswith("ed") else ES256)
    return _KEYS[name]


def keys(*names: str) -> list[SigningKey]:
    return [key(n) for n in names]


def uscc(n: int) -> str:
    return make_uscc(f"9144030000000{n:04d}")


def base_list(
    jurisdiction: str = SZ,
    *,
    operators: Iterable[str] = ("a1", "a2", "a3"),
    threshold: int = 2,
    sequence: int = 1,
    issued_at: datetime = T0,
    validity: timedelta = VALID,
    issuer: str = "i1",
    seal: str = "edseal1",
) -> TrustList:
    """One licence issuer (publishing URI1) and one seal authority."""
    zh, en = NAMES.get(jurisdiction, ("测试市", "Testville"))
    tl = authoring.new_trust_list(
        jurisdiction=jurisdiction,
        name_zh=zh,
        name_en=en,
        operators=[key(o).public_key for o in operators],
        threshold=threshold,
        issued_at=issued_at,
        validity=validity,
        sequence=sequence,
    )
    tl = authoring.add_service(
        tl,
        service_id=f"amr-{jurisdiction}",
        kind=ServiceKind.LICENCE_ISSUER,
        name_zh=f"{zh}市场监督管理局",
        name_en=f"{en} Administration for Market Regulation",
        credit_code=uscc(1),
        scope=["food-business", "business-licence"],
        keys=[key(f"{issuer}-{jurisdiction}").public_key],
        granted_from=T0 - timedelta(days=1),
        status_lists=[URI1] if jurisdiction == SZ else [],
    )
    return authoring.add_service(
        tl,
        service_id=f"seal-{jurisdiction}",
        kind=ServiceKind.SEAL_AUTHORITY,
        name_zh=f"{zh}公安局印章管理",
        name_en=f"{en} Seal Authority",
        credit_code=uscc(2),
        scope=["enterprise-seal"],
        keys=[key(f"{seal}-{jurisdiction}").public_key],
        granted_from=T0 - timedelta(days=1),
    )


def with_status_uri(tl: TrustList, service_id: str, uri: str) -> TrustList:
    """tl with one more status-list URI declared by the service (no builder adds one)."""
    service = tl.service(service_id)
    assert service is not None
    more = dataclasses.replace(service, status_lists=service.status_lists | {uri})
    return replace_services(tl, [more if s is service else s for s in tl.services])


def bump(tl: TrustList, *, hours: float = 0.25) -> TrustList:
    """The next version, issued `hours` after the previous one."""
    issued = tl.issued_at + timedelta(hours=hours)
    return authoring.next_version(tl, issued_at=issued, validity=VALID)


def sign(tl: TrustList, *signers: str) -> bytes:
    return SignedTrustList.create(tl, keys(*signers)).to_json()


def sign_payload(payload: dict[str, Any] | bytes, *signers: str) -> bytes:
    """Sign arbitrary payload bytes (or a dict, canonically): for lists no builder would make."""
    raw = payload if isinstance(payload, bytes) else canonical_json(payload)
    return GeneralJWS.sign(raw, keys(*signers), typ=TRUST_LIST_TYP).to_json()


def anchor(
    jurisdiction: str, names: Iterable[str], threshold: int, *, thumbprints_only: bool = False
) -> Anchor:
    pubs = tuple(key(n).public_key for n in names)
    return Anchor(
        jurisdiction, threshold, frozenset(k.kid for k in pubs), () if thumbprints_only else pubs
    )


def default_anchors() -> list[Anchor]:
    """Shenzhen pinned by full keys (2 of a1..a3); Zhongshan by thumbprints only (1 of z1, z2)."""
    return [anchor(SZ, ("a1", "a2", "a3"), 2), anchor(ZS, ("z1", "z2"), 1, thumbprints_only=True)]


def make_store(
    root: Path | None, anchors: Iterable[Anchor] | None = None, **kwargs: Any
) -> TrustStore:
    directory = TrustDirectory(root) if root is not None else None
    return TrustStore(default_anchors() if anchors is None else anchors, directory, **kwargs)


def disk(root: Path) -> dict[str, str]:
    """Every file under root (including HIGHEST and any temporary file) with its SHA-256; the
    empty lock files and STAMP (what processes sharing the directory watch) are no trust state
    and are left out."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.relative_to(root).as_posix() not in LOCK_FILES | {STAMP}
    }


@dataclass
class Snapshot:
    state: object
    version: str
    highest: dict[str, int]
    files: dict[str, str]


def snapshot(store: TrustStore) -> Snapshot:
    root = store.directory.root if store.directory is not None else None
    return Snapshot(
        store.state,
        store.state.version,
        {j: store.highest_sequence(j) for j in store.jurisdictions},
        disk(root) if root is not None else {},
    )


def assert_unchanged(store: TrustStore, before: Snapshot) -> None:
    after = snapshot(store)
    assert store.state is before.state, "the in-memory trust state was replaced"
    assert after.version == before.version
    assert after.highest == before.highest, "a rollback guard moved"
    assert after.files == before.files, "the trust directory changed"


def refused(
    store: TrustStore,
    error: type[TrustStateError],
    code: str,
    action: Callable[[], object],
    match: str | None = None,
) -> TrustStateError:
    """Run action, expect exactly `error` with `code`, and that nothing changed anywhere."""
    before = snapshot(store)
    with pytest.raises(error, match=match) as info:
        action()
    assert type(info.value) is error, f"expected {error.__name__}, got {type(info.value).__name__}"
    assert info.value.code == code
    assert_unchanged(store, before)
    return info.value


def list_refused(
    store: TrustStore,
    data: bytes,
    error: type[TrustStateError],
    code: str,
    *,
    now: datetime = NOW,
    match: str | None = None,
    **where: Any,
) -> TrustStateError:
    """Offer a signed trust list; expect exactly `error` with `code`, and nothing changed."""
    return refused(
        store, error, code, lambda: store.submit_trust_list(data, now=now, **where), match
    )
