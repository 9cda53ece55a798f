"""`huren status`: status lists from the command line, on a real demo world and trust store, and
the README's "Revoke a licence" section run as written against a real service."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from demo.world import CITY, IDX_REVOKED, IDX_SUSPENDED, SHENZHEN, build_demo_world, write_demo
from keys import SigningKey
from tests.support import server_support
from tests.support.server_support import last_verdict, readme_section, run_script
from tests.unit.test_cli import InProcess, Result, ok
from trust_lists.anchors import load_anchors
from trust_lists.status_authoring import StatusListDraft
from trust_lists.store import TrustStore
from trust_lists.timeutil import format_time

URI = CITY[SHENZHEN].issuer_status_uri
ISSUER_KEY = f"keys/{SHENZHEN}-issuer.pem"


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> InProcess:
    return InProcess(capsys)


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A demo world issued an hour ago; the commands run inside it, as in the README."""
    for name in list(os.environ):
        if name.startswith("HUREN_"):
            monkeypatch.delenv(name)
    d = tmp_path / "demo"
    write_demo(d, build_demo_world(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)))
    monkeypatch.chdir(d)
    return d


def refused(result: Result, *needles: str) -> str:
    assert result.code in (1, 2), (result.code, result.out, result.err)
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def held(demo: Path) -> TrustStore:
    from trust_lists.storage import TrustDirectory

    store = TrustStore(load_anchors(demo / "anchors.json"), TrustDirectory(demo / "trust"))
    assert store.load() == []
    return store


def test_revoke_suspend_reinstate_renew_sign_submit(run: InProcess, demo: Path) -> None:
    ok(run("status", "export", "--config", "huren.json", "--uri", URI, "--out", "current.jwt"))
    shown = ok(run("status", "show", "current.jwt")).out
    assert "SIGNED STATUS LIST (signed by " in shown
    assert "1024 of 2 bits: 1022 valid, 1 revoked, 1 suspended" in shown
    assert re.search(rf"\n  {IDX_REVOKED}\s+revoked\n  {IDX_SUSPENDED}\s+suspended", shown)

    # A signed token is never edited in place.
    refused(run("status", "revoke", "current.jwt", "--index", "7"), "give --out")
    edit = ok(run("status", "revoke", "current.jwt", "--index", "7", "--out", "draft.json"))
    assert "run `huren status renew draft.json` before signing" in edit.out
    ok(run("status", "suspend", "draft.json", "--index", "8", "--index", "9"))
    ok(run("status", "reinstate", "draft.json", "--index", str(IDX_SUSPENDED)))
    renewed = ok(run("status", "renew", "draft.json", "--valid-days", "3")).out
    draft = StatusListDraft.from_dict(json.loads(Path("draft.json").read_text()))
    assert draft.expires_at - draft.issued_at == timedelta(days=3)
    assert f"issued {format_time(draft.issued_at)}" in renewed
    assert draft.not_valid() == {IDX_REVOKED: 1, 7: 1, 8: 2, 9: 2}

    diff = ok(run("status", "diff", "current.jwt", "draft.json")).out
    assert "~ entry 7: valid -> revoked" in diff
    assert "~ entry 8: valid -> suspended" in diff
    assert f"~ entry {IDX_SUSPENDED}: suspended -> valid" in diff
    assert "review before signing" not in diff and "6 changes, 0 warnings" in diff

    ok(run("status", "sign", "draft.json", "--key", ISSUER_KEY, "--out", "signed.jwt"))
    before = held(demo).state.status_lists[URI].status_list
    trust = {p: p.read_bytes() for p in sorted((demo / "trust").rglob("*")) if p.is_file()}
    checked = ok(run("status", "verify", "signed.jwt", "--config", "huren.json")).out
    assert "OK: acceptable as its next version" in checked and "service sz-amr" in checked
    assert f"held: issued {format_time(before.issued_at)}" in checked
    assert trust == {p: p.read_bytes() for p in sorted((demo / "trust").rglob("*")) if p.is_file()}
    refused(run("status", "verify", "draft.json", "--config", "huren.json"), "status sign")
    # Signed by a key of another service: refused as the service would.
    ok(run("status", "sign", "draft.json", "--key", f"keys/{SHENZHEN}-seal-authority.pem",
           "--out", "wrong.jwt"))  # fmt: skip
    refused(run("status", "verify", "wrong.jwt", "--config", "huren.json"), "[untrusted_signer]")
    submitted = ok(run("trust", "submit", "signed.jwt", "--config", "huren.json")).out
    assert f"accepted status list {URI}" in submitted
    after = held(demo).state.status_lists[URI].status_list
    assert after.issued_at > before.issued_at
    assert [after.status(i) for i in (IDX_SUSPENDED, 7, 8, 9, 10)] == [0, 1, 2, 2, 0]

    # The same version again is refused with both dates and what to do.
    ok(run("status", "sign", "draft.json", "--key", ISSUER_KEY, "--out", "again.jwt"))
    line = refused(run("trust", "submit", "again.jwt", "--config", "huren.json"), "[rollback]")
    assert format_time(after.issued_at) in line and "huren status renew" in line


