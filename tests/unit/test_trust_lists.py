"""Trust-list acceptance rules (issue 2): each rule has a list that breaks exactly that rule, and
every refusal leaves the store unchanged in memory and on disk."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from keys import GeneralJWS, canonical_json
from tests.support.trust_world import (
    FS,
    GZ,
    NOW,
    SZ,
    T0,
    VALID,
    ZS,
    anchor,
    base_list,
    bump,
    key,
    list_refused,
    make_store,
    refused,
    sign,
    sign_payload,
    uscc,
)
from trust_lists import authoring, model
from trust_lists.anchors import anchors_to_json, parse_anchors
from trust_lists.errors import (
    AlreadyExpired,
    DocumentTooLarge,
    DuplicateKeyId,
    JurisdictionMismatch,
    MalformedDocument,
    NotYetIssued,
    Rollback,
    RotationNotAuthorised,
    ThresholdNotMet,
    UnknownJurisdiction,
)
from trust_lists.model import KeyStatus, TrustList
from trust_lists.signed import MAX_TRUST_LIST_BYTES, SignedTrustList, is_stale
from trust_lists.store import TrustState, TrustStore
from trust_lists.timeutil import format_time


@pytest.fixture
def store(tmp_path: Path) -> TrustStore:
    return make_store(tmp_path / "trust")


@pytest.fixture
def sz1() -> TrustList:
    return base_list(SZ)


@pytest.fixture
def accepted(store: TrustStore, sz1: TrustList) -> TrustStore:
    """A store holding Shenzhen's list 1 (signed by a1, a2)."""
    store.submit_trust_list(sign(sz1, "a1", "a2"), now=NOW)
    return store


def payload_of(tl: TrustList) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(canonical_json(tl.to_dict()))
    return doc


# -- acceptance and the store's answers --------------------------------------------------------


def test_first_list_accepted_and_stored(store: TrustStore, sz1: TrustList) -> None:
    before = store.state.version
    signed = store.submit_trust_list(sign(sz1, "a1", "a3"), now=NOW)
    state = store.state
    assert state.version != before
    assert state.lists[SZ] is signed
    assert state.trust_list(SZ) == sz1
    root = store.directory.root  # type: ignore[union-attr]
    assert (root / "lists" / SZ / "0000000000000001.jws").read_bytes() == signed.to_json()
    assert (root / "lists" / SZ / "HIGHEST").read_text().strip() == "1"
    assert store.highest_sequence(SZ) == 1


def test_which_key_may_sign_what_and_its_status_at_time(accepted: TrustStore) -> None:
    state = accepted.state
    issuer = key(f"i1-{SZ}")
    entry = state.find_key(SZ, issuer.kid)
    assert entry is not None
    assert entry.service.id == f"amr-{SZ}"
    assert entry.service.kind.value == "licence_issuer"
    assert "food-business" in entry.service.scope
    assert entry.key.state_at(T0).status is KeyStatus.GRANTED
    assert entry.key.state_at(T0 - timedelta(days=2)).status is None  # not yet granted
    # Unknown kid, other jurisdiction, operator key: no answer.
    assert state.find_key(SZ, "no-such-kid") is None
    assert state.find_key(ZS, issuer.kid) is None
    assert state.find_key(SZ, key("a1").kid) is None


def test_resubmitting_the_current_list_is_a_no_op(accepted: TrustStore, sz1: TrustList) -> None:
    state = accepted.state
    accepted.submit_trust_list(sign(sz1, "a1", "a2"), now=NOW)
    assert accepted.state is state
    # Other signatures over the same payload: same digest, still the current list.
    accepted.submit_trust_list(sign(sz1, "a2", "a3"), now=NOW)
    assert accepted.state is state


