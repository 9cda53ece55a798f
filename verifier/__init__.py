"""Verification of e-licences, enterprise e-seals, sealed documents and the national formats
(GB/T 38540 seals and signatures, signed OFD documents; docs/formats.md), with ETSI-style
verdicts (docs/verdicts.md). One entry, `Verifier.verify`:

    verifier = Verifier(store, clock=lambda: datetime.now(UTC))
    verdict = verifier.verify(
        VerificationRequest(DocumentKind.LICENCE, token, "442000", expect=Expectations(...))
    )

What an upload is (a national format, a JWS of which kind, something unsupported) is
recognised by verifier.recognise."""

from verifier.entry import VerificationRequest, Verifier
from verifier.formats import LICENCE_TYP, SEAL_TYP, SEALED_DOC_TYP
from verifier.national.verifier import NationalPolicy
from verifier.recognise import NationalFormat
from verifier.verdict import (
    Check,
    CheckResult,
    DocumentKind,
    DocumentSummary,
    Indication,
    SubIndication,
    TrustContext,
    Verdict,
)
from verifier.verifier import (
    Expectations,
    UnknownServiceItem,
    VerificationInputError,
    VerificationPolicy,
)

__all__ = [
    "LICENCE_TYP",
    "SEALED_DOC_TYP",
    "SEAL_TYP",
    "Check",
    "CheckResult",
    "DocumentKind",
    "DocumentSummary",
    "Expectations",
    "Indication",
    "NationalFormat",
    "NationalPolicy",
    "SubIndication",
    "TrustContext",
    "UnknownServiceItem",
    "Verdict",
    "VerificationInputError",
    "VerificationPolicy",
    "VerificationRequest",
    "Verifier",
]
