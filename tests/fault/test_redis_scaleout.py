"""Scale-out on Redis Cluster and Redis Sentinel, with real servers on loopback.

Every test starts its own Redis deployment (tests/redis_support.py: a 6-node cluster, or a master,
a replica and three sentinels) and real service processes (tests/server_support.py) pointed at
it, and tears both down. Faults are real: SIGKILL of the master holding the trust keys, a slot
migrated by hand, a Redis restarted empty. Work is counted, never timed; the only waits are
liveness bounds ("back within N seconds")."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from demo.world import DemoWorld, write_demo
from tests.support import redis_support, server_support
from tests.support.api_support import SZ, ZS, auth
from tests.support.redis_support import (
    RedisClusterSet,
    RedisSentinelSet,
    RedisServer,
    migrate_slot,
    trust_key,
)
from trust_lists import authoring

WORKERS = 8
LICENCE = "/v1/licences/verify"


def cluster_env(cluster: RedisClusterSet, prefix: str) -> dict[str, str]:
    return {
        "HUREN_REDIS_MODE": "cluster",
        "HUREN_REDIS_NODES": ",".join(cluster.seeds[:3]),
        "HUREN_REDIS_PREFIX": prefix,
        "HUREN_REDIS_TIMEOUT_SECONDS": "0.5",
        "HUREN_REDIS_WAIT_SECONDS": "1.0",
        "HUREN_LOG_LEVEL": "INFO",
    }


def sentinel_env(sentinels: RedisSentinelSet, prefix: str) -> dict[str, str]:
    return {
        "HUREN_REDIS_MODE": "sentinel",
        "HUREN_REDIS_SENTINELS": ",".join(sentinels.addresses),
        "HUREN_REDIS_MASTER_NAME": redis_support.MASTER_NAME,
        "HUREN_REDIS_PREFIX": prefix,
        "HUREN_REDIS_TIMEOUT_SECONDS": "0.5",
        "HUREN_REDIS_WAIT_SECONDS": "1.0",
        "HUREN_LOG_LEVEL": "INFO",
    }


def instances(
    tmp_path: Path, env: dict[str, str], count: int = 2
) -> tuple[DemoWorld, list[server_support.ServiceProcess]]:
    """`count` services, each with its own copy of one demo world's trust directory."""
    world = server_support.demo_directory(tmp_path / "demo0")
    services = []
    try:
        for i in range(count):
            directory = tmp_path / f"demo{i}"
            if i:
                write_demo(directory, world)
            services.append(server_support.start(directory, env=env))
    except BaseException:
        for service in services:
            service.stop()
        raise
    return world, services


def warnings_in(service: server_support.ServiceProcess) -> list[str]:
    out = []
    for line in service.log.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            if "WARNING" in line or "Traceback" in line:
                out.append(line)
            continue
        if isinstance(record, dict) and record.get("level") in ("warning", "error", "critical"):
            out.append(line)
    return out


def next_list(world: DemoWorld, code: str, seconds_ago: int = 1) -> bytes:
    """The next version of `code`'s list (each call one sequence further)."""
    tl = authoring.next_version(
        world.trust_lists[code],
        issued_at=datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=seconds_ago),
        validity=timedelta(days=30),
    )
    world.trust_lists[code] = tl
    return world.sign_list(tl)


async def upload(c: httpx.AsyncClient, code: str, data: bytes) -> httpx.Response:
    return await c.put(
        f"/v1/trust-lists/{code}",
        content=data,
        headers={**auth("admin"), "content-type": "application/json"},
    )


def signature(verdict: dict[str, Any]) -> tuple[Any, ...]:
    return (
        verdict["indication"],
        verdict["sub_indication"],
        tuple((c["code"], c["result"]) for c in verdict["checks"]),
    )