def test_any_number_of_jurisdictions(tmp_path: Path) -> None:
    codes = [SZ, ZS, GZ, FS]
    ops = {c: (f"op1-{c}", f"op2-{c}") for c in codes}
    store = make_store(tmp_path / "t", [anchor(c, ops[c], 2) for c in codes])
    versions = {store.state.version}
    for c in codes:
        store.submit_trust_list(sign(base_list(c, operators=ops[c]), *ops[c]), now=NOW)
        versions.add(store.state.version)
    assert len(versions) == 5
    for c in codes:
        kid = key(f"i1-{c}").kid
        assert store.state.find_key(c, kid) is not None
        assert all(store.state.find_key(o, kid) is None for o in codes if o != c)
    fresh = make_store(tmp_path / "t", [anchor(c, ops[c], 2) for c in codes])
    assert fresh.load() == []
    assert fresh.state.version == store.state.version


# -- rule: threshold of the trusted operator keys ----------------------------------------------


def test_first_list_below_anchor_threshold_refused(store: TrustStore, sz1: TrustList) -> None:
    list_refused(store, sign(sz1, "a1"), ThresholdNotMet, "threshold_not_met")


def test_successor_below_threshold_refused(accepted: TrustStore, sz1: TrustList) -> None:
    list_refused(accepted, sign(bump(sz1), "a3"), ThresholdNotMet, "threshold_not_met")


def test_signatures_of_strangers_do_not_count(store: TrustStore, sz1: TrustList) -> None:
    list_refused(store, sign(sz1, "a1", "x1", "x2"), ThresholdNotMet, "threshold_not_met")


def test_one_key_signing_twice_counts_once(store: TrustStore, sz1: TrustList) -> None:
    one = SignedTrustList.create(sz1, [key("a1")]).envelope
    doubled = GeneralJWS(one.payload, (one.signatures[0], one.signatures[0])).to_json()
    list_refused(store, doubled, ThresholdNotMet, "threshold_not_met")


def test_signatures_moved_onto_another_payload_refused(store: TrustStore, sz1: TrustList) -> None:
    """Mix-and-match inside one envelope: valid signatures of list A over the payload of list B."""
    good = SignedTrustList.create(sz1, [key("a1"), key("a2")]).envelope
    other = canonical_json(bump(sz1).to_dict())
    forged = GeneralJWS(other, good.signatures).to_json()
    list_refused(store, forged, ThresholdNotMet, "threshold_not_met")


def test_envelope_of_another_type_refused(store: TrustStore, sz1: TrustList) -> None:
    env = GeneralJWS.sign(canonical_json(sz1.to_dict()), [key("a1"), key("a2")], typ="other+jws")
    list_refused(store, env.to_json(), MalformedDocument, "malformed", match="typ")


# -- rule: rollback ----------------------------------------------------------------------------


def test_same_sequence_refused(accepted: TrustStore, sz1: TrustList) -> None:
    other = authoring.remove_service(sz1, f"seal-{SZ}")  # different content, same sequence 1
    list_refused(accepted, sign(other, "a1", "a2"), Rollback, "rollback")


def test_older_list_replayed_refused(accepted: TrustStore, sz1: TrustList) -> None:
    sz2 = bump(sz1)
    accepted.submit_trust_list(sign(sz2, "a1", "a2"), now=NOW + timedelta(hours=1))
    list_refused(
        accepted, sign(sz1, "a1", "a2"), Rollback, "rollback", now=NOW + timedelta(hours=1)
    )


# -- rule: jurisdiction equals the slot --------------------------------------------------------


def test_list_offered_for_another_jurisdiction_refused(store: TrustStore) -> None:
    zs1 = base_list(ZS, operators=("z1", "z2"), threshold=1)
    data = sign(zs1, "z1")
    list_refused(store, data, JurisdictionMismatch, "jurisdiction_mismatch", jurisdiction=SZ)
    store.submit_trust_list(data, now=NOW)  # in its own slot it is fine


def test_list_of_an_unconfigured_jurisdiction_refused(store: TrustStore) -> None:
    gz = base_list(GZ, operators=("a1", "a2"))
    list_refused(store, sign(gz, "a1", "a2"), UnknownJurisdiction, "unknown_jurisdiction")


def test_list_signed_by_another_citys_operators_refused(store: TrustStore) -> None:
    """Zhongshan's operators cannot publish Shenzhen's list."""
    fake = base_list(SZ, operators=("a1", "a2", "a3"))
    list_refused(store, sign(fake, "z1", "z2"), ThresholdNotMet, "threshold_not_met")


