"""An SES_Signature (GM/T 0031 / GB/T 38540 SignedValue.dat): a signer's stamp of a seal on a
Signature.xml. Integrity first (the signer's signature with the certificate it carries, the data
hash, the package files it protects, the seal as its maker made it), then trust: the seal judged
at the signing time the signature claims, and the validation time against the earliest end of
what the signature relies on."""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime

from keys.algorithms import is_sm3_digest
from keys.sm2 import sm3
from keys.x509 import Certificate
from trust_lists.timeutil import format_time
from verifier._job import Stop
from verifier.national import asn1, ofd
from verifier.national import messages as nm
from verifier.national.asn1 import SesSeal, SesSignature
from verifier.national.der import DerError
from verifier.national.job import Job, clip
from verifier.national.seal import meets_expectations, seal_integrity, seal_trust
from verifier.national.summary import signature_summary
from verifier.verdict import Verdict
from verifier.verifier import Expectations


def ses_signature(
    job: Job,
    raw: bytes,
    *,
    xml: bytes | None,
    xml_name: str,
    pkg: ofd.OfdPackage | None,
    info: ofd.SignatureInfo | None,
    expect: Expectations | None,
) -> Verdict:
    """The SES_Signature `raw` over `xml` (its Signature.xml, named `xml_name`; None when not
    given), inside the package `pkg` as `info` describes it, or outside any package."""
    sig: SesSignature | None = None
    signer: Certificate | None = None
    maker: Certificate | None = None
    signers: list[Certificate] = []
    try:
        try:
            sig = asn1.parse_signature(raw)
        except DerError as exc:
            job.stop("ses.format", what="签章数据", what_en="The signature", detail=clip(str(exc)))
        job.ok("ses.format", format=f"SES_Signature {sig.layout} v{sig.version}")
        job.algorithm(sig.signature_oid)
        job.ok("ses.algorithm")
        job.backend()
        signer = job.certificate(sig.signer_cert, "signer")
        # Integrity first: the signer's signature, the data hash, the files, the seal as made.
        job.sm2_signature(signer, sig.signature, sig.tbs)
        if xml is None:
            job.flag("ses.signed_data")
        elif sm3(xml) != sig.data_hash:
            job.stop("ses.data_hash", file="/" + xml_name.lstrip("/"))
        else:
            job.ok("ses.data_hash")
        if pkg is not None and info is not None:
            references(job, pkg, info)
        job.prefix = nm.SEAL_PREFIX
        maker, signers = seal_integrity(job, sig.seal)
        job.prefix = ""
        if not signer_listed(job, sig.seal, signer):
            job.stop("ses.signer_listed", name=clip(signer.display_name, 120))
        job.ok("ses.signer_listed")
        signed_at = sig.signed_at
        job.cert_period(signer, "signer", signed_at)
        job.ok("cert.period")
        job.not_yet_issued(signed_at)
        # Then trust: the seal judged at the signing time the signature claims.
        job.prefix = nm.SEAL_PREFIX
        seal_trust(job, sig.seal, maker, signers, signed_at)
        job.prefix = ""
        period(job, signed_at, sig.seal, signer, maker)
        if expect is not None:
            meets_expectations(job, expect, sig.seal, signers or [signer])
    except Stop:
        pass
    summary = signature_summary(job, sig, signer, maker, info)
    if pkg is not None and info is not None:
        summary.extra["unprotected_files"] = ofd.unprotected(pkg, info)
    return job.verdict(summary)


def signer_listed(job: Job, seal: SesSeal, signer: Certificate) -> bool:
    """The seal names the signer: its certificate in the seal's list, or its digest."""
    if seal.cert_list_type == 1:
        return signer.der in seal.certs
    for d in seal.cert_digests:
        algorithm = d.type.strip().upper()
        if algorithm in ("SM3", "1.2.156.10197.1.401") and d.value == signer.sm3:
            return True
        if algorithm in ("SHA256", "SHA-256") and d.value == hashlib.sha256(signer.der).digest():
            return True
    return False


def period(
    job: Job, signed_at: datetime, seal: SesSeal, signer: Certificate, maker: Certificate
) -> None:
    """The validation time against the earliest end of what the signature relies on: the
    seal's validity and the signer's certificate. Past it, the signing time is only claimed."""
    ends = [
        (seal.valid_end, "印章", "seal"),
        (signer.not_after, "签章者证书", "signer's certificate"),
    ]
    del maker  # the maker's certificate is judged at the seal's creation
    end, zh, en = min(ends, key=lambda e: e[0])
    if job.at >= end:
        job.flag(
            "ses.signed_in_period",
            what_zh=zh,
            what_en=en,
            exp=format_time(end),
            signed=format_time(signed_at),
        )
    else:
        job.ok("ses.signed_in_period")
        job.bound(end)


def references(job: Job, pkg: ofd.OfdPackage, info: ofd.SignatureInfo) -> None:
    """The file check values of Signature.xml: every file it names exists and hashes (SM3) to
    its value; every cheap check comes before any hashing."""
    method = info.check_method or "MD5"  # GB/T 33190: the default check method is MD5
    if not is_sm3_digest(method):
        job.stop("ofd.check_method", method=clip(method, 64))
    job.ok("ofd.check_method")
    expected: list[bytes] = []
    for r in info.references:  # every cheap check before any hashing
        if not pkg.exists(r.path):
            job.stop("ofd.reference_missing", file="/" + r.path)
        try:
            expected.append(base64.b64decode(r.check_value, validate=True))
        except (binascii.Error, ValueError):
            job.stop("ofd.references", file="/" + r.path)
    for r, value in zip(info.references, expected, strict=True):
        try:
            actual = pkg.digest(r.path)  # memoised: once per document
        except ofd.OfdError as exc:
            job.refuse(exc, "-")
        if actual != value:
            job.stop("ofd.references", file="/" + r.path)
    job.ok("ofd.references")
