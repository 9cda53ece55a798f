"""Request and response bodies of the HTTP API (strict: no coercion, no unknown members)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from trust_lists.timeutil import (
    EARLIEST_VALIDATION_TIME,
    LATEST_VALIDATION_TIME,
    TimeOutOfRange,
    parse_rfc3339,
    validation_time,
)

JURISDICTION_PATTERN = r"^[1-9][0-9]{5}$"
CREDIT_CODE_PATTERN = r"^[0-9A-HJ-NPQRTUWXY]{18}$"
TYPE_CODE_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
# A service item's code in the recognition catalogue (trust_lists/items.py ITEM_CODE).
SERVICE_ITEM_PATTERN = r"^[0-9A-Z][0-9A-Z._-]{0,63}$"
# Standard base64 with padding (RFC 4648 section 4), exactly.
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
MAX_TOKEN_CHARS = 1024 * 1024
MAX_BASE64_CHARS = 64 * 1024 * 1024

EXAMPLE_JWS = (  # an illustration of the shape only
    "eyJhbGciOiJFUzI1NiIsImtpZCI6Ii4uLiIsInR5cCI6Imh1cmVuLWxpY2VuY2Urand0In0.eyJ9.c2ln"
)


VALIDATION_TIME_OUT_OF_RANGE = "validation_time_out_of_range"


def check_validation_time(value: str | None) -> str | None:
    """The models' validator: a range error gets its own error type, which the routes answer
    with the problem code validation_time_out_of_range."""
    if value is not None:
        try:
            validation_time(value)
        except TimeOutOfRange as exc:
            raise PydanticCustomError(VALIDATION_TIME_OUT_OF_RANGE, str(exc)) from exc
    return value


def decode_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("must be standard base64 with padding") from exc


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class Expect(_Strict):
    """What the relying party expects the document to be; a mismatch fails the verdict."""

    holder_credit_code: Annotated[
        str | None,
        Field(
            default=None,
            pattern=CREDIT_CODE_PATTERN,
            description="Unified social credit code the holder must have",
        ),
    ] = None
    type_code: Annotated[
        str | None,
        Field(default=None, pattern=TYPE_CODE_PATTERN, description="Expected document type code"),
    ] = None
    service_item: Annotated[
        str | None,
        Field(
            default=None,
            pattern=SERVICE_ITEM_PATTERN,
            description="The service item (政务服务事项) being handled, by its code in the "
            "recognition catalogue (GET /v1/catalogue/items): the document is judged for that "
            "item (item.accepted / item.refused). An item the catalogue does not list for the "
            "relying jurisdiction is refused (422 unknown_service_item)",
            examples=["442000-SCJG-0008"],
        ),
    ] = None


class _Common(_Strict):
    relying_jurisdiction: str = Field(
        pattern=JURISDICTION_PATTERN,
        description="Six-digit code of the jurisdiction relying on the document (the caller's)",
        examples=["442000"],
    )
    validation_time: str | None = Field(
        default=None,
        json_schema_extra={"format": "date-time"},
        description=(
            "Judge the document as of this time (RFC 3339); default: now. Accepted from "
            "1970-01-01T00:00:00Z through 9999-12-31T23:59:59.999999Z (in UTC); outside: 422 "
            "validation_time_out_of_range"
        ),
    )
    expect: Expect | None = None

    @field_validator("validation_time")
    @classmethod
    def _check_time(cls, value: str | None) -> str | None:
        return check_validation_time(value)


class _Token(_Strict):
    token: str = Field(
        min_length=1,
        max_length=MAX_TOKEN_CHARS,
        description="The signed document as a compact JWS (a licence also as the `HR1:` text of "
        "its QR code, docs/formats.md)",
        examples=[EXAMPLE_JWS],
    )


def _base64_field(description: str, *, required: bool) -> Any:
    return Field(
        default=... if required else None,
        max_length=MAX_BASE64_CHARS,
        pattern=BASE64_PATTERN,
        description=description,
        json_schema_extra={"contentEncoding": "base64"},
    )


class _Image(_Strict):
    image: str | None = _base64_field(
        "The seal picture (base64); checked against the seal's image digest", required=False
    )


class _SealedDocument(_Strict):
    document: str = _base64_field("The document's exact bytes (base64)", required=True)
    signature: str = Field(
        min_length=1,
        max_length=MAX_TOKEN_CHARS,
        description="The seal signature over the document (compact JWS)",
    )
    seal: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_TOKEN_CHARS,
        description="The seal (compact JWS), when the signature only references it",
    )


class _Receipt(_Strict):
    receipt: bool = Field(default=False, description="Also return a signed receipt")


class LicenceVerifyRequest(_Receipt, _Token, _Common):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "token": EXAMPLE_JWS,
                    "relying_jurisdiction": "442000",
                    "expect": {"type_code": "food-business"},
                    "receipt": True,
                }
            ]
        }
    )


class SealVerifyRequest(_Receipt, _Image, _Token, _Common):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"token": EXAMPLE_JWS, "relying_jurisdiction": "440300"}]}
    )


class SealedDocumentVerifyRequest(_Receipt, _Image, _SealedDocument, _Common):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "document": "SGVsbG8sIOa3seWcsyE=",
                    "signature": EXAMPLE_JWS,
                    "relying_jurisdiction": "440300",
                }
            ]
        }
    )


class LicenceItem(_Token, _Common):
    kind: Literal["licence"]


class SealItem(_Image, _Token, _Common):
    kind: Literal["seal"]


class SealedDocumentItem(_Image, _SealedDocument, _Common):
    kind: Literal["sealed_document"]


BatchItem = Annotated[LicenceItem | SealItem | SealedDocumentItem, Field(discriminator="kind")]


class BatchVerifyRequest(_Strict):
    items: list[BatchItem] = Field(min_length=1, description="Documents to verify, in order")
    receipt: bool = Field(default=False, description="A signed receipt for each verdict")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "kind": "licence",
                            "token": EXAMPLE_JWS,
                            "relying_jurisdiction": "442000",
                        },
                        {
                            "kind": "seal",
                            "token": EXAMPLE_JWS,
                            "relying_jurisdiction": "440300",
                        },
                    ]
                }
            ]
        }
    )


# -- responses ------------------------------------------------------------------------------


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class CheckModel(_Open):
    code: str
    result: Literal["PASSED", "FAILED", "INDETERMINATE"]
    message_zh: str
    message_en: str


class TrustContextModel(_Open):
    relying_jurisdiction: str
    issuing_jurisdiction: str | None
    list_sequence: int | None
    list_digest: str | None
    catalogue_sequence: int | None
    trust_state_version: str


class VerdictModel(_Open):
    """Verdict.to_dict() (verifier/verdict.py)."""

    indication: Literal["PASSED", "FAILED", "INDETERMINATE"]
    sub_indication: str | None
    checks: list[CheckModel] = Field(
        description="The checks in run order: in the simple report (the default) only those "
        "that did not pass, the deciding one among them (first FAILED, else first "
        "INDETERMINATE; none when PASSED); in the detailed report (`?report=detailed`) all"
    )
    summary: dict[str, Any] | None
    trust: TrustContextModel
    validation_time: str
    valid_until: str | None
    document_sha256: str


class VerifyResponse(BaseModel):
    verdict: VerdictModel
    cached: bool = Field(description="True if the verdict came from the verdict cache")
    report: Literal["simple", "detailed"] = Field(
        description="The report level of `verdict` (query parameter `report`): `simple` lists "
        "only the checks that did not pass, `detailed` every check"
    )
    receipt: str | None = Field(
        default=None,
        description="Compact JWS (typ huren-receipt+jwt) over the detailed verdict, when asked "
        "for (whatever the report level of the answer)",
    )


class BatchVerifyResponse(BaseModel):
    results: list[VerifyResponse]


class TrustListSummary(BaseModel):
    jurisdiction: str
    name_zh: str | None
    name_en: str | None
    sequence: int | None
    issued_at: str | None
    next_update: str | None
    stale_from: str | None
    stale: bool
    digest: str | None


class TrustListIndex(BaseModel):
    trust_state_version: str
    jurisdictions: list[TrustListSummary]


class TrustListVersion(BaseModel):
    sequence: int
    issued_at: str
    next_update: str
    digest: str


class TrustListHistory(BaseModel):
    jurisdiction: str
    versions: list[TrustListVersion]


class AcceptedTrustList(BaseModel):
    jurisdiction: str
    sequence: int
    previous_sequence: int | None
    digest: str
    issued_at: str
    next_update: str
    changed: bool
    trust_state_version: str


class StatusListSummary(BaseModel):
    uri: str
    jurisdiction: str
    service_id: str
    issued_at: str
    expires_at: str
    bits: int
    size: int


class StatusListIndex(BaseModel):
    trust_state_version: str
    status_lists: list[StatusListSummary]


class AcceptedStatusList(StatusListSummary):
    changed: bool
    trust_state_version: str


class AcceptedCatalogue(BaseModel):
    sequence: int
    previous_sequence: int | None
    digest: str
    issued_at: str
    changed: bool
    trust_state_version: str


class ItemRuleView(BaseModel):
    issuing: list[str] = Field(description="Issuing jurisdictions whose documents count")
    licence_types: list[str]
    seal_types: list[str]
    holder: Literal["enterprise"] | None = Field(
        default=None, description="`enterprise`: the holder must have a credit code"
    )
    data_includes: dict[str, Any] | None = Field(
        default=None,
        description="`{field, any_of}`: the licence's data field, cut at ；;，,、, includes one "
        "of these values",
    )


class ServiceItemView(BaseModel):
    code: str
    name_zh: str
    name_en: str
    department_zh: str | None
    department_en: str | None
    city_wide: bool = Field(
        description="True: the item has no rules of its own; the city-wide recognitions apply"
    )
    accepts: list[ItemRuleView] = Field(description="The item's rules (empty when city_wide)")


class ServiceItemList(BaseModel):
    relying_jurisdiction: str
    query: str
    catalogue_sequence: int
    trust_state_version: str
    items: list[ServiceItemView] = Field(
        description="Exact code first, then codes starting with the query, then by code"
    )


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    checks: dict[str, str]
    warnings: list[str] = []  # lists lapsing within expiry_warning_seconds (never failing)


class Jwk(_Open):
    kty: str
    kid: str
    alg: str
    use: str


class Jwks(BaseModel):
    keys: list[Jwk]


__all__ = [
    "EARLIEST_VALIDATION_TIME",
    "LATEST_VALIDATION_TIME",
    "VALIDATION_TIME_OUT_OF_RANGE",
    "AcceptedCatalogue",
    "AcceptedStatusList",
    "AcceptedTrustList",
    "BatchItem",
    "BatchVerifyRequest",
    "BatchVerifyResponse",
    "Expect",
    "Health",
    "Jwks",
    "LicenceItem",
    "LicenceVerifyRequest",
    "Readiness",
    "SealItem",
    "SealVerifyRequest",
    "SealedDocumentItem",
    "SealedDocumentVerifyRequest",
    "StatusListIndex",
    "StatusListSummary",
    "TimeOutOfRange",
    "TrustListHistory",
    "TrustListIndex",
    "TrustListSummary",
    "VerdictModel",
    "VerifyResponse",
    "check_validation_time",
    "decode_base64",
    "parse_rfc3339",
    "validation_time",
]