# -- rule: issue time and next update ----------------------------------------------------------


def test_issued_in_the_future_beyond_skew_refused(store: TrustStore) -> None:
    tl = base_list(SZ, issued_at=NOW + timedelta(minutes=6))
    list_refused(store, sign(tl, "a1", "a2"), NotYetIssued, "issued_in_future")


def test_issued_slightly_in_the_future_within_skew_accepted(store: TrustStore) -> None:
    tl = base_list(SZ, issued_at=NOW + timedelta(minutes=4))
    store.submit_trust_list(sign(tl, "a1", "a2"), now=NOW)
    assert store.state.trust_list(SZ) == tl


def test_expired_list_refused(store: TrustStore) -> None:
    tl = base_list(SZ, issued_at=NOW - timedelta(days=31))  # next update NOW - 1 day
    list_refused(store, sign(tl, "a1", "a2"), AlreadyExpired, "already_expired")


def test_next_update_exactly_now_refused(store: TrustStore, sz1: TrustList) -> None:
    list_refused(
        store, sign(sz1, "a1", "a2"), AlreadyExpired, "already_expired", now=sz1.next_update
    )


@pytest.mark.parametrize("grace", [timedelta(0), timedelta(hours=1)])
def test_stale_list_stays_loaded_and_is_reported(
    tmp_path: Path, sz1: TrustList, grace: timedelta
) -> None:
    store = make_store(tmp_path / "t", grace=grace)
    store.submit_trust_list(sign(sz1, "a1", "a2"), now=NOW)
    state = store.state
    nu = sz1.next_update
    assert not state.is_stale(SZ, nu - timedelta(seconds=1))
    assert state.stale_from(SZ) == nu + grace
    if grace:
        assert not state.is_stale(SZ, nu + grace - timedelta(seconds=1))
        assert not is_stale(sz1, nu, grace)
    assert state.is_stale(SZ, nu + grace)
    assert is_stale(sz1, nu + grace, grace)
    assert state.trust_list(SZ) == sz1  # still loaded
    assert state.is_stale(ZS, NOW)  # no list at all counts as stale
    # After a restart long past next_update, the list is reloaded (and still reported stale).
    fresh = make_store(tmp_path / "t", grace=grace)
    assert fresh.load() == []
    assert fresh.state.trust_list(SZ) == sz1
    assert fresh.state.is_stale(SZ, nu + timedelta(days=365))


# -- rule: operator rotation -------------------------------------------------------------------


def rotated(tl: TrustList, ops: tuple[str, ...], threshold: int) -> TrustList:
    return authoring.set_operators(bump(tl), [key(o).public_key for o in ops], threshold)


def test_rotation_signed_by_old_and_new_thresholds_accepted(
    accepted: TrustStore, sz1: TrustList
) -> None:
    sz2 = rotated(sz1, ("b1", "b2", "b3"), 2)
    accepted.submit_trust_list(sign(sz2, "a1", "a3", "b2", "b3"), now=NOW)
    assert accepted.state.trust_list(SZ) == sz2
    # From now on the old keys count for nothing, the new ones are the operators.
    sz3 = bump(sz2)
    list_refused(accepted, sign(sz3, "a1", "a2", "a3"), ThresholdNotMet, "threshold_not_met")
    accepted.submit_trust_list(sign(sz3, "b1", "b2"), now=NOW)


def test_rotation_signed_only_by_new_keys_refused(accepted: TrustStore, sz1: TrustList) -> None:
    sz2 = rotated(sz1, ("b1", "b2", "b3"), 2)
    list_refused(
        accepted,
        sign(sz2, "b1", "b2", "b3"),
        RotationNotAuthorised,
        "rotation_not_authorised",
        match="current: missing, new: ok",
    )


def test_rotation_signed_only_by_old_keys_refused(accepted: TrustStore, sz1: TrustList) -> None:
    sz2 = rotated(sz1, ("b1", "b2", "b3"), 2)
    list_refused(
        accepted,
        sign(sz2, "a1", "a2", "a3", "b1"),
        RotationNotAuthorised,
        "rotation_not_authorised",
        match="current: ok, new: missing",
    )


