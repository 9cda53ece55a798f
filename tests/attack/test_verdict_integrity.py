"""Integrity before trust (issue 13), for every national form: evidence of alteration is FAILED
(HASH_FAILURE / SIG_CRYPTO_FAILURE) whether or not any list vouches for the signer; an intact
document that nobody lists is INDETERMINATE with the sub-indication that says why; SM2 signature
values are read as DER or as raw 64-byte r‖s, one reading each; signed data absent is
INDETERMINATE SIGNED_DATA_NOT_FOUND.

"trusted" is tests/support/national_world.py's default world (ofdrw's ROOT lists the seal makers,
USER is
a licence issuer); "untrusted" holds both cities' fresh lists and a catalogue but names nobody."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from io import BytesIO
from typing import Any

import pytest

from issuing import national as issue
from keys.sm2 import N, der_to_raw, encode_signature, signature_der
from tests.support.national_world import (
    IN_2021,
    SZ,
    ZS,
    World,
    cert,
    default_world,
    key,
    ofd_member,
    untrusted_world,
    vector,
)
from tests.unit.test_national_documents import make_seal, stamped_files
from verifier import Indication, SubIndication, Verdict

P, F, IND = Indication.PASSED, Indication.FAILED, Indication.INDETERMINATE
S = SubIndication
PAGE = "Doc_0/Pages/Page_0/Content.xml"
VALUE = "Doc_0/Signs/Sign_0/SignedValue.dat"
WORLDS = {"trusted": default_world, "untrusted": untrusted_world}


def failing(v: Verdict) -> list[str]:
    return [c.code for c in v.checks if c.result.value != "PASSED"]


def outcome(v: Verdict) -> tuple[Indication, SubIndication | None, list[str]]:
    return v.indication, v.sub_indication, failing(v)


def judge(files: Mapping[str, bytes], w: World, relying: str = SZ) -> Verdict:
    doc = w.verifier.verify_document(issue.package(files), relying, IN_2021)
    assert len(doc.signatures) == 1
    return doc.signatures[0].verdict


def edited(files: Mapping[str, bytes], name: str = PAGE) -> dict[str, bytes]:
    out = dict(files)
    out[name] = out[name].replace("第一页".encode(), "第一页（已改）".encode()) + b" "
    return out


def with_value(files: Mapping[str, bytes], value: bytes, name: str = VALUE) -> dict[str, bytes]:
    return {**files, name: value}


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def signed(**changes: Any) -> dict[str, bytes]:
    """A Type="Sign" document signed by USER (a licence issuer in the trusted world)."""
    files = issue.make_ofd(["执照第一页"], doc_id="licence-1")
    fields: dict[str, Any] = {
        "seal": None,
        "signer_key": key("USER"),
        "signer_certificate": cert("USER").der,
        "signed_at": IN_2021.replace(month=3),
    }
    fields.update(changes)
    return issue.stamp_ofd(files, **fields)


def digital_sign_files() -> dict[str, bytes]:
    """ofdrw's DigitalSign.ofd (a bare SM2 Type="Sign" signature by USER), unpacked."""
    with zipfile.ZipFile(BytesIO(vector("ofd", "DigitalSign.ofd"))) as zf:
        return {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}


# ---------------------------------------------------------------- a seal on its own (.esl)


@pytest.mark.parametrize("world", ["trusted", "untrusted"])
def test_seal_with_one_signature_byte_flipped_is_failed(world: str) -> None:
    seal = make_seal()
    v = WORLDS[world]().verifier.verify_seal(flip(seal, len(seal) - 1), SZ, IN_2021)
    assert outcome(v) == (F, S.SIG_CRYPTO_FAILURE, ["signature.valid"])


def test_intact_seal_of_an_unlisted_maker_is_indeterminate_no_chain() -> None:
    v = untrusted_world().verifier.verify_seal(make_seal(), SZ, IN_2021)
    assert outcome(v) == (IND, S.NO_CERTIFICATE_CHAIN_FOUND, ["ses.maker_found"])
    message = v.checks[-1]
    assert cert("SealBuilder").display_name in message.message_en
    assert "未被改动" in message.message_zh and "intact" in message.message_en


