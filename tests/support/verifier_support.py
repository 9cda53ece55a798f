"""Helpers shared by the tests/unit/test_verifier_*.py files: crafting raw tokens, building stores
with a changed trust state, and running a verification case."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from demo.world import SHENZHEN, ZHONGSHAN, DemoWorld
from keys import SigningKey, b64url_encode, canonical_json
from trust_lists.authoring import next_version
from trust_lists.model import TrustedService, TrustList, replace_services
from trust_lists.store import TrustStore
from verifier import DocumentKind, Expectations, Verdict, VerificationRequest, Verifier
from verifier.verdict import CheckResult, Indication

DAY = timedelta(days=1)


def raw_jws(
    header: dict[str, Any] | bytes,
    payload: dict[str, Any] | bytes,
    key: SigningKey | None = None,
    *,
    signature: bytes | None = None,
) -> str:
    """A compact JWS from exactly these header and payload bytes (dicts are serialised), signed
    by `key` unless a `signature` is given."""
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    p = payload if isinstance(payload, bytes) else canonical_json(payload)
    signing_input = b64url_encode(h) + "." + b64url_encode(p)
    if signature is None:
        assert key is not None
        signature = key.sign(signing_input.encode("ascii"))
    return signing_input + "." + b64url_encode(signature)


def header_for(key: SigningKey, typ: str, **extra: Any) -> dict[str, Any]:
    return {"alg": key.alg, "kid": key.kid, "typ": typ, **extra}


def edit_service(tl: TrustList, service_id: str, **changes: Any) -> TrustList:
    """`tl` with one service's fields changed (scope, status_lists, ...)."""
    services: list[TrustedService] = [
        dataclasses.replace(s, **changes) if s.id == service_id else s for s in tl.services
    ]
    return replace_services(tl, services)


def next_list(world: DemoWorld, tl: TrustList, *, at: datetime | None = None) -> bytes:
    """The next version of `tl`, issued at `at` (default: a minute before the world's now),
    signed by its operators."""
    issued = at or world.now - timedelta(minutes=1)
    return world.sign_list(next_version(tl, issued_at=issued, validity=timedelta(days=30)))


def store_with(
    world: DemoWorld,
    *,
    lists: Iterable[str] = (SHENZHEN, ZHONGSHAN),
    status: bool | Iterable[str] = True,
    catalogue: bool = True,
    updates: Iterable[bytes] = (),
    now: datetime | None = None,
) -> TrustStore:
    """A store of the demo world with parts left out or trust lists updated: `status` True for
    every status list or the URIs to submit; `updates` are newer signed lists, submitted after
    the demo lists."""
    when = now or world.now
    store = TrustStore(world.anchors)
    for code in lists:
        store.submit_trust_list(world.signed_lists[code].to_json(), now=when)
    for data in updates:
        store.submit_trust_list(data, now=when)
    uris = world.status_lists if status is True else ([] if status is False else list(status))
    for uri in uris:
        store.submit_status_list(world.status_lists[uri], now=when)
    if catalogue:
        store.submit_catalogue(world.signed_catalogue.to_json(), now=when)
    return store


@dataclass(frozen=True)
class Case:
    """One verification: what is verified, by whom, when, against which store."""

    kind: DocumentKind | str  # licence, seal or sealed_document (a str: its value)
    token: str | bytes
    relying: str = ZHONGSHAN
    at: datetime | None = None
    now: datetime | None = None  # the verifier's clock; default: the world's time
    store: TrustStore | None = None
    document: bytes | None = None
    seal: str | bytes | None = None
    image: bytes | None = None
    expect: Expectations | None = None


def run_case(case: Case, world: DemoWorld, default_store: TrustStore) -> Verdict:
    now = case.now or world.now
    verifier = Verifier(case.store or default_store, clock=lambda: now)
    request = VerificationRequest(
        DocumentKind(case.kind),
        case.token,
        case.relying,
        case.at,
        case.expect,
        document=case.document,
        image=case.image,
        seal=case.seal,
    )
    return verifier.verify(request)


def deciding_code(verdict: Verdict) -> str | None:
    """The check that decided the verdict: the FAILED one (it ends the run), else the first
    INDETERMINATE one, else None."""
    if verdict.indication is Indication.PASSED:
        return None
    wanted = CheckResult(verdict.indication.value)
    return next(c.code for c in verdict.checks if c.result is wanted)


def describe(verdict: Verdict) -> str:
    lines = [f"{verdict.indication} {verdict.sub_indication}"]
    lines += [f"  {c.code} {c.result}: {c.message_en}" for c in verdict.checks]
    return "\n".join(lines)


Builder = Callable[[DemoWorld], Case]
