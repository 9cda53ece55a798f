"""The self-check page and the trust-list view (GitHub issue 8), and the two endpoints only they
need: the difference between two accepted versions of a trust list, and a dry run of an upload.

- GET / : the page (api/static/index.html), self-contained: every script and style is served
  from /static by this service (no CDN, no web fonts), under a strict Content-Security-Policy;
- GET /docs and /redoc : Swagger UI and ReDoc, their scripts served from the `fastapi-offline`
  package at /static-api-docs (FastAPI's defaults load them from a CDN, which an intranet lacks);
- GET /v1/trust-lists/{j}/diff?from=N&to=M : what changed between two accepted versions
  (trust_lists.diff), public like the rest of the trust state;
- POST /v1/trust-lists/{j}/preview : what the trust store would say about a signed list if it
  were uploaded now, and what it would change, without adopting it (admin).

The page calls the JSON API with fetch; an API key typed into it stays in sessionStorage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Final

import fastapi_offline
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from api.context import get_ctx, log_fields
from api.http.auth import Permission
from api.http.problems import ProblemError, problem_responses
from trust_lists import KeyStatus, SignedTrustList, TrustList, TrustStateError
from trust_lists.diff import Change, ChangeKind, TrustListDiff, diff_trust_lists
from trust_lists.timeutil import format_time

STATIC_DIR: Final = Path(__file__).resolve().parents[1] / "static"  # api/static/
INDEX_HTML: Final = STATIC_DIR / "index.html"
# Swagger UI's and ReDoc's bundles as the fastapi-offline wheel ships them (never copied in here).
API_DOCS_ASSETS: Final = Path(fastapi_offline.__file__).resolve().parent / "static"
API_DOCS_URL: Final = "/static-api-docs"

# The page loads nothing from anywhere but this service; pictures the user chooses are shown
# through blob: URLs. No inline script or style is allowed.
PAGE_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

# Swagger UI and ReDoc: everything from this service too. Both need inline script or style, and
# ReDoc's sidebar shows Redocly's logo from its CDN, which this policy refuses (the link stays).
API_DOCS_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; worker-src 'self' blob:; connect-src 'self'; "
        "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter()


def static_files() -> StaticFiles:
    """The page's scripts and styles, to be mounted at /static."""
    return StaticFiles(directory=STATIC_DIR)


def api_docs_files() -> StaticFiles:
    """Swagger UI's and ReDoc's scripts, to be mounted at API_DOCS_URL."""
    return StaticFiles(directory=API_DOCS_ASSETS)


