"""The `huren` command line: the administrator's workflow end to end (in process and as a real
subprocess), readable output, and one-line errors with the right exit status."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli.common import display_width, render_table
from cli.main import main
from keys import SigningKey
from tests.support.trust_world import disk, uscc
from trust_lists.anchors import load_anchors
from trust_lists.catalogue import Catalogue, DocumentType, Recognition, SignedCatalogue
from trust_lists.signed import SignedTrustList
from trust_lists.status_list import sign_status_list
from trust_lists.timeutil import format_time

HUREN = Path(sys.executable).parent / "huren"
URI = "https://sz.example.gov.cn/status/amr-1"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def refused(self, code: str) -> None:
        """Exit 1 with exactly one line on stderr naming the rule, and no traceback."""
        assert self.code == 1, (self.code, self.out, self.err)
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, self.err
        assert code in lines[0], self.err
        assert "Traceback" not in self.err + self.out


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("HUREN_")}


class InProcess:
    name = "in-process"

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def __call__(self, *argv: object) -> Result:
        self.capsys.readouterr()
        code = main([str(a) for a in argv])
        captured = self.capsys.readouterr()
        return Result(code, captured.out, captured.err)

    def many(self, *commands: Sequence[object]) -> list[Result]:
        return [self(*c) for c in commands]


class Subprocess:
    """The installed console script, as an administrator runs it."""

    name = "subprocess"

    def __call__(self, *argv: object) -> Result:
        return self.many(argv)[0]

    def many(self, *commands: Sequence[object]) -> list[Result]:
        """Independent commands run side by side (operators sign on their own machines)."""
        procs = [
            subprocess.Popen(
                [str(HUREN), *(str(a) for a in argv)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=_clean_env(),
            )
            for argv in commands
        ]
        results = []
        for p in procs:
            out, err = p.communicate(timeout=60)
            results.append(Result(p.returncode, out, err))
        return results


@pytest.fixture(autouse=True)
def _no_huren_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("HUREN_"):
            monkeypatch.delenv(name)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> InProcess:
    return InProcess(capsys)


def ok(result: Result) -> Result:
    assert result.code == 0, (result.code, result.out, result.err)
    assert result.err == "" or result.err.startswith("warning"), result.err
    return result


def write_config(d: Path) -> Path:
    cfg = d / "huren.json"
    cfg.write_text(json.dumps({"anchors": "anchors.json", "trust_dir": "trust"}))
    return cfg


# -- the administrator's workflow --------------------------------------------------------------


def admin_workflow(run: InProcess | Subprocess, d: Path, *, full: bool) -> None:
    """Keys -> draft -> service -> two operators sign apart -> combine -> verify -> submit ->
    rotate the operator keys -> a list signed only by the new keys is refused."""
    p = {name: d / name for name in ("op1", "op2", "op3", "op4", "op5", "issuer")}
    gens = run.many(
        *[
            ("keys", "generate", "--alg", "ES256", "--out", f"{p[n]}.pem")
            for n in ("op1", "op2", "op3", "op4", "op5")
        ],
        ("keys", "generate", "--alg", "EdDSA", "--out", f"{p['issuer']}.pem"),
    )
    kids = {}
    for name, result in zip(("op1", "op2", "op3", "op4", "op5", "issuer"), gens, strict=True):
        ok(result)
        kid = result.out.splitlines()[0]
        assert len(kid) == 43
        kids[name] = kid
        pem = Path(f"{p[name]}.pem")
        assert stat.S_IMODE(pem.stat().st_mode) == 0o600
        assert "PRIVATE" not in result.out
        public = json.loads(Path(f"{p[name]}.pem.jwk.json").read_text())
        assert public["kid"] == kid and "d" not in public

    def jwk(name: str) -> str:
        return f"{p[name]}.pem.jwk.json"

    draft = d / "draft.json"
    ok(
        run(
            "list", "new", "--jurisdiction", "440300", "--name-zh", "深圳市",
            "--name-en", "Shenzhen", "--operator", jwk("op1"), jwk("op2"), jwk("op3"),
            "--threshold", "2", "--valid-days", "30", "--out", draft,
        )
    )  # fmt: skip
    ok(
        run(
            "list", "add-service", draft, "--id", "sz-amr", "--kind", "licence_issuer",
            "--name-zh", "深圳市市场监督管理局", "--name-en", "Shenzhen AMR",
            "--credit-code", uscc(1), "--scope", "food-business,catering",
            "--key", jwk("issuer"), "--granted-from", "now", "--status-list", URI,
        )
    )  # fmt: skip
    doc = json.loads(draft.read_text(encoding="utf-8"))
    assert doc["services"][0]["name_zh"] == "深圳市市场监督管理局"

    # Each operator signs on their own; the anchors are pinned meanwhile.
    anchors = d / "anchors.json"
    s1, s2, pinned = run.many(
        ("list", "sign", draft, "--key", f"{p['op1']}.pem", "--out", d / "op1.sig.json"),
        ("list", "sign", draft, "--key", f"{p['op2']}.pem", "--out", d / "op2.sig.json"),
        (
            "anchors", "add", anchors, "--jurisdiction", "440300", "--threshold", "2",
            "--operator", jwk("op1"), jwk("op2"), jwk("op3"),
        ),
    )  # fmt: skip
    ok(s1), ok(s2), ok(pinned)
    signed = d / "signed.json"
    ok(run("list", "combine", d / "op1.sig.json", d / "op2.sig.json", "--out", signed))
    assert len(json.loads(signed.read_text())["signatures"]) == 2

    # Verify, submit, and start the next draft (independent steps).
    cfg = write_config(d)
    d2 = d / "d2.json"
    verified, submitted, bumped = run.many(
        ("list", "verify", signed, "--anchors", anchors),
        ("trust", "submit", signed, "--config", cfg),
        ("list", "bump", signed, "--valid-days", "30", "--out", d2),
    )
    assert "OK" in ok(verified).out
    ok(submitted), ok(bumped)
    assert (d / "trust" / "lists" / "440300" / f"{1:016d}.jws").exists()
    if full:
        run("list", "verify", d / "op1.sig.json", "--anchors", anchors).refused("threshold_not_met")

    # Rotate the operators to op4 + op5 (2 of 2); sign only with the new keys.
    rotated = ok(
        run(
            "list", "rotate-operators", d2, "--operator", jwk("op4"), jwk("op5"), "--threshold", "2"
        )
    )
    assert "current AND" in rotated.out
    n4, n5 = run.many(
        ("list", "sign", d2, "--key", f"{p['op4']}.pem", "--out", d / "op4.sig.json"),
        ("list", "sign", d2, "--key", f"{p['op5']}.pem", "--out", d / "op5.sig.json"),
    )
    ok(n4), ok(n5)
    new_only = d / "new-only.json"
    ok(run("list", "combine", d / "op4.sig.json", d / "op5.sig.json", "--out", new_only))
    before = disk(d / "trust")
    run("trust", "submit", new_only, "--config", cfg).refused("rotation_not_authorised")
    assert disk(d / "trust") == before
    if not full:
        return

    run("list", "verify", new_only, "--anchors", anchors, "--trust-dir", d / "trust").refused(
        "rotation_not_authorised"
    )
    # The outgoing operators add their signatures: now it is a valid rotation.
    ok(run("list", "sign", new_only, "--key", f"{p['op1']}.pem", "--out", d / "o1.sig.json"))
    ok(run("list", "sign", d2, "--key", f"{p['op3']}.pem", "--out", d / "o3.sig.json"))
    both = d / "rotation.json"
    ok(run("list", "combine", d / "o1.sig.json", d / "o3.sig.json", "--out", both))
    report = ok(run("list", "verify", both, "--anchors", anchors, "--trust-dir", d / "trust"))
    assert "current operator" in report.out and "listed operator" in report.out
    assert disk(d / "trust") == before  # verify never writes
    ok(run("trust", "submit", both, "--config", cfg))
    shown = ok(run("trust", "show", "--config", cfg))
    assert "440300" in shown.out and "深圳市" in shown.out
    assert {a.jurisdiction for a in load_anchors(anchors)} == {"440300"}


def test_admin_workflow_in_process(run: InProcess, tmp_path: Path) -> None:
    admin_workflow(run, tmp_path, full=True)


def test_admin_workflow_as_subprocesses(tmp_path: Path) -> None:
    assert HUREN.exists(), f"console script missing at {HUREN}"
    admin_workflow(Subprocess(), tmp_path, full=False)


# -- a ready-made world for the other commands -------------------------------------------------


@dataclass
class World:
    d: Path
    draft: Path
    signed: Path
    anchors: Path
    config: Path
    issuer_kid: str

    def jwk(self, name: str) -> Path:
        return self.d / f"{name}.pem.jwk.json"

    def pem(self, name: str) -> Path:
        return self.d / f"{name}.pem"


@pytest.fixture
def world(run: InProcess, tmp_path: Path) -> Iterator[World]:
    d = tmp_path
    for name in ("op1", "op2", "op3", "issuer", "issuer2"):
        ok(run("keys", "generate", "--alg", "ES256", "--out", d / f"{name}.pem"))
    w = World(
        d,
        d / "draft.json",
        d / "signed.json",
        d / "anchors.json",
        write_config(d),
        json.loads((d / "issuer.pem.jwk.json").read_text())["kid"],
    )
    ok(
        run(
            "list", "new", "--jurisdiction", "440300", "--name-zh", "深圳市",
            "--name-en", "Shenzhen", "--operator", w.jwk("op1"), w.jwk("op2"), w.jwk("op3"),
            "--threshold", "2", "--issued-at", "now", "--out", w.draft,
        )
    )  # fmt: skip
    ok(
        run(
            "list", "add-service", w.draft, "--id", "sz-amr", "--kind", "licence_issuer",
            "--name-zh", "深圳市市场监督管理局", "--name-en", "Shenzhen AMR",
            "--credit-code", uscc(1), "--scope", "food-business", "--key", w.jwk("issuer"),
            "--granted-from", "2026-01-01T00:00:00Z", "--status-list", URI,
        )
    )  # fmt: skip
    ok(run("list", "sign", w.draft, "--key", w.pem("op1"), "--out", d / "a.json"))
    ok(run("list", "sign", d / "a.json", "--key", w.pem("op2"), "--out", w.signed))
    ok(
        run(
            "anchors", "add", w.anchors, "--jurisdiction", "440300", "--threshold", "2",
            "--operator", w.jwk("op1"), w.jwk("op2"), w.jwk("op3"), "--thumbprints-only",
        )
    )  # fmt: skip
    yield w


def test_show_is_a_readable_table(run: InProcess, world: World) -> None:
    out = ok(run("list", "show", world.signed)).out
    assert out.startswith("SIGNED TRUST LIST (2 signatures)")
    for text in (
        "440300 深圳市 / Shenzhen",
        "sequence     1",
        "OPERATORS (threshold 2 of 3)",
        "sz-amr  [licence_issuer]  深圳市市场监督管理局 / Shenzhen AMR",
        world.issuer_kid,
        "granted 2026-01-01T00:00:00Z",
        "2 of 2 needed (met)",
        URI,
    ):
        assert text in out, text
    draft = ok(run("list", "show", world.draft)).out
    assert draft.startswith("TRUST LIST DRAFT (unsigned)")
    later = format_time(datetime.now(UTC) + timedelta(days=400))
    stale = ok(run("list", "show", world.signed, "--at", later)).out
    assert "STALE since" in stale


def test_table_aligns_chinese_text() -> None:
    assert display_width("深圳市") == 6
    lines = render_table(("A", "B"), [("深圳市", "x"), ("Shenzhen", "y")]).splitlines()
    assert [display_width(line[: line.index(c)]) for line, c in zip(lines[1:], "xy")] == [10, 10]


def test_issuer_key_rotation_revocation_and_diff(run: InProcess, world: World) -> None:
    d = world.d
    nxt = d / "next.json"
    ok(run("list", "bump", world.signed, "--out", nxt))
    ok(
        run(
            "list", "add-key", nxt, "--service", "sz-amr", "--key", world.jwk("issuer2"),
            "--granted-from", "2026-06-01T00:00:00Z",
        )
    )  # fmt: skip
    ok(
        run(
            "list", "withdraw-key", nxt, "--kid", world.issuer_kid,
            "--effective", "2026-07-01T00:00:00Z",
        )
    )  # fmt: skip
    shown = ok(run("list", "show", nxt, "--at", "2026-08-01T00:00:00Z")).out
    assert "withdrawn 2026-07-01T00:00:00Z" in shown
    diff = ok(run("list", "diff", world.signed, nxt)).out
    assert "~ sequence: 1 -> 2" in diff
    assert "+ key" in diff and "in sz-amr: ES256: granted from 2026-06-01T00:00:00Z" in diff
    assert f"~ key {world.issuer_kid} in sz-amr: granted from 2026-01-01T00:00:00Z -> " in diff
    assert "withdrawn from 2026-07-01T00:00:00Z" in diff
    issuer2 = json.loads(world.jwk("issuer2").read_text())["kid"]
    ok(run("list", "revoke-key", nxt, "--kid", issuer2, "--effective", "2026-06-15T00:00:00Z"))
    assert "revoked 2026-06-15T00:00:00Z" in ok(run("list", "show", nxt)).out
    # A revoked key stays revoked: the edit is refused and the draft is untouched.
    before = nxt.read_bytes()
    run(
        "list", "withdraw-key", nxt, "--kid", issuer2, "--effective", "2026-12-01T00:00:00Z"
    ).refused("malformed")  # fmt: skip
    assert nxt.read_bytes() == before


def test_diff_shows_operator_rotation_and_review_warnings(run: InProcess, world: World) -> None:
    d = world.d
    nxt = d / "next.json"
    ok(
        run(
            "list", "rotate-operators", world.signed, "--operator", world.jwk("op1"),
            "--threshold", "1", "--out", nxt,
        )
    )  # fmt: skip
    ok(run("list", "remove-service", nxt, "--id", "sz-amr"))
    out = ok(run("list", "diff", world.signed, nxt)).out
    assert "- operator key" in out
    assert "~ operator threshold: 2 -> 1" in out
    assert "- service sz-amr: licence_issuer 深圳市市场监督管理局 / Shenzhen AMR" in out
    assert "review before signing:" in out
    assert "lowered from 2 to 1" in out
    assert "rollback" in out  # the sequence was not bumped
    same = ok(run("list", "diff", world.signed, world.signed)).out
    assert same.rstrip().endswith("no changes")


def test_verify_against_the_trust_dir(run: InProcess, world: World) -> None:
    d = world.d
    ok(run("trust", "submit", world.signed, "--config", world.config))
    held = ok(
        run("list", "verify", world.signed, "--anchors", world.anchors, "--trust-dir", d / "trust")
    )
    assert "currently held" in held.out
    nxt = d / "next.json"
    ok(run("list", "bump", world.signed, "--out", nxt))
    ok(run("list", "sign", nxt, "--key", world.pem("op2"), "--out", d / "n2.json"))
    ok(run("list", "sign", d / "n2.json", "--key", world.pem("op3"), "--out", d / "n23.json"))
    ok(run("trust", "submit", d / "n23.json", "--config", world.config))
    run(
        "list", "verify", world.signed, "--anchors", world.anchors, "--trust-dir", d / "trust"
    ).refused("rollback")  # fmt: skip
    # Against the anchors alone (no trust dir), list 1 is still a valid first list.
    assert "OK" in ok(run("list", "verify", world.signed, "--anchors", world.anchors)).out
    # A list offered for another slot.
    run(
        "list", "verify", world.signed, "--anchors", world.anchors, "--jurisdiction", "442000"
    ).refused("unknown_jurisdiction")  # fmt: skip


def test_trust_submit_status_lists_and_catalogues(run: InProcess, world: World) -> None:
    d = world.d
    ok(run("trust", "submit", world.signed, "--config", world.config))
    again = ok(run("trust", "submit", world.signed, "--config", world.config))
    assert again.out.startswith("already held")
    now = datetime.now(UTC).replace(microsecond=0)
    token = sign_status_list(
        SigningKey.load(world.pem("issuer")),
        uri=URI,
        statuses=[0, 1],
        bits=1,
        issued_at=now - timedelta(minutes=1),
        expires_at=now + timedelta(days=1),
    )
    (d / "status.jwt").write_text(token)
    ok(run("trust", "submit", d / "status.jwt", "--config", world.config))
    run("trust", "submit", d / "status.jwt", "--config", world.config)  # same token: no-op
    stranger = sign_status_list(
        SigningKey.load(world.pem("issuer2")),
        uri=URI,
        statuses=[0],
        bits=1,
        issued_at=now,
        expires_at=now + timedelta(days=1),
    )
    (d / "stranger.jwt").write_text(stranger)
    run("trust", "submit", d / "stranger.jwt", "--config", world.config).refused("untrusted_signer")
    t = DocumentType("food-business", "食品经营许可证", "Food business permit")
    cat = Catalogue(
        1,
        now,
        {t.code: t},
        {},
        (Recognition("440300", "442000", frozenset({t.code}), frozenset()),),
    )
    signed_cat = SignedCatalogue.create(cat, [SigningKey.load(world.pem("op1"))])
    (d / "cat.json").write_bytes(signed_cat.to_json())
    run("trust", "submit", d / "cat.json", "--config", world.config).refused("threshold_not_met")
    signed_cat = signed_cat.add_signature(SigningKey.load(world.pem("op3")))
    (d / "cat.json").write_bytes(signed_cat.to_json())
    ok(run("trust", "submit", d / "cat.json", "--config", world.config))
    shown = ok(run("trust", "show", "--config", world.config)).out
    assert "catalogue: sequence 1" in shown and f"status list {URI}" in shown
    run("trust", "submit", world.draft, "--config", world.config).refused("malformed")


# -- errors: one line, the right exit status ---------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nonsense"],
        ["list"],
        ["list", "new", "--jurisdiction", "440300"],
        ["keys", "generate", "--alg", "HS256", "--out", "k.pem"],
        ["list", "show", "x.json", "--at", "yesterday"],
        ["list", "bump", "x.json", "--valid-days", "0"],
    ],
    ids=[
        "nothing",
        "unknown-command",
        "no-action",
        "missing-options",
        "bad-alg",
        "bad-time",
        "bad-days",
    ],
)
def test_usage_errors_exit_2_with_one_line(run: InProcess, argv: list[str]) -> None:
    result = run(*argv)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("huren: usage error:"), result.err


def test_help_exits_0(run: InProcess) -> None:
    result = run("list", "--help")
    assert result.code == 0 and "add-service" in result.out


def test_invalid_input_exits_1_with_one_line(run: InProcess, world: World) -> None:
    d = world.d
    run("list", "show", d / "missing.json").refused("No such file or directory")
    run(
        "list", "new", "--jurisdiction", "44030", "--name-zh", "x", "--name-en", "y",
        "--operator", world.jwk("op1"), "--threshold", "1", "--out", d / "x.json",
    ).refused("six-digit")  # fmt: skip
    run(
        "list", "new", "--jurisdiction", "440300", "--name-zh", "x", "--name-en", "y",
        "--operator", world.jwk("op1"), "--threshold", "2", "--out", d / "x.json",
    ).refused("threshold")  # fmt: skip
    run(
        "list", "new", "--jurisdiction", "440300", "--name-zh", "x", "--name-en", "y",
        "--operator", world.pem("op1"), "--threshold", "1", "--out", d / "x.json",
    ).refused("give its public JWK file")  # fmt: skip
    assert not (d / "x.json").exists()
    run(
        "list", "add-service", world.draft, "--id", "bad", "--kind", "seal_authority",
        "--name-zh", "坏", "--name-en", "Bad", "--credit-code", "91440300MA5F00001X",
        "--scope", "enterprise-seal", "--key", world.jwk("issuer2"), "--granted-from", "now",
    ).refused("credit_code")  # fmt: skip
    (d / "junk.json").write_text('{"a": 1, "a": 2}')
    run("list", "show", d / "junk.json").refused("duplicate")
    # Signatures over different lists cannot be combined.
    other = d / "other.json"
    ok(run("list", "bump", world.signed, "--out", d / "o.json"))
    ok(run("list", "sign", d / "o.json", "--key", world.pem("op3"), "--out", other))
    run("list", "combine", world.signed, other, "--out", d / "c.json").refused("another list")


def test_edit_of_a_signed_list_needs_out(run: InProcess, world: World) -> None:
    before = world.signed.read_bytes()
    result = run("list", "bump", world.signed)
    assert result.code == 2 and "--out" in result.err
    assert world.signed.read_bytes() == before


def test_outputs_never_replace_special_files(run: InProcess, world: World) -> None:
    fifo = world.d / "fifo"
    os.mkfifo(fifo)
    result = run("list", "sign", world.draft, "--key", world.pem("op1"), "--out", fifo)
    assert result.code == 2 and "not a regular file" in result.err
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_out_dash_writes_to_stdout(run: InProcess, world: World) -> None:
    result = run("list", "sign", world.draft, "--key", world.pem("op1"), "--out", "-")
    assert result.code == 0
    assert SignedTrustList.parse(result.out.encode()).trust_list.jurisdiction == "440300"
    assert "signed 440300" in result.err  # progress goes to stderr then


def test_keys_are_never_overwritten_or_printed(
    run: InProcess, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    pem = world.pem("op1")
    before = pem.read_bytes()
    result = run("keys", "generate", "--alg", "EdDSA", "--out", pem)
    assert result.code == 2 and "never overwritten" in result.err
    assert pem.read_bytes() == before
    assert run("keys", "generate", "--alg", "EdDSA", "--out", "-").code == 2
    # Encrypted keys: the passphrase comes from the environment, never the command line.
    monkeypatch.setenv("HUREN_TEST_PASS", "correct horse battery staple")
    enc = world.d / "enc.pem"
    ok(
        run(
            "keys",
            "generate",
            "--alg",
            "ES256",
            "--out",
            enc,
            "--passphrase-env",
            "HUREN_TEST_PASS",
        )
    )
    assert b"ENCRYPTED" in enc.read_bytes()
    run("list", "sign", world.draft, "--key", enc, "--out", world.d / "e.json").refused(
        "passphrase"
    )
    ok(
        run(
            "list", "sign", world.draft, "--key", enc, "--passphrase-env", "HUREN_TEST_PASS",
            "--out", world.d / "e.json",
        )
    )  # fmt: skip
    missing = run(
        "list", "sign", world.draft, "--key", enc, "--passphrase-env", "HUREN_NOPE",
        "--out", world.d / "f.json",
    )  # fmt: skip
    assert missing.code == 2 and "HUREN_NOPE" in missing.err
    public = ok(run("keys", "public", enc, "--passphrase-env", "HUREN_TEST_PASS")).out
    assert "PRIVATE" not in public and '"d"' not in public


def test_unexpected_errors_are_one_line_too(
    run: InProcess, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cli.lists as cli

    def boom(*_: object, **__: object) -> None:
        raise RuntimeError("something broke\nbadly")

    monkeypatch.setattr(cli, "render_list", boom)
    result = run("list", "show", world.signed)
    assert result.code == 1
    assert result.err.strip().splitlines() == [
        "huren: internal error: RuntimeError: something broke badly "
        "(set HUREN_DEBUG=1 for a traceback)"
    ]


# -- serve and demo ----------------------------------------------------------------------------


def test_serve_imports_the_server_lazily(
    run: InProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[object, ...]] = []
    fake = types.ModuleType("api.server")
    fake.serve = lambda *args: calls.append(args)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "api.server", fake)
    ok(run("serve", "--config", tmp_path / "huren.json", "--host", "0.0.0.0", "--port", "9000"))
    ok(run("serve", "--config", tmp_path / "huren.json", "--workers", "3"))
    assert calls == [
        (str(tmp_path / "huren.json"), "0.0.0.0", 9000, None),  # None: the workers setting
        (str(tmp_path / "huren.json"), "127.0.0.1", 8000, 3),
    ]
    monkeypatch.setitem(sys.modules, "api.server", None)
    result = run("serve", "--config", "x.json")
    assert result.code == 1 and "api/server.py is missing" in result.err


def test_cli_imports_no_web_stack() -> None:
    code = (
        "import sys, cli.main; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('fastapi', 'redis', 'uvicorn', 'starlette')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_demo_init_creates_a_world_the_service_can_load(run: InProcess, tmp_path: Path) -> None:
    target = tmp_path / "demo"
    ok(run("demo", "init", target))
    for name in ("huren.json", "anchors.json", "api-keys.json", "demo-credentials.txt"):
        assert (target / name).is_file(), name
    assert (target / "trust").is_dir() and (target / "keys").is_dir()
    for pem in (target / "keys").rglob("*.pem"):
        assert stat.S_IMODE(pem.stat().st_mode) == 0o600, pem
    shown = ok(run("trust", "show", "--config", target / "huren.json"))
    assert "440300" in shown.out and "442000" in shown.out
    assert "NO LIST" not in shown.out and "warning" not in shown.err
    before = disk(target)
    again = run("demo", "init", target)
    assert again.code == 2 and "already there" in again.err
    assert disk(target) == before


def test_kid_starting_with_a_dash(run: InProcess, world: World) -> None:
    """Base64url kids may begin with "-"; `--kid VALUE` must still work."""
    for _ in range(20_000):
        k = SigningKey.generate("ES256")
        if k.kid.startswith("-"):
            break
    else:  # pragma: no cover - probability ~ (63/64)**20000
        pytest.skip("no kid starting with '-' found")
    jwk = world.d / "dash.jwk.json"
    jwk.write_text(json.dumps(k.public_key.to_jwk()))
    nxt = world.d / "n.json"
    ok(run("list", "add-key", world.signed, "--service", "sz-amr", "--key", jwk,
           "--granted-from", "2026-02-01T00:00:00Z", "--out", nxt))  # fmt: skip
    ok(run("list", "withdraw-key", nxt, "--kid", k.kid, "--effective", "2026-03-01T00:00:00Z"))
    assert f"{k.kid}" in ok(run("list", "show", nxt)).out
    ok(run("anchors", "add", world.d / "a2.json", "--jurisdiction", "442000", "--threshold", "1",
           "--kid", k.kid))  # fmt: skip
