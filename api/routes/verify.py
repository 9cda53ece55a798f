"""POST /v1/licences/verify, /v1/seals/verify, /v1/sealed-documents/verify and /v1/verify/batch.

Each single endpoint takes JSON (token / base64 document) or a multipart upload (`file` plus form
fields); the batch endpoint takes JSON only. Authorisation comes before the body is parsed."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.datastructures import UploadFile

from api.context import AppContext, get_ctx, log_fields
from api.http import uploads as national
from api.http.auth import Permission, Principal
from api.http.batchbody import PIECE_BYTES, read_items
from api.http.jsonbody import JoinedJSONResponse, RenderedJSONResponse, dump_json, read_json
from api.http.models import (
    CREDIT_CODE_PATTERN,
    JURISDICTION_PATTERN,
    MAX_TOKEN_CHARS,
    SERVICE_ITEM_PATTERN,
    TYPE_CODE_PATTERN,
    VALIDATION_TIME_OUT_OF_RANGE,
    BatchItem,
    BatchVerifyRequest,
    BatchVerifyResponse,
    LicenceItem,
    LicenceVerifyRequest,
    SealedDocumentItem,
    SealedDocumentVerifyRequest,
    SealItem,
    SealVerifyRequest,
    VerifyResponse,
    check_validation_time,
    decode_base64,
    validation_time,
)
from api.http.problems import ProblemError, problem_responses
from api.verification import BATCH_SLICE, Outcome, VerifyInput, make_input
from api.workers import VerificationPool, let_others_run
from verifier import DocumentKind, scan

router = APIRouter(prefix="/v1", tags=["verification"])

PERMISSION: dict[DocumentKind, Permission] = {
    DocumentKind.LICENCE: Permission.VERIFY_LICENCE,
    DocumentKind.SEAL: Permission.VERIFY_SEAL,
    DocumentKind.SEALED_DOCUMENT: Permission.VERIFY_SEALED_DOCUMENT,
}
JSON_MODEL: dict[
    DocumentKind, type[LicenceVerifyRequest | SealVerifyRequest | SealedDocumentVerifyRequest]
] = {
    DocumentKind.LICENCE: LicenceVerifyRequest,
    DocumentKind.SEAL: SealVerifyRequest,
    DocumentKind.SEALED_DOCUMENT: SealedDocumentVerifyRequest,
}
MAX_FORM_PART_BYTES = 1024 * 1024


class FormFields(BaseModel):
    """The text fields of a multipart upload (form values are strings: lax parsing)."""

    model_config = ConfigDict(extra="forbid")

    relying_jurisdiction: str = Field(pattern=JURISDICTION_PATTERN)
    validation_time: str | None = None
    expect_holder_credit_code: str | None = Field(default=None, pattern=CREDIT_CODE_PATTERN)
    expect_type_code: str | None = Field(default=None, pattern=TYPE_CODE_PATTERN)
    expect_service_item: str | None = Field(default=None, pattern=SERVICE_ITEM_PATTERN)
    receipt: Literal["true", "false"] = "false"

    @field_validator("validation_time")
    @classmethod
    def _check_time(cls, value: str | None) -> str | None:
        return check_validation_time(value)


def media_type(content_type: str) -> str:
    """The media type of a Content-Type value, without parameters, in lower case."""
    return content_type.split(";", 1)[0].strip().lower()


def _media_type(request: Request) -> str:
    return media_type(request.headers.get("content-type", ""))


def is_json(media: str) -> bool:
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def unsupported_media(allowed: str) -> ProblemError:
    return ProblemError(415, "unsupported_media_type", f"send the body as {allowed}")


def _validation_error(exc: ValidationError, prefix: tuple[str | int, ...] = ("body",)) -> Exception:
    errors = exc.errors(include_url=False, include_input=False)
    if any(e.get("type") == "json_invalid" for e in errors):
        return ProblemError(400, "malformed_json", "the request body is not valid JSON")
    out_of_range = [e for e in errors if e.get("type") == VALIDATION_TIME_OUT_OF_RANGE]
    if out_of_range:
        return ProblemError(
            422,
            VALIDATION_TIME_OUT_OF_RANGE,
            f"validation_time {out_of_range[0]['msg']}",
            extra={
                "errors": [
                    {"loc": [*prefix, *e.get("loc", ())], "msg": e["msg"], "type": e["type"]}
                    for e in out_of_range[:50]
                ]
            },
        )
    return RequestValidationError([{**e, "loc": (*prefix, *e.get("loc", ()))} for e in errors])


def _field_error(loc: tuple[str | int, ...], msg: str, kind: str = "value_error") -> Exception:
    return RequestValidationError([{"loc": loc, "msg": msg, "type": kind}])


def _decode(text: str | None, loc: tuple[str | int, ...]) -> bytes | None:
    if text is None:
        return None
    try:
        return decode_base64(text)
    except ValueError as exc:
        raise _field_error(loc, str(exc)) from exc


def input_from_model(
    kind: DocumentKind, model: Any, loc: tuple[str | int, ...] = ("body",)
) -> VerifyInput:
    expect = model.expect
    at = validation_time(model.validation_time) if model.validation_time else None
    asked = (
        (expect.holder_credit_code, expect.type_code, expect.service_item)
        if expect
        else (None, None, None)
    )
    image = _decode(model.image, (*loc, "image")) if kind != DocumentKind.LICENCE else None
    document = seal = None
    if kind == DocumentKind.SEALED_DOCUMENT:
        document = _decode(model.document, (*loc, "document"))
        token = model.signature.encode("utf-8")
        seal = model.seal.encode("utf-8") if model.seal is not None else None
    else:
        token = model.token.encode("utf-8")
    # VerifyInput's fields in order: kind, token, relying, at, holder_credit_code, type_code,
    # service_item, document, image, seal, national.
    relying = model.relying_jurisdiction
    return make_input(kind, token, relying, at, *asked, document, image, seal, None)


_FORM_FILES: dict[DocumentKind, frozenset[str]] = {
    DocumentKind.LICENCE: frozenset({"file", "image"}),  # image: a photo of its QR code
    DocumentKind.SEAL: frozenset({"file", "image", "data"}),
    DocumentKind.SEALED_DOCUMENT: frozenset({"file", "image", "signature", "seal", "data"}),
}
# Token parts that may come as a file or a text field, and must not be empty.
_TEXT_OR_FILE = frozenset({"signature", "seal"})


async def _input_from_form(kind: DocumentKind, request: Request) -> tuple[VerifyInput, bool]:
    files: dict[str, bytes] = {}
    content_types: dict[str, str | None] = {}
    texts: dict[str, str] = {}
    allowed_files = _FORM_FILES[kind]
    async with request.form(max_files=5, max_fields=16, max_part_size=MAX_FORM_PART_BYTES) as form:
        for name in set(form.keys()):
            values = form.getlist(name)
            if len(values) > 1:
                raise _field_error(("body", name), "the field is given more than once")
            value = values[0]
            if isinstance(value, UploadFile):
                if name not in allowed_files:
                    raise _field_error(("body", name), "unexpected file field", "extra_forbidden")
                files[name] = await value.read()
                content_types[name] = value.content_type
            elif name in allowed_files:
                # A binary part sent as a plain form field: its UTF-8 bytes.
                if not value and name in _TEXT_OR_FILE:
                    raise _field_error(("body", name), "must not be empty", "string_too_short")
                files[name] = value.encode("utf-8", "surrogateescape")
            else:
                texts[name] = value
    if kind == DocumentKind.LICENCE and "image" in files:
        files["file"] = await _licence_from_picture(files, get_ctx(request).service.pool)
    if "file" not in files:
        raise _field_error(("body", "file"), "the document file is required", "missing")
    try:
        fields = FormFields.model_validate(texts)
    except ValidationError as exc:
        raise _validation_error(exc) from exc
    common: dict[str, Any] = {
        "relying": fields.relying_jurisdiction,
        "at": validation_time(fields.validation_time) if fields.validation_time else None,
        "holder_credit_code": fields.expect_holder_credit_code,
        "type_code": fields.expect_type_code,
        "service_item": fields.expect_service_item,
        "image": files.get("image"),
    }
    # A signed OFD document or a GB/T 38540 seal (by content type or sniffed): api/http/uploads.py.
    national_input = national.input_from_upload(kind, files, common, content_types)
    if national_input is not None:
        return national_input, fields.receipt == "true"
    if kind == DocumentKind.SEALED_DOCUMENT and "signature" not in files:
        raise _field_error(("body", "signature"), "the signature is required", "missing")
    if kind == DocumentKind.SEALED_DOCUMENT:
        inp = VerifyInput(
            kind, files["signature"], document=files["file"], seal=files.get("seal"), **common
        )
    else:
        inp = VerifyInput(kind, files["file"], **common)
    return inp, fields.receipt == "true"


async def _licence_from_picture(files: dict[str, bytes], pool: VerificationPool | None) -> bytes:
    """The HR1 text of the one QR code in a licence's `image` (a photo or scan), read in the
    verification pool (bounded: busy is a 503, and so is passing the deadline); no code or
    several codes is a 422 naming which."""
    picture = files.pop("image")
    if "file" in files:
        raise _field_error(("body", "image"), "give the licence as `file` or as `image`, not both")
    try:
        if pool is None:  # a service built without one
            text = await asyncio.to_thread(scan.read_qr, picture)
        else:
            text = await pool.run(pool.deadline(), scan.read_qr, picture)
    except scan.ScanError as exc:
        raise ProblemError(422, exc.code, str(exc)) from exc
    return text.encode("utf-8", "surrogatepass")


async def read_input(kind: DocumentKind, request: Request) -> tuple[VerifyInput, bool]:
    media = _media_type(request)
    if is_json(media):
        value = read_json(await request.body(), get_ctx(request).settings.max_body_bytes)
        try:
            model = JSON_MODEL[kind].model_validate(value)
        except ValidationError as exc:
            raise _validation_error(exc) from exc
        return input_from_model(kind, model), model.receipt
    if media == "multipart/form-data":
        return await _input_from_form(kind, request)
    raise unsupported_media("application/json or multipart/form-data")


REPORT_LEVELS: tuple[str, ...] = ("simple", "detailed")


def report_level(request: Request) -> bool:
    """True for `?report=detailed` (every check), False for the default simple report (the
    checks that did not pass); any other value, or the parameter twice, is refused."""
    values = request.query_params.getlist("report")
    if not values:
        return False
    if len(values) > 1:
        raise _field_error(("query", "report"), "the parameter is given more than once")
    if values[0] not in REPORT_LEVELS:
        raise _field_error(("query", "report"), "must be 'simple' or 'detailed'", "enum")
    return values[0] == "detailed"


def render(
    ctx: AppContext, inp: VerifyInput, outcome: Outcome, *, receipt: bool, detailed: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "verdict": outcome.verdict if detailed else outcome.entry.verdict(detailed=False),
        "cached": outcome.cached,
        "report": REPORT_LEVELS[detailed],
    }
    if receipt:
        # The receipt is the audit record: it signs the detailed report whatever was asked.
        out["receipt"] = ctx.receipts.sign(
            verdict=outcome.verdict,
            request_sha256=inp.request_sha256(outcome.input_sha256),
            kind=inp.kind,
            cached=outcome.cached,
            now=ctx.clock(),
        )
    return out


_TAIL: dict[tuple[bool, bool], bytes] = {
    (cached, detailed): b"," + dump_json({"cached": cached, "report": REPORT_LEVELS[detailed]})[1:]
    for cached in (False, True)
    for detailed in (False, True)
}


def render_json(
    ctx: AppContext, inp: VerifyInput, outcome: Outcome, *, receipt: bool, detailed: bool
) -> bytes:
    """dump_json(render(...)): without a receipt, the cached report's bytes embedded as they are
    (they are what dump_json writes for the verdict), so a hit decodes and encodes nothing."""
    if receipt:
        return dump_json(render(ctx, inp, outcome, receipt=True, detailed=detailed))
    tail = _TAIL[outcome.cached, detailed]
    return b'{"verdict":' + outcome.entry.report(detailed=detailed) + tail


def outcome_fields(kind: DocumentKind, outcome: Outcome) -> dict[str, Any]:
    """What the access log records of a verification (digests and verdict fields only)."""
    entry = outcome.entry
    return {
        "kind": kind,
        "document_sha256": entry.document_sha256,
        "input_sha256": outcome.input_sha256,
        "indication": entry.indication,
        "sub_indication": entry.sub_indication,
        "cached": outcome.cached,
    }


async def _verify_one(kind: DocumentKind, request: Request, *, anonymous: bool) -> JSONResponse:
    ctx = get_ctx(request)
    ctx.authorise(request, PERMISSION[kind], anonymous_allowed=anonymous)
    detailed = report_level(request)
    inp, receipt = await read_input(kind, request)
    await ctx.ensure_current()
    outcome = await ctx.service.verify(inp, detailed=detailed or receipt)
    log_fields(request).update(outcome_fields(kind, outcome))
    return RenderedJSONResponse(render_json(ctx, inp, outcome, receipt=receipt, detailed=detailed))


# -- OpenAPI ---------------------------------------------------------------------------------


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_FORM_COMMON: dict[str, Any] = {
    "relying_jurisdiction": {"type": "string", "pattern": JURISDICTION_PATTERN},
    "validation_time": {
        "type": "string",
        "format": "date-time",
        "description": LicenceVerifyRequest.model_fields["validation_time"].description,
    },
    "expect_holder_credit_code": {"type": "string", "pattern": CREDIT_CODE_PATTERN},
    "expect_type_code": {"type": "string", "pattern": TYPE_CODE_PATTERN},
    "expect_service_item": {
        "type": "string",
        "pattern": SERVICE_ITEM_PATTERN,
        "description": "The service item being handled (its code in the recognition catalogue)",
    },
    "receipt": {"type": "string", "enum": ["true", "false"], "default": "false"},
}


# Any bytes: a file part (or a plain field, taken as its UTF-8 bytes).
_BINARY: dict[str, Any] = {"type": "string", "format": "binary"}


def _form_schema(kind: DocumentKind) -> dict[str, Any]:
    props: dict[str, Any] = {
        "file": {
            **_BINARY,
            "description": {
                DocumentKind.LICENCE: "The licence as a file: a compact JWS, or the HR1: text "
                "of its QR code",
                DocumentKind.SEAL: "The seal: a compact JWS, a GB/T 38540 seal (.esl) or an "
                "SES_Signature value (.dat)",
                DocumentKind.SEALED_DOCUMENT: "The sealed document's bytes, a signed OFD document "
                "(.ofd) or an SES_Signature value (.dat)",
            }[kind],
        }
    }
    licence = kind == DocumentKind.LICENCE
    required = ["relying_jurisdiction"] if licence else ["file", "relying_jurisdiction"]
    if licence:
        props["image"] = {
            **_BINARY,
            "description": "Instead of `file`: a photo or scan (PNG, JPEG) of the licence's QR "
            "code, read on the server; 422 `qr_not_found` or `qr_several` when it holds no QR "
            "code or several, `image_unreadable` when it is not a picture",
        }
    else:
        props["image"] = {**_BINARY, "description": "The seal picture"}
        props["data"] = {
            **_BINARY,
            "description": "The data an SES_Signature value (.dat) as `file` signs (optional)",
        }
    if kind == DocumentKind.SEALED_DOCUMENT:
        props["signature"] = {
            "type": "string",
            "minLength": 1,
            "description": "The seal signature (compact JWS) over the document",
        }
        props["seal"] = {
            "type": "string",
            "minLength": 1,
            "description": "The seal (compact JWS) when the signature only references it",
        }
        required.append("signature")
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {**props, **_FORM_COMMON},
        "required": required,
        "additionalProperties": False,
    }
    if kind == DocumentKind.LICENCE:  # the token as text, or a picture of its QR code
        schema["oneOf"] = [{"required": ["file"]}, {"required": ["image"]}]
    return schema


_REPORT_PARAMETER: dict[str, Any] = {
    "parameters": [
        {
            "name": "report",
            "in": "query",
            "required": False,
            "description": (
                "`simple` (default): the verdict with only the checks that did not pass (the "
                "deciding one among them); `detailed`: every check, the passing ones too. A "
                "receipt always signs the detailed verdict."
            ),
            "schema": {"type": "string", "enum": list(REPORT_LEVELS), "default": "simple"},
        }
    ]
}


def _request_body(kind: DocumentKind) -> dict[str, Any]:
    return {
        **_REPORT_PARAMETER,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _ref(JSON_MODEL[kind].__name__)},
                "multipart/form-data": {"schema": _form_schema(kind)},
            },
        },
    }


_VERIFY_ERRORS = problem_responses(400, 401, 403, 413, 415, 422, 500, 503)
_VERIFY_ERRORS_ANON = problem_responses(400, 401, 403, 413, 415, 422, 429, 500, 503)
_OK: dict[int | str, dict[str, Any]] = {
    200: {"model": VerifyResponse, "description": "The verdict"}
}


@router.post(
    "/licences/verify",
    summary="Verify an e-licence",
    description=(
        "Roles: counter, admin. JSON body (`token`: a compact JWS or the `HR1:` text of the "
        "licence's QR code, told apart by its prefix) or multipart upload (`file` = the token, "
        "or `image` = a photo or scan of the QR code)."
    ),
    responses={**_OK, **_VERIFY_ERRORS},
    openapi_extra={**_request_body(DocumentKind.LICENCE), "x-huren-permission": "verify_licence"},
    response_class=JSONResponse,
)
async def verify_licence(request: Request) -> JSONResponse:
    return await _verify_one(DocumentKind.LICENCE, request, anonymous=False)


@router.post(
    "/seals/verify",
    summary="Verify an enterprise e-seal",
    description=(
        "Roles: business, admin; anonymous callers too when the service allows self-checks "
        "(rate limited per address). Optional `image` (base64 in JSON, a file in multipart)."
    ),
    responses={**_OK, **_VERIFY_ERRORS_ANON},
    openapi_extra={**_request_body(DocumentKind.SEAL), "x-huren-permission": "verify_seal"},
    response_class=JSONResponse,
)
async def verify_seal(request: Request) -> JSONResponse:
    return await _verify_one(DocumentKind.SEAL, request, anonymous=True)


@router.post(
    "/sealed-documents/verify",
    summary="Verify a document stamped with an e-seal",
    description=(
        "Roles: counter, business, admin; anonymous callers too when self-checks are allowed. "
        "JSON: `document` (base64) and `signature`; multipart: `file` and `signature`."
    ),
    responses={**_OK, **_VERIFY_ERRORS_ANON},
    openapi_extra={
        **_request_body(DocumentKind.SEALED_DOCUMENT),
        "x-huren-permission": "verify_sealed_document",
    },
    response_class=JSONResponse,
)
async def verify_sealed_document(request: Request) -> JSONResponse:
    return await _verify_one(DocumentKind.SEALED_DOCUMENT, request, anonymous=True)


_ITEM_KIND: dict[type, DocumentKind] = {
    LicenceItem: DocumentKind.LICENCE,
    SealItem: DocumentKind.SEAL,
    SealedDocumentItem: DocumentKind.SEALED_DOCUMENT,
}


@router.post(
    "/verify/batch",
    summary="Verify many documents in one request",
    description=(
        "Up to `max_batch_items` (default 1000) items, each `{kind, ...}` with the fields of its "
        "single endpoint; the verdicts come back in the same order. An API key is required and "
        "its role must allow every item's kind."
    ),
    responses={
        200: {"model": BatchVerifyResponse, "description": "The verdicts, in order"},
        **problem_responses(400, 401, 403, 413, 415, 422, 500, 503),
    },
    openapi_extra={
        **_REPORT_PARAMETER,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _ref("BatchVerifyRequest")}},
        },
    },
    response_class=JSONResponse,
)
async def verify_batch(request: Request) -> JSONResponse:
    ctx = get_ctx(request)
    # Any verification permission authenticates; the kinds are checked per item below.
    principal: Principal = ctx.authorise(request, Permission.VERIFY_SEALED_DOCUMENT)
    if not is_json(_media_type(request)):
        raise unsupported_media("application/json")
    detailed = report_level(request)
    body = await request.body()
    limit = ctx.settings.max_batch_items
    # One deadline for the whole batch; reading it and every item run in the worker pool.
    pool = ctx.service.pool
    until = pool.deadline() if pool is not None else None
    read = (body, ctx.settings.max_body_bytes, principal, limit)
    if pool is None or until is None:
        inputs, receipt = _batch_inputs(*read)
    else:
        inputs, receipt = await pool.run(until, _batch_inputs, *read)
    # Each distinct (jurisdiction, item) once, in the order of first use: the first refused is
    # the first item's that would be.
    for relying, item in dict.fromkeys((inp.relying, inp.service_item) for inp in inputs):
        ctx.service.check_relying(relying)
        ctx.service.check_item(relying, item)
    await ctx.ensure_current()
    outcomes = await ctx.service.verify_batch(inputs, until)
    results: list[bytes] = []
    counts: dict[str, int] = {}
    while inputs:  # a slice per turn of the event loop, each freed once rendered
        if results:
            await asyncio.sleep(0)
        for inp, outcome in zip(inputs[:BATCH_SLICE], outcomes[:BATCH_SLICE], strict=True):
            indication = str(outcome.entry.indication)
            counts[indication] = counts.get(indication, 0) + 1
            results.append(render_json(ctx, inp, outcome, receipt=receipt, detailed=detailed))
        del inputs[:BATCH_SLICE], outcomes[:BATCH_SLICE]
    log_fields(request).update(kind="batch", items=len(results), indications=counts)
    # dump_json({"results": [...]}): each item's bytes are already rendered; they are sent a
    # slice at a time, never joined into one copy of the whole answer (~13 MB for 10,000 items).
    return JoinedJSONResponse(b'{"results":[', results, b",", b"]}", BATCH_SLICE)


def _batch_inputs(
    body: bytes, max_bytes: int, principal: Principal, limit: int, piece_bytes: int = PIECE_BYTES
) -> tuple[list[VerifyInput], bool]:
    """The items of a batch body and its receipt flag, checked (the route runs this in the
    worker pool). The body is read and its items validated in pieces (api/http/batchbody.py),
    so that no single call holds the GIL, and with it the event loop, for long; any body or item
    the pieces do not take as they are is read whole by `_batch_inputs_whole`, which decides
    every refusal (the same problem answers as before). A piece of plain licence items (the
    usual batch) is taken without their models (`_plain_licences`)."""
    read = read_items(body, max_bytes, piece_bytes)
    if read is None:
        return _batch_inputs_whole(body, max_bytes, principal, limit)
    pieces, receipt = read
    if sum(map(len, pieces)) > limit:
        raise _too_large(limit)
    items: list[BatchItem | VerifyInput] = []
    for piece in pieces:
        plain = _plain_licences(piece)
        if plain is not None:
            items += plain
        else:
            try:
                batch = BatchVerifyRequest.model_validate({"items": piece, "receipt": receipt})
            except ValidationError:
                return _batch_inputs_whole(body, max_bytes, principal, limit)  # its exact errors
            items += batch.items
        let_others_run()
    del pieces
    return _checked_inputs(items, principal), receipt


# A plain licence item: these members and no other (LicenceItem's required fields).
_PLAIN_LICENCE = frozenset({"kind", "token", "relying_jurisdiction"})
_JURISDICTION = re.compile(JURISDICTION_PATTERN.removesuffix("$") + r"\Z")


def _plain_licences(piece: list[Any]) -> list[VerifyInput] | None:
    """The inputs of a piece whose items are all plain licence items, each checked as
    LicenceItem checks it (strict strings, a token of 1 to MAX_TOKEN_CHARS characters, the
    jurisdiction's pattern) and made as `input_from_model` makes it; None for any other piece,
    which its model reads."""
    inputs: list[VerifyInput] = []
    licence = DocumentKind.LICENCE
    for item in piece:
        if type(item) is not dict or item.keys() != _PLAIN_LICENCE or item["kind"] != "licence":
            return None
        token, relying = item["token"], item["relying_jurisdiction"]
        if (
            type(token) is not str
            or not 0 < len(token) <= MAX_TOKEN_CHARS
            or type(relying) is not str
            or _JURISDICTION.match(relying) is None
        ):
            return None
        inputs.append(
            make_input(
                licence, token.encode("utf-8"), relying, None, None, None, None, None, None, None,
                None,
            )
        )  # fmt: skip
    return inputs


def _batch_inputs_whole(
    body: bytes, max_bytes: int, principal: Principal, limit: int
) -> tuple[list[VerifyInput], bool]:
    """`_batch_inputs` reading the body at once: the reference for every answer."""
    value = read_json(body, max_bytes)
    items = value.get("items") if isinstance(value, dict) else None
    if isinstance(items, list) and len(items) > limit:  # before a model is built for each
        raise _too_large(limit)
    try:
        batch = BatchVerifyRequest.model_validate(value)
    except ValidationError as exc:
        raise _validation_error(exc) from exc
    return _checked_inputs(batch.items, principal), batch.receipt


def _too_large(limit: int) -> ProblemError:
    return ProblemError(
        422, "batch_too_large", f"at most {limit} items per batch", extra={"max_items": limit}
    )


def _checked_inputs(
    items: Sequence[BatchItem | VerifyInput], principal: Principal
) -> list[VerifyInput]:
    """Every item's kind allowed to the caller (the first that is not: 403), then the inputs
    (an item already read as an input is kept as it is)."""
    kinds: list[DocumentKind] = [
        item.kind if type(item) is VerifyInput else _ITEM_KIND[type(item)] for item in items
    ]
    allowed = {kind: principal.may(PERMISSION[kind]) for kind in set(kinds)}
    if not all(allowed.values()):
        i, kind = next((i, kind) for i, kind in enumerate(kinds) if not allowed[kind])
        raise _forbidden(i, kind, principal)
    inputs: list[VerifyInput] = []
    for start in range(0, len(items), BATCH_SLICE):
        if start:
            let_others_run()
        end = start + BATCH_SLICE
        inputs += [
            item
            if type(item) is VerifyInput
            else input_from_model(kind, item, ("body", "items", i))
            for i, (kind, item) in enumerate(
                zip(kinds[start:end], items[start:end], strict=True), start
            )
        ]
    return inputs


def _forbidden(i: int, kind: DocumentKind, principal: Principal) -> ProblemError:
    return ProblemError(
        403,
        "forbidden",
        f"item {i}: role {principal.role} may not verify {kind.replace('_', ' ')}s",
    )


REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    LicenceVerifyRequest,
    SealVerifyRequest,
    SealedDocumentVerifyRequest,
    BatchVerifyRequest,
)
ANONYMOUS_PATHS: frozenset[str] = frozenset({"/v1/seals/verify", "/v1/sealed-documents/verify"})
BATCH_PATH = "/v1/verify/batch"

__all__ = ["ANONYMOUS_PATHS", "BATCH_PATH", "REQUEST_MODELS", "router"]
