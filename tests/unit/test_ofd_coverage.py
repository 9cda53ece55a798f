"""One reading of every location and full coverage (issue 12, class 1), and bounded cost within
verification (class 3): hostile documents built from a passing stamped document, each refused
with its code; what a viewer shows is reported per signature and for the document; the review's
64 x 64 cost case is refused by the caps, counted in bytes, not timed."""

from __future__ import annotations

from typing import Any

import pytest

from issuing import national as issue
from tests.support import ofd_corpus
from tests.support.national_world import IN_2021, NOW, ZS, cert, default_world, key, vector
from tests.support.ofd_corpus import PAGE, Case
from tests.unit.test_national_documents import failing, make_seal, verify
from verifier import Indication, SubIndication
from verifier.national.ofd import OfdLimits, OfdPackage, locate, rendering
from verifier.national.verifier import NationalPolicy, NationalVerifier

F, P, IND = Indication.FAILED, Indication.PASSED, Indication.INDETERMINATE
MiB = 1024 * 1024
SIGNED = IN_2021.replace(month=3)


def unsigned() -> dict[str, bytes]:
    return issue.make_ofd(["合同第一页", "合同第二页\n第二行"], doc_id="contract-1")


def stamp(files: dict[str, bytes], **options: Any) -> dict[str, bytes]:
    return issue.stamp_ofd(
        files,
        seal=make_seal(),
        signer_key=key("USER"),
        signer_certificate=cert("USER").der,
        signed_at=SIGNED,
        **options,
    )


CASES = ofd_corpus.path_cases(unsigned(), stamp)


@pytest.mark.parametrize(
    "file_ref",
    [lambda p: "/" + p, lambda p: p, lambda p: "./" + p],
    ids=["absolute (ofdrw)", "root-relative", "./"],
)
def test_fileref_spellings_real_producers_use_pass(file_ref: Any) -> None:
    doc = verify(stamp(unsigned(), file_ref=file_ref))
    assert doc.overall.indication is P, [failing(s.verdict) for s in doc.signatures]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_hostile_document_is_refused_with_its_code(case: Case) -> None:
    doc = verify(case.data)
    assert doc.overall.indication.value == case.indication, [
        failing(s.verdict) for s in doc.signatures
    ] + [failing(doc.overall)]
    codes = failing(doc.overall) + [c for s in doc.signatures for c in failing(s.verdict)]
    assert case.code in codes, codes
    for check in doc.overall.checks:
        assert "{" not in check.message_en + check.message_zh


def test_the_reviews_shadow_copy_no_longer_passes() -> None:
    """Relative FileRefs, the signed page copied under the signature's folder, the real page
    edited: the review got PASSED with the shown page listed as unprotected."""
    case = next(c for c in CASES if c.name == "relative FileRef, shadow copy, page edited")
    doc = verify(case.data)
    assert (doc.overall.indication, doc.overall.sub_indication) == (F, SubIndication.FORMAT_FAILURE)
    sig = doc.signatures[0].verdict
    assert failing(sig) == ["ofd.path_ambiguous"]
    last = sig.checks[-1]
    assert "/Doc_0/Pages/Page_0/Content.xml" in last.message_en
    assert "/Doc_0/Pages/Page_0/Content.xml" in last.message_zh
    assert "/Doc_0/Signs/Sign_0/Doc_0/Pages/Page_0/Content.xml" in last.message_en
    # And the page a viewer shows is protected by no passing signature.
    assert failing(doc.overall)[-1] == "ofd.coverage"


def test_locations_follow_one_rule() -> None:
    files = stamp(unsigned())
    pkg = OfdPackage(issue.package(files))
    sig = "Doc_0/Signs/Sign_0/Signature.xml"
    assert locate(pkg, sig, "/Doc_0/Pages/Page_0/Content.xml") == PAGE
    assert locate(pkg, sig, "Doc_0/Pages/Page_0/Content.xml") == PAGE  # no other reading exists
    assert locate(pkg, sig, "../../Pages/./Page_0/Content.xml") == PAGE  # the standard one
    assert locate(pkg, "Doc_0/Document.xml", "PAGES/Page_0/content.XML") == PAGE  # case
    assert locate(pkg, sig, "/Doc_0/Pages/Page_7/Content.xml") is None
    with pytest.raises(ValueError, match="leaves the package"):
        locate(pkg, sig, "../../../../OFD.xml")
    with pytest.raises(ValueError, match="leaves the package"):
        locate(pkg, sig, "%2E%2E/%2E%2E/%2E%2E/%2E%2E/OFD.xml")


def test_what_a_viewer_shows() -> None:
    files = stamp(unsigned())
    shown = rendering(OfdPackage(issue.package(files)))
    assert shown.content == {
        "OFD.xml",
        "Doc_0/Document.xml",
        "Doc_0/PublicRes.xml",
        PAGE,
        "Doc_0/Pages/Page_1/Content.xml",
    }
    assert shown.signature_lists == {"Doc_0/Signs/Signatures.xml"}
    # A real invoice: template (named in another case), resources, annotations, attachments.
    pkg = OfdPackage(vector("ofd", "v4signed.ofd"))
    v4 = rendering(pkg)
    assert {
        "Doc_0/Tpls/Tpl_0/Content.xml",
        "Doc_0/Res/qr.png",
        "Doc_0/DocumentRes.xml",
        "Doc_0/Attachs/original_invoice.xml",
    } <= v4.content
    assert v4.annotations == {"Doc_0/Annots/Annotations.xml", "Doc_0/Annots/Page_0/Annotation.xml"}


