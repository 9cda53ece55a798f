"""Verification of national-format seals (GB/T 38540 / GM/T 0031) and of signed OFD documents
against one snapshot of the trust store, with ETSI-style verdicts (docs/national-formats.md).

    nv = NationalVerifier(store, clock=lambda: datetime.now(UTC))
    seal_verdict = nv.verify_seal(esl_bytes, "442000")
    doc = nv.verify_document(ofd_bytes, "442000")   # doc.overall, doc.signatures[i].verdict

The rules of verifier/verifier.py hold here too: the snapshot is read once per call; document
bytes never raise (malformed input is FAILED FORMAT_FAILURE); checks run in a fixed order and the
first FAILED ends the run; an INDETERMINATE is recorded and the run goes on. Every check that
needs no trust decision (signatures with the certificates carried, data hash, file check values)
runs before any trust lookup, so alteration is FAILED whoever signed; a key's status is
judged at the time the document claims it was signed, validity windows at the validation time
for a seal on its own and at the signing time for a seal inside a signed document."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, NoReturn

from keys.algorithms import SES_SIGNATURE_OIDS, SM2_SIGN, is_sm3_digest
from keys.sm2 import (
    Sm2PublicKey,
    Sm2Unavailable,
    Sm2Verifier,
    backend_available,
    signature_der,
    sm3,
)
from keys.x509 import Certificate, CertificateError, ChainError, build_chain
from trust_lists.model import KeyEntry, ServiceKind
from trust_lists.store import TrustState, TrustStore
from trust_lists.timeutil import format_time, shift
from trust_lists.uscc import is_valid_uscc
from verifier._job import JobBase, Stop, call_times, clip, resolve_item
from verifier.formats import SEAL_TYPES
from verifier.national import asn1, ofd
from verifier.national import messages as nm
from verifier.national.asn1 import SesSeal, SesSignature
from verifier.national.der import DerError, loose_time
from verifier.verdict import (
    Check,
    DocumentSummary,
    Indication,
    SubIndication,
    Verdict,
)
from verifier.verifier import Expectations, VerificationInputError

if TYPE_CHECKING:
    from verifier.national.trust import Candidate

Clock = Callable[[], datetime]

# Seal types (SES_ESPropertyInfo.type) as written by GB/T 38540 producers, mapped to catalogue
# codes: the public-security coding 1 official (法定名称章/公章), 2 finance, 3 invoice,
# 4 contract, 5 legal representative's name seal. Seen in real files: a 合同专用章 with type 4, a
# 发票监制章 with type 3. A relying jurisdiction may configure another mapping.
DEFAULT_SEAL_TYPES: Final[Mapping[int, str]] = MappingProxyType(
    {1: "official", 2: "finance", 3: "invoice", 4: "contract", 5: "legal_rep"}
)

SEAL: Final = "seal"
SEALED: Final = "sealed_document"
SIGNED: Final = "signed_document"
DOCUMENT: Final = "ofd_document"


@dataclass(frozen=True, slots=True)
class NationalPolicy:
    max_seal_bytes: int = asn1.MAX_SEAL_BYTES
    max_clock_skew: timedelta = timedelta(minutes=5)
    ofd_limits: ofd.OfdLimits = field(default_factory=ofd.OfdLimits)
    seal_types: Mapping[int, str] = field(default_factory=lambda: DEFAULT_SEAL_TYPES)
    # A bare SM2 "Sign" signature names no signer: at most this many trusted keys of each
    # jurisdiction are tried.
    max_trial_keys: int = 32


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


def _clip(value: object, limit: int = 160) -> str:
    return clip(value, limit)


def _bytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise VerificationInputError(f"{what} must be bytes, not {type(value).__name__}")


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
    kind = pic.type.strip().upper()
    data = pic.data
    if not data:
        return "no picture data"
    if pic.width <= 0 or pic.height <= 0:
        return f"size {pic.width}x{pic.height} is not positive"
    if kind == "SVG":
        head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
        if b"<svg" not in head:
            return "declared SVG, but the data is not SVG"
        if b"<!doctype" in head or b"<!entity" in head:
            return "SVG with a DTD or entities"
        return None
    magics = _PICTURE_MAGIC.get(kind)
    if magics is None:
        return f"unknown picture type {pic.type[:16]!r}"
    if not data.startswith(magics):
        return f"declared {kind}, but the data is not {kind}"
    if kind == "PNG" and data[12:16] != b"IHDR":
        return "a PNG without its IHDR header"
    return None


def holder_uscc(certs: list[Certificate]) -> str | None:
    """A unified social credit code carried in a signer certificate's subject, if any."""
    for cert in certs:
        for _, value in cert.subject_attributes:
            for token in value.replace(":", " ").replace("=", " ").split():
                if len(token) == 18 and is_valid_uscc(token.upper()):
                    return token.upper()
    return None


