"""A bare SES_Seal (GB/T 38540 / GM/T 0031), and the seal inside an SES signature: first what
needs no trust decision (its maker's signature with the certificate it carries, its picture),
then who made it and whether it counts here (the maker's trust-list entry and chain, the
maker's key status at the seal's creation, scope, validity, recognition)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Final

from keys.x509 import Certificate, build_chain
from trust_lists.model import KeyEntry, ServiceKind
from verifier._job import Stop
from verifier.national import asn1
from verifier.national.asn1 import SesSeal
from verifier.national.der import DerError
from verifier.national.job import Job, clip
from verifier.national.summary import holder_uscc, seal_summary
from verifier.national.trust import candidates
from verifier.verdict import Verdict
from verifier.verifier import Expectations


def seal_alone(job: Job, raw: bytes, expect: Expectations | None) -> Verdict:
    """A bare .esl: its size, its structure, then everything about the seal, judged at the
    validation time; then what the caller expects."""
    seal: SesSeal | None = None
    maker: Certificate | None = None
    signers: list[Certificate] = []
    try:
        limit = job.policy.max_seal_bytes
        if len(raw) > limit:
            job.stop("format.size", size=len(raw), limit=limit)
        job.ok("format.size")
        seal = parse_seal(job, raw)
        maker, signers = judge_seal(job, seal, None)
        if expect is not None:
            meets_expectations(job, expect, seal, signers)
    except Stop:
        pass
    return job.verdict(seal_summary(job, seal, maker, signers))


def parse_seal(job: Job, raw: bytes) -> SesSeal:
    try:
        seal = asn1.parse_seal(raw)
    except DerError as exc:
        job.stop("ses.format", what="印章", what_en="The seal", detail=clip(str(exc)))
    job.ok("ses.format", format=f"SES_Seal {seal.format_name}")
    return seal


def judge_seal(
    job: Job, seal: SesSeal, signed_at: datetime | None
) -> tuple[Certificate, list[Certificate]]:
    """Everything about a parsed seal: first what needs no trust decision, then the rest.
    Inside a signed document (`signed_at` set) its validity is judged at that signing time;
    on its own, at the validation time."""
    maker, signers = seal_integrity(job, seal)
    seal_trust(job, seal, maker, signers, signed_at)
    return maker, signers


def seal_integrity(job: Job, seal: SesSeal) -> tuple[Certificate, list[Certificate]]:
    """The seal as its maker made it: the maker's signature with the certificate the seal
    carries, and its picture. No trust list is read."""
    job.algorithm(seal.signature_oid)
    job.ok("ses.algorithm")
    job.backend()
    maker = job.certificate(seal.maker_cert, "maker")
    signers = [job.certificate(c, "signer") for c in seal.certs]
    job.ok("ses.certificate")
    job.sm2_signature(maker, seal.signature, seal.signed_content)
    problem = picture_problem(seal.picture)
    if problem is not None:
        job.stop("ses.picture", detail=problem)
    job.ok("ses.picture")
    return maker, signers


def seal_trust(
    job: Job,
    seal: SesSeal,
    maker: Certificate,
    signers: list[Certificate],
    signed_at: datetime | None,
) -> None:
    """Who made the seal and whether it counts here: the maker's trust-list entry and
    chain, times, scope, validity and recognition."""
    type_code = job.seal_type_code(seal.seal_type)
    if type_code is None:
        job.stop("ses.type", value=seal.seal_type)
    job.ok("ses.type")
    entry = resolve_maker(job, maker, seal.created, type_code)
    job.cert_period(maker, "maker", seal.created)
    job.ok("cert.period")
    job.key_status(entry.key, seal.created)
    job.fresh(job.jurisdiction)
    job.scope(entry.service, type_code, job.type_names)
    when = signed_at if signed_at is not None else job.at
    job.validity(seal.created, seal.valid_start, seal.valid_end, when, signed_at is None)
    uscc = holder_uscc(signers)
    if uscc is not None:
        job.ok("identifier.uscc")
    assert job.jurisdiction is not None
    job.recognition(job.jurisdiction, type_code)
    job.ok("ses.revocation_unchecked")


def resolve_maker(job: Job, maker: Certificate, created: datetime, type_code: str) -> KeyEntry:
    """The trust-list entry vouching for the seal maker, its chain checked at `created`."""
    found = candidates(job.state, maker, ServiceKind.SEAL_AUTHORITY)
    if not found:
        missing = sorted(set(job.anchors) - set(job.state.lists))
        if missing:
            job.flag("trust.list_available", jur=", ".join(missing))
            raise Stop
        other = candidates(job.state, maker, ServiceKind.LICENCE_ISSUER)
        if other:
            job.jurisdiction = other[0].jurisdiction
            job.wrong_service_kind(other[0].entry.service, "企业电子印章", "enterprise e-seals")
        job.flag("ses.maker_found", name=clip(maker.display_name, 120))
        raise Stop  # nothing after can be judged without the maker's entry
    cand, errors = job.vouching(
        maker,
        found,
        lambda c: build_chain(maker, [c.anchor], created, verified=job.chain_cache),
    )
    if cand is not None:
        job.entry = cand.entry
        job.ok("ses.maker_found")
        job.ok("ses.maker_chain")
        return cand.entry
    job.jurisdiction = found[0].jurisdiction
    job.stop("ses.maker_chain", detail=clip(errors[0] if errors else "no path"))


def meets_expectations(
    job: Job, expect: Expectations, seal: SesSeal, signers: list[Certificate]
) -> None:
    """The holder's credit code (from the signer certificates) and the seal type the caller
    expects, recorded unprefixed even for the seal inside a signature."""
    prefix, job.prefix = job.prefix, ""
    if expect.holder_id is not None:
        job.expect_holder(expect.holder_id, holder_uscc(signers) or "-")
    actual_type = job.seal_type_code(seal.seal_type) or f"type {seal.seal_type}"
    job.expect_type(expect.seal_type, actual_type, job.type_names)
    job.prefix = prefix


_PICTURE_MAGIC: Final[Mapping[str, tuple[bytes, ...]]] = MappingProxyType(
    {
        "PNG": (b"\x89PNG\r\n\x1a\n",),
        "JPG": (b"\xff\xd8\xff",),
        "JPEG": (b"\xff\xd8\xff",),
        "GIF": (b"GIF87a", b"GIF89a"),
        "BMP": (b"BM",),
        "OFD": (b"PK\x03\x04",),
    }
)


def picture_problem(pic: asn1.Picture) -> str | None:
    """Why the seal picture is not acceptable, or None."""
    image_format = pic.type.strip().upper()
    data = pic.data
    if not data:
        return "no picture data"
    if pic.width <= 0 or pic.height <= 0:
        return f"size {pic.width}x{pic.height} is not positive"
    if image_format == "SVG":
        head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        if b"<svg" not in head:
            return "declared SVG, but the data is not SVG"
        if b"<!doctype" in head or b"<!entity" in head:
            return "SVG with a DTD or entities"
        return None
    magics = _PICTURE_MAGIC.get(image_format)
    if magics is None:
        return f"unknown picture type {pic.type[:16]!r}"
    if not data.startswith(magics):
        return f"declared {image_format}, but the data is not {image_format}"
    if image_format == "PNG" and data[12:16] != b"IHDR":
        return "a PNG without its IHDR header"
    return None
