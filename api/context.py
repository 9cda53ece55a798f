"""Everything a request handler needs, built once per app and kept on `app.state.ctx`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