def test_new_list_and_its_refusals(run: InProcess, demo: Path) -> None:
    made = ok(run("status", "new", "--uri", URI, "--size", "16", "--bits", "1", "--out", "n.json"))
    assert "16 entries of 1 bits, all valid" in made.out
    refused(run("status", "suspend", "n.json", "--index", "3"), "1-bit list", "bits 2")
    refused(run("status", "revoke", "n.json", "--index", "16"), "entry 16 is outside", "16 entries")
    ok(run("status", "revoke", "n.json", "--index", "3"))
    refused(run("status", "reinstate", "n.json", "--index", "3"), "revocation is final")
    draft = StatusListDraft.from_dict(json.loads(Path("n.json").read_text()))
    earlier = format_time(draft.issued_at - timedelta(seconds=1))
    line = refused(run("status", "renew", "n.json", "--issued-at", earlier), "must be later")
    assert format_time(draft.issued_at) in line and earlier in line
    ok(run("status", "sign", "n.json", "--key", ISSUER_KEY, "--out", "n.jwt"))
    refused(run("status", "sign", "n.jwt", "--key", ISSUER_KEY, "--out", "x"), "already signed")
    refused(run("status", "export", "--config", "huren.json", "--uri", URI + "x", "--out", "x"),
            "no status list", URI)  # fmt: skip

    # A list that has expired (issued after the one held) is refused with the dates compared.
    now = datetime.now(UTC).replace(microsecond=0)
    expired = replace(draft, issued_at=now - timedelta(minutes=30), expires_at=now)
    Path("old.jwt").write_text(expired.sign(SigningKey.load(demo / ISSUER_KEY)))
    line = refused(run("trust", "submit", "old.jwt", "--config", "huren.json"), "expired at")
    assert f"expired at {format_time(now)} (now " in line and "huren status renew" in line


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"entries": {"01": "revoked"}}, "whole number"),
        ({"entries": {"3": "cancelled"}}, "revoked, suspended or valid"),
        ({"entries": {"99": "revoked"}}, "outside the list"),
        ({"bits": 3}, "bits must be"),
        ({"uri": "http://x"}, "https URI"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, "must be after issued_at"),
        ({"extra": 1}, "exactly the members"),
    ],
)
def test_malformed_drafts_are_refused_in_one_line(
    run: InProcess, demo: Path, change: dict[str, object], message: str
) -> None:
    ok(run("status", "new", "--uri", URI, "--size", "16", "--out", "n.json"))
    doc = json.loads(Path("n.json").read_text())
    doc.update(change)
    Path("n.json").write_text(json.dumps(doc))
    refused(run("status", "show", "n.json"), "n.json", message)


@pytest.mark.parametrize("after_tour", [False, True], ids=["fresh-demo", "after-the-tour"])
def test_readme_revoke_a_licence_runs_as_written(tmp_path: Path, after_tour: bool) -> None:
    """The README section's commands, unchanged except for the service's address, in a
    checkout-like directory (.demo, .venv/bin/huren) against a real service: the licence that
    passed before is FAILED REVOKED after; also after the tour, whose step 3 withdraws the issuer
    key the demo signed its status lists with."""
    with server_support.readme_checkout(tmp_path) as (root, service):
        script = readme_section("Revoke a licence").replace("http://127.0.0.1:8000", service.url)
        verify = script[script.index("C=$(awk") :]
        before = run_script(verify, root)
        assert last_verdict(before)["indication"] == "PASSED"
        if after_tour:
            tour = readme_section("Try it (after `make run`, in a second terminal)")
            run_script(tour.replace("http://127.0.0.1:8000", service.url), root)
        out = run_script(script, root)
    assert '"changed":true' in out.replace(" ", ""), out
    assert "~ entry 0: valid -> revoked" in out
    verdict = last_verdict(out)
    assert (verdict["indication"], verdict["sub_indication"]) == ("FAILED", "REVOKED"), verdict
