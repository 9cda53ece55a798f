"""bench/micro.py's figure 5f, the floor docs/performance.md reads figure 5 against: it must do
the work it claims (a forged signature stops it) and compare it with the raw verify."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature

from bench import micro
from bench.project import Project


def _project(tmp_path: Path) -> Project:
    project = Project(tmp_path)
    project.pool("ES256", n=4)  # the row reads the pool made here
    return project


def test_the_floor_verifies_and_is_compared_with_the_raw_verify(tmp_path: Path) -> None:
    project = _project(tmp_path)
    settings = micro.Settings(repeats=2, target=0.002)
    raw = {"ES256": 1.0}  # slower than any real verify: the row's own raw time replaces it
    row = micro.batch_floor_row(project, raw, settings)
    assert row.fig == "5f" and row.info
    # The floor's rate over the raw verify's: below 1, as the floor does a verify and more.
    assert row.ratio is not None and 0.2 < row.ratio < 1.05
    assert row.raw["best_ratio"] == row.raw["raw_s"] / row.raw["floor_s"]
    assert raw["ES256"] == row.raw["raw_s"] < 1.0
    kept = {"ES256": 1e-9}  # faster than the row's: kept, as figure 1 keeps the best raw time
    micro.batch_floor_row(project, kept, settings)
    assert kept["ES256"] == 1e-9


def test_a_forged_item_stops_the_floor(tmp_path: Path) -> None:
    project = _project(tmp_path)
    head, payload, sig = project.pool("ES256")[1].split(".")
    forged = "A" if sig[10] != "A" else "B"
    project.pool("ES256")[1] = f"{head}.{payload}.{sig[:10]}{forged}{sig[11:]}"
    with pytest.raises(InvalidSignature):
        micro.batch_floor_row(project, {}, micro.Settings(repeats=2, target=0.002))
