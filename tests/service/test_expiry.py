"""Expiry visible ahead: /readyz warns of trust lists going stale and status lists expiring
within `expiry_warning_seconds` (and of expired status lists), /metrics has the seconds left per
list and status list, and a renewal clears the warning. Through the app, on a moving clock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from demo.world import CITY, DEMO_EPOCH, SHENZHEN, DemoWorld
from tests.support.api_support import SZ, Clock, RecordingSync, auth, service_dir, settings_for

URI = CITY[SHENZHEN].issuer_status_uri


def _client(world: DemoWorld, root: Path, clock: Clock, **changes: object) -> TestClient:
    service_dir(world, root)
    app = create_app(settings_for(root, **changes), clock=clock, sync=RecordingSync())  # type: ignore[arg-type]
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def clock() -> Clock:
    return Clock(DEMO_EPOCH)


@pytest.fixture
def client(demo_world: DemoWorld, tmp_path: Path, clock: Clock) -> Iterator[TestClient]:
    with _client(demo_world, tmp_path / "svc", clock) as c:
        yield c


def _gauge(text: str, name: str, **labels: str) -> float:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    braces = rf"\{{{re.escape(inner)}\}}" if inner else ""
    m = re.search(rf"^{name}{braces} (\S+)$", text, re.M)
    assert m, (name, labels)
    return float(m.group(1))


def _ready(client: TestClient) -> list[str]:
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    warnings = r.json()["warnings"]
    assert isinstance(warnings, list)
    return warnings


def test_status_list_expiry_is_warned_ahead_and_measured(
    client: TestClient, clock: Clock, demo_world: DemoWorld
) -> None:
    expires = demo_world.store(None, now=DEMO_EPOCH).state.status_lists[URI].status_list.expires_at
    assert _ready(client) == []  # nothing lapses within the default two days
    text = client.get("/metrics").text
    left = _gauge(text, "huren_status_list_seconds_until_expiry", jurisdiction=SZ, uri=URI)
    assert left == (expires - DEMO_EPOCH).total_seconds()
    assert _gauge(text, "huren_trust_list_seconds_until_stale", jurisdiction=SZ) > left

    # A day before expiry: a warning naming the list, the time and what to do; still ready.
    clock.now = expires - timedelta(days=1)
    warnings = _ready(client)
    assert any(
        w.startswith(f"status list {URI} expires at ") and "(in 86400 s)" in w and "renew" in w
        for w in warnings
    ), warnings

    text = client.get("/metrics").text
    assert _gauge(text, "huren_expiry_warnings") >= 1 and _gauge(text, "huren_ready") == 1

    # Expired: its documents can only be INDETERMINATE, so the instance is not ready; the
    # warning says what it means; the gauge goes negative.
    clock.now = expires + timedelta(seconds=5)
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["code"] == "not_ready", r.text
    assert r.json()["checks"][f"status_list:{URI}"].startswith("expired at ")
    warnings = r.json()["warnings"]
    assert any(w.startswith(f"status list {URI} expired at ") for w in warnings), warnings
    assert "INDETERMINATE" in " ".join(warnings)
    text = client.get("/metrics").text
    assert _gauge(text, "huren_status_list_seconds_until_expiry", jurisdiction=SZ, uri=URI) == -5
    assert _gauge(text, "huren_ready") == 0

    # A renewed list uploaded by the admin clears this URI's warning.
    token = demo_world.sign_status_list(URI, issued_at=clock.now - timedelta(seconds=1))
    r = client.post(
        "/v1/status-lists",
        content=token,
        headers={**auth("admin"), "Content-Type": "application/statuslist+jwt"},
    )
    assert r.status_code == 200, r.text
    r = client.get("/readyz")
    assert r.json()["checks"][f"status_list:{URI}"] == "ok"
    assert not any(URI in w for w in r.json()["warnings"])


def _warnings(client: TestClient) -> list[str]:
    """The warnings, ready or not (the demo's status lists expire weeks before its lists)."""
    r = client.get("/readyz")
    assert r.status_code in (200, 503), r.text
    return list(r.json()["warnings"])


def test_trust_list_going_stale_is_warned_and_the_window_is_a_setting(
    demo_world: DemoWorld, tmp_path: Path, clock: Clock
) -> None:
    stale_from = demo_world.trust_lists[SZ].next_update
    clock.now = stale_from - timedelta(hours=1)
    with _client(demo_world, tmp_path / "a", clock) as c:
        warnings = _warnings(c)
    assert any(
        w.startswith(f"trust list {SZ} goes stale at ") and "(in 3600 s)" in w for w in warnings
    ), warnings
    with _client(demo_world, tmp_path / "b", clock, expiry_warning_seconds=1800) as c:
        assert not any(w.startswith("trust list") for w in _warnings(c))
    # Once stale, readiness fails (as before) and the body keeps the warnings.
    clock.now = stale_from
    with _client(demo_world, tmp_path / "c", clock) as c:
        r = c.get("/readyz")
    assert r.status_code == 503 and isinstance(r.json()["warnings"], list)