@dataclass
class Load:
    """Eight clients verifying licences against a set of services while a fault happens."""

    urls: list[str]
    inputs: list[dict[str, Any]]
    ok: int = 0
    errors: list[str] = field(default_factory=list)
    verdicts: dict[str, set[tuple[Any, ...]]] = field(default_factory=dict)

    async def run(self, stop: asyncio.Event) -> None:
        rng = random.Random(15)
        clients = [httpx.AsyncClient(base_url=u, timeout=15) for u in self.urls]

        async def worker(n: int) -> None:
            c = clients[n % len(clients)]
            while not stop.is_set():
                body = rng.choice(self.inputs)
                try:
                    r = await c.post(LICENCE, json=body, headers=auth("counter"))
                except httpx.HTTPError as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                if r.status_code != 200:
                    self.errors.append(f"{r.status_code} {r.text[:200]}")
                    continue
                self.ok += 1
                v = r.json()["verdict"]
                self.verdicts.setdefault(body["token"][-16:], set()).add(signature(v))

        try:
            await asyncio.gather(*(worker(n) for n in range(WORKERS)))
        finally:
            for c in clients:
                await c.aclose()


def licences(world: DemoWorld, count: int, tag: str) -> list[dict[str, Any]]:
    return [
        {
            "token": world.issue_licence(SZ, number=f"440300-{tag}-{i:04d}"),
            "relying_jurisdiction": ZS,
        }
        for i in range(count)
    ]


async def eventually(check: Callable[[], Awaitable[bool]], within: float, what: str) -> float:
    """Poll until check() holds; how long it took. A liveness bound, not a timing claim."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > within:
            raise AssertionError(f"{what}: not within {within} s")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


# ---------------------------------------------------------------------------- cluster, healthy


def test_two_instances_on_a_cluster_share_rotations_and_a_spread_cache(
    redis_cluster: RedisClusterSet, tmp_path: Path
) -> None:
    prefix = redis_support.random_prefix("cluster")
    world, (a, b) = instances(tmp_path, cluster_env(redis_cluster, prefix))
    inputs = licences(world, 60, "SPREAD")

    async def main() -> None:
        async with (
            httpx.AsyncClient(base_url=a.url, timeout=10) as ca,
            httpx.AsyncClient(base_url=b.url, timeout=10) as cb,
        ):
            for body in inputs:  # first pass on A: computed and cached
                r = await ca.post(LICENCE, json=body, headers=auth("counter"))
                assert r.status_code == 200 and r.json()["cached"] is False, r.text
            hits = 0
            for body in inputs:  # second pass on B: served from the cluster
                r = await cb.post(LICENCE, json=body, headers=auth("counter"))
                assert r.status_code == 200, r.text
                hits += r.json()["cached"] is True
            assert hits >= 0.95 * len(inputs), f"{hits} of {len(inputs)} cached"

            # A rotation uploaded to A is served by B on the next request.
            r = await upload(ca, SZ, next_list(world, SZ))
            assert r.status_code == 200, r.text
            r = await cb.post(LICENCE, json=inputs[0], headers=auth("counter"))
            v = r.json()["verdict"]
            assert v["trust"]["list_sequence"] == 2 and v["indication"] == "PASSED"
            for c in (ca, cb):
                ready = (await c.get("/readyz")).json()
                assert ready["checks"]["trust_sync"] == "ok", ready
                metrics = (await c.get("/metrics", headers=auth("admin"))).text
                assert "huren_trust_sync_available 1.0" in metrics
                assert 'huren_redis_errors_total{kind="crossslot"} 0.0' in metrics

    try:
        asyncio.run(main())
    finally:
        a.stop()
        b.stop()
    # Verdicts on every master; the trust keys on one.
    per_master = {}
    for port in redis_cluster.masters():
        conn = redis_support.client(redis_cluster.by_port(port).url)
        per_master[port] = sum(
            1 for _ in conn.scan_iter(match=redis_support.match_prefix(prefix + "verdict"))
        )
        conn.close()
    assert all(per_master.values()) and len(per_master) == 3, per_master
    assert warnings_in(a) == [] and warnings_in(b) == []


# ---------------------------------------------------------------------------- failover


def check_acknowledged(acked: list[int], current: Callable[[], int]) -> None:
    """Every acknowledged upload survived: Redis holds at least the highest acknowledged one."""
    if acked:
        assert current() >= max(acked), (acked, current())


def _failover_run(
    urls: list[str],
    world: DemoWorld,
    kill: Callable[[], None],
    redis_seq: Callable[[], int],
) -> tuple[Load, list[int], list[int], float]:
    """Load on every instance; uploads to the first one keep coming; the fault in the middle.
    Returns the load, acknowledged and refused upload sequences, and seconds to recovery."""
    load = Load(urls, licences(world, 40, "FAIL"))
    acked: list[int] = []
    refused: list[int] = []
    recovery = 0.0

    async def main() -> None:
        nonlocal recovery
        stop = asyncio.Event()
        runner = asyncio.create_task(load.run(stop))
        async with httpx.AsyncClient(base_url=urls[0], timeout=15) as c:

            async def one_upload() -> bool:
                data = next_list(world, SZ)
                seq = world.trust_lists[SZ].sequence
                r = await upload(c, SZ, data)
                if r.status_code == 200:
                    acked.append(seq)
                    return True
                assert r.status_code == 503, r.text
                assert r.json()["code"] == "sync_unavailable", r.text
                refused.append(seq)
                return False

            await asyncio.sleep(1.0)
            assert await one_upload()
            await asyncio.to_thread(kill)
            for _ in range(6):  # during the failover
                await one_upload()
                await asyncio.sleep(0.2)
            recovery = await eventually(one_upload, 30.0, "uploads acknowledged again")
            await asyncio.sleep(1.0)
        stop.set()
        await runner
        # Every instance serves the newest acknowledged list on its next request, and its
        # cache works again.
        for url in urls:
            async with httpx.AsyncClient(base_url=url, timeout=15) as c:
                r = await c.post(LICENCE, json=load.inputs[0], headers=auth("counter"))
                assert r.json()["verdict"]["trust"]["list_sequence"] == max(acked), r.text

                async def hit(c: httpx.AsyncClient = c) -> bool:
                    r = await c.post(LICENCE, json=load.inputs[1], headers=auth("counter"))
                    return r.json()["cached"] is True

                await eventually(hit, 15.0, "the cache serves hits again")

    asyncio.run(main())
    check_acknowledged(acked, redis_seq)
    return load, acked, refused, recovery


def _failover_instances(
    tmp_path: Path, name: str, env: Callable[[str], dict[str, str]]
) -> tuple[DemoWorld, list[server_support.ServiceProcess], str]:
    """Two instances on a fresh key prefix, and the Redis key of the trust sequences."""
    prefix = redis_support.random_prefix(name)
    world, services = instances(tmp_path, env(prefix))
    return world, services, trust_key(prefix, "trust-seqs")


def _held_sequence(conn: Any, seqs_key: str) -> int:
    """Shenzhen's list sequence Redis holds, read on `conn`, which is closed after."""
    try:
        return int(conn.hget(seqs_key, f"trust_list:{SZ}") or 0)
    finally:
        conn.close()


