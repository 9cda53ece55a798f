"""Redis killed and restarted while requests flow (GitHub issue 7).

A real service process (uvicorn, the `huren serve` path) uses a private throwaway redis-server
for its verdict cache and trust sync. Eight clients keep verifying licences and seals of both
cities, some repeated (cache hits) and some never seen before (misses), while Redis is killed
with SIGKILL and, a couple of seconds later, started again on the same port (empty: no
persistence). Every request must succeed with the verdict it got before the fault; readiness
stays 200 (verdicts are right without the cache) and its body reports the outage and its end;
after the restart the cache serves hits again and an admin upload is acknowledged (published
through Redis) and seen by the next verdict. (tests/service/test_cache.py and
tests/service/test_sync.py cover the outage logic in process.)"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.support import redis_support, server_support
from tests.support.api_support import SZ, ZS, auth
from tests.support.redis_support import RedisServer
from trust_lists import authoring

WORKERS = 8


def signature(verdict: dict[str, Any]) -> tuple[Any, ...]:
    """What must not change: the decision and every check's result (not the validation time)."""
    return (
        verdict["indication"],
        verdict["sub_indication"],
        tuple((c["code"], c["result"]) for c in verdict["checks"]),
        verdict["trust"]["trust_state_version"],
    )


@dataclass
class Flow:
    results: list[tuple[float, str, int, tuple[Any, ...] | None, bool]] = field(
        default_factory=list
    )
    errors: list[str] = field(default_factory=list)
    ready: list[tuple[float, int, str]] = field(default_factory=list)  # time, status, cache