@router.get("/", include_in_schema=False)
async def self_check_page() -> FileResponse:
    return FileResponse(INDEX_HTML, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


@router.get("/docs", include_in_schema=False)
async def swagger_ui(request: Request) -> HTMLResponse:
    root = _root(request)
    page = get_swagger_ui_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{root}{API_DOCS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{API_DOCS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{root}{API_DOCS_URL}/favicon.png",
        swagger_ui_parameters=request.app.swagger_ui_parameters,
    )
    page.headers.update(API_DOCS_HEADERS)
    return page


@router.get("/redoc", include_in_schema=False)
async def redoc(request: Request) -> HTMLResponse:
    root = _root(request)
    page = get_redoc_html(
        openapi_url=f"{root}{request.app.openapi_url}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}{API_DOCS_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{API_DOCS_URL}/favicon.png",
        with_google_fonts=False,
    )
    page.headers.update(API_DOCS_HEADERS)
    return page


# -- models -----------------------------------------------------------------------------------


class ChangeModel(BaseModel):
    kind: str = Field(description="trust_lists.diff.ChangeKind, e.g. key_status, service_added")
    category: str = Field(
        description="kind, except key_status becomes key_granted / key_withdrawn / key_revoked"
    )
    subject: str = Field(description="service id or key id; empty for the list itself")
    field: str = ""
    old: str | None = None
    new: str | None = None
    service: str | None = Field(default=None, description="the service a key belongs to")
    status: str | None = Field(
        default=None, description="keys added or changed: the status taken (granted, ...)"
    )
    since: str | None = Field(default=None, description="keys added or changed: from when")
    warning: str | None = Field(default=None, description="set when it deserves a second look")


class TrustListDiffModel(BaseModel):
    jurisdiction: str
    from_sequence: int
    to_sequence: int
    from_digest: str
    to_digest: str
    changes: list[ChangeModel]
    counts: dict[str, int] = Field(description="number of changes per category")
    warnings: list[str]


class TrustListPreview(BaseModel):
    jurisdiction: str
    acceptable: bool = Field(description="true if an upload now would be accepted")
    unchanged: bool = Field(description="true if it is the current list (an upload is a no-op)")
    code: str | None = Field(default=None, description="the trust store's refusal code")
    detail: str | None = None
    sequence: int | None = Field(default=None, description="the uploaded list's sequence")
    current_sequence: int | None = None
    issued_at: str | None = None
    next_update: str | None = None
    digest: str | None = None
    diff: TrustListDiffModel | None = Field(
        default=None, description="changes from the current list, when both can be read"
    )


# -- diff -------------------------------------------------------------------------------------


def _category(change: Change) -> str:
    if change.kind is ChangeKind.KEY_STATUS and change.new:
        status = change.new.split(" ", 1)[0]
        if status in {s.value for s in KeyStatus}:
            return f"key_{status}"
    return change.kind.value


def _key_state(change: Change, new: TrustList) -> tuple[str | None, str | None]:
    """For a key added or changed: the status it takes and since when, from the new list."""
    if change.kind not in (ChangeKind.KEY_ADDED, ChangeKind.KEY_STATUS):
        return None, None
    entry = new.find_key(change.subject)
    if entry is None or not entry.key.history:
        return None, None
    if change.kind is ChangeKind.KEY_ADDED:
        last = entry.key.history[-1]
        return last.status.value, format_time(last.since)
    for step in entry.key.history:
        if change.new == f"{step.status.value} from {format_time(step.since)}":
            return step.status.value, format_time(step.since)
    return None, None


def diff_body(old: SignedTrustList, new: SignedTrustList) -> dict[str, Any]:
    diff: TrustListDiff = diff_trust_lists(old.trust_list, new.trust_list)
    changes: list[dict[str, Any]] = []
    for c in diff.changes:
        status, since = _key_state(c, new.trust_list)
        changes.append(
            {
                "kind": c.kind.value,
                "category": _category(c),
                "subject": c.subject,
                "field": c.field,
                "old": c.old,
                "new": c.new,
                "service": c.service,
                "status": status,
                "since": since,
                "warning": c.warning,
            }
        )
    counts: dict[str, int] = {}
    for item in changes:
        counts[item["category"]] = counts.get(item["category"], 0) + 1
    return {
        "jurisdiction": new.trust_list.jurisdiction,
        "from_sequence": old.trust_list.sequence,
        "to_sequence": new.trust_list.sequence,
        "from_digest": old.digest,
        "to_digest": new.digest,
        "changes": changes,
        "counts": counts,
        "warnings": list(diff.warnings),
    }


@router.get(
    "/v1/trust-lists/{jurisdiction}/diff",
    tags=["trust state"],
    summary="What changed between two accepted versions of the jurisdiction's trust list",
    description=(
        "Services and keys added, withdrawn, revoked or removed, operator changes and the "
        "list's own fields, in order, each with a stable `kind`, and the warnings an operator "
        "should read twice. `to` defaults to the current sequence, `from` to the version "
        "accepted before `to`. Both must be in the history (404 `not_found` otherwise)."
    ),
    response_model=TrustListDiffModel,
    responses=problem_responses(400, 404, 413, 422, 500),
    openapi_extra={"security": []},
)
async def trust_list_diff(
    jurisdiction: str,
    request: Request,
    from_: Annotated[
        int | None,
        Query(alias="from", ge=1, le=2**53, description="older sequence (default: before `to`)"),
    ] = None,
    to: Annotated[
        int | None, Query(ge=1, le=2**53, description="newer sequence (default: the current)")
    ] = None,
) -> dict[str, Any]:
    store = get_ctx(request).store
    if jurisdiction not in store.anchors:
        raise ProblemError(404, "not_found", f"jurisdiction {jurisdiction} is not configured")
    history = store.history(jurisdiction)
    if not history:
        raise ProblemError(404, "not_found", f"no trust list for jurisdiction {jurisdiction}")
    by_sequence = {s.trust_list.sequence: s for s in history}
    if to is None:
        to = history[-1].trust_list.sequence
    if to not in by_sequence:
        raise ProblemError(404, "not_found", f"sequence {to} is not in the history")
    if from_ is None:
        earlier = [s for s in sorted(by_sequence) if s < to]
        from_ = earlier[-1] if earlier else to
    if from_ not in by_sequence:
        raise ProblemError(404, "not_found", f"sequence {from_} is not in the history")
    return diff_body(by_sequence[from_], by_sequence[to])


# -- preview ----------------------------------------------------------------------------------

_ENVELOPE_TYPES = frozenset({"application/json", "application/jose+json"})


@router.post(
    "/v1/trust-lists/{jurisdiction}/preview",
    tags=["trust state"],
    summary="Dry run of a trust-list upload: would it be accepted, what would change (admin)",
    description=(
        "Runs the trust store's acceptance rules on the signed list at the current time, as "
        "`PUT /v1/trust-lists/{jurisdiction}` would, but adopts, stores and audits nothing. "
        "The answer is 200 whatever the store thinks of the list: `acceptable`, the refusal "
        "`code` and `detail` when it is not, and the difference from the current list when "
        "the upload can be read."
    ),
    response_model=TrustListPreview,
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422, 500),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The signed list exactly as it would be uploaded",
            "content": {
                t: {"schema": {"$ref": "#/components/schemas/SignedEnvelope"}}
                for t in sorted(_ENVELOPE_TYPES)
            },
        }
    },
)
async def preview_trust_list(jurisdiction: str, request: Request) -> dict[str, Any]:
    ctx = get_ctx(request)
    ctx.authorise(request, Permission.ADMIN)
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in _ENVELOPE_TYPES:
        raise ProblemError(
            415, "unsupported_media_type", "send the body as application/json (the signed list)"
        )
    data = await request.body()
    if not data:
        raise ProblemError(422, "malformed", "the request body is empty")
    if jurisdiction not in ctx.store.anchors:
        raise ProblemError(
            404, "unknown_jurisdiction", f"jurisdiction {jurisdiction} is not configured here"
        )
    log_fields(request).update(jurisdiction=jurisdiction, preview="trust_list")
    current = ctx.store.state.lists.get(jurisdiction)
    out: dict[str, Any] = {
        "jurisdiction": jurisdiction,
        "acceptable": False,
        "unchanged": False,
        "current_sequence": current.trust_list.sequence if current else None,
    }
    try:
        parsed: SignedTrustList | None = SignedTrustList.parse(data)
    except TrustStateError:
        parsed = None  # refused again, with its code, just below
    try:
        await run_in_threadpool(
            ctx.store.check_trust_list, data, now=ctx.clock(), jurisdiction=jurisdiction
        )
        out["acceptable"] = True
    except TrustStateError as exc:
        out.update(code=exc.code, detail=str(exc)[:500])
    if parsed is not None:
        tl = parsed.trust_list
        out.update(
            sequence=tl.sequence,
            issued_at=format_time(tl.issued_at),
            next_update=format_time(tl.next_update),
            digest=parsed.digest,
            unchanged=current is not None and current.digest == parsed.digest,
        )
        if current is not None:
            out["diff"] = diff_body(current, parsed)
    return out


__all__ = ["API_DOCS_URL", "INDEX_HTML", "STATIC_DIR", "api_docs_files", "router", "static_files"]
