"""A Type="Sign" signature of an OFD document: a licence issuer that a trust list names signs
Signature.xml, either as a GB/T 35275 SignedData carrying its certificate (judged as far as it
can be without a trust list, then chained to a listed issuer) or as a bare SM2 signature that
names no signer (tried against the listed licence issuers' SM2 keys, a bounded number per
jurisdiction)."""

from __future__ import annotations

from datetime import datetime
from typing import NoReturn

from keys.algorithms import SES_SIGNATURE_OIDS, SM2_SIGN, is_sm3_digest
from keys.sm2 import Sm2PublicKey, Sm2Unavailable, signature_der, sm3
from keys.x509 import Certificate, build_chain
from trust_lists.model import KeyEntry, ServiceKind
from trust_lists.timeutil import format_time
from verifier._job import Stop
from verifier.national import asn1, ofd
from verifier.national.der import DerError, loose_time
from verifier.national.job import Job, clip
from verifier.national.signature import references
from verifier.national.summary import sign_summary
from verifier.national.trust import candidates, sm2_entries
from verifier.verdict import Verdict


def sign_signature(
    job: Job, pkg: ofd.OfdPackage, info: ofd.SignatureInfo, xml: bytes, value: bytes
) -> Verdict:
    """A Type="Sign" signature over Signature.xml by a licence issuer that a trust list
    names: a GB/T 35275 SignedData carrying the signer's certificate, or a bare SM2
    signature (DER or r||s) tried against the listed licence issuers' SM2 keys."""
    entry: KeyEntry | None = None
    cert: Certificate | None = None
    signed_at: datetime | None = None
    form = "GB/T 33190 Sign (bare SM2 signature)"
    try:
        if info.signature_method is not None:
            job.algorithm(info.signature_method)
        job.ok("ses.algorithm")
        job.backend()
        try:
            signed_at = loose_time(info.signature_datetime or "", "SignatureDateTime")
        except DerError as exc:
            job.stop("ofd.signature", sid="/" + info.path, detail=clip(str(exc)))
        # Integrity first: what a SignedData carries needs no trust list; a bare signature
        # names no signer, so only the files can be checked before the keys are tried.
        if asn1.is_signed_data(value):
            form = "GB/T 35275 SignedData"
            cert, others = signed_data(job, value, xml, info)
            references(job, pkg, info)
            entry = signer_anchor(job, cert, others, signed_at)
        else:
            references(job, pkg, info)
            entry, cert = bare_signer(job, value, xml)
        job.entry = entry
        if cert is not None:
            job.cert_period(cert, "signer", signed_at)
            job.ok("cert.period")
        job.key_status(entry.key, signed_at)
        job.fresh(job.jurisdiction)
        job.not_yet_issued(signed_at)
        if cert is not None:
            if job.at >= cert.not_after:
                job.flag(
                    "ses.signed_in_period",
                    what_zh="签名者证书",
                    what_en="signer's certificate",
                    exp=format_time(cert.not_after),
                    signed=format_time(signed_at),
                )
            else:
                job.ok("ses.signed_in_period")
                job.bound(cert.not_after)
        job.ok("ses.revocation_unchecked")
    except Stop:
        pass
    return job.verdict(
        sign_summary(
            job, pkg=pkg, info=info, form=form, entry=entry, cert=cert, signed_at=signed_at
        )
    )


def no_signer(job: Job, code: str, name: str | None = None) -> NoReturn:
    """No listed licence issuer vouches for the signer: INDETERMINATE, and nothing after
    can be judged (TRY_LATER while a configured jurisdiction's list is missing)."""
    missing = sorted(set(job.anchors) - set(job.state.lists))
    if missing:
        job.flag("trust.list_available", jur=", ".join(missing))
    elif name is None:
        job.flag(code)
    else:
        job.flag(code, name=name)
    raise Stop


