"""The verifier's one entry: `Verifier.verify(VerificationRequest)` gives, byte for byte, the
verdict of the typed call the request names, for every kind and format (real signatures of the
demo world, JWS and SM2); caller mistakes raise VerificationInputError; every kind a verdict
names is a DocumentKind; and what an upload is gets recognised in the verifier."""

from __future__ import annotations

import ast
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from demo.national import SAMPLE_OFD, SAMPLE_SEAL, SAMPLE_SIGNATURE, SAMPLE_SIGNED_DATA
from demo.world import SHENZHEN, SZ_ENTERPRISE, ZHONGSHAN, DemoWorld
from tests.support.national_world import IN_2021, NOW, SZ, default_world, vector
from verifier import (
    DocumentKind,
    DocumentSummary,
    Expectations,
    Indication,
    NationalFormat,
    Verdict,
    VerificationInputError,
    VerificationRequest,
    Verifier,
)
from verifier.recognise import jws_kind, national_format, unsupported_format

K = DocumentKind
Case = Callable[[DemoWorld, Verifier], tuple[VerificationRequest, Verdict]]


def _licence(w: DemoWorld, v: Verifier) -> tuple[VerificationRequest, Verdict]:
    expect = Expectations(holder_id="91440300MA5G2U8T1P", licence_type="business_licence")
    request = VerificationRequest(K.LICENCE, w.licence_sz, ZHONGSHAN, expect=expect)
    return request, v.verify_licence(w.licence_sz, ZHONGSHAN, expect=expect)


def _licence_at(w: DemoWorld, v: Verifier) -> tuple[VerificationRequest, Verdict]:
    at = w.now - timedelta(days=3)
    request = VerificationRequest(K.LICENCE, w.licence_zs.encode(), SHENZHEN, at)
    return request, v.verify_licence(w.licence_zs.encode(), SHENZHEN, at)


def _seal(w: DemoWorld, v: Verifier) -> tuple[VerificationRequest, Verdict]:
    expect = Expectations(
        holder_id=SZ_ENTERPRISE.credit_code, seal_type="contract"
    )  # it is official
    request = VerificationRequest(K.SEAL, w.seal_sz, ZHONGSHAN, image=w.seal_image, expect=expect)
    return request, v.verify_seal(w.seal_sz, ZHONGSHAN, image=w.seal_image, expect=expect)


def _sealed(w: DemoWorld, v: Verifier) -> tuple[VerificationRequest, Verdict]:
    request = VerificationRequest(
        K.SEALED_DOCUMENT, w.sealed_signature, ZHONGSHAN, document=w.sealed_document
    )
    return request, v.verify_sealed_document(w.sealed_document, w.sealed_signature, ZHONGSHAN)


def _altered(w: DemoWorld, v: Verifier) -> tuple[VerificationRequest, Verdict]:
    doc = w.sealed_document + b" "
    request = VerificationRequest(K.SEALED_DOCUMENT, w.sealed_signature, ZHONGSHAN, document=doc)
    return request, v.verify_sealed_document(doc, w.sealed_signature, ZHONGSHAN)


def _esl(w: DemoWorld, v: Verifier) -> tuple[VerificationRequest, Verdict]:
    data = w.samples[SAMPLE_SEAL]
    request = VerificationRequest(K.SEAL, data, ZHONGSHAN, national=NationalFormat.SEAL)
    return request, v.national.verify_seal(data, ZHONGSHAN)


def _ofd(w: DemoWorld, v: Verifier) -> tuple[VerificationRequest, Verdict]:
    data = w.samples[SAMPLE_OFD]
    request = VerificationRequest(K.SEALED_DOCUMENT, data, ZHONGSHAN, national=NationalFormat.OFD)
    return request, v.national.verify_document(data, ZHONGSHAN).overall


def _dat(w: DemoWorld, v: Verifier) -> tuple[VerificationRequest, Verdict]:
    dat, xml = w.samples[SAMPLE_SIGNATURE], w.samples[SAMPLE_SIGNED_DATA]
    request = VerificationRequest(
        K.SEAL, dat, ZHONGSHAN, document=xml, national=NationalFormat.SIGNATURE, data_name="s.xml"
    )
    return request, v.national.verify_signature(dat, xml, ZHONGSHAN, data_name="s.xml")


def _dat_alone(w: DemoWorld, v: Verifier) -> tuple[VerificationRequest, Verdict]:
    dat = w.samples[SAMPLE_SIGNATURE]
    request = VerificationRequest(
        K.SEALED_DOCUMENT, dat, ZHONGSHAN, national=NationalFormat.SIGNATURE
    )
    return request, v.national.verify_signature(dat, None, ZHONGSHAN)


CASES: dict[str, tuple[Case, Indication]] = {
    "licence": (_licence, Indication.PASSED),
    "licence-at": (_licence_at, Indication.PASSED),
    "seal-expecting-another-type": (_seal, Indication.FAILED),
    "sealed-document": (_sealed, Indication.PASSED),
    "sealed-document-altered": (_altered, Indication.FAILED),
    "esl": (_esl, Indication.PASSED),
    "ofd": (_ofd, Indication.PASSED),
    "dat-with-data": (_dat, Indication.PASSED),
    "dat-alone": (_dat_alone, Indication.INDETERMINATE),
}


