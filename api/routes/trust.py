"""Trust state over HTTP: reading the trust lists, status lists and catalogue (public), and
uploading new signed ones (admin key AND a document the trust store accepts).

Every upload is audited (accepted, unchanged or refused), published to the other instances
(`TrustSync.publish`, before the answer), and changes `store.state.version`, which is part of
every verdict cache key: no verdict computed under the older trust state is served after it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.context import AppContext, get_ctx, log_fields
from api.http.auth import Permission
from api.http.models import (
    JURISDICTION_PATTERN,
    AcceptedCatalogue,
    AcceptedStatusList,
    AcceptedTrustList,
    ServiceItemList,
    StatusListIndex,
    TrustListHistory,
    TrustListIndex,
)
from api.http.problems import ProblemError, problem_responses
from api.routes.verify import unsupported_media
from api.sync.fanout import SyncPublishError
from trust_lists import (
    DocumentTooLarge,
    IssuedStatusList,
    Rollback,
    SignedCatalogue,
    SignedTrustList,
    StatusList,
    StorageError,
    TrustStateError,
)
from trust_lists.timeutil import format_time

router = APIRouter(prefix="/v1", tags=["trust state"])

T = TypeVar("T")

_ENVELOPE_TYPES = frozenset({"application/json", "application/jose+json"})
_TOKEN_TYPES = frozenset(
    {"application/statuslist+jwt", "application/jwt", "application/jose", "text/plain"}
)


def _media(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _refusal(exc: TrustStateError) -> ProblemError:
    if isinstance(exc, Rollback):
        status = 409
    elif isinstance(exc, DocumentTooLarge):
        status = 413
    elif isinstance(exc, StorageError):
        status = 503
    else:
        status = 422
    return ProblemError(status, exc.code, str(exc), title="Trust-state document refused")


def _time(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


def _signed_response(data: bytes, digest: str) -> Response:
    return Response(data, media_type="application/json", headers={"ETag": f'"{digest}"'})


async def _submit(
    ctx: AppContext,
    request: Request,
    *,
    action: str,
    subject: str,
    before: tuple[int | None, str | None],
    submit: Callable[[], T],
    after: Callable[[T], tuple[int, str]],
) -> tuple[T, bool]:
    """Run a store submission off the event loop; audit it whatever the outcome. The store
    judges it after catching up with the other instances (as before a verdict): the rules
    between cities compare it with what the other cities' lists hold now, not a lagging copy."""
    await ctx.ensure_current()
    key_id = log_fields(request).get("key_id")
    record: dict[str, Any] = {
        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "key_id": key_id,
        "action": action,
        "jurisdiction": subject,
        "request_id": getattr(request.state, "request_id", None),
        "old_sequence": before[0],
        "old_digest": before[1],
    }
    try:
        result = await run_in_threadpool(submit)
    except TrustStateError as exc:
        record.update(outcome="refused", code=exc.code, detail=str(exc)[:500])
        await run_in_threadpool(ctx.audit.append, record)
        ctx.metrics.trust_updates.labels(action, "upload", "refused").inc()
        raise _refusal(exc) from exc
    new_sequence, new_digest = after(result)
    changed = new_digest != before[1] or new_sequence != before[0]
    record.update(
        outcome="accepted" if changed else "unchanged",
        new_sequence=new_sequence,
        new_digest=new_digest,
    )
    await run_in_threadpool(ctx.audit.append, record)
    ctx.metrics.trust_updates.labels(action, "upload", record["outcome"]).inc()
    return result, changed


async def _publish(ctx: AppContext, kind: Any, data: bytes, what: str) -> None:
    try:
        await ctx.sync.publish(kind, data)
    except SyncPublishError as exc:
        raise ProblemError(
            503,
            "sync_unavailable",
            f"{what} was accepted by this instance but could not be propagated to the others "
            f"({exc}); upload it again when the shared store is back",
        ) from exc


async def _body(request: Request, allowed: frozenset[str], described: str) -> bytes:
    if _media(request) not in allowed:
        raise unsupported_media(described)
    data = await request.body()
    if not data:
        raise ProblemError(422, "malformed", "the request body is empty")
    return data


# -- trust lists ------------------------------------------------------------------------------

_PUBLIC: dict[str, Any] = {"security": []}


