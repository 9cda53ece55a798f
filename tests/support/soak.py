"""`make soak`: a bounded load test of the real service on loopback (GitHub issue 7).

    python -m tests.support.soak [--seconds 90] [--clients 32] [--instances 2] [--interval 1.5]
                         [--redis standalone|cluster|sentinel] [--report FILE]

What runs (everything on 127.0.0.1, everything stopped by its own pid at the end):
- a throwaway redis-server (when `redis-server` is on PATH; else one instance, in-process cache);
  with `--redis cluster` a 6-node Redis Cluster, with `--redis sentinel` a master, a replica and
  three sentinels, and halfway through the master holding the trust keys is killed (SIGKILL):
  the failover happens under load. An upload answered 503 `sync_unavailable` meanwhile is sent
  again until acknowledged (it was never acknowledged before, so nothing is lost);
- `--instances` uvicorn processes of the service (the `huren serve` path), each with its own copy
  of a fresh demo trust directory, sharing the Redis cache and trust sync;
- `--clients` concurrent HTTP clients for `--seconds`, spread over the instances, verifying
  licences of both cities for relying parties in both cities, and seals: half the requests from
  a small hot set (cache hits), half from thousands of distinct licences (misses);
- an admin who, every `--interval` seconds, alternately rotates a city's licence-issuer key (a
  new key added, the previous rotated key withdrawn, the one before removed) and revokes a
  licence through the city's status list, uploading to the instances in turn.

What is checked, per response: status 200 (errors must be 0); the trust state the verdict was
computed under (its `trust_state_version`) is at least the newest one the admin had seen
acknowledged when the request was sent (no verdict from before an acknowledged rotation or
revocation, on ANY instance); and the verdict is the one that trust state implies: a licence
signed by a rotated-in key is PASSED only while its key is in the list, a revoked licence is
FAILED/REVOKED from its revocation on, everything else PASSED.

The report (stdout, and `--report FILE`) gives the date, the machine, the configuration,
requests, errors, throughput, p50/p99/max latency (all, cache hits, misses), the admin's
operations and the correctness counts. Exit status 1 if any error or violation was seen."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from demo.world import (
    CITY,
    DEMO_API_KEYS,  # noqa: F401 - documents that the demo's own keys are not used here
    SHENZHEN,
    ZHONGSHAN,
    DemoWorld,
    build_demo_world,
    default_statuses,
    write_demo,
)
from keys import ES256, SigningKey
from tests.support import redis_support, server_support
from tests.support.api_support import auth
from trust_lists import authoring
from trust_lists.model import KeyStatus, TrustList, replace_services

CITIES = (SHENZHEN, ZHONGSHAN)
OTHER = {SHENZHEN: ZHONGSHAN, ZHONGSHAN: SHENZHEN}
REVOCABLE_BASE = 100  # status-list slots 100.. hold the licences the admin revokes
PASSED = ("PASSED", None)
UNKNOWN_KEY = ("INDETERMINATE", "NO_SIGNING_CERTIFICATE_FOUND")
REVOKED = ("FAILED", "REVOKED")


# -- the workload ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One request: what to send and what decides its expected verdict."""

    path: str
    body: dict[str, Any]
    role: str
    hot: bool
    model: tuple[str, str, int] | None = None  # ("key", city, k) or ("revoked", city, j)


@dataclass
class Workload:
    hot: list[Item]
    cold: list[Item]
    probes: dict[tuple[str, int], list[Item]]  # (city, k) -> licences signed by rotated key k
    revocable: dict[tuple[str, int], Item]  # (city, j) -> licence revoked by revocation j
    rotation_keys: dict[tuple[str, int], SigningKey]


