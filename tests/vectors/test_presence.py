"""The vectors policy itself: a clone without ../shared skips loudly; CI (required) fails."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support import vectors

ROOT = Path(__file__).resolve().parents[2]


def _run_without_vectors(tmp_path: Path, *, required: bool) -> subprocess.CompletedProcess[str]:
    """Run one vector-using test module in a child pytest whose VECTORS points nowhere."""
    test = tmp_path / "test_child.py"
    test.write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path
            from tests.support import vectors
            vectors.VECTORS = Path({str(tmp_path / "absent")!r})
            DATA = vectors.load_json("sm2", "x.json")  # module level, as test_national_sm2 does

            def test_uses_vectors():
                assert DATA
            """
        ),
        encoding="utf-8",
    )
    env = {"PATH": "/usr/bin:/bin", "HUREN_REQUIRE_VECTORS": "1" if required else "0"}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.conftest",
            str(test),
            "--rootdir",
            str(ROOT),
            "-c",
            str(ROOT / "pyproject.toml"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_missing_vectors_skip_loudly(tmp_path: Path) -> None:
    result = _run_without_vectors(tmp_path, required=False)
    # 5: pytest ran no test (the only module skipped): a skip, not a failure or an error
    assert result.returncode == 5, result.stdout + result.stderr
    assert "1 skipped" in result.stdout
    assert "VECTOR TESTS NOT RUN" in result.stdout


def test_missing_vectors_fail_when_required(tmp_path: Path) -> None:
    result = _run_without_vectors(tmp_path, required=True)
    assert result.returncode != 0, result.stdout
    assert "HUREN_REQUIRE_VECTORS=1 but VECTORS MISSING" in result.stdout


def test_vectors_present_here_when_required() -> None:
    """Where the policy says vectors are required, they must actually be found."""
    if not vectors.vectors_required():
        pytest.skip("HUREN_REQUIRE_VECTORS is not 1")
    assert vectors.VECTORS.is_dir()