def test_single_operator_cannot_lower_the_threshold(accepted: TrustStore, sz1: TrustList) -> None:
    sz2 = rotated(sz1, ("a1", "a2", "a3"), 1)
    list_refused(accepted, sign(sz2, "a1"), RotationNotAuthorised, "rotation_not_authorised")
    accepted.submit_trust_list(sign(sz2, "a1", "a2"), now=NOW)  # two of them may
    assert accepted.state.trust_list(SZ).operators.threshold == 1  # type: ignore[union-attr]


def test_raising_the_threshold_needs_the_new_threshold(
    accepted: TrustStore, sz1: TrustList
) -> None:
    sz2 = rotated(sz1, ("a1", "a2", "a3"), 3)
    list_refused(accepted, sign(sz2, "a1", "a2"), RotationNotAuthorised, "rotation_not_authorised")
    accepted.submit_trust_list(sign(sz2, "a1", "a2", "a3"), now=NOW)


def test_chain_of_three_rotations_replays_from_the_anchor(tmp_path: Path) -> None:
    store = make_store(tmp_path / "t")
    lists = [base_list(SZ)]
    sets = [("a1", "a2", "a3"), ("b1", "b2"), ("c1", "c2", "c3"), ("edd1", "edd2")]
    store.submit_trust_list(sign(lists[0], "a1", "a2"), now=NOW)
    for old, new in itertools.pairwise(sets):
        tl = rotated(lists[-1], new, 2)
        store.submit_trust_list(sign(tl, *old[:2], *new[:2]), now=NOW)
        lists.append(tl)
    fresh = make_store(tmp_path / "t")
    assert fresh.load() == []
    assert fresh.state.trust_list(SZ) == lists[-1]
    assert [s.trust_list.sequence for s in fresh.history(SZ)] == [1, 2, 3, 4]
    assert fresh.highest_sequence(SZ) == 4
    assert fresh.state.version == store.state.version
    assert {k.kid for k in lists[-1].operators.keys} == {key("edd1").kid, key("edd2").kid}
    # The replayed store enforces the latest operators.
    nxt = bump(lists[-1])
    list_refused(fresh, sign(nxt, "c1", "c2", "c3"), ThresholdNotMet, "threshold_not_met")
    fresh.submit_trust_list(sign(nxt, "edd1", "edd2"), now=NOW)


# -- pinning: full keys or thumbprints ---------------------------------------------------------


def test_anchor_by_thumbprints_only(tmp_path: Path) -> None:
    store = make_store(tmp_path / "t")  # Zhongshan is pinned by thumbprints only
    zs1 = base_list(ZS, operators=("z1", "z2"), threshold=1)
    store.submit_trust_list(sign(zs1, "z2"), now=NOW)
    assert store.state.trust_list(ZS) == zs1
    fresh = make_store(tmp_path / "t")
    assert fresh.load() == []
    assert fresh.state.trust_list(ZS) == zs1


def test_anchor_by_thumbprints_refuses_other_operators(tmp_path: Path) -> None:
    """A first list whose signers are not the pinned thumbprints is refused, even though it
    carries its own (different) operator keys and is signed by them."""
    store = make_store(tmp_path / "t")
    impostor = base_list(ZS, operators=("y1", "y2"), threshold=1)
    list_refused(
        store, sign(impostor, "y1", "y2"), RotationNotAuthorised, "rotation_not_authorised"
    )


def test_anchor_by_thumbprints_needs_the_keys_in_the_first_list(tmp_path: Path) -> None:
    """With thumbprints only, the pinned keys' material comes from the first list itself; a first
    list that already rotates away from them cannot be checked (pin full keys for that)."""
    store = make_store(tmp_path / "t")
    rotating = base_list(ZS, operators=("y1",), threshold=1)
    list_refused(
        store, sign(rotating, "z1", "z2", "y1"), RotationNotAuthorised, "rotation_not_authorised"
    )


