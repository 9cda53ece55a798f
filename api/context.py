"""Everything a request handler needs, built once per app and kept on `app.state.ctx`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

from fastapi import Request

from api.http.auth import Authoriser, Permission, Principal
from api.obs.audit import AuditLog
from api.obs.metrics import Metrics
from api.receipts import ReceiptSigner
from api.settings import Settings
from api.state.cache import SingleFlight, VerdictCache
from api.sync.fanout import TrustSync
from api.verification import VerificationService
from trust_lists import TrustStore

log = logging.getLogger("huren.app")


class Lifecycle:
    """Whether this process is draining: it still serves every request, but `/readyz` says 503 so
    that load balancers stop sending new ones before the listener closes."""

    def __init__(self) -> None:
        self.draining_since: float | None = None  # monotonic

    @property
    def draining(self) -> bool:
        return self.draining_since is not None

    def begin_drain(self) -> None:
        if self.draining_since is None:
            self.draining_since = time.monotonic()


@dataclass(slots=True)
class AppContext:
    settings: Settings
    store: TrustStore
    clock: Callable[[], datetime]
    cache: VerdictCache
    flight: SingleFlight
    sync: TrustSync
    service: VerificationService
    receipts: ReceiptSigner
    authoriser: Authoriser
    audit: AuditLog
    metrics: Metrics
    load_problems: tuple[str, ...] = ()
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    directory_hold: BinaryIO | None = None  # the shared lock marking the trust directory served

    async def ensure_current(self) -> None:
        """Before any verdict or trust-state judgement: what other processes stored in a shared
        trust directory (one stat when nothing changed), then what other instances published
        through Redis."""
        for problem in self.store.refresh():
            log.warning("trust store: %s", problem)
        await self.sync.ensure_current()

    def authorise(
        self, request: Request, permission: Permission, *, anonymous_allowed: bool = False
    ) -> Principal:
        principal = self.authoriser.authorise(
            permission,
            authorization=request.headers.get("authorization"),
            x_api_key=request.headers.get("x-api-key"),
            client=self.authoriser.addresses.of(request.scope),
            anonymous_allowed=anonymous_allowed,
        )
        log_fields(request)["key_id"] = principal.key_id or "anonymous"
        return principal


def get_ctx(request: Request) -> AppContext:
    ctx = request.app.state.ctx
    assert isinstance(ctx, AppContext)
    return ctx


def log_fields(request: Request) -> dict[str, Any]:
    """The per-request fields of the access log line (digests and verdict fields only)."""
    fields = request.scope.setdefault("state", {}).setdefault("log", {})
    assert isinstance(fields, dict)
    return fields


__all__ = ["AppContext", "get_ctx", "log_fields"]
