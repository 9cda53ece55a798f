"""Revocation through IETF Token Status Lists: what the store accepts, and how the verifier
judges the list a licence points at."""

from __future__ import annotations

from datetime import timedelta

import pytest

from demo.world import IDX_SUSPENDED, SHENZHEN, ZHONGSHAN, DemoWorld, default_statuses
from keys import ES256, SigningKey, b64url_encode
from tests.support.verifier_support import DAY, edit_service, next_list, store_with
from trust_lists.authoring import add_key, change_key_status, next_version
from trust_lists.errors import AlreadyExpired, Rollback, UntrustedSigner
from trust_lists.model import KeyStatus, TrustList
from trust_lists.status_list import sign_status_list
from verifier import Indication, SubIndication

SZ_URI = "https://status.sz.huren.example/sz-amr/1"
ZS_URI = "https://status.zs.huren.example/zs-amr/1"


def _outcome(verdict: object) -> tuple[object, object, str | None]:
    v = verdict
    bad = [c.code for c in v.checks if c.result.value != "PASSED"]  # type: ignore[attr-defined]
    return v.indication, v.sub_indication, (bad[0] if bad else None)  # type: ignore[attr-defined]


# -- what the store accepts ----------------------------------------------------------------------


def test_store_refuses_a_forged_status_list(demo_world: DemoWorld) -> None:
    w = demo_world
    store = w.store()
    token = w.sign_status_list(SZ_URI, issued_at=w.now)
    h, p, s = token.split(".")
    forged = h + "." + b64url_encode(b'{"x":1}') + "." + s
    with pytest.raises(UntrustedSigner):
        store.submit_status_list(
            h + "." + p + "." + ("A" if s[0] != "A" else "B") + s[1:], now=w.now
        )
    with pytest.raises(Exception):  # malformed or untrusted: never accepted
        store.submit_status_list(forged, now=w.now)


def test_store_refuses_a_list_signed_by_an_unlisted_key(demo_world: DemoWorld) -> None:
    w = demo_world
    stranger = SigningKey.generate(ES256)
    token = sign_status_list(
        stranger,
        uri=SZ_URI,
        statuses=[0] * 8,
        bits=2,
        issued_at=w.now,
        expires_at=w.now + DAY,
    )
    with pytest.raises(UntrustedSigner):
        w.store().submit_status_list(token, now=w.now)


def test_store_refuses_a_subject_the_signer_does_not_publish(demo_world: DemoWorld) -> None:
    """The Zhongshan issuer cannot publish the Shenzhen issuer's list (mix-and-match)."""
    w = demo_world
    token = w.sign_status_list(SZ_URI, issued_at=w.now, key=w.issuer_key(ZHONGSHAN))
    with pytest.raises(UntrustedSigner):
        w.store().submit_status_list(token, now=w.now)


def test_store_refuses_older_and_expired_lists(demo_world: DemoWorld) -> None:
    w = demo_world
    store = w.store()
    newer = w.sign_status_list(SZ_URI, issued_at=w.now)
    store.submit_status_list(newer, now=w.now)
    with pytest.raises(Rollback):
        store.submit_status_list(w.status_lists[SZ_URI], now=w.now)
    same_time = w.sign_status_list(SZ_URI, [1] * 16, issued_at=w.now)
    with pytest.raises(Rollback):
        store.submit_status_list(same_time, now=w.now)
    expired = w.sign_status_list(
        SZ_URI, issued_at=w.now + timedelta(seconds=1), expires_at=w.now + timedelta(seconds=2)
    )
    with pytest.raises(AlreadyExpired):
        store.submit_status_list(expired, now=w.now + timedelta(seconds=3))


# -- how the verifier uses them --------------------------------------------------------------------


def test_newer_list_lifts_a_suspension(demo_world: DemoWorld) -> None:
    w = demo_world
    token = w.issue_licence(status=(IDX_SUSPENDED, SZ_URI))
    store = w.store()
    assert _outcome(w.verifier(store).verify_licence(token, ZHONGSHAN)) == (
        Indication.INDETERMINATE,
        SubIndication.TRY_LATER,
        "status.suspended",
    )
    store.submit_status_list(w.sign_status_list(SZ_URI, [0] * 1024, issued_at=w.now), now=w.now)
    assert w.verifier(store).verify_licence(token, ZHONGSHAN).passed


def test_one_bit_status_lists(demo_world: DemoWorld) -> None:
    w = demo_world
    store = w.store()
    token = sign_status_list(
        w.issuer_key(SHENZHEN),
        uri=SZ_URI,
        statuses=[0, 1, 0, 1],
        bits=1,
        issued_at=w.now,
        expires_at=w.now + DAY,
    )
    store.submit_status_list(token, now=w.now)
    v = w.verifier(store)
    assert v.verify_licence(w.issue_licence(status=(0, SZ_URI)), ZHONGSHAN).passed
    revoked = v.verify_licence(w.issue_licence(status=(3, SZ_URI)), ZHONGSHAN)
    assert _outcome(revoked) == (Indication.FAILED, SubIndication.REVOKED, "status.revoked")
    # The list holds whole bytes: index 7 exists (value 0), index 8 does not.
    assert v.verify_licence(w.issue_licence(status=(7, SZ_URI)), ZHONGSHAN).passed
    out = v.verify_licence(w.issue_licence(status=(8, SZ_URI)), ZHONGSHAN)
    assert _outcome(out) == (
        Indication.INDETERMINATE,
        SubIndication.TRY_LATER,
        "status.out_of_range",
    )


