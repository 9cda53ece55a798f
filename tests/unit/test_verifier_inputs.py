"""The verifier's contract around its inputs and its verdict: caller mistakes raise the one
documented exception; the summary, trust context and digest say what was judged."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from demo.world import SHENZHEN, SZ_ENTERPRISE, ZHONGSHAN, DemoWorld
from issuing.licences import issue_licence
from verifier import (
    Expectations,
    Indication,
    Verdict,
    VerificationInputError,
    VerificationPolicy,
    Verifier,
)
from verifier.verifier import inputs_digest


def test_unknown_relying_jurisdiction_raises(demo_world: DemoWorld) -> None:
    v = demo_world.verifier()
    for relying in ("440100", "", "../440300", 440300):
        with pytest.raises(VerificationInputError):
            v.verify_licence(demo_world.licence_sz, relying)  # type: ignore[arg-type]
        with pytest.raises(VerificationInputError):
            v.verify_seal(demo_world.seal_sz, relying)  # type: ignore[arg-type]
        with pytest.raises(VerificationInputError):
            v.verify_sealed_document(b"x", b"y", relying)  # type: ignore[arg-type]


def test_naive_times_raise(demo_world: DemoWorld) -> None:
    v = demo_world.verifier()
    with pytest.raises(VerificationInputError):
        v.verify_licence(demo_world.licence_sz, ZHONGSHAN, at=datetime(2026, 11, 1))
    naive_clock = Verifier(demo_world.store(), clock=lambda: datetime(2026, 11, 26))
    with pytest.raises(VerificationInputError):
        naive_clock.verify_licence(demo_world.licence_sz, ZHONGSHAN)
    assert issubclass(VerificationInputError, ValueError)


def test_wrong_argument_types_raise(demo_world: DemoWorld) -> None:
    v = demo_world.verifier()
    with pytest.raises(VerificationInputError):
        v.verify_licence(None, ZHONGSHAN)  # type: ignore[arg-type]
    with pytest.raises(VerificationInputError):
        v.verify_seal(demo_world.seal_sz, ZHONGSHAN, image="not bytes")  # type: ignore[arg-type]
    with pytest.raises(VerificationInputError):
        v.verify_licence(demo_world.licence_sz, ZHONGSHAN, at="2026-11-26")  # type: ignore[arg-type]


def test_bytes_str_bytearray_are_the_same_document(demo_world: DemoWorld) -> None:
    v = demo_world.verifier()
    token = demo_world.licence_sz
    verdicts = [
        v.verify_licence(token, ZHONGSHAN),
        v.verify_licence(token.encode(), ZHONGSHAN),
        v.verify_licence(bytearray(token.encode()), ZHONGSHAN),  # type: ignore[arg-type]
    ]
    assert {x.to_dict()["document_sha256"] for x in verdicts} == {
        hashlib.sha256(token.encode()).hexdigest()
    }
    assert all(x.passed for x in verdicts)


def test_aware_non_utc_time_is_normalised(demo_world: DemoWorld) -> None:
    v = demo_world.verifier()
    beijing = timezone(timedelta(hours=8))
    at = demo_world.now.astimezone(beijing)
    verdict = v.verify_licence(demo_world.licence_sz, ZHONGSHAN, at=at)
    assert verdict.passed and verdict.validation_time == demo_world.now
    assert verdict.validation_time.tzinfo is UTC


def test_summary_and_trust_context_of_a_licence(demo_world: DemoWorld) -> None:
    w = demo_world
    store = w.store()
    verdict = w.verifier(store).verify_licence(w.licence_zs, SHENZHEN)
    assert verdict.passed
    s = verdict.summary
    assert s is not None
    assert (s.kind, s.type_code, s.type_name_zh, s.type_name_en) == (
        "licence",
        "food_business_permit",
        "食品经营许可证",
        "Food business permit",
    )
    assert s.document_id == "JY24420000012345"
    assert s.holder_name == "中山市翠亨中央厨房有限公司"
    assert (s.issuer_service, s.issuer_name_zh, s.issuing_jurisdiction) == (
        "zs-amr",
        "中山市市场监督管理局",
        ZHONGSHAN,
    )
    assert s.valid_to is not None and s.valid_from is not None and s.issued_at is not None
    assert s.extra["data"]["主体业态"] == "中央厨房"
    t = verdict.trust
    signed = store.state.lists[ZHONGSHAN]
    assert (t.relying_jurisdiction, t.issuing_jurisdiction) == (SHENZHEN, ZHONGSHAN)
    assert (t.list_sequence, t.list_digest) == (signed.trust_list.sequence, signed.digest)
    assert t.catalogue_sequence == 1
    assert t.trust_state_version == store.state.version
    # The verdict survives its own JSON form (the API's contract).
    assert Verdict.from_dict(verdict.to_dict()) == verdict


def test_summary_does_not_name_an_issuer_the_key_does_not_belong_to(
    demo_world: DemoWorld,
) -> None:
    from tests.unit.test_verifier_table import lic, signed_lic

    w = demo_world
    token = signed_lic(w, lic(w, issuer="sz-psb-seal"))
    verdict = w.verifier().verify_licence(token, ZHONGSHAN)
    assert verdict.indication is Indication.FAILED
    assert verdict.summary is not None
    assert verdict.summary.issuer_service == "sz-psb-seal"
    assert verdict.summary.issuer_name_zh is None


def test_summary_of_garbage_is_minimal(demo_world: DemoWorld) -> None:
    verdict = demo_world.verifier().verify_seal(b"\x00\x01", ZHONGSHAN)
    assert verdict.summary is not None and verdict.summary.kind == "seal"
    assert verdict.summary.document_id is None
    assert verdict.trust.issuing_jurisdiction is None and verdict.trust.list_sequence is None


def test_sealed_document_summary_and_digest(demo_world: DemoWorld) -> None:
    w = demo_world
    verdict = w.verifier().verify_sealed_document(
        w.sealed_document, w.sealed_signature, ZHONGSHAN, seal_image=w.seal_image
    )
    assert verdict.passed
    s = verdict.summary
    assert s is not None and s.kind == "sealed_document"
    assert s.document_id == hashlib.sha256(w.sealed_document).hexdigest()
    assert (s.holder_id, s.type_code, s.type_name_zh) == (
        SZ_ENTERPRISE.credit_code,
        "official",
        "公章",
    )
    assert s.extra["document_name"] == "深中两地食材供应合作协议"
    assert verdict.document_sha256 == inputs_digest(
        [
            ("document", w.sealed_document),
            ("signature", w.sealed_signature.encode()),
            ("image", w.seal_image),
        ]
    )
    # Seal checks are reported with their prefix.
    assert any(c.code == "seal:signature.valid" for c in verdict.checks)


def test_digest_separates_inputs(demo_world: DemoWorld) -> None:
    a = inputs_digest([("document", b"ab"), ("signature", b"c")])
    b = inputs_digest([("document", b"a"), ("signature", b"bc")])
    assert a != b
    assert inputs_digest([("token", b"x")]) == hashlib.sha256(b"x").hexdigest()


def test_policy_size_cap(demo_world: DemoWorld) -> None:
    w = demo_world
    small = Verifier(w.store(), VerificationPolicy(max_token_bytes=100), clock=lambda: w.now)
    verdict = small.verify_licence(w.licence_sz, ZHONGSHAN)
    assert verdict.checks[-1].code == "format.size"


def test_expectations_on_seals_ignore_licence_type(demo_world: DemoWorld) -> None:
    w = demo_world
    v = w.verifier()
    expect = Expectations(holder_id=SZ_ENTERPRISE.credit_code, licence_type="business_licence")
    assert v.verify_seal(w.seal_sz, ZHONGSHAN, expect=expect).passed
    assert v.verify_sealed_document(
        w.sealed_document, w.sealed_signature, ZHONGSHAN, expect=expect
    ).passed


def test_issuer_helpers_refuse_malformed_documents(demo_world: DemoWorld) -> None:
    w = demo_world
    key = w.issuer_key(SHENZHEN)
    good = w.licence_fields()
    with pytest.raises(ValueError, match="check character"):
        issue_licence(key, **{**good, "holder_uscc": SZ_ENTERPRISE.credit_code[:-1] + "0"})
    with pytest.raises(ValueError):
        issue_licence(key, **{**good, "jurisdiction": "44030"})
    with pytest.raises(ValueError):
        issue_licence(key, **{**good, "issued_at": datetime(2026, 1, 1)})
    with pytest.raises(ValueError):
        w.make_seal(valid_to=w.now - 100 * timedelta(days=1))  # exp before nbf
