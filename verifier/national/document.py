"""A signed OFD document: its package read once, every signature judged on its own (a fork of
one job, against one snapshot), then the document's verdict: the worst of the signatures' and
of what the viewer shows against what they protect (docs/national-formats.md, "Coverage")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verifier._job import Stop
from verifier.national import messages as nm
from verifier.national import ofd
from verifier.national.job import Job
from verifier.national.sign import sign_signature
from verifier.national.signature import ses_signature
from verifier.national.summary import DOCUMENT, document_summary, unread_signature_summary
from verifier.verdict import DocumentSummary, Indication, Verdict
from verifier.verifier import Expectations


@dataclass(frozen=True, slots=True)
class SignatureVerdict:
    """The verdict of one signature of an OFD document."""

    id: str
    type: str  # "Seal" or "Sign"
    path: str  # its Signature.xml
    verdict: Verdict

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "path": self.path, **self.verdict.to_dict()}


@dataclass(frozen=True, slots=True)
class DocumentVerdicts:
    """A signed OFD document: one verdict per signature and the overall verdict (the worst of
    them; its summary.extra["signatures"] repeats the per-signature verdicts, so the overall
    verdict alone carries everything through caches and APIs)."""

    overall: Verdict
    signatures: tuple[SignatureVerdict, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.to_dict(),
            "signatures": [s.to_dict() for s in self.signatures],
        }


def judge_document(probe: Job, raw: bytes, expect: Expectations | None) -> DocumentVerdicts:
    """Every signature of the package `raw`, each by a fork of `probe`; `probe` itself records
    the package's checks and the overall verdict."""
    try:
        pkg = ofd.OfdPackage(raw, probe.policy.ofd_limits)
        refs = ofd.signatures(pkg)
        shown = ofd.rendering(pkg)  # before any hashing: cheap, and refuses ambiguities
    except ofd.OfdError as exc:
        probe.package_error(exc)
        return DocumentVerdicts(probe.verdict(DocumentSummary(DOCUMENT)), ())
    probe.ok("ofd.package")
    if not refs:
        probe.record("ofd.no_signature")
        return DocumentVerdicts(probe.verdict(DocumentSummary(DOCUMENT)), ())
    results: list[SignatureVerdict] = []
    for ref in refs:
        job = probe.fork()
        verdict = ofd_signature(job, pkg, ref, expect)
        results.append(SignatureVerdict(ref.id, ref.type, ref.path, verdict))
    try:
        pkg.finish()  # the entries nothing read: a streaming reader must see the same
    except ofd.OfdError as exc:
        probe.package_error(exc)
        return DocumentVerdicts(probe.verdict(DocumentSummary(DOCUMENT)), tuple(results))
    return DocumentVerdicts(overall(probe, results, pkg, shown), tuple(results))


def ofd_signature(
    job: Job, pkg: ofd.OfdPackage, ref: ofd.SignatureRef, expect: Expectations | None
) -> Verdict:
    """One signature of the package: its description read, then judged as its Type says (a
    stamped seal, or a licence issuer's Sign)."""
    info: ofd.SignatureInfo | None = None
    try:
        try:
            info = ofd.signature_info(pkg, ref)
            xml = pkg.read(info.path)
            value = pkg.read(info.signed_value_path)
        except ofd.OfdError as exc:
            job.refuse(exc, ref.id)
        job.ok("ofd.signature")
        if ref.type == "Sign":
            return sign_signature(job, pkg, info, xml, value)
        return ses_signature(
            job, value, xml=xml, xml_name=info.path, pkg=pkg, info=info, expect=expect
        )
    except Stop:
        pass
    return job.verdict(unread_signature_summary(ref, info))


def overall(
    job: Job, results: list[SignatureVerdict], pkg: ofd.OfdPackage, shown: ofd.Rendering
) -> Verdict:
    """The worst of the signatures' verdicts and of the document's coverage (FAILED >
    INDETERMINATE > PASSED; the first such in document order gives the sub-indication)."""
    rank = {Indication.PASSED: 0, Indication.INDETERMINATE: 1, Indication.FAILED: 2}
    worst = max(results, key=lambda r: rank[r.verdict.indication])
    for r in results:
        v = r.verdict
        job.checks.append(
            nm.result_check(
                r.id,
                v.indication.value,
                v.sub_indication.value if v.sub_indication else None,
                v.passed,
            )
        )
        job.bound(v.valid_until)
    report = coverage(job, results, pkg, shown)
    indication, sub = worst.verdict.indication, worst.verdict.sub_indication
    own, own_sub = job._indication()
    if rank[own] > rank[indication]:
        indication, sub = own, own_sub
    jurisdictions = {r.verdict.trust.issuing_jurisdiction for r in results}
    jur = jurisdictions.pop() if len(jurisdictions) == 1 else None
    summary = document_summary([r.to_dict() for r in results], pkg, report, jur)
    return Verdict(
        indication,
        sub,
        tuple(job.checks),
        summary,
        job._trust(jur),
        job.at,
        job.until,
        job.digest,
    )


def coverage(
    job: Job, results: list[SignatureVerdict], pkg: ofd.OfdPackage, shown: ofd.Rendering
) -> dict[str, Any]:
    """What the viewer shows against what the signatures protect (docs/national-formats.md,
    "Coverage"): shown content no signature protects is FAILED; unprotected annotations or
    files nothing shows, INDETERMINATE. A FAILED signature protects nothing; one that
    stopped before its check values counts with what it claims (its own verdict is then
    INDETERMINATE, and so is the document's at best)."""
    protected: set[str] = set()
    machinery = set(shown.signature_lists)
    for r in results:
        extra = r.verdict.summary.extra if r.verdict.summary is not None else {}
        own = set(extra.get("protected_files") or ())
        machinery |= {extra[k] for k in ("signature_xml", "signed_value") if extra.get(k)}
        if extra.get("seal_file") in own:  # else its bytes are nobody's: an extra file
            machinery.add(extra["seal_file"])
        machinery.add(r.path)
        extra["coverage"] = {
            "protected": sorted(shown.files & own),
            "unprotected": sorted(shown.files - own),
        }
        if r.verdict.indication is not Indication.FAILED:
            protected |= own
    content = sorted(shown.content - protected)
    annotations = sorted(shown.annotations - protected)
    extra_files = sorted(set(pkg.names) - shown.files - machinery)
    report = {
        "protected": sorted(shown.files & protected),
        "unprotected": content,
        "unprotected_annotations": annotations,
        "extra": extra_files,
        "extra_unprotected": [n for n in extra_files if n not in protected],
    }
    if content:
        job.record("ofd.coverage", files=_files(content))
    elif annotations or report["extra_unprotected"]:
        job.record("ofd.coverage_partial", files=_files(annotations + report["extra_unprotected"]))
    else:
        job.ok("ofd.coverage")
    return report


def _files(paths: list[str], limit: int = 8) -> str:
    """A list of package files for a message: the first few, then how many more."""
    shown = ", ".join("/" + p for p in paths[:limit])
    return shown + (f" (+{len(paths) - limit})" if len(paths) > limit else "")
