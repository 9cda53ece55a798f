"""`huren demo renew` (what `make run` does to an existing demo): lists near or past expiry are
renewed through the normal signing path, everything else is kept."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli.main import main
from demo.world import CITY, SHENZHEN, build_demo_world, write_demo
from keys import ES256, SigningKey
from trust_lists.anchors import load_anchors
from trust_lists.authoring import add_key, change_key_status, next_version
from trust_lists.model import KeyStatus
from trust_lists.signed import SignedTrustList
from trust_lists.storage import TrustDirectory
from trust_lists.store import TrustStore

KEPT = ("keys", "samples", "anchors.json", "api-keys.json", "demo-credentials.txt", "audit.log")


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _files(root: Path, names: tuple[str, ...]) -> dict[str, bytes]:
    out = {}
    for name in names:
        path = root / name
        for p in [path] if path.is_file() else sorted(path.rglob("*")):
            if p.is_file():
                out[str(p.relative_to(root))] = p.read_bytes()
    return out


def _store(root: Path) -> TrustStore:
    store = TrustStore(load_anchors(root / "anchors.json"), TrustDirectory(root / "trust"))
    assert store.load() == []
    return store


@pytest.fixture(autouse=True)
def _no_huren_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("HUREN_"):
            monkeypatch.delenv(name)


def test_an_old_demo_is_renewed_and_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    demo = tmp_path / "demo"
    write_demo(demo, build_demo_world(_now() - timedelta(days=28)))  # status lists expired
    (demo / "audit.log").write_text('{"action": "trust_list", "outcome": "accepted"}\n')
    before = _files(demo, KEPT)
    old = _store(demo).state
    assert all(i.status_list.expires_at < _now() for i in old.status_lists.values())

    assert main(["demo", "renew", str(demo)]) == 0
    out = capsys.readouterr().out
    assert out.count("renewed trust list") == 2 and out.count("renewed status list") == 4, out

    assert _files(demo, KEPT) == before  # keys, API keys, samples, audit log
    new = _store(demo).state
    for code, signed in old.lists.items():
        tl, renewed = signed.trust_list, new.lists[code].trust_list
        assert renewed.sequence == tl.sequence + 1 and renewed.next_update > _now() + timedelta(20)
        assert renewed.services == tl.services and renewed.operators == tl.operators
    for uri, issued in old.status_lists.items():
        sl, renewed_sl = issued.status_list, new.status_lists[uri].status_list
        assert renewed_sl.issued_at > sl.issued_at and renewed_sl.expires_at > _now()
        assert renewed_sl.data == sl.data  # the same entries: nothing reinstated or revoked
    # The demo's licence passes again offline (it was INDETERMINATE with the status list expired).
    licence = demo / "samples" / "licence-sz-business.jws"
    assert main(["verify", str(licence), "--trust", str(demo), "--relying", "442000"]) == 0

    # Nothing lapses soon now: a second run changes nothing.
    trust = _files(demo, ("trust",))
    assert main(["demo", "renew", str(demo)]) == 0
    assert "kept as it is" in capsys.readouterr().out
    assert _files(demo, ("trust",)) == trust


def test_renewal_signs_status_lists_with_the_rotated_issuer_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After the README tour rotates Shenzhen's issuer key (new key beside the demo, old one
    withdrawn), the status list is renewed with the key now in force."""
    demo = tmp_path / "demo"
    world = build_demo_world(_now() - timedelta(days=6))
    write_demo(demo, world)
    rotated = SigningKey.generate(ES256)
    rotated.save(demo / "new-issuer.pem")
    now = _now()
    old_kid = world.keys[f"{SHENZHEN}-issuer"].kid
    tl = next_version(world.trust_lists[SHENZHEN], issued_at=now, validity=timedelta(days=30))
    tl = add_key(tl, CITY[SHENZHEN].issuer_id, rotated.public_key, granted_from=now)
    tl = change_key_status(tl, old_kid, KeyStatus.WITHDRAWN, effective=now)
    store = _store(demo)
    ops = world.operators(SHENZHEN)[:2]
    store.submit_trust_list(SignedTrustList.create(tl, ops).to_json(), now=now)

    assert main(["demo", "renew", str(demo)]) == 0
    assert f"renewed status list {CITY[SHENZHEN].issuer_status_uri}" in capsys.readouterr().out
    renewed = _store(demo).state.status_lists[CITY[SHENZHEN].issuer_status_uri].status_list
    assert renewed.signer_kid == rotated.kid and renewed.expires_at > now + timedelta(days=6)


def test_renewal_without_the_operator_keys_says_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = tmp_path / "demo"
    write_demo(demo, build_demo_world(_now() - timedelta(days=28)))
    for i in (1, 2):
        (demo / "keys" / f"{SHENZHEN}-operator-{i}.pem").unlink()
    assert main(["demo", "renew", str(demo)]) == 1
    err = capsys.readouterr().err
    assert f"trust list {SHENZHEN}: 1 of the 2 operator keys needed" in err, err
    assert main(["demo", "renew", str(tmp_path / "nowhere")]) == 2
    assert "huren demo init" in capsys.readouterr().err
