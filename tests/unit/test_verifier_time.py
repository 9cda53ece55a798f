"""Point-in-time validation (judging at a past time from the status histories) and valid_until,
the field verdict caches rely on."""

from __future__ import annotations

from datetime import timedelta

from demo.world import LIST_VALIDITY, SHENZHEN, STATUS_VALIDITY, SZ_ENTERPRISE, ZHONGSHAN, DemoWorld
from issuing.licences import sign_sealed_document
from tests.support.verifier_support import DAY
from verifier import Indication, SubIndication

HOUR = timedelta(hours=1)


def _status_expiry(w: DemoWorld) -> object:
    return w.now - HOUR + STATUS_VALIDITY


def test_passed_valid_until_is_the_earliest_boundary(demo_world: DemoWorld) -> None:
    w = demo_world
    v = w.verifier()
    # Long-term licence: the status list expires before the trust list goes stale.
    verdict = v.verify_licence(w.licence_sz, ZHONGSHAN)
    assert verdict.passed
    assert verdict.valid_until == w.now - HOUR + STATUS_VALIDITY
    # Without a status reference the trust list's next update is the bound.
    no_status = v.verify_licence(w.issue_licence(status=None), ZHONGSHAN)
    assert no_status.valid_until == w.now - HOUR + LIST_VALIDITY
    # A licence expiring first bounds it.
    soon = v.verify_licence(w.issue_licence(valid_to=w.now + 2 * HOUR), ZHONGSHAN)
    assert soon.passed and soon.valid_until == w.now + 2 * HOUR


def test_valid_until_is_the_revocation_of_the_key_when_it_comes_first(
    demo_world: DemoWorld,
) -> None:
    """Judged before the compromise: PASSED, but only until the revocation takes effect."""
    w = demo_world
    token = w.issue_licence(
        key=w.keys[f"{SHENZHEN}-issuer-compromised"], issued_at=w.now - 20 * DAY, status=None
    )
    revoked_at = w.now - 10 * DAY
    verdict = w.verifier().verify_licence(token, ZHONGSHAN, at=revoked_at - DAY)
    assert verdict.passed, verdict.checks
    assert verdict.valid_until == revoked_at
    # At the revocation itself it no longer passes.
    later = w.verifier().verify_licence(token, ZHONGSHAN, at=revoked_at)
    assert (later.indication, later.sub_indication) == (
        Indication.INDETERMINATE,
        SubIndication.REVOKED_NO_POE,
    )


def test_failed_signature_never_changes_with_time(demo_world: DemoWorld) -> None:
    w = demo_world
    h, p, s = w.licence_sz.split(".")
    forged = h + "." + p + "." + ("A" if s[0] != "A" else "B") + s[1:]
    verdict = w.verifier().verify_licence(forged, ZHONGSHAN)
    assert verdict.sub_indication is SubIndication.SIG_CRYPTO_FAILURE
    assert verdict.valid_until is None


def test_not_yet_valid_until_it_becomes_valid(demo_world: DemoWorld) -> None:
    w = demo_world
    start = w.now + 3 * DAY
    verdict = w.verifier().verify_licence(w.issue_licence(valid_from=start), ZHONGSHAN)
    assert verdict.sub_indication is SubIndication.NOT_YET_VALID
    assert verdict.valid_until == start
    # And judged at that time (with a clock there, so the lists are as fresh as they are)...
    assert w.verifier(now=start).verify_licence(w.issue_licence(valid_from=start), ZHONGSHAN).passed


def test_expired_licence_judged_at_a_past_time(demo_world: DemoWorld) -> None:
    """Archived documents: an expired licence was valid at a time inside its window."""
    w = demo_world
    token = w.issue_licence(issued_at=w.now - 90 * DAY, valid_to=w.now - DAY)
    v = w.verifier()
    assert v.verify_licence(token, ZHONGSHAN).sub_indication is SubIndication.EXPIRED
    past = v.verify_licence(token, ZHONGSHAN, at=w.now - 10 * DAY)
    assert past.passed
    assert past.validation_time == w.now - 10 * DAY
    assert past.valid_until == w.now - DAY  # its expiry, still the earliest boundary


