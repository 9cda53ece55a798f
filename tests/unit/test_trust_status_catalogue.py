"""Status lists (issuer-signed revocation bit arrays) and the recognition catalogue, as accepted
by the trust store: each refusal breaks one rule and changes nothing."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from keys import b64url_encode, sign_compact
from tests.support.trust_world import (
    GZ,
    NOW,
    SZ,
    T0,
    URI1,
    URI2,
    ZS,
    base_list,
    bump,
    disk,
    key,
    keys,
    list_refused,
    make_store,
    refused,
    sign,
    with_status_uri,
)
from trust_lists import authoring
from trust_lists.catalogue import Catalogue, DocumentType, Recognition, SignedCatalogue
from trust_lists.errors import (
    AlreadyExpired,
    CatalogueOverreach,
    DocumentTooLarge,
    KeyOfOtherJurisdiction,
    MalformedDocument,
    NotYetIssued,
    Rollback,
    StatusUriClaimed,
    ThresholdNotMet,
    TrustStateError,
    UnknownJurisdiction,
    UntrustedSigner,
)
from trust_lists.model import KeyStatus, TrustList
from trust_lists.status_list import (
    MAX_STATUS_LIST_ENTRIES,
    STATUS_LIST_TYP,
    Status,
    sign_status_list,
)
from trust_lists.storage import TrustDirectory, list_stream, status_stream
from trust_lists.store import TrustStore

ISSUER = f"i1-{SZ}"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "trust"


@pytest.fixture
def sz1() -> TrustList:
    return base_list(SZ)


@pytest.fixture
def store(root: Path, sz1: TrustList) -> TrustStore:
    s = make_store(root)
    s.submit_trust_list(sign(sz1, "a1", "a2"), now=NOW)
    s.submit_trust_list(sign(base_list(ZS, operators=("z1", "z2"), threshold=1), "z1"), now=NOW)
    return s


def token(
    signer: str = ISSUER,
    *,
    uri: str = URI1,
    iat_minutes: int = -10,
    valid: timedelta = timedelta(days=1),
    statuses: list[int] | None = None,
) -> str:
    issued = NOW + timedelta(minutes=iat_minutes)
    return sign_status_list(
        key(signer),
        uri=uri,
        statuses=[0, 1, 2, 0] if statuses is None else statuses,
        bits=2,
        issued_at=issued,
        expires_at=issued + valid,
    )


# -- status lists ------------------------------------------------------------------------------


def test_status_list_accepted(store: TrustStore, root: Path) -> None:
    before = store.state.version
    tok = token()
    issued = store.submit_status_list(tok, now=NOW)
    assert store.state.version != before
    held = store.state.status_lists[URI1]
    assert held is issued
    assert (held.jurisdiction, held.service_id) == (SZ, f"amr-{SZ}")
    sl = held.status_list
    assert [sl.status(i) for i in range(4)] == [Status.VALID, Status.INVALID, Status.SUSPENDED, 0]
    assert sl.status(4) is None and sl.status(-1) is None
    assert any(name.startswith(status_stream(URI1) + "/") for name in disk(root))
    # Same token again: no change at all.
    state = store.state
    store.submit_status_list(tok, now=NOW)
    assert store.state is state


def _forged_signature() -> str:
    """Header and payload of one token with the signature of another."""
    a = token(statuses=[0, 0, 0, 0]).split(".")
    b = token(statuses=[1, 1, 1, 1]).split(".")
    return f"{a[0]}.{a[1]}.{b[2]}"


def _inflate_bomb() -> str:
    """A validly signed list whose few kilobytes inflate past MAX_STATUS_LIST_ENTRIES."""
    limit = MAX_STATUS_LIST_ENTRIES * 1 // 8
    bomb = zlib.compress(b"\x00" * (limit + 1), 9)
    assert len(bomb) < 16 * 1024
    claims = {
        "sub": URI1,
        "iat": int((NOW - timedelta(minutes=5)).timestamp()),
        "exp": int((NOW + timedelta(days=1)).timestamp()),
        "status_list": {"bits": 1, "lst": b64url_encode(bomb)},
    }
    return sign_compact(claims, key(ISSUER), typ=STATUS_LIST_TYP)


@pytest.mark.parametrize(
    ("make", "error", "code", "match"),
    [
        # The seal authority's key is trusted, but not for the licence issuer's status list.
        pytest.param(
            lambda: token(f"edseal1-{SZ}"),
            UntrustedSigner,
            "untrusted_signer",
            "does not publish",
            id="from-another-service",
        ),
        pytest.param(
            lambda: token(uri=URI2),
            UntrustedSigner,
            "untrusted_signer",
            "does not publish",
            id="uri-not-declared",
        ),
        pytest.param(
            lambda: token("stranger"),
            UntrustedSigner,
            "untrusted_signer",
            "no trust list",
            id="by-unknown-key",
        ),
        pytest.param(
            _forged_signature,
            UntrustedSigner,
            "untrusted_signer",
            "does not verify",
            id="bad-signature",
        ),
        pytest.param(
            lambda: token(iat_minutes=-120, valid=timedelta(hours=1)),
            AlreadyExpired,
            "already_expired",
            None,
            id="expired",
        ),
        pytest.param(
            lambda: token(iat_minutes=10),
            NotYetIssued,
            "issued_in_future",
            None,
            id="from-the-future",
        ),
        pytest.param(
            _inflate_bomb,
            DocumentTooLarge,
            "too_large",
            "inflates beyond",
            id="inflate-bomb-capped",
        ),
    ],
)
def test_status_list_refused(
    store: TrustStore,
    make: Callable[[], str],
    error: type[TrustStateError],
    code: str,
    match: str | None,
) -> None:
    """Each token breaks one rule: refused with the rule's code, and nothing changed."""
    data = make()
    refused(store, error, code, lambda: store.submit_status_list(data, now=NOW), match=match)


