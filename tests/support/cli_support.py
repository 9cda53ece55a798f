"""The `huren` command run in this process, for the CLI tests."""

from __future__ import annotations

import pytest

from cli.main import main


def run_cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """`huren ARGV...`: its exit status, standard output and standard error."""
    capsys.readouterr()
    status = main([str(a) for a in argv])
    out = capsys.readouterr()
    return status, out.out, out.err