def test_anchor_by_full_keys_allows_a_first_list_that_rotates(tmp_path: Path) -> None:
    store = make_store(tmp_path / "t")
    first = base_list(SZ, operators=("b1", "b2"), threshold=2)
    list_refused(store, sign(first, "b1", "b2"), RotationNotAuthorised, "rotation_not_authorised")
    store.submit_trust_list(sign(first, "a1", "a2", "b1", "b2"), now=NOW)
    fresh = make_store(tmp_path / "t")
    assert fresh.load() == []
    assert fresh.state.trust_list(SZ) == first


def test_anchor_with_wrong_full_keys_refuses(tmp_path: Path, sz1: TrustList) -> None:
    store = make_store(tmp_path / "t", [anchor(SZ, ("x1", "x2"), 1)])
    list_refused(
        store, sign(sz1, "a1", "a2", "a3"), RotationNotAuthorised, "rotation_not_authorised"
    )


def test_anchors_file_round_trip_both_forms() -> None:
    anchors = [
        anchor(SZ, ("a1", "a2", "a3"), 2),
        anchor(ZS, ("z1", "z2"), 1, thumbprints_only=True),
    ]
    data = anchors_to_json(anchors)
    doc = json.loads(data)
    assert "keys" in doc["jurisdictions"][SZ] and "kids" not in doc["jurisdictions"][SZ]
    assert sorted(doc["jurisdictions"][ZS]["kids"]) == sorted([key("z1").kid, key("z2").kid])
    back = {a.jurisdiction: a for a in parse_anchors(data)}
    assert back[SZ].kids == anchors[0].kids and len(back[SZ].keys) == 3
    assert back[ZS].kids == anchors[1].kids and back[ZS].keys == ()


@pytest.mark.parametrize(
    "doc",
    [
        b'{"jurisdictions": {"440300": {"threshold": 1, "kids": ["a"]}}, "jurisdictions": {}}',
        b'{"jurisdictions": {"440300": {"threshold": 2, "kids": ["a"]}}}',
        b'{"jurisdictions": {"440300": {"threshold": true, "kids": ["a"]}}}',
        b'{"jurisdictions": {"440300": {"threshold": 1, "kids": ["a"], "x": 1}}}',
        b'{"jurisdictions": {"4403": {"threshold": 1, "kids": ["a"]}}}',
        b'{"jurisdictions": {}}',
    ],
    ids=[
        "duplicate",
        "threshold-too-high",
        "threshold-bool",
        "unknown-member",
        "bad-code",
        "empty",
    ],
)
def test_anchors_file_is_parsed_strictly(doc: bytes) -> None:
    with pytest.raises(MalformedDocument):
        parse_anchors(doc)


# -- rule: size caps and strict parsing --------------------------------------------------------


def test_oversized_list_refused_before_parsing(store: TrustStore) -> None:
    huge = b'{"payload":"' + b"A" * MAX_TRUST_LIST_BYTES + b'","signatures":[]}'
    refused(store, DocumentTooLarge, "too_large", lambda: store.submit_trust_list(huge, now=NOW))


def test_size_cap_applies_to_the_real_bytes(sz1: TrustList) -> None:
    data = sign(sz1, "a1", "a2")
    with pytest.raises(DocumentTooLarge):
        SignedTrustList.parse(data, max_bytes=len(data) - 1)
    assert SignedTrustList.parse(data, max_bytes=len(data)).trust_list == sz1


def test_too_many_services_refused(
    store: TrustStore, sz1: TrustList, monkeypatch: pytest.MonkeyPatch
) -> None:
    three = authoring.add_service(
        sz1,
        service_id="extra",
        kind=model.ServiceKind.LICENCE_ISSUER,
        name_zh="另一个",
        name_en="Another",
        credit_code=uscc(3),
        scope=["food-business"],
        keys=[key("extra-1").public_key],
        granted_from=T0,
    )
    data = sign(three, "a1", "a2")
    monkeypatch.setattr(model, "MAX_SERVICES", 2)
    list_refused(store, data, DocumentTooLarge, "too_large", match="at most 2 services")


