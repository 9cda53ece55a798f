"""Shared fixtures. Redis policy and helpers live in tests/support/redis_support.py."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import pytest
import redis

from demo.world import DEMO_EPOCH, DemoWorld, build_demo_world
from tests.support import redis_support, vectors

# ---------------------------------------------------------------------------- vectors


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One loud line when the shared vectors were absent (their tests skipped or failed)."""
    if vectors.missing:
        terminalreporter.write_line(
            f"VECTOR TESTS NOT RUN: {len(set(vectors.missing))} vector files not found under "
            f"{vectors.VECTORS}; tests against public material were skipped "
            f"(set {vectors.REQUIRE_ENV}=1 to make this a failure, as .ci/run does).",
            red=True,
            bold=True,
        )


# ---------------------------------------------------------------------------- Redis

_REDIS_FIXTURES = frozenset(
    {"redis_url", "redis_server", "redis_client", "redis_cluster", "redis_sentinel"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test using a Redis fixture gets the `redis` marker (so `-m "not redis"` works)."""
    for item in items:
        if _REDIS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.redis)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a real Redis: $REDIS_URL, else 127.0.0.1:6379 if it answers, else a throwaway
    redis-server for this session. Shared: write only under `redis_prefix` / `random_prefix`."""
    env = os.environ.get("REDIS_URL")
    if env:
        if not redis_support.wait_for_ping(env, timeout=5.0):
            redis_support.unavailable(f"REDIS_URL={env} does not answer PING")
        yield env
        return
    if redis_support.ping(redis_support.DEFAULT_URL):
        yield redis_support.DEFAULT_URL
        return
    if redis_support.redis_server_binary() is None:
        redis_support.unavailable(
            "nothing answers on 127.0.0.1:6379 and redis-server is not on PATH"
        )
    server = redis_support.RedisServer.launch(tmp_path_factory.mktemp("redis-session"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis_support.RedisServer]:
    """A private throwaway redis-server for this test (free to stop() and start() again on the
    same port); always a new process, never the shared one."""
    if redis_support.redis_server_binary() is None:
        redis_support.unavailable("redis-server is not on PATH (needed for a private server)")
    server = redis_support.RedisServer.launch(tmp_path_factory.mktemp("redis-private"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_prefix(request: pytest.FixtureRequest) -> str:
    """A key prefix unique to this test run and test."""
    return redis_support.random_prefix(request.node.name[:40])


@pytest.fixture
def redis_client(redis_url: str, redis_prefix: str) -> Iterator[redis.Redis]:
    """A client of the shared Redis. Use keys under `redis_prefix`; only those are deleted."""
    conn = redis_support.client(redis_url, timeout=2.0)
    try:
        yield conn
    finally:
        conn.close()
        redis_support.delete_prefix(redis_url, redis_prefix)


# ---------------------------------------------------------------------------- demo world


@pytest.fixture(scope="session")
def demo_world() -> DemoWorld:
    """The Shenzhen-Zhongshan demo world (demo/world.py) built at DEMO_EPOCH: real keys, lists,
    status lists, catalogue and sample documents. Shared by the whole session: read-only."""
    return build_demo_world(DEMO_EPOCH)


class _Servers(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


_RedisSet = TypeVar("_RedisSet", bound=_Servers)


def _private_redis(
    kind: Callable[[Path], _RedisSet], factory: pytest.TempPathFactory, folder: str
) -> Iterator[_RedisSet]:
    """Start a private set of redis-server processes in a new folder; stop it after."""
    redis_support.need_redis_binaries()
    servers = kind(factory.mktemp(folder))
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()


@pytest.fixture
def redis_cluster(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[redis_support.RedisClusterSet]:
    """A private 6-node Redis Cluster (3 masters, 3 replicas) for this test; stopped after."""
    yield from _private_redis(redis_support.RedisClusterSet, tmp_path_factory, "redis-cluster")


@pytest.fixture
def redis_sentinel(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[redis_support.RedisSentinelSet]:
    """A private master, replica and three sentinels for this test; stopped after."""
    yield from _private_redis(redis_support.RedisSentinelSet, tmp_path_factory, "redis-sentinel")