@pytest.mark.parametrize("world", ["trusted", "untrusted"])
def test_vendor_seal_whose_own_signature_fails_says_so(world: str) -> None:
    v = WORLDS[world]().verifier.verify_seal(vector("seals", "SESealData.DER"), ZS, IN_2021)
    assert outcome(v) == (F, S.SIG_CRYPTO_FAILURE, ["signature.valid"])


# ------------------------------------------------------- a stamped document (Type="Seal")


def test_intact_stamped_document_of_an_unlisted_maker_is_indeterminate() -> None:
    v = judge(stamped_files(), untrusted_world())
    assert outcome(v) == (IND, S.NO_CERTIFICATE_CHAIN_FOUND, ["seal:ses.maker_found"])


@pytest.mark.parametrize("world", ["trusted", "untrusted"])
def test_stamped_document_altered_is_failed(world: str) -> None:
    w = WORLDS[world]()
    assert outcome(judge(edited(stamped_files()), w)) == (F, S.HASH_FAILURE, ["ofd.references"])
    files = stamped_files()
    v = judge(with_value(files, flip(files[VALUE], len(files[VALUE]) - 1)), w)
    assert outcome(v) == (F, S.SIG_CRYPTO_FAILURE, ["signature.valid"])


@pytest.mark.parametrize("world", ["trusted", "untrusted"])
def test_stamped_with_a_seal_whose_makers_signature_fails(world: str) -> None:
    # The signer signed this seal as it is; the seal maker's own signature over it is bad.
    forged = make_seal(signed_content_override=b"not this seal")
    v = judge(stamped_files(forged), WORLDS[world]())
    assert outcome(v) == (F, S.SIG_CRYPTO_FAILURE, ["seal:signature.valid"])


# ----------------------------------------------- GB/T 35275 SignedData (Type="Sign")


def test_intact_signed_data_of_an_unlisted_signer_is_indeterminate_and_named() -> None:
    v = judge(signed(signed_data=True), untrusted_world())
    assert outcome(v) == (IND, S.NO_CERTIFICATE_CHAIN_FOUND, ["ses.signer_found"])
    name = cert("USER").display_name
    assert name in v.checks[-1].message_en and name in v.checks[-1].message_zh
    assert v.summary is not None and v.summary.extra["signer"] == cert("USER").subject


@pytest.mark.parametrize("world", ["trusted", "untrusted"])
def test_edited_page_under_signed_data_is_failed(world: str) -> None:
    v = judge(edited(signed(signed_data=True)), WORLDS[world]())
    assert outcome(v) == (F, S.HASH_FAILURE, ["ofd.references"])


@pytest.mark.parametrize("world", ["trusted", "untrusted"])
def test_signed_data_with_a_flipped_signature_is_failed(world: str) -> None:
    files = signed(signed_data=True)
    v = judge(with_value(files, flip(files[VALUE], len(files[VALUE]) - 1)), WORLDS[world]())
    assert outcome(v) == (F, S.SIG_CRYPTO_FAILURE, ["signature.valid"])


# ------------------------------------------------- a bare SM2 signature (Type="Sign")


def test_digital_sign_vector_trusted_passes_untrusted_is_no_signing_certificate() -> None:
    files = digital_sign_files()
    assert judge(files, default_world()).indication is P
    v = judge(files, untrusted_world())
    assert outcome(v) == (IND, S.NO_SIGNING_CERTIFICATE_FOUND, ["ses.signer_key"])
    for c in v.checks:
        assert "(-)" not in c.message_zh + c.message_en and "（-）" not in c.message_zh


@pytest.mark.parametrize("world", ["trusted", "untrusted"])
def test_digital_sign_with_an_edited_page_is_failed(world: str) -> None:
    files = digital_sign_files()
    files["Doc_0/Pages/Page_0/Content.xml"] += b" "
    assert outcome(judge(files, WORLDS[world]())) == (F, S.HASH_FAILURE, ["ofd.references"])