@router.get(
    "/trust-lists",
    summary="Every configured jurisdiction's current trust list",
    response_model=TrustListIndex,
    responses=problem_responses(400, 413, 500),
    openapi_extra=_PUBLIC,
)
async def list_trust_lists(request: Request) -> dict[str, Any]:
    ctx = get_ctx(request)
    state = ctx.store.state
    now = ctx.clock()
    out = []
    for code in ctx.store.jurisdictions:
        signed = state.lists.get(code)
        tl = signed.trust_list if signed else None
        out.append(
            {
                "jurisdiction": code,
                "name_zh": tl.name_zh if tl else None,
                "name_en": tl.name_en if tl else None,
                "sequence": tl.sequence if tl else None,
                "issued_at": _time(tl.issued_at) if tl else None,
                "next_update": _time(tl.next_update) if tl else None,
                "stale_from": _time(state.stale_from(code)),
                "stale": state.is_stale(code, now),
                "digest": signed.digest if signed else None,
            }
        )
    return {"trust_state_version": state.version, "jurisdictions": out}


_SIGNED_JSON = {
    "content": {
        "application/json": {
            "schema": {
                "$ref": "#/components/schemas/SignedEnvelope",
            }
        }
    }
}


@router.get(
    "/trust-lists/{jurisdiction}",
    summary="The jurisdiction's current signed trust list (JWS JSON serialisation)",
    responses={
        200: {"description": "The signed list as accepted", **_SIGNED_JSON},
        **problem_responses(400, 404, 413, 500),
    },
    openapi_extra=_PUBLIC,
    response_class=Response,
)
async def get_trust_list(jurisdiction: str, request: Request) -> Response:
    signed = get_ctx(request).store.state.lists.get(jurisdiction)
    if signed is None:
        raise ProblemError(404, "not_found", f"no trust list for jurisdiction {jurisdiction}")
    return _signed_response(signed.to_json(), signed.digest)


@router.get(
    "/trust-lists/{jurisdiction}/history",
    summary="The lists accepted for the jurisdiction, oldest first",
    response_model=TrustListHistory,
    responses=problem_responses(400, 404, 413, 500),
    openapi_extra=_PUBLIC,
)
async def trust_list_history(jurisdiction: str, request: Request) -> dict[str, Any]:
    store = get_ctx(request).store
    if jurisdiction not in store.anchors:
        raise ProblemError(404, "not_found", f"jurisdiction {jurisdiction} is not configured")
    versions = [
        {
            "sequence": s.trust_list.sequence,
            "issued_at": format_time(s.trust_list.issued_at),
            "next_update": format_time(s.trust_list.next_update),
            "digest": s.digest,
        }
        for s in store.history(jurisdiction)
    ]
    return {"jurisdiction": jurisdiction, "versions": versions}


_UPLOAD_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 500, 503)
_ENVELOPE_BODY = {
    "requestBody": {
        "required": True,
        "description": "The signed document exactly as produced by `huren trust sign/combine`",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/SignedEnvelope"}},
            "application/jose+json": {"schema": {"$ref": "#/components/schemas/SignedEnvelope"}},
        },
    }
}


async def _upload_trust_list(jurisdiction: str, request: Request) -> JSONResponse:
    ctx = get_ctx(request)
    ctx.authorise(request, Permission.ADMIN)
    data = await _body(request, _ENVELOPE_TYPES, "application/json (the signed list)")
    log_fields(request).update(jurisdiction=jurisdiction, upload="trust_list")
    if jurisdiction not in ctx.store.anchors:
        raise ProblemError(
            404, "unknown_jurisdiction", f"jurisdiction {jurisdiction} is not configured here"
        )
    old = ctx.store.state.lists.get(jurisdiction)
    signed, changed = await _submit(
        ctx,
        request,
        action="trust_list",
        subject=jurisdiction,
        before=(old.trust_list.sequence, old.digest) if old else (None, None),
        submit=lambda: ctx.store.submit_trust_list(
            data, now=ctx.clock(), jurisdiction=jurisdiction
        ),
        after=lambda s: (s.trust_list.sequence, s.digest),
    )
    await _publish(ctx, "trust_list", data, f"trust list {signed.trust_list.sequence}")
    body = _accepted_list(ctx, signed, old, changed)
    return JSONResponse(body)


def _accepted_list(
    ctx: AppContext, signed: SignedTrustList, old: SignedTrustList | None, changed: bool
) -> dict[str, Any]:
    tl = signed.trust_list
    return {
        "jurisdiction": tl.jurisdiction,
        "sequence": tl.sequence,
        "previous_sequence": old.trust_list.sequence if old else None,
        "digest": signed.digest,
        "issued_at": format_time(tl.issued_at),
        "next_update": format_time(tl.next_update),
        "changed": changed,
        "trust_state_version": ctx.store.state.version,
    }