@pytest.mark.parametrize("name", CASES)
def test_the_entry_gives_the_typed_calls_verdict(name: str, demo_world: DemoWorld) -> None:
    case, expected = CASES[name]
    v = demo_world.verifier()
    request, direct = case(demo_world, v)
    verdict = v.verify(request)
    assert verdict.to_json() == direct.to_json()
    assert verdict.indication is expected


def test_every_kind_a_verdict_names_is_a_document_kind(demo_world: DemoWorld) -> None:
    v = demo_world.verifier()
    seen = set()
    for case, _ in CASES.values():
        request, _ = case(demo_world, v)
        summary = v.verify(request).summary
        assert summary is not None and type(summary.kind) is DocumentKind
        seen.add(summary.kind)
        for signature in summary.extra.get("signatures", []):
            seen.add(DocumentKind(signature["summary"]["kind"]))
        # Read back from JSON (a cached verdict), the kind is the enum again.
        assert type(DocumentSummary.from_dict(summary.to_dict()).kind) is DocumentKind
    # A GB/T 35275 signature (no seal) in a public OFD document is a signed document.
    nw = default_world()
    signed = Verifier(nw.store, clock=lambda: NOW).verify(
        VerificationRequest(
            K.SEALED_DOCUMENT,
            vector("ofd", "DigitalSign.ofd"),
            SZ,
            IN_2021,
            national=NationalFormat.OFD,
        )
    )
    assert signed.summary is not None
    seen.update(DocumentKind(s["summary"]["kind"]) for s in signed.summary.extra["signatures"])
    assert seen == set(DocumentKind)


def test_caller_mistakes_raise(demo_world: DemoWorld) -> None:
    v = demo_world.verifier()
    with pytest.raises(VerificationInputError, match="needs its document"):
        v.verify(VerificationRequest(K.SEALED_DOCUMENT, demo_world.sealed_signature, ZHONGSHAN))
    with pytest.raises(VerificationInputError, match="compact JWS is no ofd_document"):
        v.verify(VerificationRequest(K.OFD_DOCUMENT, demo_world.licence_sz, ZHONGSHAN))
    with pytest.raises(VerificationInputError, match="must be bytes"):
        v.verify(VerificationRequest(K.SEAL, "text", ZHONGSHAN, national=NationalFormat.SEAL))
    with pytest.raises(VerificationInputError):  # the verifiers' own rule: a configured city
        v.verify(VerificationRequest(K.LICENCE, demo_world.licence_sz, "999999"))


def test_what_an_upload_is(demo_world: DemoWorld) -> None:
    s = demo_world.samples
    assert national_format(s[SAMPLE_OFD]) is NationalFormat.OFD
    assert national_format(s[SAMPLE_SEAL]) is NationalFormat.SEAL
    assert national_format(s[SAMPLE_SIGNATURE]) is NationalFormat.SIGNATURE
    assert national_format(s[SAMPLE_SIGNATURE], "application/ofd") is None  # mislabelled
    assert national_format(s[SAMPLE_SIGNED_DATA]) is None
    assert jws_kind(demo_world.licence_sz.encode()) is K.LICENCE
    assert jws_kind(b"\n" + demo_world.seal_sz.encode() + b" \n") is K.SEAL
    assert jws_kind(demo_world.sealed_signature.encode()) is K.SEALED_DOCUMENT
    assert jws_kind(s[SAMPLE_OFD]) is None
    assert jws_kind(b"e30.e30.e30") is None  # a header without a typ
    assert unsupported_format(b"%PDF-1.7\n") == "pdf"
    assert unsupported_format(s[SAMPLE_OFD]) is None


def _kinds_spelt_as_strings(source: str) -> list[int]:
    """Lines comparing something named kind with a DocumentKind's value written as a string."""
    values = {k.value for k in DocumentKind}
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        named_kind = any(
            (isinstance(s, ast.Name) and s.id == "kind")
            or (isinstance(s, ast.Attribute) and s.attr == "kind")
            for s in sides
        )
        if named_kind and any(isinstance(s, ast.Constant) and s.value in values for s in sides):
            lines.append(node.lineno)
    return lines


def test_a_kind_is_compared_as_a_document_kind_not_a_string() -> None:
    """One vocabulary: a renamed value is then an AttributeError, not a branch never taken."""
    assert _kinds_spelt_as_strings('if self.kind == "sealed_document": pass') == [1]
    assert _kinds_spelt_as_strings("if kind == DocumentKind.SEAL: pass") == []
    root = Path(__file__).resolve().parents[2]
    found = [
        f"{path.relative_to(root)}:{line}"
        for package in ("verifier", "api", "cli", "demo", "issuing")
        for path in sorted((root / package).rglob("*.py"))
        for line in _kinds_spelt_as_strings(path.read_text(encoding="utf-8"))
    ]
    assert found == []
