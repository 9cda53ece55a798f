"""The verifier's one entry: a `VerificationRequest` in, a `Verdict` out, whatever the document
and its format. The kind → verification dispatch lives here and nowhere else; the service, the
`huren verify` command, the batch path and the tests all call `Verifier.verify`.

    verifier = Verifier(store, clock=lambda: datetime.now(UTC))
    verdict = verifier.verify(VerificationRequest(DocumentKind.LICENCE, token, "442000"))

Underneath sit the JWS verifier (verifier/verifier.py) and the national one
(verifier/national/verifier.py); their typed per-kind calls stay public for callers that know
exactly what they hold."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from trust_lists.store import TrustStore
from verifier import hr1
from verifier.national.verifier import NationalPolicy, NationalVerifier
from verifier.recognise import NationalFormat
from verifier.verdict import DocumentKind, Verdict
from verifier.verifier import (
    Expectations,
    JwsVerifier,
    VerificationInputError,
    VerificationPolicy,
)


@dataclass(frozen=True, slots=True)
class VerificationRequest:
    """One question to the verifier. `kind` is what is asked (a licence, a seal, a sealed
    document); `national` says `data` is a national file rather than a compact JWS."""

    kind: DocumentKind
    # The licence or seal token (a licence also as the HR1: text of its QR code), the sealed
    # document's JWS signature; or the national file:
    # an .ofd, a bare .esl seal, an SES_Signature value.
    data: bytes | str
    relying: str  # the relying jurisdiction, e.g. "442000"
    at: datetime | None = None  # the validation time; None: now, by the verifier's clock
    expect: Expectations | None = None
    document: bytes | None = None  # the sealed document; the data an SES_Signature signs
    image: bytes | None = None  # the seal's picture (a seal, the seal of a sealed document)
    seal: bytes | str | None = None  # the seal a sealed-document signature only references
    national: NationalFormat | None = None  # None: `data` is a compact JWS
    data_name: str = "Signature.xml"  # how the reasons name `document` for an SES_Signature


class Verifier(JwsVerifier):
    """The JWS verifier and the national one over one trust store and one clock. Thread-safe
    and stateless like both: each verification reads `store.state` once."""

    def __init__(
        self,
        store: TrustStore,
        policy: VerificationPolicy | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        national_policy: NationalPolicy | None = None,
    ) -> None:
        super().__init__(store, policy, clock=clock)
        self.national = NationalVerifier(store, national_policy, clock=clock)

    def verify(self, request: VerificationRequest) -> Verdict:
        """The verdict on `request`. A signed OFD document's overall verdict carries each
        signature's verdict in summary.extra["signatures"]. Caller mistakes (an unknown relying
        jurisdiction, a naive time, a missing part) raise VerificationInputError; document
        bytes never raise."""
        r = request
        if r.national is not None:
            return self._national(r)
        match r.kind:
            case DocumentKind.LICENCE:
                if hr1.looks_like_hr1(r.data):  # the licence's QR form, told by its prefix
                    return self.verify_licence_qr(r.data, r.relying, r.at, expect=r.expect)
                return self.verify_licence(r.data, r.relying, r.at, expect=r.expect)
            case DocumentKind.SEAL:
                return self.verify_seal(r.data, r.relying, r.at, image=r.image, expect=r.expect)
            case DocumentKind.SEALED_DOCUMENT:
                if r.document is None:
                    raise VerificationInputError("a sealed-document signature needs its document")
                return self.verify_sealed_document(
                    r.document,
                    r.data,
                    r.relying,
                    r.at,
                    seal=r.seal,
                    seal_image=r.image,
                    expect=r.expect,
                )
        raise VerificationInputError(f"a compact JWS is no {r.kind}")

    def _national(self, r: VerificationRequest) -> Verdict:
        data = r.data
        if isinstance(data, str):  # national files are binary
            raise VerificationInputError("data must be bytes, not str")
        nv = self.national
        if r.national is NationalFormat.SIGNATURE:
            return nv.verify_signature(
                data, r.document, r.relying, r.at, expect=r.expect, data_name=r.data_name
            )
        if r.national is NationalFormat.SEAL:
            return nv.verify_seal(data, r.relying, r.at, expect=r.expect)
        return nv.verify_document(data, r.relying, r.at, expect=r.expect).overall


__all__ = ["VerificationRequest", "Verifier"]
