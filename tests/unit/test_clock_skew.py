"""The one clock-skew rule (trust_lists.timeutil.issued_in_future), as every document kind that
claims a signing time reads it: a time up to the policy's skew past the validation time is
accepted, one beyond it is FAILED NOT_YET_VALID `validity.not_yet_issued`, and the verdict says
when that changes (valid_until: the claimed time less the skew)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from issuing import national as issue
from tests.support.national_world import SZ, ZS, cert, default_world, key
from trust_lists.timeutil import issued_in_future
from verifier import Indication, SubIndication, Verdict

SKEW = timedelta(minutes=5)  # NationalPolicy's default
SIGNED = datetime(2021, 3, 1, 10, 0, tzinfo=UTC)
T0 = datetime(2021, 1, 1, tzinfo=UTC)
PNG = issue.SealPicture("PNG", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 20)


def test_the_rule_at_its_edge() -> None:
    assert not issued_in_future(SIGNED, SIGNED - SKEW, SKEW)  # exactly the skew: accepted
    assert issued_in_future(SIGNED, SIGNED - SKEW - timedelta(seconds=1), SKEW)
    assert not issued_in_future(SIGNED, SIGNED, timedelta(0))
    # Saturates instead of overflowing at the end of time.
    end = datetime.max.replace(tzinfo=UTC)
    assert not issued_in_future(end, end, SKEW)


def _stamped(**changes: Any) -> bytes:
    files = issue.make_ofd(["合同第一页"], doc_id="contract-1")
    seal = issue.make_seal(
        maker_key=key("SealBuilder"),
        maker_certificate=cert("SealBuilder").der,
        es_id="44030020210001",
        seal_type=4,
        name="深圳市前海互认科技有限公司合同专用章",
        signer_certificates=[cert("USER").der],
        created=T0,
        valid_start=T0,
        valid_end=T0 + timedelta(days=365),
        picture=PNG,
    )
    fields: dict[str, Any] = {
        "seal": seal,
        "signer_key": key("USER"),
        "signer_certificate": cert("USER").der,
        "signed_at": SIGNED,
    }
    fields.update(changes)
    return issue.package(issue.stamp_ofd(files, **fields))


def _judge(data: bytes, relying: str, at: datetime) -> Verdict:
    doc = default_world().verifier.verify_document(data, relying, at)
    assert len(doc.signatures) == 1
    return doc.signatures[0].verdict


def _failing(v: Verdict) -> list[str]:
    return [c.code for c in v.checks if c.result.value != "PASSED"]


@pytest.mark.parametrize(
    ("kind", "changes", "relying"),
    [
        ("seal", {}, ZS),
        ("sign-bare", {"seal": None}, SZ),
        ("sign-gbt35275", {"seal": None, "signed_data": True}, SZ),
    ],
)
def test_signing_time_past_the_validation_time(
    kind: str, changes: dict[str, Any], relying: str
) -> None:
    raw = _stamped(**changes)
    within = _judge(raw, relying, SIGNED - SKEW)
    assert "validity.not_yet_issued" not in _failing(within), kind
    assert within.indication is Indication.PASSED, (kind, _failing(within))
    beyond = _judge(raw, relying, SIGNED - SKEW - timedelta(seconds=1))
    assert (beyond.indication, beyond.sub_indication) == (
        Indication.FAILED,
        SubIndication.NOT_YET_VALID,
    ), kind
    assert _failing(beyond) == ["validity.not_yet_issued"], kind
    assert beyond.valid_until == SIGNED - SKEW, kind
