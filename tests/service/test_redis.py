"""Two service instances sharing a real Redis: the verdict cache is shared, and an upload to one
instance is reflected by the very next verdict of the other (trust version in every cache key,
TrustSync publish before the acknowledgement and ensure_current before every verdict)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from demo.world import DemoWorld, build_demo_world
from tests.support.api_support import SZ, ZS, auth, next_list
from tests.support.endpoints import LICENCE


@pytest.fixture(scope="module")
def live_world() -> DemoWorld:
    # TrustSync judges adopted documents on the real clock, so the world is built at real now.
    return build_demo_world(datetime.now(UTC).replace(microsecond=0))


def test_instances_share_verdicts_and_trust_changes(
    pair: tuple[TestClient, TestClient], live_world: DemoWorld
):
    a, b = pair
    body = {"token": live_world.licence_sz, "relying_jurisdiction": ZS}
    first = b.post(LICENCE, json=body, headers=auth("counter"))
    assert first.status_code == 200, first.text
    assert first.json()["verdict"]["indication"] == "PASSED"
    assert first.json()["cached"] is False
    # Same trust state on both instances: A is served B's verdict from Redis.
    shared = a.post(LICENCE, json=body, headers=auth("counter")).json()
    assert shared["cached"] is True
    assert shared["verdict"] == first.json()["verdict"]
    assert a.get("/readyz").json()["checks"]["cache"] == "ok"

    seq = first.json()["verdict"]["trust"]["list_sequence"]
    data = next_list(live_world, SZ, issued_at=datetime.now(UTC).replace(microsecond=0))
    r = a.put(
        f"/v1/trust-lists/{SZ}",
        content=data,
        headers={**auth("admin"), "content-type": "application/json"},
    )
    assert r.status_code == 200, r.text
    # The very next verdict on B is judged under the new list, not served from the cache.
    after = b.post(LICENCE, json=body, headers=auth("counter")).json()
    assert after["cached"] is False
    assert after["verdict"]["trust"]["list_sequence"] == seq + 1
    assert b.get(f"/v1/trust-lists/{SZ}").content == data