def build_workload(world: DemoWorld, rotations: int, revocations: int, cold: int) -> Workload:
    signed_at = world.now - timedelta(minutes=30)
    hot: list[Item] = []
    cold_items: list[Item] = []
    probes: dict[tuple[str, int], list[Item]] = {}
    revocable: dict[tuple[str, int], Item] = {}
    keys: dict[tuple[str, int], SigningKey] = {}
    for city in CITIES:
        for relying in CITIES:
            for i in range(6):
                token = world.issue_licence(city, number=f"{city}-HOT-{i:03d}")
                hot.append(Item("/v1/licences/verify", _lic(token, relying), "counter", True))
        seal = world.make_seal(city, seal_id=f"{city}00000HOT")
        hot.append(Item("/v1/seals/verify", _lic(seal, OTHER[city]), "business", True))
        for i in range(cold):
            token = world.issue_licence(city, number=f"{city}-COLD-{i:05d}")
            cold_items.append(
                Item("/v1/licences/verify", _lic(token, CITIES[i % 2]), "counter", False)
            )
        for k in range(1, rotations + 1):
            key = keys[(city, k)] = SigningKey.generate(ES256)
            probes[(city, k)] = [
                Item(
                    "/v1/licences/verify",
                    _lic(
                        world.issue_licence(
                            city,
                            key=key,
                            number=f"{city}-ROT{k:02d}-{i}",
                            issued_at=signed_at,
                            status=None,
                        ),
                        CITIES[i % 2],
                    ),
                    "counter",
                    False,
                    ("key", city, k),
                )
                for i in range(4)
            ]
        for j in range(1, revocations + 1):
            token = world.issue_licence(
                city,
                number=f"{city}-REV-{j:03d}",
                status=(REVOCABLE_BASE + j, CITY[city].issuer_status_uri),
            )
            revocable[(city, j)] = Item(
                "/v1/licences/verify", _lic(token, OTHER[city]), "counter", False,
                ("revoked", city, j),
            )  # fmt: skip
    return Workload(hot, cold_items, probes, revocable, keys)


def _lic(token: str, relying: str) -> dict[str, Any]:
    return {"token": token, "relying_jurisdiction": relying}


# -- the admin ----------------------------------------------------------------------------------


@dataclass
class Op:
    index: int  # the trust state this op creates (the initial state is 0)
    kind: str  # "rotation" | "revocation"
    city: str
    number: int  # k for rotations, j for revocations
    instance: int
    sent: float = 0.0
    acked: float = 0.0
    version: str = ""
    error: str = ""
    retries: int = 0  # sent again after a 503 (Redis failing over)


@dataclass
class Admin:
    world: DemoWorld
    workload: Workload
    lists: dict[str, TrustList]
    revoked: dict[str, list[int]] = field(default_factory=dict)
    status_iat: dict[str, int] = field(default_factory=dict)
    rotations: dict[str, int] = field(default_factory=dict)
    revocations: dict[str, int] = field(default_factory=dict)

    def rotation(self, city: str) -> tuple[int, bytes]:
        k = self.rotations.get(city, 0) + 1
        self.rotations[city] = k
        now = datetime.now(UTC).replace(microsecond=0)
        issuer = CITY[city].issuer_id
        tl = authoring.next_version(
            self.lists[city], issued_at=now - timedelta(seconds=1), validity=timedelta(days=30)
        )
        key = self.workload.rotation_keys[(city, k)]
        tl = authoring.add_key(
            tl, issuer, key.public_key, granted_from=self.world.now - timedelta(hours=1)
        )
        if k >= 2:
            retired = self.workload.rotation_keys[(city, k - 1)].kid
            tl = authoring.change_key_status(tl, retired, KeyStatus.WITHDRAWN, effective=now)
        if k >= 3:
            tl = _drop_key(tl, issuer, self.workload.rotation_keys[(city, k - 2)].kid)
        self.lists[city] = tl
        return k, self.world.sign_list(tl)

    def revocation(self, city: str) -> tuple[int, bytes]:
        j = self.revocations.get(city, 0) + 1
        self.revocations[city] = j
        self.revoked.setdefault(city, []).append(REVOCABLE_BASE + j)
        statuses = default_statuses()
        for slot in self.revoked[city]:
            statuses[slot] = 1
        now = int(time.time())
        iat = max(self.status_iat.get(city, 0) + 1, now - 1)
        self.status_iat[city] = iat
        token = self.world.sign_status_list(
            CITY[city].issuer_status_uri,
            statuses,
            issued_at=datetime.fromtimestamp(iat, UTC),
        )
        return j, token.encode("ascii")


def _drop_key(tl: TrustList, service_id: str, kid: str) -> TrustList:
    services = tuple(
        dataclasses.replace(s, keys=tuple(k for k in s.keys if k.kid != kid))
        if s.id == service_id
        else s
        for s in tl.services
    )
    return replace_services(tl, services)


# -- the run --------------------------------------------------------------------------------------


@dataclass
class Sample:
    sent: float
    latency: float
    instance: int
    item: Item
    acked_before: int  # the newest state acknowledged to the admin when the request was sent
    status: int
    indication: tuple[str, str | None] | None = None
    version: str | None = None
    cached: bool = False
    error: str = ""


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)
    acked: int = 0  # index of the newest acknowledged state
    versions: dict[str, int] = field(default_factory=dict)


