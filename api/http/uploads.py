"""National formats on the existing endpoints: .ofd documents on /v1/sealed-documents/verify,
bare .esl seals (GB/T 38540 / GM/T 0031) on /v1/seals/verify, and SES_Signature values (.dat,
with the data they sign as the optional `data` part) on both, recognised by the upload's content
type or by sniffing its bytes. Uploads of a recognisable format huren does not verify (PDF,
images, a zip that is no OFD) are refused naming the supported ones (`unsupported_format`).
The routes and the verification service call the functions here
(the hook points are listed in docs/national-formats.md); everything national lives in
verifier.national.

- `national_kind(data, content_type)`: "ofd", "seal", "signature" or None;
- `unsupported_format(data)`: what a recognisably unsupported upload is, or None;
- `input_from_upload(kind, files, content_types, common)`: the VerifyInput for a national upload
  (flagged `national=True`), or None to let the JWS path handle it;
- `verify(national_verifier, inp)`: the Verdict (for a document, the overall verdict, whose
  summary.extra["signatures"] holds the verdict of each signature)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, cast

from verifier import Expectations, Verdict
from verifier.national.verifier import NationalVerifier, sniff

NationalKind = Literal["ofd", "seal", "signature"]

# Media types that announce a national format (an upload may also be sniffed).
OFD_MEDIA_TYPES: Final = frozenset({"application/ofd", "application/x-ofd", "application/vnd.ofd"})
SEAL_MEDIA_TYPES: Final = frozenset(
    {"application/x-esl", "application/x-ses-seal", "application/vnd.ses-seal"}
)


def national_kind(data: bytes, content_type: str | None = None) -> NationalKind | None:
    """What national format `data` is, if any. A declared OFD or seal media type must agree with
    the bytes (a mislabelled upload is sniffed, never trusted); other types are sniffed."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    found = sniff(data)
    if media in OFD_MEDIA_TYPES:
        return "ofd" if found == "ofd" else None
    if media in SEAL_MEDIA_TYPES:
        return "seal" if found == "seal" else None
    if found in ("ofd", "seal", "signature"):
        return cast("NationalKind", found)
    return None


# What huren verifies, named to whoever uploads something else (the API, the CLI, the page).
SUPPORTED_FORMATS: Final = (
    "signed OFD documents (.ofd, GB/T 33190 with GB/T 38540 / GB/T 35275 signatures)",
    "GB/T 38540 / GM/T 0031 seals (.esl)",
    "SES_Signature values (.dat), with the data they sign when it is at hand",
    "compact JWS e-licences and e-seals (huren-licence+jwt, huren-seal+jwt)",
    "a document with its JWS seal signature (huren-sealed-doc+jwt)",
    "e-licences in their QR form (the HR1: text, or a photo of the code)",
)

# Formats recognisably not verified here: a stable id (the problem's `format`) and its name.
UNSUPPORTED_FORMATS: Final = {
    "pdf": "a PDF document",
    "png": "a PNG image",
    "jpeg": "a JPEG image",
    "gif": "a GIF image",
    "tiff": "a TIFF image",
    "webp": "a WebP image",
    "bmp": "a BMP image",
    "ms-office": "an old Microsoft Office document",
    "zip": "a zip package that is not an OFD document (it has no OFD.xml)",
}
_MAGIC: Final = (
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ms-office"),
)


def unsupported_format(data: bytes) -> str | None:
    """The id (UNSUPPORTED_FORMATS) of what `data` is when it is recognisably a format huren does
    not verify (PDF, images, a zip package that is no OFD, ...), else None: the verifier judges
    it."""
    for magic, found in _MAGIC:
        if data.startswith(magic):
            return found
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:2] == b"BM" and len(data) >= 26 and int.from_bytes(data[2:6], "little") == len(data):
        return "bmp"
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")) and sniff(data) != "ofd":
        return "zip"
    return None


