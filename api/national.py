"""National formats on the existing endpoints: .ofd documents on /v1/sealed-documents/verify and
bare .esl seals (GB/T 38540 / GM/T 0031) on /v1/seals/verify, recognised by the upload's content
type or by sniffing its bytes. The routes and the verification service call the functions here
(the hook points are listed in docs/national-formats.md); everything national lives in
verifier.national.

- `national_kind(data, content_type)`: "ofd", "seal" or None;
- `input_from_upload(kind, files, content_types, common)`: the VerifyInput for a national upload
  (flagged `national=True`), or None to let the JWS path handle it;
- `verify(national_verifier, inp)`: the Verdict (for a document, the overall verdict, whose
  summary.extra["signatures"] holds the verdict of each signature)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, cast

from verifier import Expectations, Verdict
from verifier.national.verifier import NationalVerifier, sniff

NationalKind = Literal["ofd", "seal"]

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
    if found in ("ofd", "seal"):
        return "ofd" if found == "ofd" else "seal"
    return None


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
    found = national_kind(data, (content_types or {}).get("file"))
    wanted = {"sealed_document": "ofd", "seal": "seal"}.get(kind)
    if found is None or found != wanted:
        return None
    for extra in ("signature", "seal", "image"):
        if extra in files:
            what = "a signed OFD document" if found == "ofd" else "a GB/T 38540 seal"
            raise RequestValidationError(
                [
                    {
                        "loc": ("body", extra),
                        "msg": f"not used with {what}",
                        "type": "extra_forbidden",
                    }
                ]
            )
    fields: dict[str, Any] = {k: v for k, v in common.items() if k != "image"}
    fields["national"] = True
    return VerifyInput(cast("Kind", kind), data, **fields)


def verify(nv: NationalVerifier, inp: Any) -> Verdict:
    """The verdict of a national VerifyInput (kind "seal" or "sealed_document")."""
    has_expect = inp.holder_credit_code is not None or inp.type_code is not None
    expect = (
        Expectations(holder_id=inp.holder_credit_code, seal_type=inp.type_code)
        if has_expect
        else None
    )
    if inp.kind == "seal":
        return nv.verify_seal(inp.token, inp.relying, inp.at, expect=expect)
    return nv.verify_document(inp.token, inp.relying, inp.at, expect=expect).overall


__all__ = [
    "OFD_MEDIA_TYPES",
    "SEAL_MEDIA_TYPES",
    "NationalKind",
    "input_from_upload",
    "national_kind",
    "verify",
]