def test_older_status_list_is_a_rollback_and_the_guard_persists(
    store: TrustStore, root: Path
) -> None:
    older, newer = token(iat_minutes=-20), token(iat_minutes=-10, statuses=[1, 1, 1, 1])
    store.submit_status_list(newer, now=NOW)
    refused(
        store,
        Rollback,
        "rollback",
        lambda: store.submit_status_list(older, now=NOW),
    )
    same_time = token(iat_minutes=-10, statuses=[0, 0, 0, 0])
    refused(store, Rollback, "rollback", lambda: store.submit_status_list(same_time, now=NOW))

    fresh = make_store(root)
    assert fresh.load() == []
    assert fresh.state.status_lists[URI1].status_list.status(0) == Status.INVALID
    refused(fresh, Rollback, "rollback", lambda: fresh.submit_status_list(older, now=NOW))

    # The guard outlives the stored tokens, as for trust lists.
    stream_dir = root / status_stream(URI1)
    for f in stream_dir.glob("*.jws"):
        f.unlink()
    bare = make_store(root)
    assert bare.load() == []
    assert URI1 not in bare.state.status_lists
    refused(bare, Rollback, "rollback", lambda: bare.submit_status_list(older, now=NOW))


def test_only_the_newest_status_lists_are_kept(store: TrustStore, root: Path) -> None:
    for minutes in (-50, -40, -30, -20, -10):
        store.submit_status_list(token(iat_minutes=minutes), now=NOW)
    files = [n for n in disk(root) if n.startswith(status_stream(URI1)) and n.endswith(".jws")]
    assert len(files) == 3


def test_status_list_signed_by_a_revoked_key_refused(store: TrustStore, sz1: TrustList) -> None:
    revoked = authoring.change_key_status(
        bump(sz1), key(ISSUER).kid, KeyStatus.REVOKED, effective=NOW + timedelta(days=1)
    )
    store.submit_trust_list(sign(revoked, "a1", "a2"), now=NOW)
    refused(
        store,
        UntrustedSigner,
        "untrusted_signer",
        lambda: store.submit_status_list(token(), now=NOW),
        match="revoked",
    )


