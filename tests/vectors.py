"""Where the shared public test vectors live (see ../shared/vectors/README.md).

The repository sits at X/main and the vectors at X/shared/vectors; in CI the clone is at D/p with
D/shared symlinked beside it, so `parents[1].parent / "shared"` finds them both ways. A missing
vectors directory is a test FAILURE, never a skip: silently not testing against outside material
is exactly what these tests exist to prevent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).resolve().parents[1].parent / "shared" / "vectors"


def vector_path(*parts: str) -> Path:
    """Path of a vector file; fails the calling test loudly if it is not there."""
    path = VECTORS.joinpath(*parts)
    if not path.exists():
        pytest.fail(
            f"test vectors missing: {path} does not exist. The shared vectors directory is "
            f"expected at {VECTORS} (next to the repository, as ../shared/vectors).",
            pytrace=False,
        )
    return path


def load_json(*parts: str) -> Any:
    return json.loads(vector_path(*parts).read_text(encoding="utf-8"))