def test_list_published_by_another_service_is_not_relied_on(demo_world: DemoWorld) -> None:
    """The Shenzhen issuer let its URI go, the Zhongshan issuer took it and published the list
    held for it, then let it go and Shenzhen took it back: that list says nothing about a
    Shenzhen licence. (Two services never declare one URI at once: attack/test_boundaries.py.)"""
    w = demo_world

    def version(tl: TrustList, uris: set[str], minutes: int) -> TrustList:
        issuer = "sz-amr" if tl.jurisdiction == SHENZHEN else "zs-amr"
        tl = edit_service(tl, issuer, status_lists=frozenset(uris))
        return next_version(tl, issued_at=w.now - timedelta(minutes=minutes), validity=30 * DAY)

    sz2 = version(w.trust_lists[SHENZHEN], set(), 3)
    zs2 = version(w.trust_lists[ZHONGSHAN], {ZS_URI, SZ_URI}, 3)
    store = store_with(w, status=[ZS_URI], updates=[w.sign_list(sz2), w.sign_list(zs2)])
    token = w.sign_status_list(SZ_URI, [0] * 1024, issued_at=w.now, key=w.issuer_key(ZHONGSHAN))
    store.submit_status_list(token, now=w.now)
    store.submit_trust_list(w.sign_list(version(zs2, {ZS_URI}, 2)), now=w.now)
    store.submit_trust_list(w.sign_list(version(sz2, {SZ_URI}, 2)), now=w.now)
    assert store.state.status_lists[SZ_URI].service_id == "zs-amr"
    verdict = w.verifier(store).verify_licence(w.licence_sz, ZHONGSHAN)
    assert _outcome(verdict) == (
        Indication.INDETERMINATE,
        SubIndication.TRY_LATER,
        "status.untrusted",
    )
    assert any("zs-amr" in c.message_en for c in verdict.checks)


def test_list_signed_by_a_key_revoked_later_is_not_relied_on(demo_world: DemoWorld) -> None:
    """The list was accepted while its signing key was good; once the key is revoked the
    list can no longer be trusted, even though the store still holds it."""
    w = demo_world
    status_key = SigningKey.generate(ES256)
    v2 = next_version(
        add_key(w.trust_lists[SHENZHEN], "sz-amr", status_key.public_key, granted_from=w.now - DAY),
        issued_at=w.now - timedelta(minutes=2),
        validity=timedelta(days=30),
    )
    store = store_with(w, updates=[w.sign_list(v2)])
    store.submit_status_list(
        w.sign_status_list(SZ_URI, default_statuses(), issued_at=w.now, key=status_key), now=w.now
    )
    assert w.verifier(store).verify_licence(w.licence_sz, ZHONGSHAN).passed
    v3 = change_key_status(
        v2, status_key.kid, KeyStatus.REVOKED, effective=w.now - timedelta(minutes=30)
    )
    store.submit_trust_list(next_list(w, v3, at=w.now - timedelta(seconds=30)), now=w.now)
    verdict = w.verifier(store).verify_licence(w.licence_sz, ZHONGSHAN)
    assert _outcome(verdict) == (
        Indication.INDETERMINATE,
        SubIndication.TRY_LATER,
        "status.untrusted",
    )


def test_status_list_expiry_bounds_the_verdict(demo_world: DemoWorld) -> None:
    w = demo_world
    store = w.store()
    expires = w.now + timedelta(hours=3)
    store.submit_status_list(
        w.sign_status_list(SZ_URI, issued_at=w.now, expires_at=expires), now=w.now
    )
    verdict = w.verifier(store).verify_licence(w.licence_sz, ZHONGSHAN)
    assert verdict.passed and verdict.valid_until == expires
    after = w.verifier(store, now=expires).verify_licence(w.licence_sz, ZHONGSHAN)
    assert _outcome(after) == (Indication.INDETERMINATE, SubIndication.TRY_LATER, "status.expired")


def test_seal_status_list_is_the_seal_authoritys(demo_world: DemoWorld) -> None:
    """A seal pointing at the licence issuer's list is refused the same way (undeclared)."""
    w = demo_world
    seal = w.make_seal(status=(0, SZ_URI))
    verdict = w.verifier().verify_seal(seal, ZHONGSHAN)
    assert _outcome(verdict) == (
        Indication.INDETERMINATE,
        SubIndication.TRY_LATER,
        "status.undeclared",
    )