@pytest.mark.parametrize("world", ["trusted", "untrusted"])
def test_forged_bare_signature_that_is_no_sm2_value_is_failed(world: str) -> None:
    files = digital_sign_files()
    value = files[VALUE]
    for forged in (value[:-1], b"\x31" + value[1:], bytes(64), value + b"\x00"):
        v = judge(with_value(files, forged), WORLDS[world]())
        assert outcome(v) == (F, S.SIG_CRYPTO_FAILURE, ["ses.signature_value"]), forged.hex()


def test_forged_bare_signature_that_is_well_formed_cannot_be_told_from_an_unknown_signer() -> None:
    # A bare signature names no signer: when no listed key verifies it, huren cannot tell a
    # forgery from an unlisted signer, and says both (docs/verdicts.md, deviations).
    files = digital_sign_files()
    v = judge(with_value(files, flip(files[VALUE], 10)), default_world())
    assert outcome(v) == (IND, S.NO_SIGNING_CERTIFICATE_FOUND, ["ses.signer_key"])
    assert "altered" in v.checks[-1].message_en and "改动" in v.checks[-1].message_zh


# ----------------------------------------------------------- SM2 values as raw r‖s


@pytest.mark.parametrize(
    "form", ["seal", "signed_data", "bare"], ids=["SES_Signature", "SignedData", "bare"]
)
def test_raw_r_s_document_made_here_trusted_passes_untrusted_is_indeterminate(form: str) -> None:
    if form == "seal":
        files = stamped_files(make_seal(raw_signature=True), raw_signature=True)
    else:
        files = signed(signed_data=form == "signed_data", raw_signature=True)
    trusted = judge(files, default_world())
    assert trusted.indication is P, failing(trusted)
    untrusted = judge(files, untrusted_world())
    expected = S.NO_SIGNING_CERTIFICATE_FOUND if form == "bare" else S.NO_CERTIFICATE_CHAIN_FOUND
    assert (untrusted.indication, untrusted.sub_indication) == (IND, expected)


def test_raw_r_s_values_are_really_written_raw() -> None:
    from verifier.national import asn1

    files = stamped_files(make_seal(raw_signature=True), raw_signature=True)
    sig = asn1.parse_signature(files[VALUE])
    assert len(sig.signature) == 64 and len(sig.seal.signature) == 64
    assert default_world().verifier.verify_seal(sig.seal.raw, SZ, IN_2021).indication is P
    assert len(signed(raw_signature=True)[VALUE]) == 64


def test_signature_value_has_one_reading() -> None:
    der = key("USER").sign(b"x")
    assert signature_der(der) == der
    raw = der_to_raw(der)
    assert len(raw) == 64 and signature_der(raw) == der
    # 64 bytes that are also strict DER (r and s of 29 bytes each): two readings, refused.
    both = encode_signature(1 << 224, 1 << 224)
    assert len(both) == 64
    with pytest.raises(ValueError, match="both"):
        signature_der(both)
    for bad in (bytes(64), N.to_bytes(32, "big") + (1).to_bytes(32, "big"), raw[:63], b""):
        with pytest.raises(ValueError):
            signature_der(bad)


# ------------------------------------------------------------ signed data absent (.dat)


def test_ses_signature_without_its_signed_data_is_indeterminate() -> None:
    value = ofd_member("v4signed.ofd", VALUE)
    xml = ofd_member("v4signed.ofd", "Doc_0/Signs/Sign_0/Signature.xml")
    nv = default_world().verifier
    assert nv.verify_signature(value, xml, ZS, IN_2021).indication is P
    v = nv.verify_signature(value, None, ZS, IN_2021)
    assert (v.indication, v.sub_indication) == (IND, S.SIGNED_DATA_NOT_FOUND)
    assert failing(v) == ["ses.signed_data"]
    # Altered: FAILED even without the data, and with the wrong data.
    bad = nv.verify_signature(flip(value, len(value) - 1), None, ZS, IN_2021)
    assert outcome(bad) == (F, S.SIG_CRYPTO_FAILURE, ["signature.valid"])
    other = nv.verify_signature(value, xml + b" ", ZS, IN_2021)
    assert outcome(other) == (F, S.HASH_FAILURE, ["ses.data_hash"])