async def run_load(
    urls: list[str], workload: Workload, admin: Admin, args: argparse.Namespace
) -> Run:
    run = Run()
    rng = random.Random(args.seed)
    limits = httpx.Limits(max_connections=args.clients * 2, max_keepalive_connections=args.clients)
    clients = [httpx.AsyncClient(base_url=u, timeout=30, limits=limits) for u in urls]
    try:
        r = await clients[0].get("/v1/trust-lists")
        run.versions[r.json()["trust_state_version"]] = 0
        start = time.monotonic()
        deadline = start + args.seconds

        def pick() -> Item:
            x = rng.random()
            if x < 0.5:
                return rng.choice(workload.hot)
            city = rng.choice(CITIES)
            if x < 0.65:  # a licence of a key near the current rotation
                k = admin.rotations.get(city, 0) + rng.choice((-2, -1, 0, 1))
                probes = workload.probes.get((city, k))
                if probes:
                    return rng.choice(probes)
            if x < 0.8:  # a licence near the current revocation
                j = admin.revocations.get(city, 0) + rng.choice((-1, 0, 1))
                item = workload.revocable.get((city, j))
                if item:
                    return item
            return rng.choice(workload.cold)

        async def client_task(n: int) -> None:
            while time.monotonic() < deadline:
                item = pick()
                instance = (n + len(run.samples)) % len(clients)
                sample = Sample(time.monotonic() - start, 0.0, instance, item, run.acked, 0)
                t0 = time.perf_counter()
                try:
                    resp = await clients[instance].post(
                        item.path, json=item.body, headers=auth(item.role)
                    )
                except httpx.HTTPError as exc:
                    sample.error = f"{type(exc).__name__}: {exc}"
                else:
                    sample.status = resp.status_code
                    if resp.status_code == 200:
                        body = resp.json()
                        v = body["verdict"]
                        sample.indication = (v["indication"], v["sub_indication"])
                        sample.version = v["trust"]["trust_state_version"]
                        sample.cached = body["cached"]
                    else:
                        sample.error = resp.text[:200]
                sample.latency = time.perf_counter() - t0
                run.samples.append(sample)

        async def admin_task() -> None:
            kinds = [
                ("rotation", SHENZHEN),
                ("revocation", ZHONGSHAN),
                ("rotation", ZHONGSHAN),
                ("revocation", SHENZHEN),
            ]
            index = 0
            await asyncio.sleep(args.interval)
            while time.monotonic() < deadline - args.interval:
                kind, city = kinds[index % len(kinds)]
                if kind == "rotation" and admin.rotations.get(city, 0) >= args.max_rotations:
                    kind = "revocation"
                index += 1
                instance = index % len(clients)
                if kind == "rotation":
                    number, data = admin.rotation(city)
                    path, media = f"/v1/trust-lists/{city}", "application/json"
                else:
                    number, data = admin.revocation(city)
                    path, media = "/v1/status-lists", "application/statuslist+jwt"
                op = Op(index, kind, city, number, instance, sent=time.monotonic() - start)
                resp = await clients[instance].request(
                    "PUT" if kind == "rotation" else "POST",
                    path,
                    content=data,
                    headers={**auth("admin"), "content-type": media},
                )
                while resp.status_code == 503 and time.monotonic() < deadline + 30:
                    # Redis failing over: not acknowledged; the same upload again.
                    op.retries += 1
                    await asyncio.sleep(0.3)
                    resp = await clients[instance].request(
                        "PUT" if kind == "rotation" else "POST",
                        path,
                        content=data,
                        headers={**auth("admin"), "content-type": media},
                    )
                op.acked = time.monotonic() - start
                if resp.status_code == 200:
                    op.version = resp.json()["trust_state_version"]
                    run.versions[op.version] = index
                    run.acked = index  # from now on, no request may see an older state
                else:
                    op.error = f"{resp.status_code} {resp.text[:200]}"
                run.ops.append(op)
                if op.error:
                    return
                await asyncio.sleep(max(0.0, args.interval - (op.acked - op.sent)))

        await asyncio.gather(admin_task(), *(client_task(n) for n in range(args.clients)))
    finally:
        for c in clients:
            await c.aclose()
    return run


def expected(item: Item, state: int, ops: list[Op]) -> tuple[str, str | None]:
    if item.model is None:
        return PASSED
    what, city, number = item.model
    applied = [o for o in ops if o.index <= state and o.city == city]
    if what == "revoked":
        done = any(o.kind == "revocation" and o.number == number for o in applied)
        return REVOKED if done else PASSED
    rotations = max((o.number for o in applied if o.kind == "rotation"), default=0)
    # Key k is added by rotation k, withdrawn by k+1 (still good for what it signed before),
    # removed by k+2.
    return PASSED if number <= rotations < number + 2 else UNKNOWN_KEY


