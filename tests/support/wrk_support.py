"""wrk for the bench's own tests: skipped where it is missing, a failure in CI (.ci/run installs
it, so a missing wrk there is a broken install, not a reason to skip)."""

from __future__ import annotations

import os

import pytest

from bench import loadgen


def require_wrk() -> None:
    try:
        loadgen.wrk_path()
    except loadgen.WrkMissing as missing:
        if os.environ.get("CI"):
            pytest.fail(str(missing), pytrace=False)
        pytest.skip(str(missing))
