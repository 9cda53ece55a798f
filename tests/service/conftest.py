"""Fixtures shared by the service tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from demo.world import DemoWorld
from tests.support.api_support import redis_pair


@pytest.fixture
def pair(
    live_world: DemoWorld, tmp_path: Path, redis_url: str, redis_prefix: str
) -> Iterator[tuple[TestClient, TestClient]]:
    """Two instances sharing the real Redis, over the requesting module's `live_world` (each
    module builds it at the real time it needs)."""
    with redis_pair(live_world, tmp_path, redis_url, redis_prefix) as clients:
        yield clients