def test_too_many_keys_per_service_refused(
    store: TrustStore, sz1: TrustList, monkeypatch: pytest.MonkeyPatch
) -> None:
    tl = sz1
    for n in range(2):
        tl = authoring.add_key(tl, f"amr-{SZ}", key(f"more-{n}").public_key, granted_from=T0)
    data = sign(tl, "a1", "a2")
    monkeypatch.setattr(model, "MAX_KEYS_PER_SERVICE", 2)
    list_refused(store, data, DocumentTooLarge, "too_large", match=r"keys must have 1\.\.2 entries")


def test_too_many_operators_and_history_entries_refused(
    store: TrustStore, sz1: TrustList, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = sign(sz1, "a1", "a2")
    monkeypatch.setattr(model, "MAX_OPERATORS", 2)
    list_refused(store, data, MalformedDocument, "malformed", match="operators.keys")
    monkeypatch.undo()
    kid = key(f"i1-{SZ}").kid
    tl = authoring.change_key_status(sz1, kid, KeyStatus.WITHDRAWN, effective=T0)
    tl = authoring.change_key_status(tl, kid, KeyStatus.GRANTED, effective=T0 + VALID / 10)
    data = sign(tl, "a1", "a2")
    monkeypatch.setattr(model, "MAX_HISTORY", 2)
    list_refused(store, data, MalformedDocument, "malformed", match="history must have")


def _mutated(sz1: TrustList, change: Any) -> dict[str, Any]:
    doc = payload_of(sz1)
    change(doc)
    return doc


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda d: d.update(extensions={}), r"unknown members \['extensions'\]"),
        (lambda d: d["services"][0].update(logo="x"), "unknown members"),
        (lambda d: d["services"][0]["keys"][0]["jwk"].update(x5u="https://evil"), "x5u"),
        (lambda d: d["operators"].update(threshold=True), "wrong type"),
        (lambda d: d.update(sequence=True), "sequence has the wrong type"),
        (lambda d: d.update(sequence="1"), "sequence has the wrong type"),
        (lambda d: d.update(sequence=1.0), "sequence has the wrong type"),
        (lambda d: d.update(sequence=None), "sequence has the wrong type"),
        (lambda d: d.update(sequence=0), "positive integer"),
        (lambda d: d.update(sequence=2**53), "positive integer"),
        (lambda d: d["jurisdiction"].update(code=440300), "wrong type"),
        (lambda d: d["jurisdiction"].update(code="44030X"), "six-digit"),
        (lambda d: d.update(issued_at=1795000000), "wrong type"),
        (lambda d: d.update(issued_at="2026-11-26T08:00:00+08:00"), "UTC time"),
        (lambda d: d.update(next_update=d["issued_at"]), "after issued_at"),
        (lambda d: d.update(format_version=2), "format_version"),
        (lambda d: d.update(type="huren-catalogue"), "type"),
        (lambda d: d.pop("operators"), "operators is missing"),
        (lambda d: d["services"][0].update(kind="notary"), "kind must be one of"),
        (lambda d: d["services"][0].update(id="Bad Id"), "lower-case"),
        (lambda d: d["services"][0].update(scope=[]), "scope"),
        (lambda d: d["services"][0].update(status_lists=["http://plain"]), "https"),
        (lambda d: d["services"][0].update(name_zh=""), "name_zh"),
    ],
    ids=[
        "unknown-top-level",
        "unknown-in-service",
        "key-bearing-jwk-member",
        "threshold-bool",
        "sequence-true",
        "sequence-string",
        "sequence-float",
        "sequence-null",
        "sequence-zero",
        "sequence-too-big",
        "code-int",
        "code-letters",
        "time-epoch",
        "time-offset",
        "next-update-not-after",
        "format-version",
        "type",
        "missing-member",
        "unknown-kind",
        "bad-service-id",
        "empty-scope",
        "http-status-list",
        "empty-name",
    ],
)
def test_strict_parsing_refuses(store: TrustStore, sz1: TrustList, change: Any, match: str) -> None:
    data = sign_payload(_mutated(sz1, change), "a1", "a2")
    list_refused(store, data, MalformedDocument, "malformed", match=match)