def _served_throughout(load: Load) -> None:
    """No request failed, the load was real, and each input got one verdict all along."""
    assert load.errors == [], load.errors[:5]
    assert load.ok > 100
    assert all(len(v) == 1 for v in load.verdicts.values())


def test_kill_9_of_the_master_holding_the_trust_keys_under_load(
    redis_cluster: RedisClusterSet, tmp_path: Path
) -> None:
    world, services, seqs_key = _failover_instances(
        tmp_path, "failover", lambda prefix: cluster_env(redis_cluster, prefix)
    )

    def redis_seq() -> int:
        conn = redis.RedisCluster(
            startup_nodes=[
                redis.cluster.ClusterNode("127.0.0.1", n.port) for n in redis_cluster.alive()
            ]
        )
        return _held_sequence(conn, seqs_key)

    def kill() -> None:
        redis_cluster.kill9(redis_cluster.master_of(seqs_key))

    try:
        load, acked, refused, recovery = _failover_run(
            [s.url for s in services], world, kill, redis_seq
        )
    finally:
        for s in services:
            s.stop()
    _served_throughout(load)
    assert len(acked) >= 2, (acked, refused)
    print(f"cluster failover: {load.ok} verdicts, uploads acked {acked}, 503 {refused}, "
          f"back after {recovery:.1f} s")  # fmt: skip


