"""docs/security.md names, for every threat, the tests that cover it: every test it names must
exist (so a renamed or deleted test cannot leave a threat silently uncovered), and every module
under tests/attack/ and tests/fault/ must be named there."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"


_REF = re.compile(r"((?:\w+/)?test_\w+\.py)?::(test_\w+)|((?:\w+/)?test_\w+\.py)")


def _references() -> list[tuple[str, str]]:
    """(module, test) pairs: `file.py::test_x` and the `::test_y` that follow it in a cell."""
    refs: list[tuple[str, str]] = []
    for cell in re.split(r"[|\n]", DOC.read_text(encoding="utf-8")):
        module = None
        for token in re.finditer(_REF, cell):
            if token.group(3):
                module = token.group(3)
            elif token.group(1):
                module = token.group(1)
                refs.append((module, token.group(2)))
            elif module is not None:
                refs.append((module, token.group(2)))
    return refs


def test_every_test_named_in_security_md_exists() -> None:
    refs = _references()
    assert len(refs) > 150
    missing = []
    for module, name in refs:
        path = ROOT / "tests" / module
        if not path.exists() or not re.search(
            rf"^(async )?def {name}\(", path.read_text(encoding="utf-8"), re.MULTILINE
        ):
            missing.append(f"{module}::{name}")
    assert missing == []


def test_every_attack_and_fault_module_is_in_security_md() -> None:
    text = DOC.read_text(encoding="utf-8")
    for folder in ("attack", "fault"):
        for path in sorted((ROOT / "tests" / folder).glob("test_*.py")):
            if path != Path(__file__).resolve():
                assert f"{folder}/{path.name}" in text, path.name