def test_status_list_signed_outside_the_keys_grant_refused(
    store: TrustStore, sz1: TrustList
) -> None:
    later = NOW + timedelta(hours=1)
    sz2 = authoring.add_key(bump(sz1), f"amr-{SZ}", key("i-late").public_key, granted_from=later)
    sz2 = authoring.change_key_status(
        sz2, key(ISSUER).kid, KeyStatus.WITHDRAWN, effective=NOW - timedelta(minutes=30)
    )
    store.submit_trust_list(sign(sz2, "a1", "a2"), now=NOW)
    for signer in ("i-late", ISSUER):  # not yet granted / already withdrawn at iat
        refused(
            store,
            UntrustedSigner,
            "untrusted_signer",
            lambda signer=signer: store.submit_status_list(token(signer), now=NOW),
            match="not in force",
        )


@pytest.mark.parametrize(
    ("claims_change", "typ", "match"),
    [
        ({"extra": 1}, STATUS_LIST_TYP, "unknown claims"),
        ({"sub": "http://sz.example/status"}, STATUS_LIST_TYP, "https"),
        ({"status_list": {"bits": 3, "lst": "eJwDAAAAAAE"}}, STATUS_LIST_TYP, "bits"),
        ({"iat": True}, STATUS_LIST_TYP, "integer iat"),
        ({}, "JWT", "typ"),
    ],
    ids=["unknown-claim", "http-uri", "bits-3", "iat-bool", "wrong-typ"],
)
def test_malformed_status_lists_refused(
    store: TrustStore, claims_change: dict[str, object], typ: str, match: str
) -> None:
    claims: dict[str, object] = {
        "sub": URI1,
        "iat": int((NOW - timedelta(minutes=5)).timestamp()),
        "exp": int((NOW + timedelta(days=1)).timestamp()),
        "status_list": {"bits": 1, "lst": b64url_encode(zlib.compress(b"\x00"))},
        **claims_change,
    }
    data = sign_compact(claims, key(ISSUER), typ=typ)
    refused(
        store,
        MalformedDocument,
        "malformed",
        lambda: store.submit_status_list(data, now=NOW),
        match=match,
    )


def test_stored_status_list_of_a_later_revoked_key_is_dropped_on_reload(
    store: TrustStore, root: Path, sz1: TrustList
) -> None:
    store.submit_status_list(token(), now=NOW)
    revoked = authoring.change_key_status(
        bump(sz1), key(ISSUER).kid, KeyStatus.REVOKED, effective=NOW
    )
    store.submit_trust_list(sign(revoked, "a1", "a2"), now=NOW)
    fresh = make_store(root)
    problems = fresh.load()
    assert any("status list" in p and "revoked" in p for p in problems), problems
    assert URI1 not in fresh.state.status_lists


# -- the recognition catalogue -----------------------------------------------------------------

LICENCE = DocumentType("food-business", "食品经营许可证", "Food business permit")
SEAL = DocumentType("enterprise-seal", "企业电子印章", "Enterprise e-seal")


def catalogue(sequence: int = 1, *, relying: tuple[str, ...] = (SZ, ZS)) -> Catalogue:
    others = {SZ: ZS, ZS: SZ, GZ: SZ}
    return Catalogue(
        sequence,
        T0,
        {LICENCE.code: LICENCE},
        {SEAL.code: SEAL},
        tuple(
            Recognition(r, others[r], frozenset({LICENCE.code}), frozenset({SEAL.code}))
            for r in relying
        ),
    )


def signed_catalogue(cat: Catalogue, *signers: str) -> bytes:
    return SignedCatalogue.create(cat, keys(*signers)).to_json()


def test_catalogue_accepted_with_every_relying_threshold(store: TrustStore, root: Path) -> None:
    cat = store.submit_catalogue(signed_catalogue(catalogue(), "a1", "a2", "z1"), now=NOW)
    assert store.state.catalogue is cat
    assert cat.catalogue.recognises(SZ, ZS, licence_type=LICENCE.code)
    assert cat.catalogue.recognises(ZS, SZ, seal_type=SEAL.code)
    assert not cat.catalogue.recognises(SZ, GZ, licence_type=LICENCE.code)
    fresh = make_store(root)
    assert fresh.load() == []
    assert fresh.state.catalogue is not None
    assert fresh.state.catalogue.digest == cat.digest
    assert fresh.state.version == store.state.version


