"""RFC 9457 problem details for every error the service returns, each with a stable `code`.

Handlers here turn FastAPI's validation errors, Starlette's HTTP errors (404, 405, ...) and our
own `ProblemError` into `application/problem+json`. The catch-all for unexpected exceptions
lives in the outermost middleware (api/http/middleware.py) and uses `problem_response` too."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://huren.example/problems/"


class FieldError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    loc: list[str | int] = Field(description="Where the error is: body, query, path, header")
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details with huren's stable `code`."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": TYPE_BASE + "forbidden",
                    "title": "Forbidden",
                    "status": 403,
                    "detail": "role 'business' may not verify licences",
                    "code": "forbidden",
                    "request_id": "6f1c2a0e9d8b4c7a",
                }
            ]
        },
    )

    type: str = Field(description="A URI naming the kind of problem")
    title: str
    status: int
    detail: str | None = None
    code: str = Field(description="Stable machine-readable code; the contract for clients")
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = Field(
        default=None, description="Field errors (code invalid_request)"
    )


class ProblemError(Exception):
    """Raise anywhere in a handler to answer with a problem."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str | None = None,
        *,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail or code)
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def problem_body(
    status: int,
    code: str,
    detail: str | None = None,
    *,
    title: str | None = None,
    request_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    try:
        default_title = HTTPStatus(status).phrase
    except ValueError:
        default_title = "Error"
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": title or default_title,
        "status": status,
        "code": code,
    }
    if detail is not None:
        body["detail"] = detail
    if request_id is not None:
        body["request_id"] = request_id
    if extra:
        body.update({k: v for k, v in extra.items() if k not in body})
    return body


def problem_response(
    status: int,
    code: str,
    detail: str | None = None,
    *,
    title: str | None = None,
    request_id: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    body = problem_body(status, code, detail, title=title, request_id=request_id, extra=extra)
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers or {}),
    )


# Codes for Starlette's own HTTP errors.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


def _request_id(request: Request) -> str | None:
    rid = getattr(request.state, "request_id", None)
    return rid if isinstance(rid, str) else None


def _field_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for err in errors[:50]:
        loc = [p if isinstance(p, int) else str(p) for p in err.get("loc", ())]
        out.append({"loc": loc, "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))})
    return out


def invalid_request(errors: Sequence[Any], request_id: str | None = None) -> Response:
    """422 for a request that does not match its schema (never echoes the input back)."""
    return problem_response(
        422,
        "invalid_request",
        "the request does not match the schema",
        title="Invalid request",
        request_id=request_id,
        extra={"errors": _field_errors(errors)},
    )


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return invalid_request(exc.errors(), _request_id(request))


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 404 and detail == "Not Found":
        detail = "no such resource"
    if exc.status_code == 405 and detail == "Method Not Allowed":
        detail = "method not allowed on this resource"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem_response(
        exc.status_code,
        code,
        detail,
        request_id=_request_id(request),
        headers=headers,
    )


def _allowed_methods(request: Request) -> list[str]:
    """Every method of every route at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    scope = {**request.scope, "method": "\x00"}
    routes = getattr(request.app.state, "flat_routes", None) or request.app.router.routes
    for route in routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


def problem_for(exc: ProblemError, request_id: str | None) -> Response:
    """The answer to a ProblemError (the route's handler, and the licence fast lane)."""
    return problem_response(
        exc.status,
        exc.code,
        exc.detail,
        title=exc.title,
        request_id=request_id,
        headers=exc.headers,
        extra=exc.extra,
    )


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_for(exc, _request_id(request))


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(ProblemError, _on_problem)


def problem_description(status: int) -> str:
    return _DESCRIPTIONS.get(status, "Error (problem+json)")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """FastAPI `responses` entries for the given error statuses (schema Problem)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        out[status] = {"model": Problem, "description": problem_description(status)}
    return out


_DESCRIPTIONS = {
    400: "Bad request (problem+json)",
    401: "No or unknown API key (problem+json, code unauthorized)",
    403: "The key's role may not do this (problem+json, code forbidden)",
    404: "No such resource (problem+json, code not_found)",
    405: "Method not allowed (problem+json)",
    409: "Conflict, e.g. a rollback to an older sequence (problem+json, code rollback)",
    413: "Request body too large (problem+json, code payload_too_large)",
    415: "Unsupported content type or file format (problem+json, code unsupported_media_type "
    "or unsupported_format)",
    422: "Invalid request or refused document (problem+json)",
    429: "Rate limited; see Retry-After (problem+json, code rate_limited)",
    500: "Internal error, no details (problem+json, code internal_error)",
    503: (
        "Not ready, storage unavailable, or verification busy or past its deadline "
        "(problem+json; Retry-After on the last two)"
    ),
}

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "Problem",
    "ProblemError",
    "install_problem_handlers",
    "invalid_request",
    "problem_body",
    "problem_description",
    "problem_for",
    "problem_response",
    "problem_responses",
]