class NationalVerifier:
    """Verifies national-format seals and signed OFD documents against a trust store. Stateless
    and thread-safe: each call reads `store.state` once."""

    def __init__(
        self,
        store: TrustStore,
        policy: NationalPolicy | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        self._store = store
        self.policy = policy or NationalPolicy()
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self._chain_cache: dict[tuple[str, str], bool] = {}

    def _job(self, relying: object, at: object, digest: str, expect: Expectations | None) -> _Job:
        relying, now, when = call_times(self._store.anchors, self._clock, relying, at)
        state = self._store.state
        job = _Job(
            self.policy,
            self._store.anchors,
            state,
            self._chain_cache,
            relying=relying,
            now=now,
            at=when,
            digest=digest,
        )
        if expect is not None:
            job.item = resolve_item(state, relying, expect.service_item)
        return job

    def verify_seal(
        self,
        data: bytes,
        relying: str,
        at: datetime | None = None,
        *,
        expect: Expectations | None = None,
    ) -> Verdict:
        """A bare SES_Seal (.esl), judged at the validation time `at` (default: now)."""
        raw = _bytes(data, "data")
        job = self._job(relying, at, hashlib.sha256(raw).hexdigest(), expect)
        return job.seal_alone(raw, expect)

    def verify_signature(
        self,
        signed_value: bytes,
        signature_xml: bytes | None,
        relying: str,
        at: datetime | None = None,
        *,
        expect: Expectations | None = None,
        data_name: str = "Signature.xml",
    ) -> Verdict:
        """An SES_Signature (SignedValue.dat) against the Signature.xml it signs, outside any
        package: everything but the file check values is judged. Without `signature_xml` the
        signature and the seal are judged all the same, and the verdict is at best INDETERMINATE
        SIGNED_DATA_NOT_FOUND."""
        raw = _bytes(signed_value, "signed_value")
        xml = _bytes(signature_xml, "signature_xml") if signature_xml is not None else None
        if xml is None:
            digest = hashlib.sha256(raw).hexdigest()
        else:
            digest = hashlib.sha256(
                b"huren-inputs-v1\0signed_value\0"
                + hashlib.sha256(raw).digest()
                + b"\0signature_xml\0"
                + hashlib.sha256(xml).digest()
            ).hexdigest()
        job = self._job(relying, at, digest, expect)
        return job.ses_signature(
            raw, xml=xml, xml_name=data_name, pkg=None, info=None, expect=expect
        )

    def verify_document(
        self,
        data: bytes,
        relying: str,
        at: datetime | None = None,
        *,
        expect: Expectations | None = None,
    ) -> DocumentVerdicts:
        """A signed OFD document: every signature judged on its own, against one snapshot."""
        raw = _bytes(data, "data")
        digest = hashlib.sha256(raw).hexdigest()
        probe = self._job(relying, at, digest, expect)
        try:
            pkg = ofd.OfdPackage(raw, self.policy.ofd_limits)
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
            verdict = job.ofd_signature(pkg, ref, expect)
            results.append(SignatureVerdict(ref.id, ref.type, ref.path, verdict))
        try:
            pkg.finish()  # the entries nothing read: a streaming reader must see the same
        except ofd.OfdError as exc:
            probe.package_error(exc)
            return DocumentVerdicts(probe.verdict(DocumentSummary(DOCUMENT)), tuple(results))
        return DocumentVerdicts(probe.overall(results, pkg, shown), tuple(results))


_ROLE: Final = {
    "maker": ("制章者", "seal maker's"),
    "signer": ("签章者", "signer's"),
    "anchor": ("信任列表中的", "trust-listed"),
}


class _Job(JobBase[NationalPolicy]):
    """One verification (one seal, or one signature of a document)."""

    def __init__(
        self,
        policy: NationalPolicy,
        anchors: Mapping[str, object],
        state: TrustState,
        chain_cache: dict[tuple[str, str], bool],
        *,
        relying: str,
        now: datetime,
        at: datetime,
        digest: str,
    ) -> None:
        super().__init__(policy, anchors, state, relying=relying, now=now, at=at)
        self.chain_cache = chain_cache
        self.now = now
        self.digest = digest

    def fork(self) -> _Job:
        job = _Job(
            self.policy,
            self.anchors,
            self.state,
            self.chain_cache,
            relying=self.relying,
            now=self.now,
            at=self.at,
            digest=self.digest,
        )
        job.item = self.item
        return job

    # -- recording ---------------------------------------------------------------------------

    def ok(self, code: str, **params: object) -> None:
        self.checks.append(nm.check(code, self.prefix, **params))

    def _failed(
        self, code: str, prefix: str, params: Mapping[str, object]
    ) -> tuple[Check, SubIndication | None]:
        return nm.failed(code, prefix, **params)

    def record(self, code: str, /, **params: object) -> Check:
        return self._record(code, self.prefix, params)

    def verdict(self, summary: DocumentSummary) -> Verdict:
        return self._verdict(summary, self.digest)

    def package_error(self, exc: ofd.OfdError) -> None:
        """Record a refusal of the package or of one of its files, under its own code."""
        params = exc.params
        if "detail" in params:
            params = {**params, "detail": _clip(params["detail"], 300)}
        self._record(exc.code, self.prefix, params)

    def refuse(self, exc: ofd.OfdError, sid: str) -> NoReturn:
        """End the job on an OfdError met while judging one signature."""
        if exc.code == "ofd.package":  # a file of this signature: its description's fault
            self.stop("ofd.signature", sid=sid, detail=_clip(str(exc), 300))
        self.package_error(exc)
        raise Stop

    def overall(
        self, results: list[SignatureVerdict], pkg: ofd.OfdPackage, shown: ofd.Rendering
    ) -> Verdict:
        """The worst of the signatures' verdicts and of the document's coverage (FAILED >
        INDETERMINATE > PASSED; the first such in document order gives the sub-indication)."""
        rank = {Indication.PASSED: 0, Indication.INDETERMINATE: 1, Indication.FAILED: 2}
        worst = max(results, key=lambda r: rank[r.verdict.indication])
        for r in results:
            v = r.verdict
            self.checks.append(
                nm.result_check(
                    r.id,
                    v.indication.value,
                    v.sub_indication.value if v.sub_indication else None,
                    v.passed,
                )
            )
            self.bound(v.valid_until)
        coverage = self.coverage(results, pkg, shown)
        indication, sub = worst.verdict.indication, worst.verdict.sub_indication
        own, own_sub = self._indication()
        if rank[own] > rank[indication]:
            indication, sub = own, own_sub
        jurisdictions = {r.verdict.trust.issuing_jurisdiction for r in results}
        jur = jurisdictions.pop() if len(jurisdictions) == 1 else None
        summary = DocumentSummary(
            DOCUMENT,
            document_id=None,
            issuing_jurisdiction=jur,
            extra={
                "files": len(pkg.names),
                "coverage": coverage,
                "work": {"inflated_bytes": pkg.inflated_bytes, "hashed_bytes": pkg.hashed_bytes},
                "signatures": [r.to_dict() for r in results],
            },
        )
        return Verdict(
            indication,
            sub,
            tuple(self.checks),
            summary,
            self._trust(jur),
            self.at,
            self.until,
            self.digest,
        )

    def coverage(
        self, results: list[SignatureVerdict], pkg: ofd.OfdPackage, shown: ofd.Rendering
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
            self.record("ofd.coverage", files=_files(content))
        elif annotations or report["extra_unprotected"]:
            self.record(
                "ofd.coverage_partial", files=_files(annotations + report["extra_unprotected"])
            )
        else:
            self.ok("ofd.coverage")
        return report

    # -- a seal on its own -------------------------------------------------------------------

    def seal_alone(self, raw: bytes, expect: Expectations | None) -> Verdict:
        seal: SesSeal | None = None
        maker: Certificate | None = None
        signers: list[Certificate] = []
        try:
            limit = self.policy.max_seal_bytes
            if len(raw) > limit:
                self.stop("format.size", size=len(raw), limit=limit)
            self.ok("format.size")
            seal = self.parse_seal(raw)
            maker, signers = self.judge_seal(seal, None)
            if expect is not None:
                self.expect(expect, seal, signers)
        except Stop:
            pass
        return self.verdict(self.seal_summary(seal, maker, signers))

    def parse_seal(self, raw: bytes) -> SesSeal:
        try:
            seal = asn1.parse_seal(raw)
        except DerError as exc:
            self.stop("ses.format", what="印章", what_en="The seal", detail=_clip(str(exc)))
        self.ok("ses.format", format=f"SES_Seal {seal.format_name}")
        return seal

    def algorithm(self, oid: str) -> None:
        if oid not in SES_SIGNATURE_OIDS:
            self.stop("ses.algorithm", oid=_clip(oid, 64))

    def backend(self) -> None:
        if not backend_available():
            self.flag("ses.backend", detail="tongsuopy is not installed")
            raise Stop

    def certificate(self, der_bytes: bytes, role: str) -> Certificate:
        try:
            return Certificate.parse(der_bytes)
        except CertificateError as exc:
            zh, en = _ROLE[role]
            self.stop("ses.certificate", role_zh=zh, role_en=en, detail=_clip(str(exc)))

    def cert_period(self, cert: Certificate, role: str, when: datetime) -> None:
        zh, en = _ROLE[role]
        if when < cert.not_before:
            self.stop(
                "cert.not_yet_valid",
                role_zh=zh,
                role_en=en,
                nbf=format_time(cert.not_before),
                at=format_time(when),
            )
        if when > cert.not_after:
            self.stop(
                "cert.expired",
                role_zh=zh,
                role_en=en,
                exp=format_time(cert.not_after),
                at=format_time(when),
            )
        if not cert.allows_signing():
            self.stop("cert.key_usage", role_zh=zh, role_en=en)

    def judge_seal(
        self, seal: SesSeal, signed_at: datetime | None
    ) -> tuple[Certificate, list[Certificate]]:
        """Everything about a parsed seal: first what needs no trust decision, then the rest.
        Inside a signed document (`signed_at` set) its validity is judged at that signing time;
        on its own, at the validation time."""
        maker, signers = self.seal_integrity(seal)
        self.seal_trust(seal, maker, signers, signed_at)
        return maker, signers

    def seal_integrity(self, seal: SesSeal) -> tuple[Certificate, list[Certificate]]:
        """The seal as its maker made it: the maker's signature with the certificate the seal
        carries, and its picture. No trust list is read."""
        self.algorithm(seal.signature_oid)
        self.ok("ses.algorithm")
        self.backend()
        maker = self.certificate(seal.maker_cert, "maker")
        signers = [self.certificate(c, "signer") for c in seal.certs]
        self.ok("ses.certificate")
        self.sm2_signature(maker, seal.signature, seal.signed_content)
        problem = picture_problem(seal.picture)
        if problem is not None:
            self.stop("ses.picture", detail=problem)
        self.ok("ses.picture")
        return maker, signers

    def seal_trust(
        self,
        seal: SesSeal,
        maker: Certificate,
        signers: list[Certificate],
        signed_at: datetime | None,
    ) -> None:
        """Who made the seal and whether it counts here: the maker's trust-list entry and
        chain, times, scope, validity and recognition."""
        type_code = self.seal_type_code(seal.seal_type)
        if type_code is None:
            self.stop("ses.type", value=seal.seal_type)
        self.ok("ses.type")
        entry = self.resolve_maker(maker, seal.created, type_code)
        self.cert_period(maker, "maker", seal.created)
        self.ok("cert.period")
        self.key_status(entry.key, seal.created)
        self.fresh(self.jurisdiction)
        self.scope(entry, type_code)
        when = signed_at if signed_at is not None else self.at
        self.validity(seal.created, seal.valid_start, seal.valid_end, when, signed_at is None)
        uscc = holder_uscc(signers)
        if uscc is not None:
            self.ok("identifier.uscc")
        assert self.jurisdiction is not None
        self.recognition(self.jurisdiction, type_code)
        self.ok("ses.revocation_unchecked")

    def sm2_signature(self, cert: Certificate, value: bytes, message: bytes) -> None:
        """`signature.valid`: `value` (DER or 64-byte r||s, one reading: keys.sm2.signature_der)
        is the SM2 signature of `message` by `cert`'s key."""
        try:
            der_value = signature_der(value)
        except ValueError as exc:
            self.stop("ses.signature_value", detail=_clip(str(exc)))
        try:
            good = Sm2Verifier(cert.public_point).verify(der_value, message)
        except Sm2Unavailable as exc:
            self.flag("ses.backend", detail=_clip(str(exc)))
            raise Stop from exc
        if not good:
            self.stop("signature.valid")
        self.ok("signature.valid")

    def resolve_maker(self, maker: Certificate, created: datetime, type_code: str) -> KeyEntry:
        """The trust-list entry vouching for the seal maker, its chain checked at `created`."""
        from verifier.national.trust import candidates

        found = candidates(self.state, maker, ServiceKind.SEAL_AUTHORITY)
        if not found:
            missing = sorted(set(self.anchors) - set(self.state.lists))
            if missing:
                self.flag("trust.list_available", jur=", ".join(missing))
                raise Stop
            other = candidates(self.state, maker, ServiceKind.LICENCE_ISSUER)
            if other:
                svc = other[0].entry.service
                self.jurisdiction = other[0].jurisdiction
                self.stop(
                    "key.service_kind",
                    service_zh=svc.name_zh,
                    service_en=svc.name_en,
                    kind_zh="证照签发机构",
                    kind_en="licence issuer",
                    doc_zh="企业电子印章",
                    doc_en="enterprise e-seals",
                )
            self.flag("ses.maker_found", name=_clip(maker.display_name, 120))
            raise Stop  # nothing after can be judged without the maker's entry
        cand, errors = self.vouching(
            maker,
            found,
            lambda c: build_chain(maker, [c.anchor], created, verified=self.chain_cache),
        )
        if cand is not None:
            self.entry = cand.entry
            self.ok("ses.maker_found")
            self.ok("ses.maker_chain")
            return cand.entry
        self.jurisdiction = found[0].jurisdiction
        self.stop("ses.maker_chain", detail=_clip(errors[0] if errors else "no path"))

    def vouching(
        self, cert: Certificate, found: list[Candidate], build: Callable[[Candidate], object]
    ) -> tuple[Candidate | None, list[str]]:
        """The first candidate whose chain `build`s (its jurisdiction becomes the document's),
        else None and the chain errors. Should candidates of two jurisdictions both build (one
        city listing a certificate, or its bare key, that another city's CA issued), which city
        answers for the certificate is ambiguous: INDETERMINATE, never the first city's word."""
        chosen: Candidate | None = None
        errors: list[str] = []
        for cand in found:
            if chosen is not None and cand.jurisdiction == chosen.jurisdiction:
                continue
            try:
                build(cand)
            except (ChainError, Sm2Unavailable) as exc:
                errors.append(str(exc))
                continue
            if chosen is not None:
                self.stop(
                    "ses.vouched_once",
                    name=_clip(cert.display_name, 120),
                    first=chosen.jurisdiction,
                    second=cand.jurisdiction,
                )
            chosen = cand
            self.jurisdiction = cand.jurisdiction
        return chosen, errors

    def scope(self, entry: KeyEntry, type_code: str) -> None:
        service = entry.service
        if type_code not in service.scope:
            zh, en = self.type_names(type_code)
            self.stop(
                "key.scope",
                service_zh=service.name_zh,
                service_en=service.name_en,
                type_zh=zh,
                type_en=en,
            )
        self.ok("key.scope")

    def seal_type_code(self, number: int) -> str | None:
        """The seal type of a GB/T 38540 type number: as the signed catalogue names it, else by
        the built-in table (NationalPolicy.seal_types)."""
        cat = self.state.catalogue
        named = cat.catalogue.seal_type_for_number(number) if cat is not None else None
        return named if named is not None else self.policy.seal_types.get(number)

    def type_names(self, code: str) -> tuple[str, str]:
        cat = self.state.catalogue
        if cat is not None:
            t = cat.catalogue.seal_types.get(code)
            if t is not None:
                return t.name_zh, t.name_en
        return SEAL_TYPES.get(code, (code, code))

    def expect(self, expect: Expectations, seal: SesSeal, signers: list[Certificate]) -> None:
        prefix, self.prefix = self.prefix, ""
        if expect.holder_id is not None:
            actual = holder_uscc(signers) or "-"
            if actual != expect.holder_id:
                self.stop("expect.holder", actual=actual, expected=_clip(expect.holder_id, 64))
            self.ok("expect.holder")
        if expect.seal_type is not None:
            actual_code = self.seal_type_code(seal.seal_type) or f"type {seal.seal_type}"
            if actual_code != expect.seal_type:
                a_zh, a_en = self.type_names(actual_code)
                e_zh, e_en = self.type_names(_clip(expect.seal_type, 64))
                self.stop(
                    "expect.type",
                    actual_zh=a_zh,
                    actual_en=a_en,
                    expected_zh=e_zh,
                    expected_en=e_en,
                )
            self.ok("expect.type")
        self.prefix = prefix

    # -- signatures --------------------------------------------------------------------------

    def ofd_signature(
        self, pkg: ofd.OfdPackage, ref: ofd.SignatureRef, expect: Expectations | None
    ) -> Verdict:
        info: ofd.SignatureInfo | None = None
        try:
            try:
                info = ofd.signature_info(pkg, ref)
                xml = pkg.read(info.path)
                value = pkg.read(info.signed_value_path)
            except ofd.OfdError as exc:
                self.refuse(exc, ref.id)
            self.ok("ofd.signature")
            if ref.type == "Sign":
                return self.sign_signature(pkg, info, xml, value)
            return self.ses_signature(
                value, xml=xml, xml_name=info.path, pkg=pkg, info=info, expect=expect
            )
        except Stop:
            pass
        summary = DocumentSummary(
            SIGNED if ref.type == "Sign" else SEALED,
            document_id=ref.id,
            extra=ofd.describe(info) if info is not None else {"signature_xml": ref.path},
        )
        return self.verdict(summary)

    def references(self, pkg: ofd.OfdPackage, info: ofd.SignatureInfo) -> None:
        method = info.check_method or "MD5"  # GB/T 33190: the default check method is MD5
        if not is_sm3_digest(method):
            self.stop("ofd.check_method", method=_clip(method, 64))
        self.ok("ofd.check_method")
        expected: list[bytes] = []
        for r in info.references:  # every cheap check before any hashing
            if not pkg.exists(r.path):
                self.stop("ofd.reference_missing", file="/" + r.path)
            try:
                expected.append(base64.b64decode(r.check_value, validate=True))
            except (binascii.Error, ValueError):
                self.stop("ofd.references", file="/" + r.path)
        for r, value in zip(info.references, expected, strict=True):
            try:
                actual = pkg.digest(r.path)  # memoised: once per document
            except ofd.OfdError as exc:
                self.refuse(exc, "-")
            if actual != value:
                self.stop("ofd.references", file="/" + r.path)
        self.ok("ofd.references")

    def ses_signature(
        self,
        raw: bytes,
        *,
        xml: bytes | None,
        xml_name: str,
        pkg: ofd.OfdPackage | None,
        info: ofd.SignatureInfo | None,
        expect: Expectations | None,
    ) -> Verdict:
        sig: SesSignature | None = None
        signer: Certificate | None = None
        maker: Certificate | None = None
        signers: list[Certificate] = []
        try:
            try:
                sig = asn1.parse_signature(raw)
            except DerError as exc:
                self.stop(
                    "ses.format", what="签章数据", what_en="The signature", detail=_clip(str(exc))
                )
            self.ok("ses.format", format=f"SES_Signature {sig.layout} v{sig.version}")
            self.algorithm(sig.signature_oid)
            self.ok("ses.algorithm")
            self.backend()
            signer = self.certificate(sig.signer_cert, "signer")
            # Integrity first: the signer's signature, the data hash, the files, the seal as made.
            self.sm2_signature(signer, sig.signature, sig.tbs)
            if xml is None:
                self.flag("ses.signed_data")
            elif sm3(xml) != sig.data_hash:
                self.stop("ses.data_hash", file="/" + xml_name.lstrip("/"))
            else:
                self.ok("ses.data_hash")
            if pkg is not None and info is not None:
                self.references(pkg, info)
            self.prefix = nm.SEAL_PREFIX
            maker, signers = self.seal_integrity(sig.seal)
            self.prefix = ""
            if not self.signer_listed(sig.seal, signer):
                self.stop("ses.signer_listed", name=_clip(signer.display_name, 120))
            self.ok("ses.signer_listed")
            signed_at = sig.signed_at
            self.cert_period(signer, "signer", signed_at)
            self.ok("cert.period")
            skew = self.policy.max_clock_skew
            if signed_at > shift(self.at, skew):
                self.stop(
                    "validity.not_yet_issued",
                    until=shift(signed_at, -skew),
                    iat=format_time(signed_at),
                    at=format_time(self.at),
                )
            # Then trust: the seal judged at the signing time the signature claims.
            self.prefix = nm.SEAL_PREFIX
            self.seal_trust(sig.seal, maker, signers, signed_at)
            self.prefix = ""
            self.period(signed_at, sig.seal, signer, maker)
            if expect is not None:
                self.expect(expect, sig.seal, signers or [signer])
        except Stop:
            pass
        summary = self.signature_summary(sig, signer, maker, info)
        if pkg is not None and info is not None:
            summary.extra["unprotected_files"] = ofd.unprotected(pkg, info)
        return self.verdict(summary)

    def signer_listed(self, seal: SesSeal, signer: Certificate) -> bool:
        if seal.cert_list_type == 1:
            return signer.der in seal.certs
        for d in seal.cert_digests:
            kind = d.type.strip().upper()
            if kind in ("SM3", "1.2.156.10197.1.401") and d.value == signer.sm3:
                return True
            if kind in ("SHA256", "SHA-256") and d.value == hashlib.sha256(signer.der).digest():
                return True
        return False

    def period(
        self, signed_at: datetime, seal: SesSeal, signer: Certificate, maker: Certificate
    ) -> None:
        """The validation time against the earliest end of what the signature relies on: the
        seal's validity and the signer's certificate. Past it, the signing time is only claimed."""
        ends = [
            (seal.valid_end, "印章", "seal"),
            (signer.not_after, "签章者证书", "signer's certificate"),
        ]
        del maker  # the maker's certificate is judged at the seal's creation
        end, zh, en = min(ends, key=lambda e: e[0])
        if self.at >= end:
            self.flag(
                "ses.signed_in_period",
                what_zh=zh,
                what_en=en,
                exp=format_time(end),
                signed=format_time(signed_at),
            )
        else:
            self.ok("ses.signed_in_period")
            self.bound(end)

    def sign_signature(
        self, pkg: ofd.OfdPackage, info: ofd.SignatureInfo, xml: bytes, value: bytes
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
                self.algorithm(info.signature_method)
            self.ok("ses.algorithm")
            self.backend()
            try:
                signed_at = loose_time(info.signature_datetime or "", "SignatureDateTime")
            except DerError as exc:
                self.stop("ofd.signature", sid="/" + info.path, detail=_clip(str(exc)))
            # Integrity first: what a SignedData carries needs no trust list; a bare signature
            # names no signer, so only the files can be checked before the keys are tried.
            if asn1.is_signed_data(value):
                form = "GB/T 35275 SignedData"
                cert, others = self.signed_data(value, xml, info)
                self.references(pkg, info)
                entry = self.signer_anchor(cert, others, signed_at)
            else:
                self.references(pkg, info)
                entry, cert = self.bare_signer(value, xml)
            self.entry = entry
            if cert is not None:
                self.cert_period(cert, "signer", signed_at)
                self.ok("cert.period")
            self.key_status(entry.key, signed_at)
            self.fresh(self.jurisdiction)
            skew = self.policy.max_clock_skew
            if signed_at > shift(self.at, skew):
                self.stop(
                    "validity.not_yet_issued",
                    until=shift(signed_at, -skew),
                    iat=format_time(signed_at),
                    at=format_time(self.at),
                )
            if cert is not None:
                if self.at >= cert.not_after:
                    self.flag(
                        "ses.signed_in_period",
                        what_zh="签名者证书",
                        what_en="signer's certificate",
                        exp=format_time(cert.not_after),
                        signed=format_time(signed_at),
                    )
                else:
                    self.ok("ses.signed_in_period")
                    self.bound(cert.not_after)
            self.ok("ses.revocation_unchecked")
        except Stop:
            pass
        extra = ofd.describe(info)
        extra["format"] = form
        extra["unprotected_files"] = ofd.unprotected(pkg, info)
        service = entry.service if entry is not None else None
        return self.verdict(
            DocumentSummary(
                SIGNED,
                document_id=None,
                holder_id=holder_uscc([cert]) if cert is not None else None,
                issuer_service=service.id if service else None,
                issuer_name_zh=service.name_zh if service else None,
                issuer_name_en=service.name_en if service else None,
                issuing_jurisdiction=self.jurisdiction,
                issued_at=signed_at,
                extra={**extra, "signer": cert.subject if cert is not None else None},
            )
        )

    def _no_signer(self, code: str, name: str | None = None) -> NoReturn:
        """No listed licence issuer vouches for the signer: INDETERMINATE, and nothing after
        can be judged (TRY_LATER while a configured jurisdiction's list is missing)."""
        missing = sorted(set(self.anchors) - set(self.state.lists))
        if missing:
            self.flag("trust.list_available", jur=", ".join(missing))
        elif name is None:
            self.flag(code)
        else:
            self.flag(code, name=name)
        raise Stop

    def bare_signer(self, value: bytes, xml: bytes) -> tuple[KeyEntry, Certificate | None]:
        from verifier.national.trust import sm2_entries

        try:
            sig = signature_der(value)
        except ValueError as exc:
            self.stop("ses.signature_value", detail=_clip(str(exc)))
        # The bound holds per jurisdiction: one city listing many keys never leaves another
        # city's keys untried.
        tried: dict[str, int] = {}
        for code, e in sm2_entries(self.state, ServiceKind.LICENCE_ISSUER):
            key = e.key.key
            assert isinstance(key, Sm2PublicKey)
            if key.certificate is not None and key.certificate.is_ca:
                continue  # a CA's key does not sign documents
            if tried.get(code, 0) >= self.policy.max_trial_keys:
                continue
            tried[code] = tried.get(code, 0) + 1
            try:
                good = key.verify(sig, xml)
            except Sm2Unavailable as exc:
                self.flag("ses.backend", detail=_clip(str(exc)))
                raise Stop from exc
            if good:
                self.jurisdiction = code
                self.ok("ses.signer_key")
                self.ok("signature.valid")
                return e, key.certificate
        self._no_signer("ses.signer_key")

    def signed_data(
        self, value: bytes, xml: bytes, info: ofd.SignatureInfo
    ) -> tuple[Certificate, list[Certificate]]:
        """A GB/T 35275 SignedData, as far as it can be judged without a trust list: its
        structure, its signer's certificate (and the others carried), messageDigest, signature."""
        try:
            sd = asn1.parse_signed_data(value)
        except DerError as exc:
            self.stop(
                "ses.format", what="签名值", what_en="The signed message", detail=_clip(str(exc))
            )
        self.ok("ses.format", format="GB/T 35275 SignedData")
        if not is_sm3_digest(sd.digest_oid):
            self.stop("ses.algorithm", oid=_clip(sd.digest_oid, 64))
        if sd.signature_oid not in SES_SIGNATURE_OIDS and sd.signature_oid != SM2_SIGN:
            self.stop("ses.algorithm", oid=_clip(sd.signature_oid, 64))
        certs = [self.certificate(c, "signer") for c in sd.certificates]
        signer = next(
            (c for c in certs if c.issuer_der == sd.issuer_der and c.serial == sd.serial), None
        )
        if signer is None:
            self.stop(
                "ses.certificate",
                role_zh="签名者",
                role_en="signer's",
                detail="the SignedData does not carry its signer's certificate",
            )
        self.ok("ses.certificate")
        content = xml if sd.content is None else sd.content
        if content not in (xml, sm3(xml)):
            self.stop("ses.data_hash", file="/" + info.path)
        if sd.signed_attributes is not None:
            if sd.message_digest != sm3(content):
                self.stop("ses.data_hash", file="/" + info.path)
            signed = sd.signed_attributes
        else:
            signed = content
        self.ok("ses.data_hash")
        self.sm2_signature(signer, sd.signature, signed)
        return signer, [c for c in certs if c is not signer]

    def signer_anchor(
        self, signer: Certificate, others: list[Certificate], signed_at: datetime
    ) -> KeyEntry:
        """The licence issuer's entry that `signer` chains to (the other carried certificates
        as intermediates), at `signed_at`."""
        from verifier.national.trust import candidates

        found = candidates(self.state, signer, ServiceKind.LICENCE_ISSUER)
        for c in others:  # a listed CA may sit above a carried intermediate
            found += candidates(self.state, c, ServiceKind.LICENCE_ISSUER)
        if not found:
            self._no_signer("ses.signer_found", name=_clip(signer.display_name, 120))
        cand, errors = self.vouching(
            signer,
            found,
            lambda c: build_chain(signer, [c.anchor], signed_at, others, verified=self.chain_cache),
        )
        if cand is not None:
            self.ok("ses.signer_found")
            return cand.entry
        self.jurisdiction = found[0].jurisdiction
        self.stop("ses.signer_chain", detail=_clip(errors[-1] if errors else "no path"))

    # -- summaries ---------------------------------------------------------------------------

    def _service_names(self) -> tuple[str | None, str | None, str | None]:
        e = self.entry
        if e is None:
            return None, None, None
        return e.service.id, e.service.name_zh, e.service.name_en

    def seal_summary(
        self, seal: SesSeal | None, maker: Certificate | None, signers: list[Certificate]
    ) -> DocumentSummary:
        if seal is None:
            return DocumentSummary(SEAL)
        code = self.seal_type_code(seal.seal_type)
        # An unknown number is shown as such; the catalogue can name it (ses_type_numbers).
        zh, en = (
            self.type_names(code) if code else (f"类型 {seal.seal_type}", f"type {seal.seal_type}")
        )
        sid, s_zh, s_en = self._service_names()
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
            self.jurisdiction,
            seal.created,
            seal.valid_start,
            seal.valid_end,
            extra,
        )

    def signature_summary(
        self,
        sig: SesSignature | None,
        signer: Certificate | None,
        maker: Certificate | None,
        info: ofd.SignatureInfo | None,
    ) -> DocumentSummary:
        extra: dict[str, Any] = ofd.describe(info) if info is not None else {}
        if sig is None:
            return DocumentSummary(SEALED, extra=extra)
        seal_summary = self.seal_summary(sig.seal, maker, [])
        extra.update(
            {
                "format": f"SES_Signature {sig.layout} v{sig.version}",
                "seal": seal_summary.extra,
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
            seal_summary.type_code,
            seal_summary.type_name_zh,
            seal_summary.type_name_en,
            sig.seal.name,
            holder_uscc([signer]) if signer is not None else None,
            seal_summary.issuer_service,
            seal_summary.issuer_name_zh,
            seal_summary.issuer_name_en,
            self.jurisdiction,
            sig.signed_at,
            sig.seal.valid_start,
            sig.seal.valid_end,
            extra,
        )


def _files(paths: list[str], limit: int = 8) -> str:
    """A list of package files for a message: the first few, then how many more."""
    shown = ", ".join("/" + p for p in paths[:limit])
    return shown + (f" (+{len(paths) - limit})" if len(paths) > limit else "")


def sniff(data: bytes) -> str | None:
    """'ofd' for an OFD package, 'seal' for a DER SES_Seal, 'signature' for an SES_Signature,
    None otherwise (cheap: for routing uploads, not for judging them)."""
    if ofd.looks_like_ofd(data):
        return "ofd"
    return asn1.sniff(data)


__all__ = [
    "DEFAULT_SEAL_TYPES",
    "DocumentVerdicts",
    "NationalPolicy",
    "NationalVerifier",
    "SignatureVerdict",
    "picture_problem",
    "sniff",
]
