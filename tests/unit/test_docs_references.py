"""The docs cite only what is in the repository: a reader of a clone has docs/, the README and the
code, not the tracker or the authors' notes. So no `DOMAIN.md` or other `../shared/` file (the
test vectors in `../shared/vectors`, whose origin the README explains, excepted), no "GitHub
issue 4", "issue 19, finding 3" or "PR #5": each point is made in the docs themselves, and every
relative link points to a file of the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])

OUTSIDE = re.compile(
    r"DOMAIN\.md|TOOLING\.md|\.\./shared/(?!vectors\b)|/work/"
    r"|\bGitHub issues?\b|\bissue[ -]#?\d+|\bissues #\d+|\bfindings? #?\d+"
    r"|\b(?:PR|pull request) #?\d+",
    re.IGNORECASE,
)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def citations_outside(text: str) -> list[str]:
    return [
        f"line {text.count(chr(10), 0, m.start()) + 1}: {m.group(0)!r}"
        for m in OUTSIDE.finditer(text)
    ]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_cite_only_the_repository(doc: Path):
    assert citations_outside(doc.read_text()) == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_into_the_repository(doc: Path):
    broken = []
    for target in LINK.findall(doc.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (doc.parent / target.split("#", 1)[0]).resolve()
        if not path.is_relative_to(ROOT) or not path.exists():
            broken.append(target)
    assert broken == []


@pytest.mark.parametrize(
    "text",
    [
        "the threat model of `../shared/DOMAIN.md`",
        "The invariant (GitHub issue 4):",
        "(issue 19, finding 3: a 5,000-digit field)",
        "see Issue #12",
        "fixed in PR #7",
        "see /work/shared/TOOLING.md",
        "only the issue-7 tests",
    ],
)
def test_the_check_finds_citations_outside(text: str):
    assert citations_outside(text)


def test_the_check_allows_the_vectors_and_ordinary_words():
    text = (
        "public vectors from `../shared/vectors` (see its README); an issuer issues 2 licences;\n"
        "attack/test_canonical.py::test_finding5_one_p256_key_as_two_service_keys"
    )
    assert citations_outside(text) == []


# A file of the repository a doc names: a test module (from tests/ or from its room, as the
# threat table does), a module of a package, or a glob of either, as in a command to run.
NAMED_FILE = re.compile(
    r"(?<![\w/.])((?:tests/)?(?:unit|service|attack|fault|vectors|support)/[\w*]+\.py"
    r"|tests/[\w*]+\.py"
    r"|(?:keys|trust_lists|verifier|issuing|demo|cli|api|bench|deploy)/[\w/*]+\.(?:py|sh)"
    r"|docs/[\w/.-]+\.(?:md|patch))\b"
)


def files_named_but_absent(text: str) -> list[str]:
    absent = []
    for name in sorted(set(NAMED_FILE.findall(text))):
        path = name if name.split("/", 1)[0] not in ROOMS else f"tests/{name}"
        if not any(ROOT.glob(path)):
            absent.append(name)
    return absent


ROOMS = ("unit", "service", "attack", "fault", "vectors", "support")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_files_the_docs_name_exist(doc: Path):
    """After a move, a command or a test cited by its old path still reads as right."""
    assert files_named_but_absent(doc.read_text()) == []


def test_the_check_finds_moved_files():
    text = (
        "`.venv/bin/pytest tests/test_attack_*.py`, api/fastpath.py, unit/test_gone.py; "
        "docs/hooks.patch; but docs/security.md, tests/attack/test_clients.py, "
        "service/test_app.py, verifier/national/*.py are here"
    )
    assert files_named_but_absent(text) == [
        "api/fastpath.py",
        "docs/hooks.patch",
        "tests/test_attack_*.py",
        "unit/test_gone.py",
    ]