def test_sentinel_failover_under_load_and_the_old_master_is_never_written(
    redis_sentinel: RedisSentinelSet, tmp_path: Path
) -> None:
    world, services, seqs_key = _failover_instances(
        tmp_path, "sentinel", lambda prefix: sentinel_env(redis_sentinel, prefix)
    )
    old = redis_sentinel.master

    def redis_seq() -> int:
        port = redis_sentinel.current_master_port()
        assert port is not None
        conn = redis_support.client(f"redis://127.0.0.1:{port}/0")
        return _held_sequence(conn, seqs_key)

    def kill() -> None:
        redis_sentinel.kill9(old)

    try:
        load, acked, refused, recovery = _failover_run(
            [s.url for s in services], world, kill, redis_seq
        )
        # The old master comes back empty (no persistence) and briefly believes it is master.
        old.start()
        asyncio.run(_uploads(services[0].url, world, 3))
        assert redis_sentinel.current_master_port() == redis_sentinel.replica.port
        stats = redis_support.client(old.url).info("commandstats")
        # Writes reach it only through replication (as effects: HSET, INCR...), never a client's
        # publish script, epoch read or cache read.
        assert not {"cmdstat_eval", "cmdstat_evalsha", "cmdstat_mget", "cmdstat_get"} & set(
            stats
        ), sorted(stats)
        check_acknowledged(acked, redis_seq)
    finally:
        for s in services:
            s.stop()
    _served_throughout(load)
    print(f"sentinel failover: {load.ok} verdicts, uploads acked {acked}, 503 {refused}, "
          f"back after {recovery:.1f} s")  # fmt: skip


async def _uploads(url: str, world: DemoWorld, count: int) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=15) as c:
        for _ in range(count):
            r = await upload(c, SZ, next_list(world, SZ))
            assert r.status_code in (200, 503), r.text


# ---------------------------------------------------------------------------- reshard


def test_resharding_the_trust_slot_under_load(
    redis_cluster: RedisClusterSet, tmp_path: Path
) -> None:
    prefix = redis_support.random_prefix("reshard")
    world, services = instances(tmp_path, cluster_env(redis_cluster, prefix))
    seqs_key = trust_key(prefix, "trust-seqs")
    load = Load([s.url for s in services], licences(world, 40, "RESHARD"))

    async def main() -> None:
        stop = asyncio.Event()
        runner = asyncio.create_task(load.run(stop))
        async with (
            httpx.AsyncClient(base_url=services[0].url, timeout=15) as ca,
            httpx.AsyncClient(base_url=services[1].url, timeout=15) as cb,
        ):
            await asyncio.sleep(1.0)
            assert (await upload(ca, SZ, next_list(world, SZ))).status_code == 200
            source = redis_cluster.master_of(seqs_key)
            target = next(
                redis_cluster.by_port(p) for p in redis_cluster.masters() if p != source.port
            )
            slot = redis_cluster.keyslot(seqs_key)
            await asyncio.to_thread(migrate_slot, redis_cluster, slot, source, target)
            assert redis_cluster.master_of(seqs_key).port == target.port
            # Uploads and notifications follow the slot.
            r = await upload(ca, SZ, next_list(world, SZ))
            assert r.status_code == 200, r.text
            r = await cb.post(LICENCE, json=load.inputs[0], headers=auth("counter"))
            assert r.json()["verdict"]["trust"]["list_sequence"] == 3, r.text
            await asyncio.sleep(1.0)
        stop.set()
        await runner

    try:
        asyncio.run(main())
    finally:
        for s in services:
            s.stop()
    assert load.errors == [], load.errors[:5]
    assert all(len(v) <= 3 for v in load.verdicts.values())
    for s in services:  # the subscription followed the slot, and nothing was an outage
        assert "the trust slot moved" in s.log.read_text()
        assert warnings_in(s) == [], warnings_in(s)[:3]


# ---------------------------------------------------------------------------- wiped


