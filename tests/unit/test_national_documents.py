"""Stamped OFD documents and seals made here with the ofdrw test keys, for the cases the public
vectors lack: tampered page, missing file, altered Signature.xml, expired seal, signer not in the
seal's list, wrong seal maker, several signatures; and hostile packages: zip bombs, path
traversal, duplicate and symlinked entries, XXE, malformed DER."""

from __future__ import annotations

import io
import random
import stat
import zipfile
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from issuing import national as issue
from keys.sm2 import Sm2PrivateKey
from tests.support.national_world import (
    IN_2021,
    NOW,
    SZ,
    ZS,
    cert,
    default_world,
    key,
    self_signed,
    vector,
    world,
)
from verifier import Expectations, Indication, SubIndication, Verdict
from verifier.national import asn1
from verifier.national import job as national_job
from verifier.national.ofd import OfdLimits, OfdPackage, resolve
from verifier.national.verifier import NationalPolicy, NationalVerifier

P, F, IND = Indication.PASSED, Indication.FAILED, Indication.INDETERMINATE
T0 = datetime(2021, 1, 1, tzinfo=UTC)
SIGNED = datetime(2021, 3, 1, 10, 0, tzinfo=UTC)
PNG = issue.SealPicture("PNG", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 20)


def failing(v: Verdict) -> list[str]:
    return [c.code for c in v.checks if c.result.value != "PASSED"]


def make_seal(**changes: Any) -> bytes:
    fields: dict[str, Any] = {
        "maker_key": key("SealBuilder"),
        "maker_certificate": cert("SealBuilder").der,
        "es_id": "44030020210001",
        "seal_type": 4,
        "name": "深圳市前海互认科技有限公司合同专用章",
        "signer_certificates": [cert("USER").der],
        "created": T0,
        "valid_start": T0,
        "valid_end": T0 + timedelta(days=365),
        "picture": PNG,
    }
    fields.update(changes)
    return issue.make_seal(**fields)


def stamped_files(seal: bytes | None = None, **changes: Any) -> dict[str, bytes]:
    files = issue.make_ofd(["合同第一页", "合同第二页\n第二行"], doc_id="contract-1")
    fields: dict[str, Any] = {
        "seal": seal if seal is not None else make_seal(),
        "signer_key": key("USER"),
        "signer_certificate": cert("USER").der,
        "signed_at": SIGNED,
    }
    fields.update(changes)
    return issue.stamp_ofd(files, **fields)


def verify(files: Mapping[str, bytes] | bytes, relying: str = ZS, at: datetime = IN_2021) -> Any:
    data = files if isinstance(files, bytes) else issue.package(files)
    return default_world().verifier.verify_document(data, relying, at)


# ------------------------------------------------------------------ good documents


def test_stamped_document_passes_and_names_everything() -> None:
    doc = verify(stamped_files())
    assert doc.overall.indication is P, [failing(s.verdict) for s in doc.signatures]
    s = doc.signatures[0].verdict
    assert s.summary.type_code == "contract"
    assert s.summary.holder_name == "深圳市前海互认科技有限公司合同专用章"
    assert s.summary.issued_at == SIGNED
    assert s.summary.issuing_jurisdiction == SZ
    assert s.trust.relying_jurisdiction == ZS and s.trust.list_sequence == 1
    assert s.valid_until == T0 + timedelta(days=365)  # the seal's end
    assert doc.overall.valid_until == s.valid_until
    assert "/Doc_0/Pages/Page_0/Content.xml" in [
        "/" + p for p in s.summary.extra["protected_files"]
    ]
    # The seal on its own, too.
    assert default_world().verifier.verify_seal(make_seal(), ZS, IN_2021).indication is P


def test_seal_version_5_with_time_stamp() -> None:
    seal = make_seal(version=5, timestamp=b"\x30\x03\x02\x01\x00")
    parsed = asn1.parse_seal(seal)
    assert parsed.version == 5 and parsed.timestamp == b"\x30\x03\x02\x01\x00"
    v = default_world().verifier.verify_seal(seal, SZ, IN_2021)
    assert v.indication is P and v.summary.extra["time_stamp_present"] is True
    with pytest.raises(asn1.DerError, match="version 5"):
        asn1.parse_seal(make_seal(version=4, timestamp=b"\x00"))


