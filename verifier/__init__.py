"""Verification of e-licences, enterprise e-seals and sealed documents (docs/formats.md), with
ETSI-style verdicts (docs/verdicts.md).

    verifier = Verifier(store, VerificationPolicy(), clock=lambda: datetime.now(UTC))
    verdict = verifier.verify_licence(token, "442000")
"""

from verifier.formats import LICENCE_TYP, SEAL_TYP, SEALED_DOC_TYP
from verifier.verdict import (
    Check,
    CheckResult,
    DocumentSummary,
    Indication,
    SubIndication,
    TrustContext,
    Verdict,
)
from verifier.verifier import (
    Expectations,
    VerificationInputError,
    VerificationPolicy,
    Verifier,
)

__all__ = [
    "LICENCE_TYP",
    "SEALED_DOC_TYP",
    "SEAL_TYP",
    "Check",
    "CheckResult",
    "DocumentSummary",
    "Expectations",
    "Indication",
    "SubIndication",
    "TrustContext",
    "Verdict",
    "VerificationInputError",
    "VerificationPolicy",
    "Verifier",
]
