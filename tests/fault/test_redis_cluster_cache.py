"""The verdict cache's hot path on a real Redis Cluster: GETs go through the lean client of the
slot's master (SharedRedis.lean_for, from redis-py's slot map), and after a slot migration and
after a failover they give the same answers as before, from the new master. Work is counted,
never timed; the only waits are liveness bounds."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis

from api.state.cache import RedisVerdictCache, cache_key
from api.state.redis import RedisConfig, SharedRedis, key_slot, parse_address
from api.state.resp import RespClient
from tests.support import redis_support
from tests.support.redis_support import RedisClusterSet, migrate_slot

SECRET = b"c" * 32
N = 24


def verdict_key(n: int) -> str:
    return cache_key(
        kind="licence",
        document_sha256=f"{n:064x}",
        relying="442000",
        at=None,
        expectations={},
        trust_version="v1",
    )


def value(n: int) -> dict[str, Any]:
    return {"indication": "PASSED", "sub_indication": None, "checks": [{"code": "n", "n": n}]}


def test_key_slot_is_the_clusters() -> None:
    """The owner's CRC16 slot equals redis-py's (itself checked against the server below)."""
    from redis.crc import key_slot as redis_py_key_slot

    for key in ("", "a", "{a}b", "x{}y", "{}", "{a", "a}{b}", "huren:v1:verdict3:00", "{p:}trust"):
        assert key_slot(key) == redis_py_key_slot(key.encode()), key


def test_lean_gets_follow_a_slot_migration_and_a_failover(redis_cluster: RedisClusterSet) -> None:
    prefix = redis_support.random_prefix("lean")
    owner = SharedRedis(
        RedisConfig(
            mode="cluster",
            nodes=tuple(parse_address(s) for s in redis_cluster.seeds[:3]),
            prefix=prefix,
            timeout=0.5,
        )
    )
    # One cache remembers verified entries, the other verifies every read: both must agree.
    caches = [
        RedisVerdictCache(secret=SECRET, redis=owner, backoff_max=0.5),
        RedisVerdictCache(secret=SECRET, redis=owner, backoff_max=0.5, memo_bytes=0),
    ]
    stored = [prefix + verdict_key(n).removeprefix("huren:v1:") for n in range(N)]
    for key in stored:  # the server's slot for each key is the owner's
        assert redis_cluster.keyslot(key) == key_slot(key)

    def lean_port(n: int) -> int:
        lean = owner.lean_for(stored[n])
        assert isinstance(lean, RespClient)
        return lean.endpoint.port

    async def answers(cache: RedisVerdictCache) -> list[dict[str, Any] | None]:
        return [await cache.get(verdict_key(n)) for n in range(N)]

    async def until_all_answer(cache: RedisVerdictCache, bound: float = 30.0) -> None:
        deadline = time.monotonic() + bound
        while await answers(cache) != [value(n) for n in range(N)]:
            assert time.monotonic() < deadline, (cache.available, owner.errors)
            await asyncio.sleep(0.2)

    async def main() -> None:
        try:
            for n in range(N):
                await caches[0].set(verdict_key(n), value(n), 300)
            for cache in caches:
                assert await answers(cache) == [value(n) for n in range(N)]
            # Every read went to the key's master through a lean connection of its own.
            masters = {redis_cluster.master_of(k).port for k in stored}
            assert len(masters) == 3, masters  # the keys spread over the shards
            assert {lean_port(n) for n in range(N)} == masters
            assert set(owner._lean_nodes) == {f"127.0.0.1:{p}" for p in masters}

            # A slot migrated by hand: the first read meets MOVED and is followed once through
            # redis-py; the slot map is read again and the lean client of the new master serves.
            source = redis_cluster.master_of(stored[0])
            target = next(p for p in masters if p != source.port)
            await asyncio.to_thread(
                migrate_slot,
                redis_cluster,
                key_slot(stored[0]),
                source,
                redis_cluster.by_port(target),
            )
            for cache in caches:
                assert await answers(cache) == [value(n) for n in range(N)]
            assert lean_port(0) == target
            assert all(c.available and c.outages == 0 and c.errors == 0 for c in caches)
            assert owner.errors["moved"] == 0  # followed, not an error

            # The master of another key killed (its replica holds every entry: WAIT first).
            victim = redis_cluster.master_of(stored[1])
            conn = redis_support.client(victim.url, timeout=5)
            try:
                assert conn.execute_command("WAIT", 1, 5000) >= 1
            finally:
                conn.close()
            lost = [n for n in range(N) if redis_cluster.master_of(stored[n]).port == victim.port]
            redis_cluster.kill9(victim)
            await asyncio.to_thread(redis_cluster.wait_healthy)
            for cache in caches:  # an outage while the shard fails over, then the same answers
                await until_all_answer(cache)
            promoted = redis_cluster.master_of(stored[1]).port
            assert promoted != victim.port
            assert {lean_port(n) for n in lost} == {promoted}
            assert all(c.available for c in caches)
            assert caches[0].rejected_entries == caches[1].rejected_entries == 0
        finally:
            for cache in caches:
                await cache.close()
            await owner.close()

    asyncio.run(main())
    # The entries really are in the cluster under the keys read (nothing served from elsewhere).
    nodes = [redis.cluster.ClusterNode("127.0.0.1", n.port) for n in redis_cluster.alive()]
    conn = redis.RedisCluster(startup_nodes=nodes)
    try:
        assert all(conn.get(k) for k in stored)
    finally:
        conn.close()