def test_two_signatures_judged_apart() -> None:
    files = stamped_files()
    other_maker = Sm2PrivateKey.generate()
    foreign = make_seal(
        maker_key=other_maker,
        maker_certificate=self_signed(other_maker, "unknown seal maker", 99),
    )
    two = issue.stamp_ofd(
        files,
        seal=foreign,
        signer_key=key("USER"),
        signer_certificate=cert("USER").der,
        signed_at=SIGNED + timedelta(days=1),
    )
    doc = verify(two)
    assert [s.verdict.indication for s in doc.signatures] == [P, IND]
    assert failing(doc.signatures[1].verdict) == ["seal:ses.maker_found"]
    assert doc.signatures[1].verdict.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    assert (doc.overall.indication, doc.overall.sub_indication) == (
        IND,
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
    )
    assert [(c.code, c.result.value) for c in doc.overall.checks] == [
        ("ofd.package", "PASSED"),
        ("ofd.signature_result", "PASSED"),
        ("ofd.signature_result", "INDETERMINATE"),
        ("ofd.coverage", "PASSED"),  # the first signature protects everything shown
    ]
    # Both good: both pass, and the first still covers only what existed when it was signed.
    good = issue.stamp_ofd(
        files,
        seal=make_seal(),
        signer_key=key("USER"),
        signer_certificate=cert("USER").der,
        signed_at=SIGNED + timedelta(days=1),
    )
    doc2 = verify(good)
    assert [s.verdict.indication for s in doc2.signatures] == [P, P]


# ------------------------------------------------------------------ altered documents


def test_tampered_page_is_hash_failure_naming_the_file() -> None:
    files = stamped_files()
    files["Doc_0/Pages/Page_1/Content.xml"] = files["Doc_0/Pages/Page_1/Content.xml"].replace(
        "第二行".encode(), "第三行".encode()
    )
    s = verify(files).signatures[0].verdict
    assert (s.indication, s.sub_indication) == (F, SubIndication.HASH_FAILURE)
    assert failing(s) == ["ofd.references"]
    assert "/Doc_0/Pages/Page_1/Content.xml" in s.checks[-1].message_en
    assert "/Doc_0/Pages/Page_1/Content.xml" in s.checks[-1].message_zh


def test_removed_file_is_hash_failure() -> None:
    files = stamped_files()
    del files["Doc_0/PublicRes.xml"]
    s = verify(files).signatures[0].verdict
    assert (s.indication, s.sub_indication) == (F, SubIndication.HASH_FAILURE)
    assert failing(s) == ["ofd.reference_missing"]


def test_altered_signature_xml_is_hash_failure() -> None:
    files = stamped_files()
    path = "Doc_0/Signs/Sign_0/Signature.xml"
    files[path] = files[path].replace(b"huren", b"HUREN", 1)
    s = verify(files).signatures[0].verdict
    assert (s.indication, s.sub_indication) == (F, SubIndication.HASH_FAILURE)
    assert failing(s) == ["ses.data_hash"]
    assert "Signature.xml" in s.checks[-1].message_en


def test_altered_signed_value_fails_the_signature() -> None:
    files = stamped_files()
    raw = bytearray(files["Doc_0/Signs/Sign_0/SignedValue.dat"])
    pos = raw.find(b"/Doc_0/Signs")
    raw[pos + 1] = ord("d")
    files["Doc_0/Signs/Sign_0/SignedValue.dat"] = bytes(raw)
    s = verify(files).signatures[0].verdict
    assert (s.indication, s.sub_indication) == (F, SubIndication.SIG_CRYPTO_FAILURE)


# ------------------------------------------------------------------ seals and signers


def test_signed_after_the_seal_expired() -> None:
    seal = make_seal(valid_end=T0 + timedelta(days=30))
    s = verify(stamped_files(seal)).signatures[0].verdict
    assert (s.indication, s.sub_indication) == (F, SubIndication.EXPIRED)
    assert failing(s) == ["seal:validity.expired"]