# A whole OFD given as the data of its own SignedValue.dat: its hash can never match (the value
# signs that signature's Signature.xml), and "altered" would be the wrong answer.
OFD_AS_DATA: Final = (
    "the data is an OFD document: verify the .ofd itself, or give the Signature.xml this value "
    "signs (in the package: Doc_N/Signs/Sign_N/Signature.xml)"
)


def unsupported_message(found: str) -> str:
    """Why an upload of format `found` (an UNSUPPORTED_FORMATS id) gets no verdict."""
    what = UNSUPPORTED_FORMATS[found]
    return f"This is {what}, which huren does not verify. Supported: " + "; ".join(
        SUPPORTED_FORMATS
    )


def input_from_upload(
    kind: str,
    files: Mapping[str, bytes],
    common: Mapping[str, Any],
    content_types: Mapping[str, str | None] | None = None,
) -> Any:
    """The VerifyInput for a national upload (`file` an .ofd on the sealed-document endpoint,
    an .esl on the seal endpoint), or None. The other parts (signature, seal, image) belong to
    the JWS formats and are refused with a national file."""
    from fastapi.exceptions import RequestValidationError

    from api.verification import Kind, VerifyInput

    data = files.get("file")
    if data is None:
        return None
    content_types = content_types or {}
    found = national_kind(data, content_types.get("file"))
    wanted = {"sealed_document": ("ofd", "signature"), "seal": ("seal", "signature")}.get(kind, ())
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
    refused = ("signature", "seal", "image") + (() if found == "signature" else ("data",))
    for extra in refused:
        if extra in files:
            what = {
                "ofd": "a signed OFD document",
                "seal": "a GB/T 38540 seal",
                "signature": "an SES_Signature value",
            }[found]
            raise RequestValidationError(
                [
                    {
                        "loc": ("body", extra),
                        "msg": f"not used with {what}",
                        "type": "extra_forbidden",
                    }
                ]
            )
    if found == "signature" and "data" in files and sniff(files["data"]) == "ofd":
        raise RequestValidationError(
            [{"loc": ("body", "data"), "msg": OFD_AS_DATA, "type": "value_error"}]
        )
    fields: dict[str, Any] = {k: v for k, v in common.items() if k != "image"}
    fields["national"] = True
    if found == "signature":
        fields["document"] = files.get("data")  # the signed data, when given
    return VerifyInput(cast("Kind", kind), data, **fields)


def _refuse_unsupported(
    kind: str, files: Mapping[str, bytes], content_types: Mapping[str, str | None]
) -> None:
    """415 (a declared media type) or 422 (sniffed behind a generic one) `unsupported_format`
    for a file huren cannot verify. A document sent with its JWS signature may be anything."""
    from api.http.problems import ProblemError

    if kind == "sealed_document" and "signature" in files:
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


def verify(nv: NationalVerifier, inp: Any) -> Verdict:
    """The verdict of a national VerifyInput (kind "seal" or "sealed_document")."""
    has_expect = inp.holder_credit_code is not None or inp.type_code is not None
    expect = (
        Expectations(holder_id=inp.holder_credit_code, seal_type=inp.type_code)
        if has_expect
        else None
    )
    if sniff(inp.token) == "signature":  # as routed by input_from_upload
        return nv.verify_signature(inp.token, inp.document, inp.relying, inp.at, expect=expect)
    if inp.kind == "seal":
        return nv.verify_seal(inp.token, inp.relying, inp.at, expect=expect)
    return nv.verify_document(inp.token, inp.relying, inp.at, expect=expect).overall


__all__ = [
    "OFD_AS_DATA",
    "OFD_MEDIA_TYPES",
    "SEAL_MEDIA_TYPES",
    "SUPPORTED_FORMATS",
    "UNSUPPORTED_FORMATS",
    "NationalKind",
    "input_from_upload",
    "national_kind",
    "unsupported_format",
    "unsupported_message",
    "verify",
]
