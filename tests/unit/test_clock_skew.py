"""The one clock-skew rule (trust_lists.timeutil.issued_in_future), as every document kind that
claims a signing time reads it: a time up to the policy's skew past the validation time is
accepted, one beyond it is FAILED NOT_YET_VALID `validity.not_yet_issued`, and the verdict says
when that changes (valid_until: the claimed time less the skew)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from issuing import national as issue
from tests.support.national_world import SZ, ZS, default_world
from tests.unit.test_national_documents import SIGNED, _signed, stamped_files
from trust_lists.timeutil import issued_in_future
from verifier import Indication, SubIndication, Verdict

SKEW = timedelta(minutes=5)  # NationalPolicy's default


def test_the_rule_at_its_edge() -> None:
    assert not issued_in_future(SIGNED, SIGNED - SKEW, SKEW)  # exactly the skew: accepted
    assert issued_in_future(SIGNED, SIGNED - SKEW - timedelta(seconds=1), SKEW)
    assert not issued_in_future(SIGNED, SIGNED, timedelta(0))
    # Saturates instead of overflowing at the end of time.
    end = datetime.max.replace(tzinfo=UTC)
    assert not issued_in_future(end, end, SKEW)


def _stamped(**changes: Any) -> bytes:
    if "seal" in changes:  # no seal: a Type="Sign" signature
        return issue.package(_signed(**changes))
    return issue.package(stamped_files(**changes))


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