def test_duplicate_member_in_payload_refused(store: TrustStore, sz1: TrustList) -> None:
    raw = canonical_json(sz1.to_dict())
    assert b'"sequence":1,' in raw
    dup = raw.replace(b'"sequence":1,', b'"sequence":1,"sequence":1,', 1)
    list_refused(
        store,
        sign_payload(dup, "a1", "a2"),
        MalformedDocument,
        "malformed",
        match="duplicate JSON member 'sequence'",
    )


def test_duplicate_member_in_envelope_refused(store: TrustStore, sz1: TrustList) -> None:
    doc = json.loads(sign(sz1, "a1", "a2"))
    text = json.dumps(doc)
    dup = text.replace('"payload":', '"payload": "e30", "payload":', 1).encode()
    list_refused(store, dup, MalformedDocument, "malformed", match="duplicate")


def test_non_canonical_payload_refused(store: TrustStore, sz1: TrustList) -> None:
    pretty = json.dumps(sz1.to_dict(), indent=2, ensure_ascii=False).encode()
    list_refused(
        store, sign_payload(pretty, "a1", "a2"), MalformedDocument, "malformed", match="canonical"
    )


@pytest.mark.parametrize("bad", ["bad-check", "lower-case", "letter-I", "too-short"])
def test_invalid_credit_code_refused(store: TrustStore, sz1: TrustList, bad: str) -> None:
    good = uscc(1)
    wrong = {
        "bad-check": good[:-1] + ("0" if good[-1] != "0" else "1"),
        "lower-case": good.lower() if not good.isdigit() else good[:-1] + "a",
        "letter-I": "I" + good[1:],
        "too-short": good[:-1],
    }[bad]
    doc = _mutated(sz1, lambda d: d["services"][0].update(credit_code=wrong))
    list_refused(
        store, sign_payload(doc, "a1", "a2"), MalformedDocument, "malformed", match="credit_code"
    )


def test_duplicate_kid_across_services_refused(store: TrustStore, sz1: TrustList) -> None:
    doc = payload_of(sz1)
    doc["services"][1]["keys"][0]["jwk"] = doc["services"][0]["keys"][0]["jwk"]
    list_refused(store, sign_payload(doc, "a1", "a2"), DuplicateKeyId, "duplicate_kid")
    with pytest.raises(DuplicateKeyId):  # the authoring functions refuse it too
        authoring.add_key(sz1, f"seal-{SZ}", key(f"i1-{SZ}").public_key, granted_from=T0)


def test_operator_key_reused_as_service_key_refused(store: TrustStore, sz1: TrustList) -> None:
    doc = payload_of(sz1)
    doc["services"][0]["keys"][0]["jwk"] = key("a3").public_key.to_jwk()
    list_refused(store, sign_payload(doc, "a1", "a2"), DuplicateKeyId, "duplicate_kid")


def test_duplicate_service_ids_refused(store: TrustStore, sz1: TrustList) -> None:
    doc = payload_of(sz1)
    doc["services"][1]["id"] = doc["services"][0]["id"]
    list_refused(
        store,
        sign_payload(doc, "a1", "a2"),
        MalformedDocument,
        "malformed",
        match="service ids must be unique",
    )


T = format_time


@pytest.mark.parametrize(
    ("history", "match"),
    [
        ([], "history must have"),
        ([{"status": "withdrawn", "from": T(T0)}], "must start with 'granted'"),
        (
            [{"status": "granted", "from": T(T0)}, {"status": "withdrawn", "from": T(T0)}],
            "strictly increasing",
        ),
        (
            [
                {"status": "granted", "from": T(T0)},
                {"status": "withdrawn", "from": T(T0 - timedelta(seconds=1))},
            ],
            "strictly increasing",
        ),
        (
            [
                {"status": "granted", "from": T(T0)},
                {"status": "revoked", "from": T(T0 + timedelta(hours=1))},
                {"status": "granted", "from": T(T0 + timedelta(hours=2))},
            ],
            "nothing may follow 'revoked'",
        ),
        ([{"status": "suspended", "from": T(T0)}], "status is unknown"),
        ([{"status": "granted", "from": T(T0), "note": "x"}], "unknown members"),
        ([{"status": "granted"}], "from is missing"),
    ],
    ids=[
        "empty",
        "starts-withdrawn",
        "same-time",
        "backwards",
        "after-revoked",
        "unknown-status",
        "unknown-member",
        "no-time",
    ],
)
def test_key_history_rules(store: TrustStore, sz1: TrustList, history: Any, match: str) -> None:
    doc = _mutated(sz1, lambda d: d["services"][0]["keys"][0].update(history=history))
    list_refused(store, sign_payload(doc, "a1", "a2"), MalformedDocument, "malformed", match=match)