def bare_signer(job: Job, value: bytes, xml: bytes) -> tuple[KeyEntry, Certificate | None]:

    try:
        sig = signature_der(value)
    except ValueError as exc:
        job.stop("ses.signature_value", detail=clip(str(exc)))
    # The bound holds per jurisdiction: one city listing many keys never leaves another
    # city's keys untried.
    tried: dict[str, int] = {}
    for code, e in sm2_entries(job.state, ServiceKind.LICENCE_ISSUER):
        key = e.key.key
        assert isinstance(key, Sm2PublicKey)
        if key.certificate is not None and key.certificate.is_ca:
            continue  # a CA's key does not sign documents
        if tried.get(code, 0) >= job.policy.max_trial_keys:
            continue
        tried[code] = tried.get(code, 0) + 1
        try:
            good = key.verify(sig, xml)
        except Sm2Unavailable as exc:
            job.flag("ses.backend", detail=clip(str(exc)))
            raise Stop from exc
        if good:
            job.jurisdiction = code
            job.ok("ses.signer_key")
            job.ok("signature.valid")
            return e, key.certificate
    no_signer(job, "ses.signer_key")


def signed_data(
    job: Job, value: bytes, xml: bytes, info: ofd.SignatureInfo
) -> tuple[Certificate, list[Certificate]]:
    """A GB/T 35275 SignedData, as far as it can be judged without a trust list: its
    structure, its signer's certificate (and the others carried), messageDigest, signature."""
    try:
        sd = asn1.parse_signed_data(value)
    except DerError as exc:
        job.stop("ses.format", what="签名值", what_en="The signed message", detail=clip(str(exc)))
    job.ok("ses.format", format="GB/T 35275 SignedData")
    if not is_sm3_digest(sd.digest_oid):
        job.stop("ses.algorithm", oid=clip(sd.digest_oid, 64))
    if sd.signature_oid not in SES_SIGNATURE_OIDS and sd.signature_oid != SM2_SIGN:
        job.stop("ses.algorithm", oid=clip(sd.signature_oid, 64))
    certs = [job.certificate(c, "signer") for c in sd.certificates]
    signer = next(
        (c for c in certs if c.issuer_der == sd.issuer_der and c.serial == sd.serial), None
    )
    if signer is None:
        job.stop(
            "ses.certificate",
            role_zh="签名者",
            role_en="signer's",
            detail="the SignedData does not carry its signer's certificate",
        )
    job.ok("ses.certificate")
    content = xml if sd.content is None else sd.content
    if content not in (xml, sm3(xml)):
        job.stop("ses.data_hash", file="/" + info.path)
    if sd.signed_attributes is not None:
        if sd.message_digest != sm3(content):
            job.stop("ses.data_hash", file="/" + info.path)
        signed = sd.signed_attributes
    else:
        signed = content
    job.ok("ses.data_hash")
    job.sm2_signature(signer, sd.signature, signed)
    return signer, [c for c in certs if c is not signer]


def signer_anchor(
    job: Job, signer: Certificate, others: list[Certificate], signed_at: datetime
) -> KeyEntry:
    """The licence issuer's entry that `signer` chains to (the other carried certificates
    as intermediates), at `signed_at`."""
    found = candidates(job.state, signer, ServiceKind.LICENCE_ISSUER)
    for c in others:  # a listed CA may sit above a carried intermediate
        found += candidates(job.state, c, ServiceKind.LICENCE_ISSUER)
    if not found:
        no_signer(job, "ses.signer_found", name=clip(signer.display_name, 120))
    cand, errors = job.vouching(
        signer,
        found,
        lambda c: build_chain(signer, [c.anchor], signed_at, others, verified=job.chain_cache),
    )
    if cand is not None:
        job.ok("ses.signer_found")
        return cand.entry
    job.jurisdiction = found[0].jurisdiction
    job.stop("ses.signer_chain", detail=clip(errors[-1] if errors else "no path"))
