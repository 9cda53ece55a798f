"""`huren` for a newcomer (issue 16, CLI polish): a version, help on every option, one name per
idea (old spellings still work), refusals that give what they compared and what to do next,
side effects named in `list diff`, and a closed pipe that ends quietly."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli.common import HIDDEN_ALIASES
from cli.main import EXIT_CLOSED_PIPE, build_parser
from demo.world import DEMO_EPOCH, DemoWorld
from tests.service import test_app as test_api_app
from tests.support.api_support import SZ, auth
from tests.unit import test_cli
from tests.unit.test_cli import HUREN, URI, InProcess, World, ok
from trust_lists import SignedTrustList, authoring
from trust_lists.timeutil import format_time

# The fixtures of unit/test_cli.py: a small world of keys, a draft and a list signed by 2 of 3.
run = test_cli.run
world = test_cli.world
_no_huren_env = test_cli._no_huren_env
svc = test_api_app.svc


def _subparsers(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield parser.prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                yield from _subparsers(child)


def test_version_is_the_installed_package_version(run: InProcess) -> None:
    result = run("--version")
    assert result.code == 0
    assert result.out.strip() == f"huren {importlib.metadata.version('huren')}"


def test_every_option_of_every_command_has_help() -> None:
    missing = []
    commands = list(_subparsers(build_parser()))
    assert len(commands) > 30  # the walk reaches the nested commands (list sign, status new...)
    for prog, parser in commands:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            if action.help is argparse.SUPPRESS:
                assert set(action.option_strings) <= HIDDEN_ALIASES, (prog, action.option_strings)
                continue
            if not action.help:
                missing.append(f"{prog} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


@pytest.mark.parametrize(
    ("argv", "texts"),
    [
        (["list", "new"], ["--threshold", "e.g. --threshold 2", "e.g. --valid-days 30"]),
        (["list", "add-service"], ["--granted-from", "or now", "e.g. --granted-from now"]),
        (["list", "revoke-key"], ["--effective", "e.g. --effective now"]),
        (["verify"], ["--config CONFIG", "e.g. --config .demo"]),
        (["list", "verify"], ["--config CONFIG"]),
    ],
)
def test_help_explains_with_examples_and_hides_old_spellings(
    run: InProcess, argv: list[str], texts: list[str]
) -> None:
    result = run(*argv, "--help")
    assert result.code == 0
    text = " ".join(result.out.split())
    for expected in texts:
        assert expected in text, expected
    assert "--trust" not in result.out  # --trust and --trust-dir: accepted, not advertised


def test_config_is_the_one_name_and_old_spellings_still_work(run: InProcess, world: World) -> None:
    d = world.d
    ok(run("trust", "submit", world.signed, "--config", d))  # the directory works as well
    for how in (["--config", world.config], ["--config", d]):
        out = ok(run("list", "verify", world.signed, *how)).out
        assert f"current list 440300 sequence 1 in {how[1]}" in out
        assert "OK: the list 440300 currently held" in out
    old = ["--anchors", world.anchors, "--trust-dir", d / "trust"]
    assert "OK: the list 440300 currently held" in ok(run("list", "verify", world.signed, *old)).out
    both = run("list", "verify", world.signed, "--config", d, "--anchors", world.anchors)
    assert both.code == 2 and "not both" in both.err
    neither = run("list", "verify", world.signed)
    assert neither.code == 2 and "--config" in neither.err
    # huren verify: --config (new) and --trust (old) give the same verdict.
    licence = d / "licence.txt"
    licence.write_text("not a licence")
    new = run("verify", licence, "--config", d)
    old_spelling = run("verify", licence, "--trust", d)
    assert new.code == old_spelling.code == 2
    assert new.err == old_spelling.err and "not a format huren verifies" in new.err


def test_list_show_prints_the_real_next_update_time(run: InProcess, world: World) -> None:
    """The row gives the list's own next-update time, how far off it is, and the time shown
    (once read as "next update in 29d23h at <now>")."""

    def row(*at: str) -> str:
        out = ok(run("list", "show", world.signed, *at)).out
        return next(line for line in out.splitlines() if line.strip().startswith("next update"))

    next_update = datetime.fromisoformat(row().split()[2])
    assert next_update > datetime.now(UTC) + timedelta(days=29)
    at = format_time(next_update - timedelta(days=2, hours=3))
    assert row("--at", at).endswith(
        f"next update  {format_time(next_update)} (fresh, due in 2d3h; now {at})"
    )


def test_revoke_key_refusal_gives_both_times(run: InProcess, world: World) -> None:
    result = run(
        "list", "revoke-key", world.draft, "--kid", world.issuer_kid,
        "--effective", "2025-12-31T00:00:00Z",
    )  # fmt: skip
    result.refused("malformed")
    assert "the change (2025-12-31T00:00:00Z)" in result.err
    assert "last status change (granted from 2026-01-01T00:00:00Z)" in result.err
    assert "give a later --effective" in result.err


def test_an_unsigned_draft_is_told_to_be_signed_first(run: InProcess, world: World) -> None:
    for argv in (
        ("list", "verify", world.draft, "--anchors", world.anchors),
        ("trust", "submit", world.draft, "--config", world.config),
        ("list", "combine", world.draft, world.signed, "--out", world.d / "c.json"),
    ):
        result = run(*argv)
        result.refused("[malformed]")
        assert "unsigned draft" in result.err and "sign it first" in result.err, result.err
        assert "huren list sign" in result.err
        assert "expected exactly the members" not in result.err


def test_threshold_refusal_counts_valid_signatures(run: InProcess, world: World) -> None:
    one = world.d / "one.json"
    ok(run("list", "sign", world.draft, "--key", world.pem("op1"), "--out", one))
    result = run("list", "verify", one, "--anchors", world.anchors)
    result.refused("[threshold_not_met]")
    assert "1 valid signature of the current operator keys found, 2 needed" in result.err
    assert "huren list sign" in result.err


def test_diff_warns_that_revoking_an_issuer_key_untrusts_its_status_list(
    run: InProcess, world: World
) -> None:
    nxt = world.d / "next.json"
    ok(run("list", "bump", world.signed, "--out", nxt))
    ok(run("list", "revoke-key", nxt, "--kid", world.issuer_kid, "--effective", "now"))
    out = ok(run("list", "diff", world.signed, nxt)).out
    warnings = out[out.index("review before signing:") :]
    assert f"service sz-amr publishes status lists ({URI})" in warnings
    assert f"signed with key {world.issuer_kid} is untrusted" in warnings
    assert "INDETERMINATE" in warnings
    assert "it has no other granted key: `huren list add-key` first" in warnings
    assert out.rstrip().endswith("1 warning")

    withdrawn = world.d / "withdrawn.json"
    ok(run("list", "bump", world.signed, "--out", withdrawn))
    ok(run("list", "withdraw-key", withdrawn, "--kid", world.issuer_kid, "--effective", "now"))
    out = ok(run("list", "diff", world.signed, withdrawn)).out
    assert "a new version signed with key" in out and "is refused once it is withdrawn" in out
    # With a second key granted, the warning names it as the one to sign with.
    ok(run("list", "add-key", withdrawn, "--service", "sz-amr", "--key", world.jwk("issuer2"),
           "--granted-from", "2026-01-01T00:00:00Z"))  # fmt: skip
    issuer2 = json.loads(world.jwk("issuer2").read_text())["kid"]
    assert (
        f"with another granted key of the service ({issuer2})"
        in ok(run("list", "diff", world.signed, withdrawn)).out
    )

    # An unchanged list: nothing to warn of.
    assert "publishes status lists" not in ok(run("list", "diff", world.signed, world.signed)).out


def test_a_closed_pipe_ends_quietly(world: World) -> None:
    """The reader is gone before huren writes: no 'Broken pipe' message, status 141."""
    proc = subprocess.Popen(
        [str(HUREN), "list", "show", str(world.signed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=test_cli._clean_env(),
    )
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert err == b""
    assert proc.returncode == EXIT_CLOSED_PIPE


def test_head_of_a_pipe_gets_the_first_line_and_no_error(world: World) -> None:
    result = subprocess.run(
        ["bash", "-c", f"'{HUREN}' list show '{world.signed}' | head -1"],
        capture_output=True,
        text=True,
        env=test_cli._clean_env(),
        timeout=120,
        check=True,
    )
    assert result.stdout == "SIGNED TRUST LIST (2 signatures)\n"
    assert result.stderr == ""


def test_admin_api_says_the_same_of_a_draft_and_of_too_few_signatures(
    svc: test_api_app.Service, demo_world: DemoWorld
) -> None:
    """The store's messages, so the admin API gives them too, with the same problem codes."""
    url = f"/v1/trust-lists/{SZ}"
    headers = {**auth("admin"), "content-type": "application/json"}
    tl = authoring.next_version(
        demo_world.trust_lists[SZ], issued_at=DEMO_EPOCH, validity=timedelta(days=30)
    )
    draft = json.dumps(tl.to_dict()).encode()
    body = test_api_app.problem(
        svc.client.put(url, content=draft, headers=headers), 422, "malformed"
    )
    assert "unsigned draft" in body["detail"] and "sign it first" in body["detail"]
    one = SignedTrustList.create(tl, demo_world.operators(SZ)[:1]).to_json()
    body = test_api_app.problem(
        svc.client.put(url, content=one, headers=headers), 422, "threshold_not_met"
    )
    assert "1 valid signature of the current operator keys found, 2 needed" in body["detail"]