def test_withdrawn_key_point_in_time(demo_world: DemoWorld) -> None:
    """The status history decides, at the signing time, whatever the validation time."""
    w = demo_world
    retired = w.keys[f"{SHENZHEN}-issuer-retired"]
    before = w.issue_licence(key=retired, issued_at=w.now - 40 * DAY)
    after = w.issue_licence(key=retired, issued_at=w.now - 20 * DAY)
    v = w.verifier()
    for at in (None, w.now - 15 * DAY):
        assert v.verify_licence(before, ZHONGSHAN, at=at).passed
        failed = v.verify_licence(after, ZHONGSHAN, at=at)
        assert (failed.indication, failed.sub_indication) == (
            Indication.FAILED,
            SubIndication.EXPIRED,
        )


def test_freshness_is_judged_at_the_real_now(demo_world: DemoWorld) -> None:
    w = demo_world
    stale_now = w.now - HOUR + LIST_VALIDITY  # the lists were issued an hour before now
    # Past validation time, stale lists now: still TRY_LATER.
    v = w.verifier(now=stale_now)
    assert v.verify_licence(w.licence_sz, ZHONGSHAN, at=w.now).sub_indication is (
        SubIndication.TRY_LATER
    )
    # Fresh now, but a validation time beyond the next update: judged at that time.
    future = w.verifier().verify_licence(w.licence_sz, ZHONGSHAN, at=stale_now)
    assert future.sub_indication is SubIndication.TRY_LATER
    # Just before staleness it passes (the status list is the first to expire, so skip it).
    token = w.issue_licence(status=None)
    just = w.verifier(now=stale_now - timedelta(seconds=1)).verify_licence(token, ZHONGSHAN)
    assert just.passed and just.valid_until == stale_now


def test_sealed_document_after_seal_expiry_judged_at_signing_time(demo_world: DemoWorld) -> None:
    w = demo_world
    seal = w.make_seal(issued_at=w.now - 300 * DAY, valid_to=w.now - 10 * DAY, status=None)
    signed_at = w.now - 20 * DAY
    sig = sign_sealed_document(
        w.keys[SZ_ENTERPRISE.key_name], w.sealed_document, seal, signed_at=signed_at
    )
    v = w.verifier()
    now_verdict = v.verify_sealed_document(w.sealed_document, sig, ZHONGSHAN)
    assert now_verdict.sub_indication is SubIndication.OUT_OF_BOUNDS_NO_POE
    archived = v.verify_sealed_document(w.sealed_document, sig, ZHONGSHAN, at=signed_at + DAY)
    assert archived.passed
    assert archived.valid_until == w.now - 10 * DAY  # the seal's expiry
    assert archived.summary is not None and archived.summary.issued_at == signed_at


def test_sealed_document_valid_until_includes_seal_expiry(demo_world: DemoWorld) -> None:
    w = demo_world
    seal = w.make_seal(valid_to=w.now + 2 * HOUR)
    sig = sign_sealed_document(
        w.keys[SZ_ENTERPRISE.key_name], w.sealed_document, seal, signed_at=w.now - HOUR
    )
    verdict = w.verifier().verify_sealed_document(w.sealed_document, sig, ZHONGSHAN)
    assert verdict.passed and verdict.valid_until == w.now + 2 * HOUR


def test_valid_until_never_in_the_past_for_current_verdicts(demo_world: DemoWorld) -> None:
    w = demo_world
    v = w.verifier()
    for verdict in (
        v.verify_licence(w.licence_sz, ZHONGSHAN),
        v.verify_licence(w.licence_zs, SHENZHEN),
        v.verify_seal(w.seal_sz, ZHONGSHAN),
        v.verify_sealed_document(w.sealed_document, w.sealed_signature, ZHONGSHAN),
    ):
        assert verdict.valid_until is not None and verdict.valid_until > w.now
        assert verdict.validation_time == w.now