def test_a_wiped_redis_gets_the_newest_acknowledged_list_back(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """An upload is acknowledged; Redis restarts empty (no persistence); an instance that held
    the upload re-publishes it, so a new instance started from the original trust directory
    serves the newest list, not its own older one."""
    prefix = redis_support.random_prefix("wiped")
    env = {"HUREN_REDIS_URL": redis_server.url, "HUREN_REDIS_PREFIX": prefix}
    world, (a, b) = instances(tmp_path, env)
    write_demo(tmp_path / "fresh", world)  # the original directory: sequence 1
    seqs_key = trust_key(prefix, "trust-seqs")
    fresh: server_support.ServiceProcess | None = None

    async def redis_holds_2() -> bool:
        conn = redis_support.client(redis_server.url)
        try:
            return int(conn.hget(seqs_key, f"trust_list:{SZ}") or 0) == 2
        except (redis.RedisError, OSError):
            return False
        finally:
            conn.close()

    async def main() -> None:
        nonlocal fresh
        async with httpx.AsyncClient(base_url=a.url, timeout=10) as ca:
            assert (await upload(ca, SZ, next_list(world, SZ))).status_code == 200
        conn = redis_support.client(redis_server.url)
        before = conn.get(trust_key(prefix, "trust-incarnation"))
        conn.close()
        assert before
        await asyncio.to_thread(redis_server.stop)
        await asyncio.to_thread(redis_server.start)  # same port, empty
        await eventually(redis_holds_2, 20.0, "an instance re-published the newest list")
        conn = redis_support.client(redis_server.url)
        assert conn.get(trust_key(prefix, "trust-incarnation")) != before  # it was wiped
        conn.close()
        fresh = await asyncio.to_thread(server_support.start, tmp_path / "fresh", env=env)
        async with httpx.AsyncClient(base_url=fresh.url, timeout=10) as cf:
            r = await cf.post(
                LICENCE,
                json={"token": world.licence_sz, "relying_jurisdiction": ZS},
                headers=auth("counter"),
            )
            assert r.json()["verdict"]["trust"]["list_sequence"] == 2, r.text

    try:
        asyncio.run(main())
    finally:
        for s in (a, b, fresh):
            if s is not None:
                s.stop()


def test_a_prefix_with_a_hash_tag_is_refused_at_start(tmp_path: Path) -> None:
    from api.settings import Settings, SettingsError

    with pytest.raises(SettingsError, match="remove the braces"):
        Settings.load(
            env={"HUREN_REDIS_URL": "redis://127.0.0.1:1/0", "HUREN_REDIS_PREFIX": "{x}:"}
        )


# ---------------------------------------------------------------------------- error kinds


def test_cluster_errors_are_classified_counted_and_said_once(
    redis_cluster: RedisClusterSet, caplog: pytest.LogCaptureFixture
) -> None:
    """Real error replies from a real cluster, each met through a plain connection to one node:
    CROSSSLOT, MOVED and READONLY are classified, counted by kind, and an outage is said once
    (WARNING) and its end once (INFO)."""
    import logging

    from api.state.redis import Health, RedisConfig, SharedRedis, classify

    owner = SharedRedis(RedisConfig(mode="cluster", nodes=(("127.0.0.1", 1),)))
    master = redis_cluster.master_of("a")
    replica = next(n for n in redis_cluster.alive() if n.port not in redis_cluster.masters())
    errors: list[BaseException] = []
    conn = redis_support.client(master.url)
    for command in (("MGET", "a", "b"), ("GET", "b"), ("GET", "a")):
        try:
            (
                redis_support.client(replica.url) if command == ("GET", "a") else conn
            ).execute_command(*command)
        except redis.RedisError as exc:
            errors.append(exc)
    conn.close()
    kinds = [classify(e) for e in errors]
    assert kinds[:2] == ["crossslot", "moved"], errors
    # A replica answers MOVED for a read unless READONLY mode is on: a write says READONLY.
    try:
        redis.Redis(port=replica.port, socket_timeout=1).set("x{a}", "1")
    except redis.RedisError as exc:
        assert classify(exc) in ("readonly", "moved"), exc

    async def main() -> None:
        health = Health(owner, "test use", "carrying on", logger=logging.getLogger("huren.test"))
        for e in errors:
            health.failure(e)
        assert not health.available and health.outages == 1
        health.success()
        assert health.available

    caplog.set_level(logging.INFO, logger="huren.test")
    asyncio.run(main())
    assert owner.errors["crossslot"] == 1 and owner.errors["moved"] >= 1
    records = [r for r in caplog.records if r.name == "huren.test"]
    assert [r.levelno for r in records] == [logging.WARNING, logging.INFO], records
    assert "crossslot" in records[0].getMessage()
