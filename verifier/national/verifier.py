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
for a seal on its own and at the signing time for a seal inside a signed document.

The rooms: policy.py (what is applied), job.py (one verification and the steps its checks
share), seal.py (a seal), signature.py (an SES signature), sign.py (a Type="Sign" signature),
document.py (a signed OFD document and its coverage), summary.py (what a verdict's summary says).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

from keys.x509 import SIGNATURE_CACHE_SIZE, SignatureCache
from trust_lists.store import TrustStore
from verifier._job import call_times, resolve_item
from verifier.national import asn1, ofd
from verifier.national.document import DocumentVerdicts, SignatureVerdict, judge_document
from verifier.national.job import Job
from verifier.national.policy import DEFAULT_SEAL_TYPES, NationalPolicy
from verifier.national.seal import picture_problem, seal_alone
from verifier.national.signature import ses_signature
from verifier.verdict import Verdict
from verifier.verifier import Expectations, VerificationInputError, inputs_digest

Clock = Callable[[], datetime]


class NationalVerifier:
    """Verifies national-format seals and signed OFD documents against a trust store. Stateless
    and thread-safe: each call reads `store.state` once."""

    def __init__(
        self,
        store: TrustStore,
        policy: NationalPolicy | None = None,
        *,
        clock: Clock | None = None,
        chain_cache_size: int = SIGNATURE_CACHE_SIZE,
    ) -> None:
        self._store = store
        self.policy = policy or NationalPolicy()
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        # Certificate signatures judged once per process, not once per document (bounded).
        self._chain_cache = SignatureCache(chain_cache_size)

    def _job(self, relying: object, at: object, digest: str, expect: Expectations | None) -> Job:
        relying, now, when = call_times(self._store.anchors, self._clock, relying, at)
        state = self._store.state
        job = Job(
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
        return seal_alone(job, raw, expect)

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
        inputs = [("signed_value", raw)] + ([("signature_xml", xml)] if xml is not None else [])
        digest = inputs_digest(inputs)
        job = self._job(relying, at, digest, expect)
        return ses_signature(
            job, raw, xml=xml, xml_name=data_name, pkg=None, info=None, expect=expect
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
        return judge_document(self._job(relying, at, digest, expect), raw, expect)


def _bytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise VerificationInputError(f"{what} must be bytes, not {type(value).__name__}")


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
