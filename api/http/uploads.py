"""National formats on the existing endpoints: .ofd documents on /v1/sealed-documents/verify,
bare .esl seals (GB/T 38540 / GM/T 0031) on /v1/seals/verify, and SES_Signature values (.dat,
with the data they sign as the optional `data` part) on both, recognised by the upload's content
type or by sniffing its bytes (verifier.recognise). Uploads of a recognisable format huren does
not verify (PDF, images, a zip that is no OFD) are refused naming the supported ones
(`unsupported_format`). The hook points are listed in docs/national-formats.md; everything
national is judged in verifier.national, through the verifier's one entry.

- `input_from_upload(kind, files, common, content_types)`: the VerifyInput for a national upload
  (its `national` format set), or None to let the JWS path handle it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.exceptions import RequestValidationError

from api.http.problems import ProblemError
from api.verification import VerifyInput
from verifier import DocumentKind
from verifier.recognise import (
    OFD_AS_DATA,
    SUPPORTED_FORMATS,
    NationalFormat,
    national_format,
    unsupported_format,
    unsupported_message,
)

# The national formats each endpoint takes.
_WANTED = {
    DocumentKind.SEALED_DOCUMENT: (NationalFormat.OFD, NationalFormat.SIGNATURE),
    DocumentKind.SEAL: (NationalFormat.SEAL, NationalFormat.SIGNATURE),
}
_NAMES = {
    NationalFormat.OFD: "a signed OFD document",
    NationalFormat.SEAL: "a GB/T 38540 seal",
    NationalFormat.SIGNATURE: "an SES_Signature value",
}


def input_from_upload(
    kind: DocumentKind,
    files: Mapping[str, bytes],
    common: Mapping[str, Any],
    content_types: Mapping[str, str | None] | None = None,
) -> VerifyInput | None:
    """The VerifyInput for a national upload (`file` an .ofd on the sealed-document endpoint,
    an .esl on the seal endpoint), or None. The other parts (signature, seal, image) belong to
    the JWS formats and are refused with a national file."""
    data = files.get("file")
    if data is None:
        return None
    content_types = content_types or {}
    found = national_format(data, content_types.get("file"))
    wanted = _WANTED.get(kind, ())
    if found is None or found not in wanted:
        if "data" in files:
            raise RequestValidationError(
                [
                    {
                        "loc": ("body", "data"),
                        "msg": "only used with an SES_Signature value (.dat) as the file",
                        "type": "extra_forbidden",
                    }
                ]
            )
        _refuse_unsupported(kind, files, content_types)
        return None
    signature = found is NationalFormat.SIGNATURE
    refused = ("signature", "seal", "image") + (() if signature else ("data",))
    for extra in refused:
        if extra in files:
            what = _NAMES[found]
            raise RequestValidationError(
                [
                    {
                        "loc": ("body", extra),
                        "msg": f"not used with {what}",
                        "type": "extra_forbidden",
                    }
                ]
            )
    if signature and "data" in files and national_format(files["data"]) is NationalFormat.OFD:
        raise RequestValidationError(
            [{"loc": ("body", "data"), "msg": OFD_AS_DATA, "type": "value_error"}]
        )
    fields: dict[str, Any] = {k: v for k, v in common.items() if k != "image"}
    fields["national"] = found
    if signature:
        fields["document"] = files.get("data")  # the signed data, when given
    return VerifyInput(kind, data, **fields)


def _refuse_unsupported(
    kind: DocumentKind, files: Mapping[str, bytes], content_types: Mapping[str, str | None]
) -> None:
    """415 (a declared media type) or 422 (sniffed behind a generic one) `unsupported_format`
    for a file huren cannot verify. A document sent with its JWS signature may be anything."""
    if kind == DocumentKind.SEALED_DOCUMENT and "signature" in files:
        return
    found = unsupported_format(files["file"])
    if found is None:
        return
    media = (content_types.get("file") or "").split(";", 1)[0].strip().lower()
    generic = media in ("", "application/octet-stream")
    raise ProblemError(
        422 if generic else 415,
        "unsupported_format",
        unsupported_message(found),
        extra={"format": found, "supported": list(SUPPORTED_FORMATS)},
    )


__all__ = ["input_from_upload"]
