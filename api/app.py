"""The HTTP service: `create_app(settings)` builds the FastAPI app around one TrustStore.

Endpoints (all errors are RFC 9457 `application/problem+json` with a stable `code`):
- POST /v1/licences/verify, /v1/seals/verify, /v1/sealed-documents/verify, /v1/verify/batch
- GET /v1/trust-lists, /v1/trust-lists/{j}, /v1/trust-lists/{j}/history; PUT/POST
  /v1/trust-lists/{j}; GET/POST /v1/status-lists; GET/POST/PUT /v1/catalogue
- GET /v1/receipts/jwks.json, /healthz, /readyz, /metrics"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.types import ASGIApp, Receive, Scope, Send

from api.context import AppContext, get_ctx
from api.http.auth import Authoriser, ClientAddresses, KeyRing, TokenBucket
from api.http.fast_lane import LICENCE_PATH, FastLane
from api.http.middleware import BodyTooLarge, RequestRecorder, ServiceMiddleware, too_large_problem
from api.http.models import Health, Jwks, Readiness
from api.http.problems import (
    PROBLEM_MEDIA_TYPE,
    Problem,
    ProblemError,
    install_problem_handlers,
    problem_description,
    problem_responses,
)
from api.obs.audit import AuditLog
from api.obs.logs import stop_listener
from api.obs.metrics import Metrics
from api.readiness import ReadinessCollector, assess
from api.receipts import ReceiptSigner
from api.routes import trust as routes_trust
from api.routes import ui
from api.routes import verify as routes_verify
from api.settings import Settings, SettingsError, describe_unknown
from api.state.cache import SingleFlight, VerdictCache, make_cache
from api.state.redis import SharedRedis
from api.sync.fanout import TrustSync
from api.verification import VerificationService
from api.workers import VerificationPool
from trust_lists import TrustDirectory, TrustStore, load_anchors
from verifier import NationalPolicy, Verifier

log = logging.getLogger("huren.app")


class ServiceApp(FastAPI):
    """FastAPI with ServiceMiddleware as the outermost layer of every HTTP request.

    FastAPI wraps user middleware in three layers of its own: ServerErrorMiddleware (a plain-text
    500 for what escapes), an OpenTelemetry exception hook and a body limit. Here each is
    redundant: ServiceMiddleware already answers every escaped error with a problem 500 and
    enforces the body limit, and telemetry is off. Unlinking them spares every request ~3 us and
    changes no answer (tests/service/test_app.py::test_service_middleware_is_outermost)."""

    _REDUNDANT_OUTER = (
        "ServerErrorMiddleware",
        "ExceptionTelemetryMiddleware",
        "AppBodyLimitMiddleware",
    )

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        while type(stack).__name__ in self._REDUNDANT_OUTER:
            stack = stack.app  # type: ignore[attr-defined]
        if not isinstance(stack, ServiceMiddleware):
            # A FastAPI release added an outer layer we do not know: keep its whole stack.
            return super().build_middleware_stack()
        return stack

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # FastAPI's own __call__ looks up telemetry on every request; it is off here.
        if scope["type"] == "http" and self.middleware_stack is not None and not self.root_path:
            scope["app"] = self
            await self.middleware_stack(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


API_VERSION = "1.0.0"
DESCRIPTION = """\
Verifies signed e-licences (电子证照) and enterprise e-seals (企业电子印章) issued in one city of
the Greater Bay Area for a relying party in another, against each city's signed trust list.

**Verdicts** follow ETSI EN 319 102-1: `PASSED`, `FAILED` or `INDETERMINATE` with a
sub-indication and ordered checks, each with reasons in Chinese and English.

**Authentication**: `Authorization: Bearer <api key>` or `X-API-Key: <api key>`. Roles: `counter`
(licences, sealed documents), `business` (seals, sealed documents), `admin` (uploads and every
verification). Reading trust state, the receipt keys and the health endpoints needs no key.

