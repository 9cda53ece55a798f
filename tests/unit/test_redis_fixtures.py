"""The Redis fixtures themselves: a shared server that works, a private one that can be killed."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from tests.support import redis_support


def test_shared_redis_set_get(redis_client: redis.Redis, redis_prefix: str) -> None:
    key = redis_prefix + "k"
    assert redis_client.set(key, b"v", ex=60)
    assert redis_client.get(key) == b"v"


def test_redis_client_cleans_only_its_prefix(redis_url: str) -> None:
    mine, other = redis_support.random_prefix(), redis_support.random_prefix()
    conn = redis_support.client(redis_url)
    try:
        conn.set(mine + "a", 1, ex=60)
        conn.set(mine + "b", 2, ex=60)
        conn.set(other + "a", 3, ex=60)
        redis_support.delete_prefix(redis_url, mine)
        assert conn.exists(mine + "a", mine + "b") == 0
        assert conn.get(other + "a") == b"3"
    finally:
        conn.delete(other + "a")
        conn.close()


def test_private_server_stop_and_start(redis_server: redis_support.RedisServer) -> None:
    port = redis_server.port
    pid = redis_server.pid
    assert pid is not None
    conn = redis_support.client(redis_server.url)
    try:
        conn.set("k", "v")
        assert conn.get("k") == b"v"
        redis_server.stop()
        assert not redis_support.ping(redis_server.url)
        with pytest.raises(redis.ConnectionError):
            conn.get("k")
        redis_server.start()
        assert redis_server.port == port
        assert redis_server.pid not in (None, pid)
        assert conn.get("k") is None  # no persistence: a restart loses everything
        conn.set("k", "again")
        assert conn.get("k") == b"again"
    finally:
        conn.close()
    redis_server.stop()
    redis_server.stop()  # idempotent


def test_private_server_is_not_the_shared_one(
    redis_url: str, redis_server: redis_support.RedisServer
) -> None:
    assert redis_server.url != redis_url
    assert redis_support.ping(redis_server.url)


def test_start_twice_refused(redis_server: redis_support.RedisServer) -> None:
    with pytest.raises(RuntimeError, match="already running"):
        redis_server.start()


def test_random_prefixes_differ() -> None:
    prefixes = {redis_support.random_prefix() for _ in range(100)}
    assert len(prefixes) == 100
    assert all(p.startswith("huren-test:") and p.endswith(":") for p in prefixes)


def test_unavailable_skips_or_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(redis_support.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="REDIS UNAVAILABLE"):
        redis_support.unavailable("testing")
    monkeypatch.setenv(redis_support.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="REDIS UNAVAILABLE"):
        redis_support.unavailable("testing")


def test_ping_of_closed_port_is_false() -> None:
    assert not redis_support.ping(f"redis://127.0.0.1:{redis_support.free_port()}/0", timeout=0.2)


def test_missing_binary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis_support, "redis_server_binary", lambda: None)
    with pytest.raises(FileNotFoundError):
        redis_support.RedisServer(tmp_path)


def test_redis_marker_added(request: pytest.FixtureRequest, redis_url: str) -> None:
    assert request.node.get_closest_marker("redis") is not None
