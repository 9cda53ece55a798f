"""trust_lists.diff: what an administrator reviews before signing."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tests.support.trust_world import SZ, T0, ZS, base_list, bump, key, uscc
from trust_lists import authoring
from trust_lists.diff import ChangeKind, diff_trust_lists
from trust_lists.model import (
    KeyStatus,
    ServiceKey,
    ServiceKind,
    StatusChange,
    TrustedService,
    TrustList,
    replace_services,
)

ISSUER = f"i1-{SZ}"


def kinds(old: TrustList, new: TrustList) -> list[ChangeKind]:
    return [c.kind for c in diff_trust_lists(old, new).changes]


def test_identical_lists_have_no_changes() -> None:
    tl = base_list(SZ)
    d = diff_trust_lists(tl, tl)
    assert d.empty and d.warnings == () and not d.rotates_operators


def test_bump_changes_sequence_and_times_only() -> None:
    tl = base_list(SZ)
    d = diff_trust_lists(tl, bump(tl))
    assert [c.kind for c in d.changes] == [
        ChangeKind.SEQUENCE,
        ChangeKind.ISSUED_AT,
        ChangeKind.NEXT_UPDATE,
    ]
    assert d.changes[0].old == "1" and d.changes[0].new == "2"
    assert d.warnings == ()


def test_change_without_bump_warns_about_rollback() -> None:
    tl = base_list(SZ)
    new = authoring.remove_service(tl, f"seal-{SZ}")
    d = diff_trust_lists(tl, new)
    seq = d.of_kind(ChangeKind.SEQUENCE)
    assert len(seq) == 1 and seq[0].warning and "rollback" in seq[0].warning
    assert diff_trust_lists(bump(tl), tl).of_kind(ChangeKind.SEQUENCE)[0].warning


def test_service_added_removed_and_changed() -> None:
    tl = base_list(SZ)
    new = authoring.add_service(
        bump(tl),
        service_id="catering",
        kind=ServiceKind.LICENCE_ISSUER,
        name_zh="餐饮",
        name_en="Catering",
        credit_code=uscc(9),
        scope=["catering"],
        keys=[key("cat-1").public_key],
        granted_from=T0,
    )
    new = authoring.remove_service(new, f"seal-{SZ}")
    amr = new.service(f"amr-{SZ}")
    assert amr is not None
    renamed = TrustedService(
        amr.id,
        amr.kind,
        "新名字",
        amr.name_en,
        amr.credit_code,
        amr.scope | {"catering"},
        amr.keys,
        amr.status_lists,
    )
    new = replace_services(new, [renamed if s.id == amr.id else s for s in new.services])
    d = diff_trust_lists(tl, new)
    added = d.of_kind(ChangeKind.SERVICE_ADDED)
    assert [c.subject for c in added] == ["catering"] and "餐饮" in (added[0].new or "")
    removed = d.of_kind(ChangeKind.SERVICE_REMOVED)
    assert [c.subject for c in removed] == [f"seal-{SZ}"]
    assert removed[0].warning and "withdraw" in removed[0].warning
    changed = {(c.subject, c.field): (c.old, c.new) for c in d.of_kind(ChangeKind.SERVICE_CHANGED)}
    assert changed[(f"amr-{SZ}", "name_zh")][1] == "新名字"
    assert "catering" in (changed[(f"amr-{SZ}", "scope")][1] or "")
    # The removed service's key and the new service's key show up as key changes too.
    assert [c.subject for c in d.of_kind(ChangeKind.KEY_ADDED)] == [key("cat-1").kid]
    assert [c.subject for c in d.of_kind(ChangeKind.KEY_REMOVED)] == [key(f"edseal1-{SZ}").kid]


def test_key_status_changes() -> None:
    tl = base_list(SZ)
    kid = key(ISSUER).kid
    later = bump(tl)
    withdrawn = authoring.change_key_status(
        later, kid, KeyStatus.WITHDRAWN, effective=later.issued_at + timedelta(hours=1)
    )
    d = diff_trust_lists(tl, withdrawn)
    (change,) = d.of_kind(ChangeKind.KEY_STATUS)
    assert change.subject == kid and change.service == f"amr-{SZ}"
    assert change.old is not None and change.old.startswith("granted from")
    assert change.new is not None and change.new.startswith("withdrawn from")
    # Its service publishes a status list: the only review point is who signs its next version.
    assert change.warning and "retroactively" not in change.warning
    assert "a new version signed with key" in change.warning
    # A withdrawal effective before this list's issue time is retroactive: flagged.
    retro = authoring.change_key_status(
        later, kid, KeyStatus.WITHDRAWN, effective=tl.issued_at - timedelta(hours=1)
    )
    (change,) = diff_trust_lists(tl, retro).of_kind(ChangeKind.KEY_STATUS)
    assert change.warning and "retroactively" in change.warning
    # A revocation is expected to be backdated to the compromise: not flagged as retroactive,
    # but the status list its key signed becomes untrusted.
    revoked = authoring.change_key_status(
        later, kid, KeyStatus.REVOKED, effective=tl.issued_at - timedelta(hours=1)
    )
    (change,) = diff_trust_lists(tl, revoked).of_kind(ChangeKind.KEY_STATUS)
    assert change.new is not None and change.new.startswith("revoked")
    assert change.warning and "retroactively" not in change.warning
    assert "INDETERMINATE" in change.warning


def test_rewritten_history_is_flagged() -> None:
    tl = base_list(SZ)
    kid = key(ISSUER).kid
    revoked = authoring.change_key_status(bump(tl), kid, KeyStatus.REVOKED, effective=T0)
    # "Un-revoking" by rebuilding the key with only its grant: history is rewritten.
    d = diff_trust_lists(revoked, bump(tl, hours=1))
    (change,) = d.of_kind(ChangeKind.KEY_HISTORY_REWRITTEN)
    assert change.subject == kid and change.warning and "rewritten" in change.warning


def test_key_moved_between_services() -> None:
    tl = base_list(SZ)
    amr, seal = tl.services
    fresh = ServiceKey(key("fresh-amr").public_key, (StatusChange(KeyStatus.GRANTED, T0),))
    new = replace_services(
        bump(tl), [replace(amr, keys=(fresh,)), replace(seal, keys=(*seal.keys, amr.keys[0]))]
    )
    (change,) = diff_trust_lists(tl, new).of_kind(ChangeKind.KEY_MOVED)
    assert (change.old, change.new) == (amr.id, seal.id) and change.warning


def test_operator_rotation_and_threshold() -> None:
    tl = base_list(SZ)
    new = authoring.set_operators(
        bump(tl), [key("a1").public_key, key("b1").public_key, key("b2").public_key], 2
    )
    d = diff_trust_lists(tl, new)
    assert d.rotates_operators
    assert {c.subject for c in d.of_kind(ChangeKind.OPERATOR_ADDED)} == {
        key("b1").kid,
        key("b2").kid,
    }
    assert {c.subject for c in d.of_kind(ChangeKind.OPERATOR_REMOVED)} == {
        key("a2").kid,
        key("a3").kid,
    }
    assert sum(1 for w in d.warnings if "AND" in w) == 1  # the rotation note, once
    lowered = authoring.set_operators(bump(tl), list(tl.operators.keys), 1)
    d = diff_trust_lists(tl, lowered)
    (change,) = d.of_kind(ChangeKind.OPERATOR_THRESHOLD)
    assert (change.old, change.new) == ("2", "1")
    assert change.warning and "lowered" in change.warning


def test_lists_of_different_jurisdictions_are_flagged() -> None:
    d = diff_trust_lists(base_list(SZ), base_list(ZS, operators=("z1", "z2"), threshold=1))
    assert d.changes[0].kind is ChangeKind.JURISDICTION
    assert d.changes[0].warning
    assert any(c.kind is ChangeKind.NAME for c in d.changes)