def test_redis_killed_and_restarted_while_requests_flow(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    directory = tmp_path / "demo"
    world = server_support.demo_directory(directory)
    prefix = redis_support.random_prefix("fault")
    server = server_support.start(
        directory,
        env={
            "HUREN_REDIS_URL": redis_server.url,
            "HUREN_REDIS_PREFIX": prefix,
            "HUREN_REDIS_TIMEOUT_SECONDS": "0.25",
        },
    )
    licences_sz = [world.licence_sz] + [
        world.issue_licence(SZ, number=f"440300-FAULT-{i:04d}") for i in range(150)
    ]
    licences_zs = [world.licence_zs] + [
        world.issue_licence(ZS, number=f"442000-FAULT-{i:04d}") for i in range(150)
    ]
    # (name, path, body, role): the first of each family is "hot" (a cache hit after its first
    # request), the others are each new to the cache the first time they are sent.
    inputs: list[tuple[str, str, dict[str, Any], str]] = []
    licence = "/v1/licences/verify"
    for i, token in enumerate(licences_sz):
        inputs.append((f"sz-{i}", licence, {"token": token, "relying_jurisdiction": ZS}, "counter"))
    for i, token in enumerate(licences_zs):
        inputs.append((f"zs-{i}", licence, {"token": token, "relying_jurisdiction": SZ}, "counter"))
    seal = {"token": world.seal_sz, "relying_jurisdiction": ZS}
    inputs.append(("seal", "/v1/seals/verify", seal, "business"))
    hot = [x for x in inputs if x[0] in ("sz-0", "zs-0", "seal")]
    family = {"sz": "sz-0", "zs": "zs-0", "seal": "seal"}
    flow = Flow()
    baseline: dict[str, tuple[Any, ...]] = {}

    async def main() -> None:
        limits = httpx.Limits(max_connections=WORKERS + 2)
        async with httpx.AsyncClient(base_url=server.url, timeout=10, limits=limits) as c:
            for name, path, body, role in hot:
                r = await c.post(path, json=body, headers=auth(role))
                assert r.status_code == 200, r.text
                baseline[name] = signature(r.json()["verdict"])
            stop = asyncio.Event()
            started = time.monotonic()
            rng = random.Random(11)

            async def worker() -> None:
                while not stop.is_set():
                    name, path, body, role = (
                        rng.choice(hot) if rng.random() < 0.5 else rng.choice(inputs)
                    )
                    try:
                        r = await c.post(path, json=body, headers=auth(role))
                    except httpx.HTTPError as exc:
                        flow.errors.append(f"{name}: {type(exc).__name__}: {exc}")
                        continue
                    if r.status_code != 200:
                        flow.errors.append(f"{name}: {r.status_code} {r.text[:200]}")
                        continue
                    body_json = r.json()
                    flow.results.append(
                        (
                            time.monotonic() - started,
                            name,
                            r.status_code,
                            signature(body_json["verdict"]),
                            body_json["cached"],
                        )
                    )

            async def readiness() -> None:
                # Its own connection: the workers' pool is not fair to a slow poller.
                async with httpx.AsyncClient(base_url=server.url, timeout=10) as probe:
                    while not stop.is_set():
                        r = await probe.get("/readyz")
                        cache = str(r.json().get("checks", {}).get("cache", ""))
                        flow.ready.append((time.monotonic() - started, r.status_code, cache))
                        await asyncio.sleep(0.1)

            tasks = [asyncio.create_task(worker()) for _ in range(WORKERS)]
            tasks.append(asyncio.create_task(readiness()))
            await asyncio.sleep(1.0)
            assert redis_server.pid is not None
            os.kill(redis_server.pid, signal.SIGKILL)  # killed, not shut down
            while redis_support.ping(redis_server.url, timeout=0.1):
                await asyncio.sleep(0.02)
            flow.ready.append((time.monotonic() - started, -1, ""))  # marks the kill
            await asyncio.sleep(1.5)
            await asyncio.to_thread(redis_server.start)  # same port, empty
            flow.ready.append((time.monotonic() - started, -2, ""))  # marks the restart
            await asyncio.sleep(2.5)
            stop.set()
            await asyncio.gather(*tasks)

            # After the restart: an upload is acknowledged, i.e. published through Redis ...
            tl = authoring.next_version(
                world.trust_lists[SZ],
                issued_at=datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1),
                validity=timedelta(days=30),
            )
            r = await c.put(
                f"/v1/trust-lists/{SZ}",
                content=world.sign_list(tl),
                headers={**auth("admin"), "content-type": "application/json"},
            )
            assert r.status_code == 200, r.text
            # ... and the next verdict is computed under it.
            r = await c.post(
                "/v1/licences/verify",
                json={"token": world.licence_sz, "relying_jurisdiction": ZS},
                headers=auth("counter"),
            )
            v = r.json()["verdict"]
            assert r.json()["cached"] is False and v["trust"]["list_sequence"] == 2
            assert v["indication"] == "PASSED"

    try:
        asyncio.run(main())
    finally:
        server.stop()

    assert flow.errors == [], flow.errors[:10]
    kill_at = next(t for t, s, _ in flow.ready if s == -1)
    restart_at = next(t for t, s, _ in flow.ready if s == -2)
    during = [r for r in flow.results if kill_at < r[0] < restart_at]
    after = [r for r in flow.results if r[0] > restart_at + 1.0]
    assert len(flow.results) > 200 and len(during) > 20, (len(flow.results), len(during))
    for _, name, _, sig, _ in flow.results:
        assert sig == baseline[family[name.split("-")[0]]], name
    # Readiness said so without leaving the load balancer: always ready (verdicts are right
    # without the cache), the cache unavailable during the outage and ok again after it.
    assert {s for _, s, _ in flow.ready if s >= 0} == {200}, flow.ready
    during_outage = Counter(c for t, s, c in flow.ready if kill_at + 0.5 < t < restart_at)
    assert any(c.startswith("unavailable") for c in during_outage), flow.ready
    assert any(c == "ok" for t, s, c in flow.ready if t > restart_at + 0.5), flow.ready
    # The cache works again after the restart (an empty Redis refills).
    assert any(cached for *_, cached in after), "no cache hit after Redis came back"