# -- report ---------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def machine() -> dict[str, str]:
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def report(
    run: Run, args: argparse.Namespace, redis: bool, elapsed: float, load_before: str
) -> tuple[str, bool]:
    samples = run.samples
    errors = [s for s in samples if s.status != 200]
    unknown = [s for s in samples if s.status == 200 and s.version not in run.versions]
    stale = []
    wrong = []
    categories: Counter[str] = Counter()
    for s in samples:
        if s.status != 200 or s.version not in run.versions:
            continue
        state = run.versions[s.version]
        if state < s.acked_before:
            stale.append(s)
        want = expected(s.item, state, run.ops)
        if s.indication != want:
            wrong.append((s, want, state))
        kind = "hot" if s.item.hot else (s.item.model[0] if s.item.model else "cold")
        categories[f"{kind}:{want[0]}"] += 1
    lat = [s.latency for s in samples if s.status == 200]
    hits = [s.latency for s in samples if s.status == 200 and s.cached]
    misses = [s.latency for s in samples if s.status == 200 and not s.cached]
    ms = lambda v: f"{v * 1000:.1f}"  # noqa: E731

    def latency(name: str, values: list[float], extra: str = "") -> str:
        return (
            f"{name:<20}p50 {ms(percentile(values, 0.5))} ms  "
            f"p99 {ms(percentile(values, 0.99))} ms  {extra}"
        )

    ops_ok = [o for o in run.ops if not o.error]
    ack = [o.acked - o.sent for o in ops_ok]
    m = machine()
    ok = (
        not errors and not unknown and not stale and not wrong and all(not o.error for o in run.ops)
    )
    lines = [
        f"huren soak report - {datetime.now(UTC).strftime('%Y-%m-%d %H:%M:%SZ')}",
        f"machine: {m['cpus']} CPUs, {m['cpu']}, Python {m['python']}, {m['platform']}",
        f"load average (1/5/15 min) before the run: {load_before}, after: {_loadavg()} "
        "(the machine is shared: anything above 0 is other work competing for the CPUs)",
        f"setup: {args.instances} uvicorn instance(s) on 127.0.0.1, "
        + (
            f"a throwaway Redis ({args.redis}; shared cache and trust sync), "
            if redis
            else "in-process cache, no Redis, "
        )
        + f"{args.clients} concurrent clients for {args.seconds:.0f} s (elapsed {elapsed:.1f} s), "
        f"admin operation every {args.interval} s",
        "",
        f"requests            {len(samples)}",
        f"errors              {len(errors)}",
        f"throughput          {len(samples) / args.seconds:.0f} requests/s",
        latency("latency all", lat, f"max {ms(max(lat, default=0))} ms"),
        latency("latency cache hits", hits, f"({len(hits)} responses)"),
        latency("latency misses", misses, f"({len(misses)} responses)"),
        "",
        f"admin operations    {len(ops_ok)} acknowledged "
        f"({sum(o.kind == 'rotation' for o in ops_ok)} key rotations, "
        f"{sum(o.kind == 'revocation' for o in ops_ok)} revocations), "
        f"{sum(1 for o in run.ops if o.error)} failed, "
        f"{sum(o.retries for o in run.ops)} answers 503 sent again; "
        f"upload-to-acknowledgement p50 {ms(statistics.median(ack) if ack else 0)} ms, "
        f"max {ms(max(ack, default=0))} ms",
        f"trust states seen   {len({s.version for s in samples if s.version})} "
        f"of {len(run.versions)}",
        "",
        "correctness (every response checked against the trust state it names):",
        f"  verdict from before an acknowledged change   {len(stale)}",
        f"  verdict not the one its trust state implies  {len(wrong)}",
        f"  verdict under an unknown trust state         {len(unknown)}",
        "  responses by kind and expected indication    "
        + ", ".join(f"{k} {v}" for k, v in sorted(categories.items())),
        "",
        f"result: {'PASS' if ok else 'FAIL'}",
    ]
    for s in errors[:5]:
        lines.append(f"  error: {s.item.path} {s.status} {s.error}")
    for o in [o for o in run.ops if o.error][:5]:
        lines.append(f"  admin error: {o.kind} {o.city} {o.error}")
    for s, want, state in wrong[:5]:
        lines.append(f"  wrong: {s.item.model} state {state}: got {s.indication}, want {want}")
    for s in stale[:5]:
        lines.append(
            f"  stale: sent after ack {s.acked_before}, got state {run.versions[s.version or '']}"
        )
    return "\n".join(lines), ok


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _redis_set(mode: str, directory: Path) -> tuple[Any, dict[str, str]]:
    """A Redis Cluster or Sentinel set on loopback, and the settings that point at it."""
    prefix = {"HUREN_REDIS_PREFIX": "huren-soak:", "HUREN_REDIS_MODE": mode}
    if mode == "cluster":
        cluster = redis_support.RedisClusterSet(directory)
        cluster.start()
        return cluster, {**prefix, "HUREN_REDIS_NODES": ",".join(cluster.seeds[:3])}
    sentinels = redis_support.RedisSentinelSet(directory)
    sentinels.start()
    return sentinels, {
        **prefix,
        "HUREN_REDIS_SENTINELS": ",".join(sentinels.addresses),
        "HUREN_REDIS_MASTER_NAME": redis_support.MASTER_NAME,
    }


