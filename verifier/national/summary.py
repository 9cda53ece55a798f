"""What a national verdict's summary says: the document kinds, the holder's credit code read
from a signer certificate, and the summary of a seal, of a stamped (SES) signature, of a
Type="Sign" signature, of a signature that could not be read, and of a whole document."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from keys.x509 import Certificate
from trust_lists.model import KeyEntry
from trust_lists.timeutil import format_time
from trust_lists.uscc import is_valid_uscc
from verifier.national import ofd
from verifier.national.asn1 import SesSeal, SesSignature
from verifier.national.job import Job
from verifier.verdict import DocumentKind, DocumentSummary

SEAL: Final = DocumentKind.SEAL
SEALED: Final = DocumentKind.SEALED_DOCUMENT
SIGNED: Final = DocumentKind.SIGNED_DOCUMENT
DOCUMENT: Final = DocumentKind.OFD_DOCUMENT


def seal_summary(
    job: Job, seal: SesSeal | None, maker: Certificate | None, signers: list[Certificate]
) -> DocumentSummary:
    if seal is None:
        return DocumentSummary(SEAL)
    code = job.seal_type_code(seal.seal_type)
    # An unknown number is shown as such; the catalogue can name it (ses_type_numbers).
    zh, en = job.type_names(code) if code else (f"类型 {seal.seal_type}", f"type {seal.seal_type}")
    sid, s_zh, s_en = service_names(job)
    extra: dict[str, Any] = {
        "format": f"SES_Seal {seal.format_name}",
        "seal_name": seal.name,
        "seal_type_value": seal.seal_type,
        "vendor_id": seal.vendor_id,
        "picture": {
            "type": seal.picture.type,
            "width": seal.picture.width,
            "height": seal.picture.height,
            "bytes": len(seal.picture.data),
        },
        "time_stamp_present": seal.timestamp is not None,
    }
    if maker is not None:
        extra["maker"] = {"subject": maker.subject, "sha256": maker.sha256}
    if signers:
        extra["signer_certificates"] = [c.subject for c in signers]
    elif seal.cert_digests:
        extra["signer_certificate_digests"] = [
            {"type": d.type, "value": d.value.hex()} for d in seal.cert_digests
        ]
    return DocumentSummary(
        SEAL,
        seal.es_id,
        code,
        zh,
        en,
        seal.name,
        holder_uscc(signers),
        sid,
        s_zh,
        s_en,
        job.jurisdiction,
        seal.created,
        seal.valid_start,
        seal.valid_end,
        extra,
    )


def signature_summary(
    job: Job,
    sig: SesSignature | None,
    signer: Certificate | None,
    maker: Certificate | None,
    info: ofd.SignatureInfo | None,
) -> DocumentSummary:
    extra: dict[str, Any] = ofd.describe(info) if info is not None else {}
    if sig is None:
        return DocumentSummary(SEALED, extra=extra)
    seal_part = seal_summary(job, sig.seal, maker, [])
    extra.update(
        {
            "format": f"SES_Signature {sig.layout} v{sig.version}",
            "seal": seal_part.extra,
            "seal_id": sig.seal.es_id,
            "signed_at": format_time(sig.signed_at),
            "property_info": sig.property_info,
            "time_stamp_present": sig.timestamp is not None,
        }
    )
    if signer is not None:
        extra["signer"] = {"subject": signer.subject, "sha256": signer.sha256}
    return DocumentSummary(
        SEALED,
        sig.seal.es_id,
        seal_part.type_code,
        seal_part.type_name_zh,
        seal_part.type_name_en,
        sig.seal.name,
        holder_uscc([signer]) if signer is not None else None,
        seal_part.issuer_service,
        seal_part.issuer_name_zh,
        seal_part.issuer_name_en,
        job.jurisdiction,
        sig.signed_at,
        sig.seal.valid_start,
        sig.seal.valid_end,
        extra,
    )


def sign_summary(
    job: Job,
    *,
    pkg: ofd.OfdPackage,
    info: ofd.SignatureInfo,
    form: str,
    entry: KeyEntry | None,
    cert: Certificate | None,
    signed_at: datetime | None,
) -> DocumentSummary:
    extra = ofd.describe(info)
    extra["format"] = form
    extra["unprotected_files"] = ofd.unprotected(pkg, info)
    service = entry.service if entry is not None else None
    return DocumentSummary(
        SIGNED,
        document_id=None,
        holder_id=holder_uscc([cert]) if cert is not None else None,
        issuer_service=service.id if service else None,
        issuer_name_zh=service.name_zh if service else None,
        issuer_name_en=service.name_en if service else None,
        issuing_jurisdiction=job.jurisdiction,
        issued_at=signed_at,
        extra={**extra, "signer": cert.subject if cert is not None else None},
    )


def unread_signature_summary(
    ref: ofd.SignatureRef, info: ofd.SignatureInfo | None
) -> DocumentSummary:
    """A signature that stopped before its kind's checks: what its description says."""
    return DocumentSummary(
        SIGNED if ref.type == "Sign" else SEALED,
        document_id=ref.id,
        extra=ofd.describe(info) if info is not None else {"signature_xml": ref.path},
    )


def document_summary(
    signatures: list[dict[str, Any]],
    pkg: ofd.OfdPackage,
    coverage: dict[str, Any],
    jurisdiction: str | None,
) -> DocumentSummary:
    """The document's: its files, its coverage, the work its reading took, and every
    signature's verdict (so the overall verdict alone carries everything)."""
    return DocumentSummary(
        DOCUMENT,
        document_id=None,
        issuing_jurisdiction=jurisdiction,
        extra={
            "files": len(pkg.names),
            "coverage": coverage,
            "work": {"inflated_bytes": pkg.inflated_bytes, "hashed_bytes": pkg.hashed_bytes},
            "signatures": signatures,
        },
    )


def holder_uscc(certs: list[Certificate]) -> str | None:
    """A unified social credit code carried in a signer certificate's subject, if any."""
    for cert in certs:
        for _, value in cert.subject_attributes:
            for token in value.replace(":", " ").replace("=", " ").split():
                if len(token) == 18 and is_valid_uscc(token.upper()):
                    return token.upper()
    return None


def service_names(job: Job) -> tuple[str | None, str | None, str | None]:
    e = job.entry
    if e is None:
        return None, None, None
    return e.service.id, e.service.name_zh, e.service.name_en
