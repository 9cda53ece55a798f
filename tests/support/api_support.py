"""Helpers for the service tests: a service directory from the demo world, settings, a clock
that tests move, API keys for every role (and a revoked one), a recording TrustSync stand-in."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.http.auth import hash_secret
from api.settings import Settings
from demo.world import DEMO_EPOCH, DemoWorld
from trust_lists import authoring
from trust_lists.anchors import anchors_to_json

SZ, ZS = "440300", "442000"

SECRETS = {
    "counter": "hk_counter_test_0123456789abcdefghij",
    "business": "hk_business_test_0123456789abcdefgh",
    "admin": "hk_admin_test_0123456789abcdefghijkl",
    "revoked": "hk_revoked_test_0123456789abcdefghij",
}


def api_keys_json() -> str:
    keys = [
        {
            "id": f"{name}-test",
            "role": "admin" if name == "revoked" else name,
            "sha256": hash_secret(secret),
            "revoked": name == "revoked",
        }
        for name, secret in SECRETS.items()
    ]
    return json.dumps({"keys": keys})


def auth(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {SECRETS[role]}"}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def service_dir(world: DemoWorld, root: Path) -> Path:
    """anchors.json, trust/ (filled through a TrustStore) and the receipt key under root."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "anchors.json").write_bytes(anchors_to_json(world.anchors))
    world.store(root / "trust")
    world.receipt_key.save(root / "receipt.pem")
    return root


def settings_for(root: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "anchors": root / "anchors.json",
        "trust_dir": root / "trust",
        "receipt_key": root / "receipt.pem",
        "api_keys_json": api_keys_json(),
        "anonymous_self_check": True,
        "audit_log": root / "audit.log",
        "cache_secret": b"test-cache-secret-0123456789abcdef",
        "instance_id": "test",
    }
    values.update(changes)
    return Settings(**values)


def next_list(world: DemoWorld, code: str, *, issued_at: datetime, sequence_bump: int = 1) -> bytes:
    """The city's list bumped `sequence_bump` times, signed by two of its operators."""
    tl = world.trust_lists[code]
    for _ in range(sequence_bump):
        tl = authoring.next_version(tl, issued_at=issued_at, validity=timedelta(days=30))
    return world.sign_list(tl)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass
class RecordingSync:
    """Stands in for api.sync.fanout.TrustSync where a test needs to see or fail publishes."""

    fail: bool = False
    published: list[tuple[str, bytes]] = field(default_factory=list)
    started: bool = False
    stopped: bool = False
    current_calls: int = 0
    on_publish: Callable[[str, bytes], None] | None = None
    # What /metrics and /readyz read from a TrustSync: never behind, nothing read from Redis.
    refused_by_reason: dict[str, int] = field(default_factory=dict)
    budget_exhausted: dict[str, int] = field(default_factory=dict)
    fetched_from_redis: int = 0
    fetched_bytes_from_redis: int = 0
    verified_from_redis: int = 0
    adopted_from_redis: int = 0

    def lag_seconds(self) -> float:
        return 0.0

    def epochs_behind(self) -> int:
        return 0

    def readiness(self) -> str:
        return "ok (no Redis)"

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def ensure_current(self) -> None:
        self.current_calls += 1

    async def publish(self, kind: str, data: bytes) -> None:
        from api.sync.fanout import SyncPublishError

        if self.fail:
            raise SyncPublishError("redis is down (test)")
        self.published.append((kind, data))
        if self.on_publish is not None:
            self.on_publish(kind, data)


def demo_client(
    world: DemoWorld, folder: Path, *, clock: Clock | None = None, **changes: Any
) -> TestClient:
    """A TestClient of the service over `world` written to `folder`, at the demo's epoch (or
    `clock`), with a RecordingSync and server exceptions answered as the service answers them.
    Use it as a context manager (`with demo_client(...) as c:`) so the app starts and stops."""
    from api.app import create_app

    root = service_dir(world, folder)
    app = create_app(
        settings_for(root, **changes), clock=clock or Clock(DEMO_EPOCH), sync=RecordingSync()
    )  # type: ignore[arg-type]
    return TestClient(app, raise_server_exceptions=False)


@contextmanager
def redis_pair(
    world: DemoWorld, folder: Path, redis_url: str, redis_prefix: str
) -> Iterator[tuple[TestClient, TestClient]]:
    """Two instances ("a", "b") of the service over `world` on the real clock, sharing the Redis
    at redis_url under redis_prefix; only that prefix's keys are deleted after."""
    from api.app import create_app
    from tests.support import redis_support

    clients = []
    for name in ("a", "b"):
        root = service_dir(world, folder / name)
        settings = settings_for(
            root, redis_url=redis_url, redis_prefix=redis_prefix, instance_id=f"test-{name}"
        )
        clients.append(TestClient(create_app(settings), raise_server_exceptions=False))
    with clients[0] as a, clients[1] as b:
        yield a, b
    redis_support.delete_prefix(redis_url, redis_prefix)