**Errors** are RFC 9457 problem details (`application/problem+json`) with a stable `code`.
"""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def build_store(settings: Settings) -> tuple[TrustStore, list[str]]:
    """The trust store from the anchors and trust directory, loaded; returns load problems."""
    if settings.anchors is None:
        raise SettingsError("no anchors configured (huren.json 'anchors' or HUREN_ANCHORS)")
    anchors = load_anchors(settings.anchors)
    where = settings.trust_dir
    if where is not None and not where.is_dir():
        raise SettingsError(
            f"trust_dir {where} does not exist or is not a directory: check the path "
            "(huren.json 'trust_dir' or HUREN_TRUST_DIR)"
        )
    directory = TrustDirectory(where) if where is not None else None
    store = TrustStore(anchors, directory, grace=timedelta(seconds=settings.grace_seconds))
    problems = store.load()
    for problem in problems:
        log.warning("trust store: %s", problem)
    if where is not None and not store.state.lists and not settings.sources:
        # A misspelt or wrong directory would otherwise serve INDETERMINATE for everything.
        raise SettingsError(
            f"trust_dir {where} holds no trust list: check the path, or submit the signed lists "
            "first (`huren trust submit FILE... --config huren.json`), or configure `sources` "
            "to pull them"
        )
    return store, problems


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], datetime] | None = None,
    store: TrustStore | None = None,
    cache: VerdictCache | None = None,
    sync: TrustSync | None = None,
) -> FastAPI:
    """The service. `store`, `cache` and `sync` default to what the settings describe."""
    now: Callable[[], datetime] = clock or _utc_now
    problems: list[str] = []
    hold = None
    if store is None:
        store, problems = build_store(settings)
        if store.directory is not None:
            # Writers outside this service (`huren trust submit`) see it and refuse.
            hold = store.directory.hold_for_service()
    for name in settings.unknown_environment:
        log.warning(
            "ignored environment variable %s: not a huren setting (docs/service.md#settings; "
            "HUREN_STRICT_SETTINGS=1 refuses it)",
            describe_unknown(name),
        )
    # One owner of Redis for the cache and the sync (None without Redis).
    shared_redis = SharedRedis.from_settings(settings) if cache is None or sync is None else None
    if settings.cache_secret_generated and shared_redis is not None:
        log.warning(
            "no cache secret configured (HUREN_CACHE_SECRET): generated one for this process; "
            "instances sharing the Redis cache will not read each other's entries"
        )
    metrics = Metrics()
    verdict_cache: VerdictCache = cache if cache is not None else make_cache(settings, shared_redis)

    def on_adopted(kind: str) -> None:
        metrics.trust_updates.labels(kind, "sync", "accepted").inc()
        log.info(
            "trust state adopted from another instance or a source",
            extra={"fields": {"kind": kind, "trust_state_version": store.state.version}},
        )

    trust_sync = (
        sync
        if sync is not None
        else TrustSync(settings, store, on_adopted, clock=now, redis=shared_redis)
    )
    flight = SingleFlight()
    pool = VerificationPool(
        workers=settings.verify_workers,
        queue=settings.verify_queue,
        deadline_seconds=settings.verify_deadline_seconds,
        on_refused=lambda reason: metrics.refused.labels(reason).inc(),
    )
    service = VerificationService(
        store=store,
        verifier=Verifier(
            store, clock=now, national_policy=NationalPolicy(ofd_limits=settings.ofd_limits)
        ),
        cache=verdict_cache,
        flight=flight,
        metrics=metrics,
        clock=now,
        max_ttl_seconds=float(settings.cache_max_ttl_seconds),
        pool=pool,
    )
    keys = KeyRing.load(inline_json=settings.api_keys_json, path=settings.api_keys_file)
    if len(keys) == 0:
        log.warning("no API keys configured: only anonymous self-checks can be served")
    ctx = AppContext(
        settings=settings,
        store=store,
        clock=now,
        cache=verdict_cache,
        flight=flight,
        sync=trust_sync,
        service=service,
        receipts=ReceiptSigner.from_settings(settings.receipt_key),
        authoriser=Authoriser(
            keys,
            anonymous_self_check=settings.anonymous_self_check,
            limiter=TokenBucket(settings.anonymous_rate_per_minute, settings.anonymous_burst),
            addresses=ClientAddresses(settings.forwarded_allow_ips),
        ),
        audit=AuditLog(settings.audit_log_path),
        metrics=metrics,
        load_problems=tuple(problems),
        directory_hold=hold,
    )
    metrics.watch_trust(store, now, lambda: ctx.cache)
    metrics.watch_sync(trust_sync)
    metrics.registry.register(ReadinessCollector(ctx))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await ctx.sync.start()
        try:
            yield
        finally:
            await ctx.sync.stop()
            await ctx.cache.close()
            if shared_redis is not None:
                await shared_redis.close()
            pool.close()
            if ctx.directory_hold is not None:
                ctx.directory_hold.close()
            # Nothing may wait in the log queue from here: uvicorn ends a SIGTERM shutdown by
            # re-raising the signal, which kills the process before atexit could drain it.
            stop_listener()
            log.info(
                "huren service stopped",
                extra={"fields": {"trust_state_version": store.state.version}},
            )

    app = ServiceApp(
        title="huren (互认) verification service",
        version=API_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from api/routes/ui.py, without a CDN
        redoc_url=None,
        # The service reports through Prometheus and JSON logs, not OpenTelemetry; left on,
        # FastAPI looks up the global OpenTelemetry providers on every request (~8 us).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.ctx = ctx
    install_problem_handlers(app)

    async def on_too_large(request: Request, exc: Exception) -> Response:
        body = too_large_problem(
            settings.max_body_bytes, getattr(request.state, "request_id", None)
        )
        return JSONResponse(body, status_code=413, media_type=PROBLEM_MEDIA_TYPE)

    app.add_exception_handler(BodyTooLarge, on_too_large)
    app.include_router(routes_verify.router)
    app.include_router(routes_trust.router)
    app.include_router(ui.router)
    app.mount("/static", ui.static_files(), name="static")
    app.mount(ui.API_DOCS_URL, ui.api_docs_files(), name="api-docs")
    _add_operational_routes(app)
    # Every route with its full path (included routers are not flattened in app.router.routes):
    # for the Allow header of 405 answers and the route label of unrouted requests.
    flat = [
        *routes_verify.router.routes,
        *routes_trust.router.routes,
        *ui.router.routes,
        *(r for r in app.router.routes if hasattr(r, "path")),
    ]
    app.state.flat_routes = flat
    if settings.fast_lane:
        # Added first, so the innermost layer: inside ServiceMiddleware and any middleware
        # added after it (each add_middleware wraps the ones before).
        licence_route = next(
            r
            for r in flat
            if getattr(r, "path", None) == LICENCE_PATH and "POST" in r.methods  # type: ignore[attr-defined]
        )
        app.add_middleware(FastLane, ctx=ctx, route=licence_route)
    recorder = RequestRecorder(metrics, flat)
    app.add_middleware(ServiceMiddleware, max_body_bytes=settings.max_body_bytes, recorder=recorder)
    app.openapi = lambda: _openapi(app, settings)  # type: ignore[method-assign]
    return app


# -- operational endpoints ------------------------------------------------------------------


def _add_operational_routes(app: FastAPI) -> None:
    public: dict[str, Any] = {"security": []}

    @app.get(
        "/v1/receipts/jwks.json",
        tags=["receipts"],
        summary="Public keys that sign verification receipts (JWKS)",
        description=(
            "Check a receipt offline: a compact JWS with typ `huren-receipt+jwt`, alg ES256, "
            "whose kid is one of these keys. Claims: iss, iat, jti, kind, request_sha256, "
            "cached and verdict."
        ),
        response_model=Jwks,
        responses=problem_responses(400, 413, 500),
        openapi_extra=public,
    )
    async def receipts_jwks(request: Request) -> JSONResponse:
        return JSONResponse(
            get_ctx(request).receipts.jwks(), headers={"Cache-Control": "public, max-age=300"}
        )

    @app.get(
        "/healthz",
        tags=["operations"],
        summary="Liveness: the process serves requests",
        response_model=Health,
        responses=problem_responses(400, 413, 500),
        openapi_extra=public,
    )
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: verdicts here are possible and current",
        description=(
            "200 unless verdicts would be wrong or impossible: a configured jurisdiction without "
            "a verified trust list or with a stale one, an expired status list, trust sync "
            "refused by Redis for longer than `sync_max_broken_seconds` or behind it for longer "
            "than `sync_max_lag_seconds`, or the instance draining after SIGTERM; then 503 "
            "`not_ready` with the failing checks. A verdict-cache outage is reported in "
            "`checks.cache` and never fails. `warnings` names trust lists going stale and "
            "status lists expiring within `expiry_warning_seconds`."
        ),
        response_model=Readiness,
        responses=problem_responses(400, 413, 500, 503),
        openapi_extra=public,
    )
    async def readyz(request: Request) -> dict[str, Any]:
        ctx = get_ctx(request)
        result = assess(ctx, ctx.clock())
        if not result.ready:
            raise ProblemError(
                503,
                "not_ready",
                result.summary(),
                extra={"checks": result.checks, "warnings": result.warnings},
            )
        return {"status": "ready", "checks": result.checks, "warnings": result.warnings}

    @app.get(
        "/metrics",
        tags=["operations"],
        summary="Prometheus metrics",
        responses={
            200: {
                "description": "Prometheus text exposition format",
                "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
            },
            **problem_responses(400, 413, 500),
        },
        openapi_extra=public,
        response_class=Response,
    )
    async def metrics(request: Request) -> Response:
        registry = get_ctx(request).metrics.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


# -- OpenAPI --------------------------------------------------------------------------------

_SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "An API key as bearer token"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}
_COMMON_ERRORS = (400, 413, 500)


def _openapi(app: FastAPI, settings: Settings) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=[
            {"name": "verification", "description": "Verdicts on licences, seals and documents"},
            {"name": "trust state", "description": "Trust lists, status lists, the catalogue"},
            {"name": "receipts", "description": "Keys for checking verification receipts"},
            {"name": "operations", "description": "Health, readiness and metrics"},
        ],
    )
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    models: list[type[BaseModel]] = [*routes_verify.REQUEST_MODELS, Problem]
    _, defs = models_json_schema(
        [(m, "validation") for m in models],
        ref_template="#/components/schemas/{model}",
    )
    schemas.update(defs.get("$defs", {}))
    schemas["SignedEnvelope"] = routes_trust.SIGNED_ENVELOPE_SCHEMA
    batch = schemas.get("BatchVerifyRequest", {}).get("properties", {}).get("items")
    if isinstance(batch, dict):
        batch["maxItems"] = settings.max_batch_items
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    _pin_relying(schema, app.state.ctx.store.jurisdictions)
    components["securitySchemes"] = _SECURITY_SCHEMES
    authenticated: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status in _COMMON_ERRORS:
                responses.setdefault(str(status), {"description": problem_description(status)})
            for status, response in list(responses.items()):
                _problem_content(status, response)
            if "security" not in operation or operation["security"]:
                operation["security"] = list(authenticated)
                if settings.anonymous_self_check and path in routes_verify.ANONYMOUS_PATHS:
                    operation["security"].append({})
            operation.pop("x-huren-permission", None)
    app.openapi_schema = schema
    return schema


def _pin_relying(node: Any, jurisdictions: list[str]) -> None:
    """Every relying_jurisdiction property lists the jurisdictions this service is configured
    for (any other is refused with 422 unknown_jurisdiction)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            props = item.get("properties")
            if isinstance(props, dict) and isinstance(props.get("relying_jurisdiction"), dict):
                props["relying_jurisdiction"]["enum"] = list(jurisdictions)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _problem_content(status: str, response: dict[str, Any]) -> None:
    """Error responses are application/problem+json with the Problem schema."""
    if not status.isdigit() or int(status) < 400:
        return
    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}


__all__ = ["build_store", "create_app"]