def test_coverage_is_reported_per_signature_and_for_the_document() -> None:
    doc = verify(stamp(unsigned()))
    assert doc.overall.indication is P
    cov = doc.overall.summary.extra["coverage"]
    assert PAGE in cov["protected"] and cov["unprotected"] == [] and cov["extra"] == []
    per = doc.signatures[0].verdict.summary.extra["coverage"]
    assert PAGE in per["protected"] and per["unprotected"] == []
    added = next(c for c in CASES if c.name == "added page")
    doc = verify(added.data)
    cov = doc.overall.summary.extra["coverage"]
    assert cov["unprotected"] == ["Doc_0/Document.xml", "Doc_0/Pages/Page_9/Content.xml"]
    assert doc.signatures[0].verdict.indication is P  # the signature itself is intact
    assert "/Doc_0/Pages/Page_9/Content.xml" in doc.overall.checks[-1].message_zh


def test_annotations_added_after_signing_are_indeterminate_and_say_so() -> None:
    case = next(c for c in CASES if c.name == "annotation added after signing")
    doc = verify(case.data)
    assert (doc.overall.indication, doc.overall.sub_indication) == (
        IND,
        SubIndication.SIG_CONSTRAINTS_FAILURE,
    )
    last = doc.overall.checks[-1]
    assert last.code == "ofd.coverage_partial"
    assert "Annotation.xml" in last.message_en and "added after signing" in last.message_en


def test_real_vectors_keep_their_results() -> None:
    for name, relying in (("allprotected.ofd", "440300"), ("v4signed.ofd", ZS)):
        doc = default_world().verifier.verify_document(vector("ofd", name), relying, IN_2021)
        assert doc.overall.indication is P, failing(doc.overall)
        assert doc.overall.summary.extra["coverage"]["unprotected"] == []


# ------------------------------------------------------------------ bounded cost


def _relaxed(**caps: int) -> NationalVerifier:
    return NationalVerifier(
        default_world().store, NationalPolicy(ofd_limits=OfdLimits(**caps)), clock=lambda: NOW
    )


def test_the_reviews_cost_case_is_refused_before_any_work() -> None:
    """64 Type="Sign" signatures x the same 64 entries of 1 MiB of zeros: 4 GiB hashed before."""
    data = ofd_corpus.cost_package()
    assert len(data) < 200_000
    doc = verify(data)
    assert doc.overall.indication is F and doc.signatures == ()
    assert doc.overall.checks[-1].code == "ofd.limits"  # the ratio, on every entry
    assert "compression ratio" in doc.overall.checks[-1].message_en


def test_each_entry_is_hashed_once_per_document() -> None:
    data = ofd_corpus.cost_package(signatures=16, entries=8)
    nv = _relaxed(max_ratio=2000, max_package_ratio=2000)
    doc = nv.verify_document(data, ZS, IN_2021)
    assert doc.overall.indication is not P
    assert len(doc.signatures) == 16
    work = doc.overall.summary.extra["work"]
    assert work["hashed_bytes"] == 8 * MiB  # not 16 x 8 MiB
    assert work["inflated_bytes"] <= 8 * MiB + 64 * 1024


def test_a_signature_may_protect_files_a_later_one_reads() -> None:
    """Signatures.xml is not signed: listing the second signature first makes it hash the first
    one's files before they are read. Each is still inflated once, and both pass."""
    files = stamp(stamp(unsigned()))
    listing = "Doc_0/Signs/Signatures.xml"
    first = b'<ofd:Signature ID="1" Type="Seal" BaseLoc="/Doc_0/Signs/Sign_0/Signature.xml"/>'
    assert first in files[listing]
    files[listing] = (
        files[listing]
        .replace(first, b"")
        .replace(b"</ofd:Signatures>", first + b"</ofd:Signatures>")
    )
    doc = verify(files)
    assert [s.id for s in doc.signatures] == ["2", "1"]
    assert doc.overall.indication is P, [failing(s.verdict) for s in doc.signatures]
    work = doc.overall.summary.extra["work"]
    assert work["inflated_bytes"] == sum(len(d) for d in files.values())


def test_hashing_stops_at_its_cap() -> None:
    data = ofd_corpus.cost_package(signatures=4, entries=8)
    nv = _relaxed(max_ratio=2000, max_package_ratio=2000, max_hashed_bytes=3 * MiB)
    doc = nv.verify_document(data, ZS, IN_2021)
    assert doc.overall.indication is F
    assert [failing(s.verdict)[-1] for s in doc.signatures] == ["ofd.limits"] * 4
    assert doc.overall.summary.extra["work"]["hashed_bytes"] <= 3 * MiB


def test_entries_under_the_entry_ratio_are_stopped_by_the_package_ratio() -> None:
    data = ofd_corpus.ratio_safe_cost_package(signatures=64, entries=64)
    doc = verify(data)
    assert doc.overall.checks[-1].code == "ofd.limits"
    assert "package ratio" in doc.overall.checks[-1].message_en


def test_signature_and_reference_caps() -> None:
    data = ofd_corpus.cost_package(signatures=5, entries=3, size=10)
    doc = _relaxed(max_signatures=4).verify_document(data, ZS, IN_2021)
    assert doc.overall.checks[-1].code == "ofd.limits"
    doc = _relaxed(max_references=2).verify_document(data, ZS, IN_2021)
    assert {failing(s.verdict)[-1] for s in doc.signatures} == {"ofd.limits"}
    doc = _relaxed(max_xml_total_bytes=4000).verify_document(data, ZS, IN_2021)
    last = doc.signatures[-1].verdict.checks[-1]  # the XML parsed so far passes the cap
    assert last.code == "ofd.limits" and "parsed XML bytes" in last.message_en
    assert doc.overall.indication is F
    with pytest.raises(ValueError, match="positive"):
        OfdLimits(max_signatures=0)