def test_signed_before_the_seal_was_valid() -> None:
    seal = make_seal(valid_start=SIGNED + timedelta(days=1), created=T0)
    s = verify(stamped_files(seal)).signatures[0].verdict
    assert (s.indication, s.sub_indication) == (F, SubIndication.NOT_YET_VALID)
    assert failing(s) == ["seal:validity.not_yet_valid"]


def test_signer_not_in_the_seals_list() -> None:
    other = cert("SealBuilder").der  # the seal lists another certificate than the signer's
    s = verify(stamped_files(make_seal(signer_certificates=[other]))).signatures[0].verdict
    assert (s.indication, s.sub_indication) == (F, SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert failing(s) == ["ses.signer_listed"]


def test_signer_listed_by_digest() -> None:
    listed = make_seal(signer_digests=[("SM3", cert("USER").sm3)])
    assert asn1.parse_seal(listed).cert_list_type == 2
    assert verify(stamped_files(listed)).overall.indication is P
    other = make_seal(signer_digests=[("SM3", cert("SealBuilder").sm3)])
    assert failing(verify(stamped_files(other)).signatures[0].verdict) == ["ses.signer_listed"]
    weak = make_seal(signer_digests=[("MD5", cert("USER").sm3)])
    assert failing(verify(stamped_files(weak)).signatures[0].verdict) == ["ses.signer_listed"]


def test_wrong_seal_maker_unknown_ca() -> None:
    rogue = Sm2PrivateKey.generate()
    rogue_cert = issue.make_certificate(
        issuer_key=rogue,
        subject={"common_name": "Test Certificate", "country_name": "CN"},
        subject_point=rogue.point,
        not_before=T0,
        not_after=T0 + timedelta(days=3650),
        serial=5,
    )
    v = default_world().verifier.verify_seal(
        make_seal(maker_key=rogue, maker_certificate=rogue_cert), SZ, IN_2021
    )
    assert (v.indication, v.sub_indication) == (IND, SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    assert failing(v) == ["ses.maker_found"]
    assert "Test Certificate" in v.checks[-1].message_en


def test_wrong_seal_maker_forged_issuer_name() -> None:
    rogue = Sm2PrivateKey.generate()
    forged = issue.make_certificate(
        issuer_key=rogue,
        issuer_certificate=cert("ROOT").der,  # claims ofdrw's ROOT as issuer
        subject={"common_name": "Seal maker", "country_name": "CN"},
        subject_point=rogue.point,
        not_before=T0,
        not_after=T0 + timedelta(days=3650),
        serial=6,
    )
    s = verify(stamped_files(make_seal(maker_key=rogue, maker_certificate=forged)))
    v = s.signatures[0].verdict
    assert (v.indication, v.sub_indication) == (F, SubIndication.CHAIN_CONSTRAINTS_FAILURE)
    assert failing(v) == ["seal:ses.maker_chain"]


def test_seal_signed_by_another_key_than_its_makers_certificate() -> None:
    seal = make_seal(maker_key=key("USER"))  # USER signs, SealBuilder's certificate is named
    v = default_world().verifier.verify_seal(seal, SZ, IN_2021)
    assert (v.indication, v.sub_indication) == (F, SubIndication.SIG_CRYPTO_FAILURE)


def test_maker_certificate_expired_when_the_seal_was_made() -> None:
    seal = make_seal(
        created=datetime(2023, 1, 1, tzinfo=UTC),
        valid_start=datetime(2023, 1, 1, tzinfo=UTC),
        valid_end=datetime(2024, 1, 1, tzinfo=UTC),
    )
    v = default_world().verifier.verify_seal(seal, SZ, datetime(2023, 6, 1, tzinfo=UTC))
    assert (v.indication, v.sub_indication) == (F, SubIndication.EXPIRED)
    assert failing(v) == ["cert.expired"]


def test_unknown_seal_type_and_bad_picture() -> None:
    v = default_world().verifier.verify_seal(make_seal(seal_type=77), SZ, IN_2021)
    assert (v.indication, v.sub_indication) == (F, SubIndication.SIG_CONSTRAINTS_FAILURE)
    assert failing(v) == ["ses.type"]
    gif_as_png = issue.SealPicture("PNG", b"GIF89a" + b"\x00" * 10)
    v = default_world().verifier.verify_seal(make_seal(picture=gif_as_png), SZ, IN_2021)
    assert (v.indication, v.sub_indication) == (F, SubIndication.FORMAT_FAILURE)
    assert failing(v) == ["ses.picture"]
    empty = issue.SealPicture("PNG", b"", 0, 0)
    assert failing(default_world().verifier.verify_seal(make_seal(picture=empty), SZ, IN_2021)) == [
        "ses.picture"
    ]


def test_expectations() -> None:
    v = default_world().verifier
    ok = v.verify_seal(make_seal(), SZ, IN_2021, expect=Expectations(seal_type="contract"))
    assert ok.indication is P and "expect.type" in [c.code for c in ok.checks]
    bad = v.verify_seal(make_seal(), SZ, IN_2021, expect=Expectations(seal_type="official"))
    assert failing(bad) == ["expect.type"]
    holder = v.verify_seal(
        make_seal(), SZ, IN_2021, expect=Expectations(holder_id="91440300MA5G2U8T1P")
    )
    assert failing(holder) == ["expect.holder"]


# ------------------------------------------------------------------ trust state


def test_no_catalogue_is_indeterminate() -> None:
    w = world(with_catalogue=False)
    v = w.verifier.verify_seal(make_seal(), SZ, IN_2021)
    assert (v.indication, v.sub_indication) == (IND, SubIndication.TRY_LATER)
    assert failing(v) == ["recognition.catalogue_missing"]


def test_missing_list_is_try_later_and_held_lists_decide() -> None:
    w = world(
        only=(ZS,), with_catalogue=False
    )  # Shenzhen's list, which names ofdrw's ROOT, is not held
    v = w.verifier.verify_seal(make_seal(), ZS, IN_2021)
    assert (v.indication, v.sub_indication) == (IND, SubIndication.TRY_LATER)
    assert failing(v) == ["trust.list_available"]


def test_stale_list_is_try_later() -> None:
    w = default_world()
    late = NationalVerifier(w.store, clock=lambda: NOW + timedelta(days=60))
    v = late.verify_seal(make_seal(), SZ, IN_2021)
    assert (v.indication, v.sub_indication) == (IND, SubIndication.TRY_LATER)
    assert "trust.fresh" in failing(v)


def test_missing_backend_is_indeterminate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(national_job, "backend_available", lambda: False)
    v = default_world().verifier.verify_seal(make_seal(), SZ, IN_2021)
    assert (v.indication, v.sub_indication) == (IND, SubIndication.CRYPTO_CONSTRAINTS_FAILURE)
    doc = verify(stamped_files())
    assert doc.overall.indication is IND


def test_withdrawn_seal_authority() -> None:
    from keys.sm2 import Sm2PublicKey
    from tests.support.national_world import trust_lists
    from trust_lists import authoring
    from trust_lists.model import KeyStatus

    lists = trust_lists()
    kid = Sm2PublicKey(cert("ROOT").public_point).kid
    lists[SZ] = authoring.change_key_status(
        lists[SZ], kid, KeyStatus.WITHDRAWN, effective=datetime(2020, 12, 1, tzinfo=UTC)
    )
    w = world(lists=lists)
    v = w.verifier.verify_seal(make_seal(), SZ, IN_2021)
    assert (v.indication, v.sub_indication) == (F, SubIndication.EXPIRED)
    assert failing(v) == ["key.withdrawn"]


def test_caller_mistakes_raise() -> None:
    from verifier import VerificationInputError

    v = default_world().verifier
    with pytest.raises(VerificationInputError):
        v.verify_seal(make_seal(), "999999")
    with pytest.raises(VerificationInputError):
        v.verify_seal(make_seal(), SZ, datetime(2021, 1, 1))
    with pytest.raises(VerificationInputError):
        v.verify_seal("text", SZ)  # type: ignore[arg-type]


# ------------------------------------------------------------------ hostile packages


def _zip(entries: list[tuple[str, bytes]], *, mode: int = 0o100644) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = mode << 16
            zf.writestr(info, data)
    return buf.getvalue()


def _package_failure(data: bytes) -> str:
    """The refusal's code and English message."""
    doc = verify(data)
    assert doc.signatures == ()
    assert (doc.overall.indication, doc.overall.sub_indication) == (F, SubIndication.FORMAT_FAILURE)
    last = doc.overall.checks[-1]
    return f"{last.code}: {last.message_en}"


def test_zip_bomb_is_refused() -> None:
    files = stamped_files()
    entries = [*files.items(), ("Doc_0/Res/bomb.bin", b"\x00" * (40 * 1024 * 1024))]
    assert "ofd.limits: The OFD file exceeds a processing cap: compression ratio" in (
        _package_failure(_zip(entries))
    )


def test_inflating_past_the_limits_is_refused() -> None:
    files = stamped_files()
    tight = NationalVerifier(
        default_world().store,
        NationalPolicy(ofd_limits=OfdLimits(max_total_bytes=20_000)),
        clock=lambda: NOW,
    )
    big = [*files.items(), ("Doc_0/Res/pad.bin", random.Random(1).randbytes(30_000))]
    doc = tight.verify_document(_zip(big), ZS, IN_2021)
    assert doc.overall.indication is F


@pytest.mark.parametrize(
    "name",
    [
        "../evil.xml",
        "Doc_0/../../evil.xml",
        "/etc/passwd",
        "Doc_0\\..\\evil.xml",
        "C:/x.xml",
        "a//b",
    ],
)
def test_path_traversal_entries_are_refused(name: str) -> None:
    files = stamped_files()
    _package_failure(_zip([*files.items(), (name, b"x")]))


def test_duplicate_and_case_folded_entries_are_refused() -> None:
    files = stamped_files()
    page = "Doc_0/Pages/Page_0/Content.xml"
    with pytest.warns(UserWarning):  # zipfile warns about the duplicate name
        data = _zip([*files.items(), (page, b"<evil/>")])
    assert _package_failure(data).startswith("ofd.zip_duplicate")
    upper = _package_failure(_zip([*files.items(), (page.upper(), b"<x/>")]))
    assert upper.startswith("ofd.zip_duplicate") and "name one file" in upper


def test_symlink_entries_are_refused() -> None:
    files = stamped_files()
    data = _zip([*files.items(), ("Doc_0/link", b"/etc/passwd")], mode=stat.S_IFLNK | 0o777)
    assert _package_failure(data).startswith("ofd.zip_symlink")


def test_xxe_in_signature_xml_is_refused() -> None:
    files = stamped_files()
    path = "Doc_0/Signs/Sign_0/Signature.xml"
    files[path] = (
        b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + files[path].split(b"?>", 1)[1].replace(b"huren", b"&x;", 1)
    )
    s = verify(files).signatures[0].verdict
    assert (s.indication, s.sub_indication) == (F, SubIndication.FORMAT_FAILURE)
    assert failing(s) == ["ofd.signature"]
    assert "DTD" in s.checks[-1].message_en


def test_entity_expansion_in_ofd_xml_is_refused() -> None:
    files = stamped_files()
    files["OFD.xml"] = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b"<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'>&b;</ofd:OFD>"
    )
    assert "DTD" in _package_failure(issue.package(files))


def test_references_cannot_leave_the_package() -> None:
    with pytest.raises(ValueError, match="leaves the package"):
        resolve("Doc_0/Signs/Sign_0/Signature.xml", "../../../../etc/passwd")
    files = stamped_files()
    path = "Doc_0/Signs/Sign_0/Signature.xml"
    files[path] = files[path].replace(b'FileRef="/OFD.xml"', b'FileRef="../../../../../OFD.xml"')
    s = verify(files).signatures[0].verdict
    assert s.indication is F


@pytest.mark.parametrize("data", [b"", b"not a zip", b"PK\x03\x04" + b"\x00" * 40, None])
def test_garbage_is_a_format_failure(data: bytes | None) -> None:
    _package_failure(vector("seals", "UserV4.esl") if data is None else data)


def test_unsigned_document() -> None:
    doc = verify(issue.package(issue.make_ofd(["no signature here"])))
    assert (doc.overall.indication, doc.overall.sub_indication) == (F, SubIndication.FORMAT_FAILURE)
    assert doc.overall.checks[-1].code == "ofd.no_signature"


def test_package_reader_limits() -> None:
    data = issue.package(stamped_files())
    with pytest.raises(ValueError, match="entries"):
        OfdPackage(data, OfdLimits(max_entries=3))
    with pytest.raises(ValueError, match="over 100"):
        OfdPackage(data, OfdLimits(max_file_bytes=100))


# ------------------------------------------------------------------ malformed DER never raises


def test_truncated_and_mutated_seals_never_raise_or_pass() -> None:
    seal = make_seal()
    v = default_world().verifier
    rng = random.Random(20261126)
    cuts = sorted({rng.randrange(len(seal)) for _ in range(40)} | {0, 1, 2, 3, 4, len(seal) - 1})
    for cut in cuts:
        verdict = v.verify_seal(seal[:cut], SZ, IN_2021)
        assert verdict.indication is F and verdict.sub_indication is SubIndication.FORMAT_FAILURE
    for _ in range(60):
        mutated = bytearray(seal)
        pos = rng.randrange(len(mutated))
        mutated[pos] ^= 1 << rng.randrange(8)
        verdict = v.verify_seal(bytes(mutated), SZ, IN_2021)
        assert verdict.indication is not P or bytes(mutated)[pos] == seal[pos]


def test_ber_and_trailing_bytes_are_refused() -> None:
    seal = make_seal()
    with pytest.raises(asn1.DerError, match="trailing"):
        asn1.parse_seal(seal + b"\x00")
    indefinite = b"\x30\x80" + seal[4:] + b"\x00\x00"
    with pytest.raises(asn1.DerError, match="indefinite"):
        asn1.parse_seal(indefinite)
    non_minimal = b"\x30\x83\x00" + seal[2:]
    with pytest.raises(asn1.DerError):
        asn1.parse_seal(non_minimal)


# ------------------------------------------------------------------ Type="Sign" signatures


def _signed(**changes: Any) -> dict[str, bytes]:
    files = issue.make_ofd(["电子证照"], doc_id="licence-1")
    fields: dict[str, Any] = {
        "seal": None,
        "signer_key": key("USER"),
        "signer_certificate": cert("USER").der,
        "signed_at": SIGNED,
    }
    fields.update(changes)
    return issue.stamp_ofd(files, **fields)


def test_sign_signature_bare_and_gbt35275() -> None:
    for form in (False, True):
        doc = verify(_signed(signed_data=form), SZ)
        s = doc.signatures[0]
        assert s.type == "Sign" and s.verdict.indication is P, failing(s.verdict)
        assert s.verdict.summary.issuer_service == "sz-amr"
        assert s.verdict.summary.extra["format"].startswith("GB/T 35275" if form else "GB/T 33190")


def test_gbt35275_without_signed_attributes() -> None:
    files = _signed()
    path = "Doc_0/Signs/Sign_0/Signature.xml"
    files["Doc_0/Signs/Sign_0/SignedValue.dat"] = issue.sign_signed_data(
        signer_key=key("USER"),
        signer_certificate=cert("USER").der,
        content=files[path],
        attributes=False,
    )
    assert verify(files, SZ).overall.indication is P


def test_gbt35275_failures() -> None:
    path = "Doc_0/Signs/Sign_0/Signature.xml"
    files = _signed()
    files["Doc_0/Signs/Sign_0/SignedValue.dat"] = issue.sign_signed_data(
        signer_key=key("USER"),
        signer_certificate=cert("USER").der,
        content=files[path],
        message_digest=bytes(32),
    )
    s = verify(files, SZ).signatures[0].verdict
    assert (s.indication, s.sub_indication) == (F, SubIndication.HASH_FAILURE)
    # A signer no list names as a licence issuer (SealBuilder, issued by a seal-making CA).
    s = (
        verify(
            _signed(
                signer_key=key("SealBuilder"),
                signer_certificate=cert("SealBuilder").der,
                signed_data=True,
            ),
            SZ,
        )
        .signatures[0]
        .verdict
    )
    assert (s.indication, s.sub_indication) == (IND, SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    assert failing(s) == ["ses.signer_found"]
    # The certificate of one signer, the signature of another.
    files = _signed()
    files["Doc_0/Signs/Sign_0/SignedValue.dat"] = issue.sign_signed_data(
        signer_key=key("SealBuilder"), signer_certificate=cert("USER").der, content=files[path]
    )
    s = verify(files, SZ).signatures[0].verdict
    assert (s.indication, s.sub_indication) == (F, SubIndication.SIG_CRYPTO_FAILURE)
    # A bare signature by an unknown key, and a truncated SignedData.
    s = verify(_signed(signer_key=Sm2PrivateKey.generate()), SZ).signatures[0].verdict
    assert (s.indication, s.sub_indication) == (IND, SubIndication.NO_SIGNING_CERTIFICATE_FOUND)
    assert failing(s) == ["ses.signer_key"]
    files = _signed(signed_data=True)
    files["Doc_0/Signs/Sign_0/SignedValue.dat"] = files["Doc_0/Signs/Sign_0/SignedValue.dat"][:-9]
    s = verify(files, SZ).signatures[0].verdict
    assert (s.indication, s.sub_indication) == (F, SubIndication.FORMAT_FAILURE)


def test_sign_signed_after_certificate_expired() -> None:
    late = datetime(2022, 6, 1, tzinfo=UTC)
    s = verify(_signed(signed_at=late, signed_data=True), SZ, late + timedelta(days=1))
    v = s.signatures[0].verdict
    assert (v.indication, v.sub_indication) == (F, SubIndication.EXPIRED)
    assert failing(v) == ["cert.expired"]


def test_gbt35275_chain_through_a_carried_intermediate() -> None:
    from keys.sm2 import Sm2PublicKey
    from keys.x509 import Certificate
    from tests.support.national_world import _service, trust_lists
    from trust_lists.model import ServiceKind

    start, end = T0 - timedelta(days=10), T0 + timedelta(days=3650)
    (root_key, root), (mid_key, mid), (leaf_key, leaf) = issue.certificate_chain(
        ["licence CA", "licence sub-CA", "licence signer"], not_before=start, not_after=end
    )
    lists = trust_lists()
    ca_key = Sm2PublicKey.from_certificate(Certificate.parse(root))
    lists[ZS] = _service(lists[ZS], "zs-amr", ServiceKind.LICENCE_ISSUER, 9, [ca_key])
    w = world(lists=lists)
    files = issue.make_ofd(["电子证照"])
    files = issue.stamp_ofd(
        files, seal=None, signer_key=leaf_key, signer_certificate=leaf, signed_at=SIGNED
    )
    path = "Doc_0/Signs/Sign_0/Signature.xml"
    value = "Doc_0/Signs/Sign_0/SignedValue.dat"
    files[value] = issue.sign_signed_data(
        signer_key=leaf_key, signer_certificate=leaf, content=files[path], extra_certificates=[mid]
    )
    doc = w.verifier.verify_document(issue.package(files), SZ, IN_2021)
    s = doc.signatures[0].verdict
    assert s.indication is P, failing(s)
    assert s.summary.issuer_service == "zs-amr" and s.summary.issuing_jurisdiction == ZS
    # Without the intermediate no path reaches the listed CA.
    files[value] = issue.sign_signed_data(
        signer_key=leaf_key, signer_certificate=leaf, content=files[path]
    )
    s = w.verifier.verify_document(issue.package(files), SZ, IN_2021).signatures[0].verdict
    assert (s.indication, s.sub_indication) == (IND, SubIndication.NO_CERTIFICATE_CHAIN_FOUND)
    assert failing(s) == ["ses.signer_found"]
    # An intermediate that is no CA breaks the chain.
    not_ca = issue.make_certificate(
        issuer_key=root_key,
        issuer_certificate=root,
        subject={"common_name": "licence sub-CA"},
        subject_point=mid_key.point,
        not_before=start,
        not_after=end,
        serial=4,
    )
    files[value] = issue.sign_signed_data(
        signer_key=leaf_key,
        signer_certificate=leaf,
        content=files[path],
        extra_certificates=[not_ca],
    )
    s = w.verifier.verify_document(issue.package(files), SZ, IN_2021).signatures[0].verdict
    assert (s.indication, s.sub_indication) == (F, SubIndication.CHAIN_CONSTRAINTS_FAILURE)
    assert failing(s) == ["ses.signer_chain"]