def test_time_and_sequence_refusals_give_what_they_compared(run: InProcess, world: World) -> None:
    later = format_time(datetime.now(UTC).replace(microsecond=0) + timedelta(days=400))
    expired = run("list", "verify", world.signed, "--anchors", world.anchors, "--at", later)
    expired.refused("[already_expired]")
    assert f"has passed (now {later}): make the next version (`huren list bump`)" in expired.err
    earlier = "2020-01-01T00:00:00Z"
    future = run("list", "verify", world.signed, "--anchors", world.anchors, "--at", earlier)
    future.refused("[issued_in_future]")
    assert f"(now {earlier}, 300 s of clock skew allowed): check the signing" in future.err
    ok(run("trust", "submit", world.signed, "--config", world.config))
    nxt = world.d / "next.json"
    ok(run("list", "bump", world.signed, "--out", nxt))
    ok(run("list", "sign", nxt, "--key", world.pem("op1"), "--out", world.d / "n1.json"))
    ok(
        run(
            "list",
            "sign",
            world.d / "n1.json",
            "--key",
            world.pem("op3"),
            "--out",
            world.d / "n.json",
        )
    )
    ok(run("trust", "submit", world.d / "n.json", "--config", world.config))
    rollback = run("list", "verify", world.signed, "--config", world.config)
    rollback.refused("[rollback]")
    assert "sequence 1 is not above the highest accepted (2): make the next version" in rollback.err