def test_authoring_refuses_bad_key_history_edits(sz1: TrustList) -> None:
    kid = key(f"i1-{SZ}").kid
    with pytest.raises(MalformedDocument, match="later than"):
        authoring.change_key_status(sz1, kid, KeyStatus.WITHDRAWN, effective=T0 - timedelta(days=2))
    revoked = authoring.change_key_status(sz1, kid, KeyStatus.REVOKED, effective=T0)
    with pytest.raises(MalformedDocument, match="stays revoked"):
        authoring.change_key_status(
            revoked, kid, KeyStatus.GRANTED, effective=T0 + timedelta(days=1)
        )
    with pytest.raises(MalformedDocument, match="no service key"):
        authoring.change_key_status(sz1, "nope", KeyStatus.REVOKED, effective=T0)


# -- issuer key rotation and revocation, judged at the signing time ----------------------------


def test_issuer_key_rotation_keeps_old_documents_valid(
    accepted: TrustStore, sz1: TrustList
) -> None:
    service = f"amr-{SZ}"
    old_kid, new_kid = key(f"i1-{SZ}").kid, key("i2-rotated").kid
    t_add, t_withdraw = T0 + timedelta(hours=2), T0 + timedelta(hours=3)
    sz2 = authoring.add_key(bump(sz1), service, key("i2-rotated").public_key, granted_from=t_add)
    accepted.submit_trust_list(sign(sz2, "a1", "a2"), now=NOW)
    sz3 = authoring.change_key_status(bump(sz2), old_kid, KeyStatus.WITHDRAWN, effective=t_withdraw)
    accepted.submit_trust_list(sign(sz3, "a1", "a2"), now=NOW)

    state = accepted.state
    old = state.find_key(SZ, old_kid)
    new = state.find_key(SZ, new_kid)
    assert old is not None and new is not None
    assert old.service.id == new.service.id == service
    # A document the old key signed before its withdrawal is still judged good ...
    signed_before = old.key.state_at(t_withdraw - timedelta(minutes=1))
    assert signed_before.status is KeyStatus.GRANTED and signed_before.until == t_withdraw
    # ... one it signed afterwards is not; the new key covers the time from its grant.
    assert old.key.state_at(t_withdraw).status is KeyStatus.WITHDRAWN
    assert old.key.revoked_since is None
    assert new.key.state_at(t_add - timedelta(seconds=1)).status is None
    assert new.key.state_at(t_withdraw + timedelta(days=1)).status is KeyStatus.GRANTED


def test_compromised_key_revoked_from_a_time(accepted: TrustStore, sz1: TrustList) -> None:
    kid = key(f"i1-{SZ}").kid
    compromise = T0 + timedelta(minutes=30)
    sz2 = authoring.change_key_status(bump(sz1), kid, KeyStatus.REVOKED, effective=compromise)
    accepted.submit_trust_list(sign(sz2, "a1", "a2"), now=NOW)
    entry = accepted.state.find_key(SZ, kid)
    assert entry is not None
    assert entry.key.revoked_since == compromise
    assert entry.key.state_at(compromise - timedelta(seconds=1)).status is KeyStatus.GRANTED
    assert entry.key.state_at(compromise).status is KeyStatus.REVOKED
    # A replay of list 1 (which does not know about the revocation) is refused.
    list_refused(accepted, sign(sz1, "a1", "a2"), Rollback, "rollback")


# -- the snapshot and its version --------------------------------------------------------------


def test_version_is_a_function_of_the_content(accepted: TrustStore) -> None:
    s = accepted.state
    again = TrustState(s.lists, s.status_lists, s.catalogue, s.grace)
    assert again.version == s.version
    assert len(s.version) == 32
