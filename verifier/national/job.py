"""One national verification (one seal, or one signature of a document): the snapshot it is
judged against, the checks so far, and the steps the seal and signature checks share (the
algorithm, the SM2 backend, carried certificates and their periods, SM2 signatures, which
trust-list entry vouches, the seal-type names). Recording and the trust rules common to both
verifiers are verifier/_job.py's; the checks themselves are in seal.py, signature.py, sign.py
and document.py, each a function of the job."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Final, NoReturn

from keys.algorithms import SES_SIGNATURE_OIDS
from keys.sm2 import Sm2Unavailable, Sm2Verifier, backend_available, signature_der
from keys.x509 import Certificate, CertificateError, ChainError, SignatureCache
from trust_lists.store import TrustState
from trust_lists.timeutil import format_time
from verifier._job import JobBase, Stop
from verifier._job import clip as _clip_to
from verifier.formats import SEAL_TYPES
from verifier.national import messages as nm
from verifier.national import ofd
from verifier.national.policy import NationalPolicy
from verifier.national.trust import Candidate
from verifier.verdict import Check, DocumentSummary, SubIndication, Verdict

_ROLE: Final = {
    "maker": ("制章者", "seal maker's"),
    "signer": ("签章者", "signer's"),
    "anchor": ("信任列表中的", "trust-listed"),
}


def clip(value: object, limit: int = 160) -> str:
    """A value shortened for a message (national messages allow a little more than JWS ones)."""
    return _clip_to(value, limit)


class Job(JobBase[NationalPolicy]):
    """One verification (one seal, or one signature of a document)."""

    def __init__(
        self,
        policy: NationalPolicy,
        anchors: Mapping[str, object],
        state: TrustState,
        chain_cache: SignatureCache,
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

    def fork(self) -> Job:
        job = Job(
            self.policy,
            self.anchors,
            self.state,
            self.chain_cache,
            relying=self.relying,
            now=self.now,
            at=self.at,
            digest=self.digest,
        )
        job.item = self.item  # the service item asked about, for every signature alike
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
            params = {**params, "detail": clip(params["detail"], 300)}
        self._record(exc.code, self.prefix, params)

    def refuse(self, exc: ofd.OfdError, sid: str) -> NoReturn:
        """End the job on an OfdError met while judging one signature."""
        if exc.code == "ofd.package":  # a file of this signature: its description's fault
            self.stop("ofd.signature", sid=sid, detail=clip(str(exc), 300))
        self.package_error(exc)
        raise Stop

    # -- steps the seal and signature checks share -------------------------------------------

    def algorithm(self, oid: str) -> None:
        if oid not in SES_SIGNATURE_OIDS:
            self.stop("ses.algorithm", oid=clip(oid, 64))

    def backend(self) -> None:
        if not backend_available():
            self.flag("ses.backend", detail="tongsuopy is not installed")
            raise Stop

    def certificate(self, der_bytes: bytes, role: str) -> Certificate:
        try:
            return Certificate.parse(der_bytes)
        except CertificateError as exc:
            zh, en = _ROLE[role]
            self.stop("ses.certificate", role_zh=zh, role_en=en, detail=clip(str(exc)))

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

    def sm2_signature(self, cert: Certificate, value: bytes, message: bytes) -> None:
        """`signature.valid`: `value` (DER or 64-byte r||s, one reading: keys.sm2.signature_der)
        is the SM2 signature of `message` by `cert`'s key."""
        try:
            der_value = signature_der(value)
        except ValueError as exc:
            self.stop("ses.signature_value", detail=clip(str(exc)))
        try:
            good = Sm2Verifier(cert.public_point).verify(der_value, message)
        except Sm2Unavailable as exc:
            self.flag("ses.backend", detail=clip(str(exc)))
            raise Stop from exc
        if not good:
            self.stop("signature.valid")
        self.ok("signature.valid")

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
                    name=clip(cert.display_name, 120),
                    first=chosen.jurisdiction,
                    second=cand.jurisdiction,
                )
            chosen = cand
            self.jurisdiction = cand.jurisdiction
        return chosen, errors

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