@pytest.mark.parametrize(
    ("signers", "missing"),
    [(("a1", "a2"), ZS), (("z1", "z2"), SZ), (("a1", "z1"), SZ)],
    ids=["only-shenzhen", "only-zhongshan", "shenzhen-below-threshold"],
)
def test_catalogue_without_a_relying_threshold_refused(
    store: TrustStore, signers: tuple[str, ...], missing: str
) -> None:
    refused(
        store,
        ThresholdNotMet,
        "threshold_not_met",
        lambda: store.submit_catalogue(signed_catalogue(catalogue(), *signers), now=NOW),
        match=missing,
    )


def test_catalogue_rollback_refused_also_after_restart(store: TrustStore, root: Path) -> None:
    store.submit_catalogue(signed_catalogue(catalogue(2), "a1", "a2", "z1"), now=NOW)
    for seq in (1, 2):
        other = catalogue(seq, relying=(SZ,))  # different content
        refused(
            store,
            Rollback,
            "rollback",
            lambda other=other: store.submit_catalogue(
                signed_catalogue(other, "a1", "a2"), now=NOW
            ),
        )
    (root / "catalogue" / f"{2:016d}.jws").unlink()
    fresh = make_store(root)
    problems = fresh.load()
    assert fresh.state.catalogue is None and problems == []
    refused(
        fresh,
        Rollback,
        "rollback",
        lambda: fresh.submit_catalogue(signed_catalogue(catalogue(1), "a1", "a2", "z1"), now=NOW),
    )


def test_catalogue_naming_a_jurisdiction_without_list_refused(store: TrustStore) -> None:
    cat = catalogue(relying=(SZ, GZ))
    refused(
        store,
        UnknownJurisdiction,
        "unknown_jurisdiction",
        lambda: store.submit_catalogue(signed_catalogue(cat, "a1", "a2", "z1"), now=NOW),
    )


def test_catalogue_from_the_future_refused(store: TrustStore) -> None:
    cat = Catalogue(
        1, NOW + timedelta(hours=1), {}, {}, (Recognition(SZ, ZS, frozenset(), frozenset()),)
    )
    refused(
        store,
        NotYetIssued,
        "issued_in_future",
        lambda: store.submit_catalogue(signed_catalogue(cat, "a1", "a2", "z1"), now=NOW),
    )


def test_catalogue_survives_a_later_operator_rotation(
    store: TrustStore, root: Path, sz1: TrustList
) -> None:
    store.submit_catalogue(signed_catalogue(catalogue(), "a1", "a2", "z1"), now=NOW)
    sz2 = authoring.set_operators(bump(sz1), [key("b1").public_key, key("b2").public_key], 2)
    store.submit_trust_list(sign(sz2, "a1", "a2", "b1", "b2"), now=NOW)
    fresh = make_store(root)
    assert fresh.load() == []
    assert fresh.state.catalogue is not None
    # A new catalogue needs the new operators: the retired ones no longer count.
    refused(
        store,
        ThresholdNotMet,
        "threshold_not_met",
        lambda: store.submit_catalogue(signed_catalogue(catalogue(2), "a1", "a2", "z1"), now=NOW),
    )
    store.submit_catalogue(signed_catalogue(catalogue(2), "b1", "b2", "z1"), now=NOW)


# -- boundaries between cities (issue 19) --------------------------------------------------------


def overreached_by_shenzhen_alone(store: TrustStore, cat: Catalogue) -> None:
    refused(
        store,
        CatalogueOverreach,
        "catalogue_overreach",
        lambda: store.submit_catalogue(signed_catalogue(cat, "a1", "a2"), now=NOW),
        match=ZS,
    )


def test_catalogue_dropping_a_citys_entries_needs_that_city(store: TrustStore) -> None:
    store.submit_catalogue(signed_catalogue(catalogue(1), "a1", "a2", "z1"), now=NOW)
    only_sz = catalogue(2, relying=(SZ,))
    overreached_by_shenzhen_alone(store, only_sz)
    store.submit_catalogue(signed_catalogue(only_sz, "a1", "a2", "z1"), now=NOW)
    held = store.state.catalogue
    assert held is not None
    assert not held.catalogue.recognises(ZS, SZ, licence_type=LICENCE.code)


