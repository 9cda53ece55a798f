"""Every seal, signature and OFD document of ../shared/vectors/ofdrw gives its documented result
through huren's own code, with the vectors' certificates in trust lists
(tests/support/national_world.py)
and a validation time inside their validity (IN_2021) as well as now (NOW)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keys.sm2 import Sm2Verifier
from keys.x509 import Certificate
from tests.support.national_world import IN_2021, NOW, SZ, ZS, default_world, ofd_member, vector
from verifier import Indication, SubIndication, Verdict
from verifier.national import asn1
from verifier.national.der import DerError
from verifier.national.verifier import sniff

P, F, IND = Indication.PASSED, Indication.FAILED, Indication.INDETERMINATE


def codes(v: Verdict) -> dict[str, str]:
    return {c.code: c.result.value for c in v.checks}


def failing(v: Verdict) -> list[str]:
    return [c.code for c in v.checks if c.result.value != "PASSED"]


# ------------------------------------------------------------------ seals


@pytest.mark.parametrize(
    ("name", "layout", "version"),
    [("UserV1.esl", asn1.GMT0031, 1), ("UserV4.esl", asn1.GBT38540, 4)],
)
def test_ofdrw_seals_valid_inside_validity_expired_now(
    name: str, layout: str, version: int
) -> None:
    data = vector("seals", name)
    seal = asn1.parse_seal(data)
    assert (seal.layout, seal.version) == (layout, version)
    v = default_world().verifier
    for relying in (SZ, ZS):
        ok = v.verify_seal(data, relying, IN_2021)
        assert ok.indication is P, failing(ok)
        assert ok.summary is not None and ok.summary.issuing_jurisdiction == SZ
        assert ok.summary.issuer_service == "sz-seal"
        assert ok.valid_until == seal.valid_end
    now = v.verify_seal(data, SZ)
    assert (now.indication, now.sub_indication) == (F, SubIndication.EXPIRED)
    assert failing(now) == ["validity.expired"]
    assert codes(now)["signature.valid"] == "PASSED"


def test_seal_conventions_v4_signs_seal_info_v1_signs_the_triple() -> None:
    for name in ("UserV1.esl", "UserV4.esl"):
        seal = asn1.parse_seal(vector("seals", name))
        maker = Certificate.parse(seal.maker_cert)
        assert Sm2Verifier(maker.public_point).verify(seal.signature, seal.signed_content)
    v4 = asn1.parse_seal(vector("seals", "UserV4.esl"))
    assert v4.signed_content == v4.raw[4 : 4 + len(v4.signed_content)]  # DER(eSealInfo) as read


def test_vendor_seal_sesealdata_is_rejected() -> None:
    data = vector("seals", "SESealData.DER")
    seal = asn1.parse_seal(data)  # parses: GB/T 38540 v4, two signer certificates, a GIF
    assert seal.version == 4 and len(seal.certs) == 2 and seal.picture.type == "GIF"
    maker = Certificate.parse(seal.maker_cert)
    v = Sm2Verifier(maker.public_point)
    # Its signature verifies under no convention: DER(eSealInfo), the whole seal, the v1 triple.
    assert not v.verify(seal.signature, seal.signed_content)
    assert not v.verify(seal.signature, seal.raw)
    # Its own signature is reported as such, before any trust decision (its maker's certificate
    # had also expired before the seal was made, 2019 vs 2020, but that is not reached).
    for at in (datetime(2020, 12, 1, tzinfo=UTC), IN_2021, None):
        verdict = default_world().verifier.verify_seal(data, ZS, at)
        assert (verdict.indication, verdict.sub_indication) == (F, SubIndication.SIG_CRYPTO_FAILURE)
        assert failing(verdict) == ["signature.valid"]


# ------------------------------------------------------------------ a signature outside a package


def test_signed_value_v4_signature_valid_but_data_hash_mismatch() -> None:
    raw = vector("seals", "SignedValueV4.dat")
    sig = asn1.parse_signature(raw)
    signer = Certificate.parse(sig.signer_cert)
    assert Sm2Verifier(signer.public_point).verify(sig.signature, sig.tbs)
    assert sig.data_hash == bytes(32)  # an all-zero test artefact
    assert sig.signer_cert in sig.seal.certs
    v = default_world().verifier.verify_signature(
        raw, vector("seals", "Signature.xml"), SZ, IN_2021
    )
    assert (v.indication, v.sub_indication) == (F, SubIndication.HASH_FAILURE)
    assert codes(v)["signature.valid"] == "PASSED"
    assert failing(v) == ["ses.data_hash"]
    assert "Signature.xml" in v.checks[-1].message_en


# ------------------------------------------------------------------ OFD documents


@pytest.mark.parametrize(("name", "relying"), [("allprotected.ofd", SZ), ("v4signed.ofd", ZS)])
def test_valid_stamped_documents(name: str, relying: str) -> None:
    doc = default_world().verifier.verify_document(vector("ofd", name), relying, IN_2021)
    assert doc.overall.indication is P, [failing(s.verdict) for s in doc.signatures]
    assert len(doc.signatures) == 1
    s = doc.signatures[0].verdict
    assert s.indication is P
    for code in (
        "ofd.references",
        "ses.data_hash",
        "signature.valid",
        "ses.signer_listed",
        "seal:signature.valid",
        "seal:ses.maker_chain",
        "seal:recognition.accepted",
    ):
        assert codes(s)[code] == "PASSED", code
    # Past the seal's or certificate's end, the signer's own clock is no proof: INDETERMINATE.
    later = default_world().verifier.verify_document(vector("ofd", name), relying, NOW)
    assert (later.overall.indication, later.overall.sub_indication) == (
        IND,
        SubIndication.OUT_OF_BOUNDS_NO_POE,
    )


def test_v4signed_invoice_seal_facts() -> None:
    doc = default_world().verifier.verify_document(vector("ofd", "v4signed.ofd"), ZS, IN_2021)
    summary = doc.signatures[0].verdict.summary
    assert summary is not None
    assert summary.issuing_jurisdiction == ZS and summary.issuer_service == "zs-seal-tax"
    assert summary.type_code == "invoice"  # type 3, a 发票监制章
    assert summary.extra["seal"]["picture"]["type"] == "ofd"
    assert doc.overall.summary is not None
    assert doc.overall.summary.extra["signatures"][0]["indication"] == "PASSED"


def test_sesv4signdoc_cryptographically_valid_but_signed_after_its_certificate_expired() -> None:
    """SESV4SignDoc.ofd was (re)stamped by ofdrw on 2026-08-04 with the 2020 test seal: the
    signature arithmetic and every check value are valid (the vectors' "valid"), but the signer's
    certificate (to 2022-04-21) and the seal (to 2022-04-22) had expired when it was signed. No
    validation time can change that, so the verdict is FAILED EXPIRED."""
    doc = default_world().verifier.verify_document(vector("ofd", "SESV4SignDoc.ofd"), SZ, NOW)
    s = doc.signatures[0].verdict
    for code in ("signature.valid", "ses.data_hash", "ofd.references", "ses.signer_listed"):
        assert codes(s)[code] == "PASSED", code
    assert (s.indication, s.sub_indication) == (F, SubIndication.EXPIRED)
    assert failing(s) == ["cert.expired"]
    assert doc.overall.indication is F


def test_digital_sign_plain_signature() -> None:
    doc = default_world().verifier.verify_document(vector("ofd", "DigitalSign.ofd"), SZ, IN_2021)
    assert doc.overall.indication is P
    s = doc.signatures[0]
    assert s.type == "Sign"
    assert s.verdict.summary is not None and s.verdict.summary.issuer_service == "sz-amr"
    assert codes(s.verdict)["ses.signer_key"] == "PASSED"


def test_n_ofd_is_rejected() -> None:
    """GM/T 0031 v1 from another producer: its seal lists a string where certificates belong,
    its check method is keyed SM3 (1.2.156.10197.1.401.2) and its signature does not verify."""
    data = vector("ofd", "n.ofd")
    doc = default_world().verifier.verify_document(data, SZ, IN_2021)
    assert doc.overall.indication is F
    assert (doc.signatures[0].verdict.indication, doc.signatures[0].verdict.sub_indication) == (
        F,
        SubIndication.FORMAT_FAILURE,
    )
    with pytest.raises(DerError, match="certList"):
        asn1.parse_seal(ofd_member("n.ofd", "Doc_0/Signs/Sign_0/Seal.esl"))


def test_sniffing() -> None:
    assert sniff(vector("ofd", "v4signed.ofd")) == "ofd"
    assert sniff(vector("seals", "UserV4.esl")) == "seal"
    assert sniff(vector("seals", "UserV1.esl")) == "seal"
    assert sniff(vector("seals", "SignedValueV4.dat")) == "signature"
    assert sniff(b"eyJhbGciOiJFUzI1NiJ9.e30.sig") is None
    assert sniff(b"PK\x03\x04junk") is None
