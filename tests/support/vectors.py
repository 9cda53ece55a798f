"""Where the shared public test vectors live (see ../shared/vectors/README.md).

The repository sits at X/main and the vectors at X/shared/vectors; in CI the clone is at D/p with
D/shared symlinked beside it, so `parents[1].parent / "shared"` finds them both ways.

A clone elsewhere has no ../shared: there the tests that need the vectors SKIP, and the session
ends with one loud summary line saying so (conftest.py). With HUREN_REQUIRE_VECTORS=1 (set by
.ci/run) a missing vector is a FAILURE: silently not testing against outside material in CI is
exactly what these tests exist to prevent."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"
REQUIRE_ENV = "HUREN_REQUIRE_VECTORS"

# Paths asked for and not found in this session, for the summary line.
missing: list[Path] = []


def vectors_required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


def vector_path(*parts: str) -> Path:
    """Path of a vector file. Missing: skip (also at module level), or fail when required."""
    path = VECTORS.joinpath(*parts)
    if path.exists():
        return path
    missing.append(path)
    message = (
        f"VECTORS MISSING - {path} does not exist. The shared public test vectors are expected "
        f"at {VECTORS} (../shared/vectors beside the repository; see README.md, 'Tests')."
    )
    if vectors_required():
        pytest.fail(f"{REQUIRE_ENV}=1 but {message}", pytrace=False)
    pytest.skip(message, allow_module_level=True)
    raise AssertionError("unreachable")  # pytest.skip raises


def load_json(*parts: str) -> Any:
    return json.loads(vector_path(*parts).read_text(encoding="utf-8"))