class _NotInstalled:
    """A finder that finds nothing of one package, as the import system says when none does."""

    def __init__(self, package: str) -> None:
        self.package = package

    def find_spec(self, fullname: str, path: object, target: object = None) -> None:
        if fullname == self.package or fullname.startswith(f"{self.package}."):
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)


@pytest.mark.parametrize(
    ("action", "part"),
    [("init", "the demo world"), ("renew", "the demo world"), ("export-server", "the export")],
)
def test_a_package_left_out_of_the_image_is_one_clean_line(
    run: InProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, action: str, part: str
) -> None:
    """The container image holds no demo/ (nor issuing/): the whole package is absent, not one
    module of it, and `huren demo ...` says so in one line, not as an internal error."""
    (tmp_path / "world").mkdir()
    if action != "init":
        (tmp_path / "world" / "huren.json").write_text("{}")
    for name in [m for m in sys.modules if m == "demo" or m.startswith("demo.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_NotInstalled("demo"), *sys.meta_path])
    out = [tmp_path / "srv"] if action == "export-server" else []
    result = run("demo", action, tmp_path / "world", *out)
    assert (result.code, result.out) == (1, "")
    assert result.err == f"huren: error: {part} is not available (demo/ is missing)\n"
    assert (
        sorted(p.name for p in tmp_path.rglob("*")) == ["huren.json", "world"][action == "init" :]
    )