_UPLOAD_DOC = dict(
    summary="Upload a new signed trust list for the jurisdiction (admin)",
    description=(
        "Accepted only if the trust store accepts it: signed by a threshold of the current "
        "operator keys (and of the new ones on a rotation), a higher sequence (409 `rollback` "
        "otherwise), not expired, for this jurisdiction. Re-uploading the current list is a "
        "no-op (`changed: false`). Refusals carry the store's stable `code`."
    ),
    responses={
        200: {"model": AcceptedTrustList, "description": "Accepted (or already current)"},
        **_UPLOAD_ERRORS,
    },
    openapi_extra=_ENVELOPE_BODY,
    response_class=JSONResponse,
)


@router.put("/trust-lists/{jurisdiction}", **_UPLOAD_DOC)  # type: ignore[arg-type]
async def put_trust_list(jurisdiction: str, request: Request) -> JSONResponse:
    return await _upload_trust_list(jurisdiction, request)


@router.post("/trust-lists/{jurisdiction}", **_UPLOAD_DOC)  # type: ignore[arg-type]
async def post_trust_list(jurisdiction: str, request: Request) -> JSONResponse:
    return await _upload_trust_list(jurisdiction, request)


# -- status lists -----------------------------------------------------------------------------


def _status_summary(issued: IssuedStatusList) -> dict[str, Any]:
    sl = issued.status_list
    return {
        "uri": sl.uri,
        "jurisdiction": issued.jurisdiction,
        "service_id": issued.service_id,
        "issued_at": format_time(sl.issued_at),
        "expires_at": format_time(sl.expires_at),
        "bits": sl.bits,
        "size": sl.size,
    }


@router.get(
    "/status-lists",
    summary="The status lists held",
    response_model=StatusListIndex,
    responses=problem_responses(400, 413, 500),
    openapi_extra=_PUBLIC,
)
async def list_status_lists(request: Request) -> dict[str, Any]:
    state = get_ctx(request).store.state
    return {
        "trust_state_version": state.version,
        "status_lists": [
            _status_summary(state.status_lists[u]) for u in sorted(state.status_lists)
        ],
    }


@router.post(
    "/status-lists",
    summary="Upload a signed status list token (admin)",
    description=(
        "The body is the compact JWS (typ statuslist+jwt) signed by a key of the one trust-list "
        "service that declares the list's URI."
    ),
    responses={
        200: {"model": AcceptedStatusList, "description": "Accepted (or already current)"},
        **problem_responses(400, 401, 403, 409, 413, 415, 422, 500, 503),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                t: {"schema": {"type": "string", "minLength": 1}} for t in sorted(_TOKEN_TYPES)
            },
        }
    },
    response_class=JSONResponse,
)
async def post_status_list(request: Request) -> JSONResponse:
    ctx = get_ctx(request)
    ctx.authorise(request, Permission.ADMIN)
    data = await _body(request, _TOKEN_TYPES, "application/statuslist+jwt (the token)")
    log_fields(request).update(upload="status_list")
    try:
        uri: str | None = StatusList.parse(data)[0].uri
    except TrustStateError:
        uri = None  # refused again, and audited, by the store below
    held = ctx.store.state.status_lists.get(uri) if uri else None
    issued, changed = await _submit(
        ctx,
        request,
        action="status_list",
        subject=uri or "status_list",
        before=(int(held.status_list.issued_at.timestamp()), held.status_list.digest)
        if held
        else (None, None),
        submit=lambda: ctx.store.submit_status_list(data, now=ctx.clock()),
        after=lambda i: (int(i.status_list.issued_at.timestamp()), i.status_list.digest),
    )
    await _publish(ctx, "status_list", data, f"status list {issued.status_list.uri}")
    return JSONResponse(
        {
            **_status_summary(issued),
            "changed": changed,
            "trust_state_version": ctx.store.state.version,
        }
    )


# -- catalogue --------------------------------------------------------------------------------


@router.get(
    "/catalogue",
    summary="The current signed recognition catalogue (JWS JSON serialisation)",
    responses={
        200: {"description": "The signed catalogue as accepted", **_SIGNED_JSON},
        **problem_responses(400, 404, 413, 500),
    },
    openapi_extra=_PUBLIC,
    response_class=Response,
)
async def get_catalogue(request: Request) -> Response:
    signed = get_ctx(request).store.state.catalogue
    if signed is None:
        raise ProblemError(404, "not_found", "no recognition catalogue has been accepted")
    return _signed_response(signed.to_json(), signed.digest)


MAX_ITEM_QUERY_CHARS = 100


