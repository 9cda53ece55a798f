"""What an uploaded file is, before it is judged: a national format (a signed OFD document, a
GB/T 38540 seal, an SES_Signature value), a compact JWS of one of huren's types, or something
recognisably not verified here (a PDF, an image, a zip that is no OFD). Cheap looks at the
first bytes and the declared media type, for routing an upload to the right verification; the
verifier judges the bytes themselves. The HTTP service and the `huren verify` command both ask
here, so both route a file the same way."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Final

from keys.encoding import b64url_decode
from verifier.formats import LICENCE_TYP, SEAL_TYP, SEALED_DOC_TYP
from verifier.national.verifier import sniff
from verifier.verdict import DocumentKind


class NationalFormat(StrEnum):
    """A national file format (not a document kind: an SES_Signature value may sign a sealed
    or a signed document; an OFD file holds several signatures)."""

    OFD = "ofd"  # a signed OFD document (GB/T 33190)
    SEAL = "seal"  # a bare SES_Seal (.esl, GB/T 38540 / GM/T 0031)
    SIGNATURE = "signature"  # an SES_Signature value (SignedValue.dat)


# Media types that announce a national format (an upload may also be sniffed).
OFD_MEDIA_TYPES: Final = frozenset({"application/ofd", "application/x-ofd", "application/vnd.ofd"})
SEAL_MEDIA_TYPES: Final = frozenset(
    {"application/x-esl", "application/x-ses-seal", "application/vnd.ses-seal"}
)


def national_format(data: bytes, content_type: str | None = None) -> NationalFormat | None:
    """What national format `data` is, if any. A declared OFD or seal media type must agree with
    the bytes (a mislabelled upload is sniffed, never trusted); other types are sniffed."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    found = sniff(data)
    if media in OFD_MEDIA_TYPES:
        return NationalFormat.OFD if found == "ofd" else None
    if media in SEAL_MEDIA_TYPES:
        return NationalFormat.SEAL if found == "seal" else None
    if found is None:
        return None
    return NationalFormat(found)


_JWS_KINDS: Final = {
    LICENCE_TYP: DocumentKind.LICENCE,
    SEAL_TYP: DocumentKind.SEAL,
    SEALED_DOC_TYP: DocumentKind.SEALED_DOCUMENT,
}


def jws_kind(data: bytes) -> DocumentKind | None:
    """The kind a compact JWS announces in its header's `typ` (leading and trailing whitespace
    ignored), or None: a routing guess, the verifier checks the typ again."""
    head = data.strip().split(b".", 1)[0]
    try:
        header = json.loads(b64url_decode(head))
    except (ValueError, UnicodeDecodeError):
        return None
    typ = header.get("typ") if isinstance(header, dict) else None
    return _JWS_KINDS.get(typ) if isinstance(typ, str) else None


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


def unsupported_message(found: str) -> str:
    """Why an upload of format `found` (an UNSUPPORTED_FORMATS id) gets no verdict."""
    what = UNSUPPORTED_FORMATS[found]
    return f"This is {what}, which huren does not verify. Supported: " + "; ".join(
        SUPPORTED_FORMATS
    )


# A whole OFD given as the data of its own SignedValue.dat: its hash can never match (the value
# signs that signature's Signature.xml), and "altered" would be the wrong answer.
OFD_AS_DATA: Final = (
    "the data is an OFD document: verify the .ofd itself, or give the Signature.xml this value "
    "signs (in the package: Doc_N/Signs/Sign_N/Signature.xml)"
)


__all__ = [
    "OFD_AS_DATA",
    "OFD_MEDIA_TYPES",
    "SEAL_MEDIA_TYPES",
    "SUPPORTED_FORMATS",
    "UNSUPPORTED_FORMATS",
    "NationalFormat",
    "jws_kind",
    "national_format",
    "unsupported_format",
    "unsupported_message",
]