def _kill_trust_master(redis: Any, env: dict[str, str]) -> str:
    """SIGKILL the master holding the trust keys; a line for the report."""
    started = time.monotonic()
    key = redis_support.trust_key(env["HUREN_REDIS_PREFIX"], "trust-seqs")
    if isinstance(redis, redis_support.RedisClusterSet):
        victim = redis.master_of(key)
        redis.kill9(victim)
        while redis.master_of(key).port == victim.port:  # until a replica is promoted
            time.sleep(0.05)
    else:
        victim = redis.by_port(redis.current_master_port() or redis.master.port)
        redis.kill9(victim)
        while redis.current_master_port() == victim.port:
            time.sleep(0.05)
    took = time.monotonic() - started
    return (
        f"failover: SIGKILL of the master holding the trust keys (port {victim.port}) halfway; "
        f"a new master in {took:.1f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seconds", type=float, default=90.0, help="load duration (default 90)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--instances", type=int, default=2, help="service processes (default 2)")
    parser.add_argument("--interval", type=float, default=1.5, help="seconds between admin ops")
    parser.add_argument("--cold", type=int, default=1500, help="distinct licences per city")
    parser.add_argument("--max-rotations", type=int, default=40, help="per city")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--report", type=Path, help="also write the report to this file")
    parser.add_argument(
        "--redis",
        choices=("standalone", "cluster", "sentinel"),
        default="standalone",
        help="the Redis deployment (cluster and sentinel: a failover halfway)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 240:
        parser.error("--seconds must be between 1 and 240 (make soak must end within 5 minutes)")

    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="huren-soak-"))
    procs: list[server_support.ServiceProcess] = []
    redis: Any = None
    failover: list[str] = []
    try:
        world = build_demo_world(datetime.now(UTC).replace(microsecond=0))
        ops = int(args.seconds / args.interval) + 2
        rotations = min(args.max_rotations, ops // 4 + 2)
        print(
            f"soak: building the workload ({args.cold} distinct licences per city) ...", flush=True
        )
        workload = build_workload(world, rotations, ops // 4 + 2, args.cold)
        args.max_rotations = rotations
        first = workdir / "instance-0"
        write_demo(first, world)
        env: dict[str, str] = {}
        if args.redis != "standalone":
            redis, env = _redis_set(args.redis, workdir / "redis")
            timer = threading.Timer(
                args.seconds / 2, lambda: failover.append(_kill_trust_master(redis, env))
            )
            timer.daemon = True
            timer.start()
        elif redis_support.redis_server_binary() is not None:
            redis = redis_support.RedisServer.launch(workdir / "redis")
            env = {"HUREN_REDIS_URL": redis.url, "HUREN_REDIS_PREFIX": "huren-soak:"}
        elif args.instances > 1:
            print("soak: no redis-server on PATH: one instance, in-process cache", flush=True)
            args.instances = 1
        for n in range(args.instances):
            directory = workdir / f"instance-{n}"
            if n:
                shutil.copytree(first, directory)
            procs.append(server_support.start(directory, env={**env, "HUREN_LOG_LEVEL": "WARNING"}))
        print(
            f"soak: {args.clients} clients x {args.seconds:.0f} s against "
            f"{', '.join(p.url for p in procs)} ...",
            flush=True,
        )
        admin = Admin(world, workload, dict(world.trust_lists))
        load_before = _loadavg()
        load_started = time.monotonic()
        run = asyncio.run(run_load([p.url for p in procs], workload, admin, args))
        text, ok = report(
            run, args, redis is not None, time.monotonic() - load_started, load_before
        )
        if failover:
            text += "\n" + failover[0]
    finally:
        for p in procs:
            p.stop()
        if redis is not None:
            redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    text += f"\n(total wall time including set-up: {time.monotonic() - began:.0f} s)"
    print(text)
    if args.report:
        args.report.write_text(text + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