@router.get(
    "/catalogue/items",
    summary="Search the service items (政务服务事项) a relying jurisdiction handles",
    description=(
        "The items of the held recognition catalogue for `relying`, whose code or name (Chinese "
        "or English) contains `q` (case and outer spaces ignored; empty: every item), with what "
        "each accepts. Pass an item's `code` as `expect.service_item` to verify a document for "
        "it."
    ),
    response_model=ServiceItemList,
    responses=problem_responses(400, 404, 413, 422, 500),
    openapi_extra=_PUBLIC,
)
async def search_items(
    request: Request,
    relying: str = Query(pattern=JURISDICTION_PATTERN, examples=["440300"]),
    q: str = Query(default="", max_length=MAX_ITEM_QUERY_CHARS, examples=["食品"]),
    limit: int = Query(default=50, ge=1, le=200),
) -> dict[str, Any]:
    for name in ("relying", "q", "limit"):  # one reading: a parameter given twice is refused
        if len(request.query_params.getlist(name)) > 1:
            raise RequestValidationError(
                [{"loc": ("query", name), "msg": "given more than once", "type": "value_error"}]
            )
    ctx = get_ctx(request)
    if relying not in ctx.store.anchors:  # as GET /v1/trust-lists/{jurisdiction}: not here
        raise ProblemError(
            404,
            "unknown_jurisdiction",
            f"jurisdiction {relying} is not configured on this service "
            f"(configured: {', '.join(ctx.store.jurisdictions)})",
        )
    state = ctx.store.state
    signed = state.catalogue
    if signed is None:
        raise ProblemError(404, "not_found", "no recognition catalogue has been accepted")
    items = signed.catalogue.search_items(relying, q, limit)
    return {
        "relying_jurisdiction": relying,
        "query": q,
        "catalogue_sequence": signed.catalogue.sequence,
        "trust_state_version": state.version,
        "items": [
            {
                "code": i.code,
                "name_zh": i.name_zh,
                "name_en": i.name_en,
                "department_zh": i.department_zh,
                "department_en": i.department_en,
                "city_wide": i.accepts is None,
                "accepts": [r.to_dict() for r in i.accepts or ()],
            }
            for i in items
        ],
    }


async def _upload_catalogue(request: Request) -> JSONResponse:
    ctx = get_ctx(request)
    ctx.authorise(request, Permission.ADMIN)
    data = await _body(request, _ENVELOPE_TYPES, "application/json (the signed catalogue)")
    log_fields(request).update(upload="catalogue")
    old = ctx.store.state.catalogue
    signed, changed = await _submit(
        ctx,
        request,
        action="catalogue",
        subject="catalogue",
        before=(old.catalogue.sequence, old.digest) if old else (None, None),
        submit=lambda: ctx.store.submit_catalogue(data, now=ctx.clock()),
        after=lambda c: (c.catalogue.sequence, c.digest),
    )
    await _publish(ctx, "catalogue", data, f"catalogue {signed.catalogue.sequence}")
    return JSONResponse(_accepted_catalogue(ctx, signed, old, changed))


def _accepted_catalogue(
    ctx: AppContext, signed: SignedCatalogue, old: SignedCatalogue | None, changed: bool
) -> dict[str, Any]:
    return {
        "sequence": signed.catalogue.sequence,
        "previous_sequence": old.catalogue.sequence if old else None,
        "digest": signed.digest,
        "issued_at": format_time(signed.catalogue.issued_at),
        "changed": changed,
        "trust_state_version": ctx.store.state.version,
    }


_CATALOGUE_DOC = dict(
    summary="Upload a new signed recognition catalogue (admin)",
    description=(
        "Signed by the operators of every relying jurisdiction it names and of every one the "
        "held catalogue names (422 `catalogue_overreach` if it drops a city's entries without "
        "it); a higher sequence (409 `rollback` otherwise)."
    ),
    responses={
        200: {"model": AcceptedCatalogue, "description": "Accepted (or already current)"},
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 500, 503),
    },
    openapi_extra=_ENVELOPE_BODY,
    response_class=JSONResponse,
)


@router.post("/catalogue", **_CATALOGUE_DOC)  # type: ignore[arg-type]
async def post_catalogue(request: Request) -> JSONResponse:
    return await _upload_catalogue(request)


@router.put("/catalogue", **_CATALOGUE_DOC)  # type: ignore[arg-type]
async def put_catalogue(request: Request) -> JSONResponse:
    return await _upload_catalogue(request)


SIGNED_ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "JWS general JSON serialisation (RFC 7515 section 7.2.1)",
    "properties": {
        "payload": {"type": "string"},
        "signatures": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "protected": {"type": "string"},
                    "signature": {"type": "string"},
                },
                "required": ["protected", "signature"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["payload", "signatures"],
    "additionalProperties": False,
}

__all__ = ["SIGNED_ENVELOPE_SCHEMA", "router"]