def test_first_catalogue_needs_every_configured_city(store: TrustStore, root: Path) -> None:
    """Issue 19 review: with no catalogue held (a fresh deployment, one whose stored catalogue
    failed to reload, or an instance not yet caught up) there was no held catalogue to protect,
    so Shenzhen alone could install a Shenzhen-only catalogue; published, it erased Zhongshan's
    entries on every instance started later. What it replaces is unknown here: every configured
    city signs it, and one that did not is overreached (catalogue_overreach)."""
    only_sz = catalogue(1, relying=(SZ,))
    overreached_by_shenzhen_alone(store, only_sz)
    # The same gap after a stored catalogue fails to reload: none is held, the guard stays.
    store.submit_catalogue(signed_catalogue(catalogue(1), "a1", "a2", "z1"), now=NOW)
    (root / "catalogue" / f"{1:016d}.jws").write_bytes(b"{}")
    fresh = make_store(root)
    assert any("catalogue" in p for p in fresh.load())
    assert fresh.state.catalogue is None
    overreached_by_shenzhen_alone(fresh, catalogue(2, relying=(SZ,)))
    # Signed by every configured city, the first catalogue is installed, naming one city or both.
    fresh.submit_catalogue(signed_catalogue(catalogue(2, relying=(SZ,)), "a1", "a2", "z1"), now=NOW)
    assert fresh.state.catalogue is not None


def test_first_catalogue_waits_for_every_configured_citys_list(root: Path) -> None:
    """A configured city whose list is not held yet cannot sign: refused as unknown_jurisdiction
    (judged again once its list arrives, api/sync/fanout.py), never installed without it."""
    store = make_store(root)
    store.submit_trust_list(sign(base_list(SZ), "a1", "a2"), now=NOW)
    refused(
        store,
        UnknownJurisdiction,
        "unknown_jurisdiction",
        lambda: store.submit_catalogue(
            signed_catalogue(catalogue(1, relying=(SZ,)), "a1", "a2", "z1"), now=NOW
        ),
        match=ZS,
    )


def test_status_uri_of_another_city_refused(store: TrustStore) -> None:
    zs1 = base_list(ZS, operators=("z1", "z2"), threshold=1)
    zs2 = with_status_uri(bump(zs1), f"amr-{ZS}", URI1)
    list_refused(store, sign(zs2, "z1"), StatusUriClaimed, "status_uri_claimed", match=SZ)


def test_service_key_of_another_city_refused(store: TrustStore) -> None:
    zs2 = authoring.add_key(
        bump(base_list(ZS, operators=("z1", "z2"), threshold=1)),
        f"amr-{ZS}",
        key(ISSUER).public_key,
        granted_from=T0,
    )
    list_refused(
        store, sign(zs2, "z1"), KeyOfOtherJurisdiction, "key_of_other_jurisdiction", match=SZ
    )


def test_a_status_list_is_judged_only_against_the_service_owning_its_uri(root: Path) -> None:
    """Lists stored before the boundary rules may both declare one URI. Then neither service's
    status list is trusted there (never the first list that happens to match), neither city is
    locked out of its own next list, and once one city lets go the other publishes again."""
    sz = with_status_uri(base_list(SZ), f"amr-{SZ}", URI2)
    zs = with_status_uri(base_list(ZS, operators=("z1", "z2"), threshold=1), f"amr-{ZS}", URI2)
    directory = TrustDirectory(root)
    directory.store(list_stream(SZ), 1, sign(sz, "a1", "a2"))
    directory.store(list_stream(ZS), 1, sign(zs, "z1"))
    store = make_store(root)
    assert store.load() == []
    for signer in (ISSUER, f"i1-{ZS}"):
        refused(
            store,
            UntrustedSigner,
            "untrusted_signer",
            lambda signer=signer: store.submit_status_list(token(signer, uri=URI2), now=NOW),
            match="declared by",
        )
    store.submit_trust_list(sign(bump(sz), "a1", "a2"), now=NOW)  # keeps its old claim
    store.submit_trust_list(sign(bump(bump(base_list(SZ))), "a1", "a2"), now=NOW)  # lets go
    issued = store.submit_status_list(token(f"i1-{ZS}", uri=URI2), now=NOW)
    assert (issued.jurisdiction, issued.service_id) == (ZS, f"amr-{ZS}")
