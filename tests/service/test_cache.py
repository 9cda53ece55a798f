"""Verdict caches (api/state/cache.py): in-process LRU + TTL, Redis with HMAC-authenticated entries,
behaviour while Redis is down, and single flight. Redis tests use a real server."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest
import redis

from api.state.cache import (
    KEY_PREFIX,
    CachedVerdict,
    InProcessVerdictCache,
    RedisVerdictCache,
    SingleFlight,
    VerdictCache,
    cache_key,
    make_cache,
)
from demo.world import DemoWorld
from tests.support import redis_support
from verifier import DocumentKind, Expectations, VerificationRequest

T = TypeVar("T")
SECRET = b"s" * 32
VERDICT = {"indication": "PASSED", "sub_indication": None, "checks": [{"code": "a", "n": 1.5}]}


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def settings(**overrides: Any) -> SimpleNamespace:
    values: dict[str, Any] = {
        "redis_url": None,
        "cache_max_entries": 100,
        "cache_max_ttl_seconds": 60,
        "cache_secret": SECRET,
        "redis_timeout_seconds": 0.25,
        "redis_prefix": "huren:v1:",
    }
    values.update(overrides)
    return SimpleNamespace(**values)


def key(n: int = 0, **overrides: Any) -> str:
    args: dict[str, Any] = {
        "kind": "licence",
        "document_sha256": f"{n:064x}",
        "relying": "442000",
        "at": None,
        "expectations": {"type": "food-permit"},
        "trust_version": "v1",
    }
    args.update(overrides)
    return cache_key(**args)


# ---------------------------------------------------------------------------- keys


def test_cache_key_is_deterministic_fixed_length_and_covers_every_input() -> None:
    base = key()
    assert base == key()
    assert base.startswith(KEY_PREFIX)
    assert len(base) == len(KEY_PREFIX) + 64
    variants = [
        key(kind="seal"),
        key(1),
        key(relying="440300"),
        key(at="2026-11-25T08:00:00Z"),
        key(expectations={"type": "other"}),
        key(expectations={}),
        key(trust_version="v2"),
    ]
    assert len({base, *variants}) == len(variants) + 1
    # Key order inside expectations does not matter; sets are canonicalised.
    assert key(expectations={"a": 1, "b": 2}) == key(expectations={"b": 2, "a": 1})
    assert key(expectations={"s": {"x", "y"}}) == key(expectations={"s": {"y", "x"}})
    with pytest.raises(TypeError):
        key(expectations={"bad": object()})


def test_make_cache_picks_the_backend() -> None:
    local = make_cache(settings())
    assert isinstance(local, InProcessVerdictCache)
    assert isinstance(local, VerdictCache)
    assert local.available
    remote = make_cache(settings(redis_url="redis://127.0.0.1:1/0"))
    assert isinstance(remote, RedisVerdictCache)
    assert isinstance(remote, VerdictCache)
    with pytest.raises(ValueError, match="cache_secret"):
        make_cache(settings(redis_url="redis://127.0.0.1:1/0", cache_secret=b"short"))


# ---------------------------------------------------------------------------- in-process


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_lru_is_bounded_and_evicts_the_least_recently_used() -> None:
    async def main() -> None:
        cache = InProcessVerdictCache(max_entries=3, max_ttl_seconds=60)
        for n in range(3):
            await cache.set(key(n), {"n": n}, 30)
        assert await cache.get(key(0)) == {"n": 0}  # 0 is now the most recent
        await cache.set(key(3), {"n": 3}, 30)
        assert len(cache) == 3
        assert cache.evictions == 1
        assert await cache.get(key(1)) is None  # the least recently used went
        assert await cache.get(key(0)) == {"n": 0}
        assert await cache.get(key(3)) == {"n": 3}
        assert (cache.hits, cache.misses) == (3, 1)

    run(main())


def test_ttl_expires_and_is_capped_by_the_max() -> None:
    async def main() -> None:
        clock = FakeClock()
        cache = InProcessVerdictCache(max_entries=10, max_ttl_seconds=10, clock=clock)
        await cache.set(key(1), VERDICT, 5)
        await cache.set(key(2), VERDICT, 3600)  # capped to 10
        await cache.set(key(3), VERDICT, 0)  # not stored
        assert await cache.get(key(3)) is None
        clock.now += 4.9
        assert await cache.get(key(1)) == VERDICT
        clock.now += 0.1
        assert await cache.get(key(1)) is None
        assert await cache.get(key(2)) == VERDICT
        clock.now += 5.0
        assert await cache.get(key(2)) is None
        assert len(cache) == 0

    run(main())


def test_in_process_values_are_copies() -> None:
    async def main() -> None:
        cache = InProcessVerdictCache()
        await cache.set(key(), {"checks": [1]}, 10)
        got = await cache.get(key())
        assert got is not None
        got["checks"].append(2)
        assert await cache.get(key()) == {"checks": [1]}

    run(main())


# ---------------------------------------------------------------------------- Redis


@pytest.mark.parametrize("query", ["", "?health_check_interval=0"], ids=["lean", "redis-py"])
def test_redis_round_trip_with_capped_ttl(
    redis_url: str, redis_prefix: str, redis_client: redis.Redis, query: str
) -> None:
    """Through the lean client, and through redis-py for a URL the lean client does not take."""

    async def main() -> None:
        url = redis_url + query
        cache = make_cache(
            settings(redis_url=url, redis_prefix=redis_prefix, cache_max_ttl_seconds=20)
        )
        assert isinstance(cache, RedisVerdictCache)
        assert (cache._lean is None) == bool(query)
        try:
            assert await cache.get(key()) is None
            await cache.set(key(), VERDICT, 3600)
            assert await cache.get(key()) == VERDICT
            assert isinstance(cache, RedisVerdictCache)
            assert (cache.hits, cache.misses, cache.errors, cache.rejected_entries) == (1, 1, 0, 0)
            assert cache.available
        finally:
            await cache.close()

    run(main())
    stored_key = redis_prefix + key().removeprefix("huren:v1:")
    assert 0 < redis_client.pttl(stored_key) <= 20_000
    raw = redis_client.get(stored_key)
    assert isinstance(raw, bytes)
    assert raw.startswith(b'{"exp":') and b'"mac":"' in raw and b" " not in raw


def _tamper_cases(stored: bytes) -> list[bytes]:
    i = stored.index(b'"mac":"') + 7
    flipped_mac = stored[:i] + (b"2" if stored[i : i + 1] == b"1" else b"1") + stored[i + 1 :]
    j = stored.index(b'"exp":') + 6
    later_exp = stored[:j] + b"9" + stored[j + 1 :]
    return [
        stored.replace(b'"PASSED"', b'"FAILED"'),  # value changed
        flipped_mac,
        later_exp,  # life extended
        stored[:-1],  # truncated
        b"garbage",
        b"",
        b'{"exp":99999999999999,"mac":"' + b"0" * 64 + b'","value":{"indication":"PASSED"}}',
    ]


def test_tampered_and_malformed_entries_are_ignored(
    redis_url: str, redis_prefix: str, redis_client: redis.Redis
) -> None:
    stored_key = redis_prefix + key().removeprefix("huren:v1:")

    async def main() -> None:
        cache = RedisVerdictCache(redis_url, secret=SECRET, prefix=redis_prefix)
        try:
            await cache.set(key(), VERDICT, 30)
            stored = redis_client.get(stored_key)
            assert isinstance(stored, bytes)
            cases = _tamper_cases(stored)
            for bad in cases:
                redis_client.set(stored_key, bad)
                assert await cache.get(key()) is None
            assert cache.rejected_entries == len(cases)
            # An authentic entry moved to another key is not served there either.
            redis_client.set(redis_prefix + key(7).removeprefix("huren:v1:"), stored)
            assert await cache.get(key(7)) is None
            assert cache.rejected_entries == len(cases) + 1
            # A value of another Redis type: an error, but Redis is up.
            redis_client.delete(stored_key)
            redis_client.hset(stored_key, "x", "y")
            assert await cache.get(key()) is None
            assert cache.available and cache.outages == 0
            assert cache.hits == 0
        finally:
            await cache.close()

    run(main())


def test_entries_written_with_another_secret_are_ignored(
    redis_url: str, redis_prefix: str, redis_client: redis.Redis
) -> None:
    async def main() -> None:
        ours = RedisVerdictCache(redis_url, secret=SECRET, prefix=redis_prefix)
        theirs = RedisVerdictCache(redis_url, secret=b"t" * 32, prefix=redis_prefix)
        try:
            await theirs.set(key(), VERDICT, 30)
            assert await theirs.get(key()) == VERDICT
            assert await ours.get(key()) is None
            assert ours.rejected_entries == 1
        finally:
            await ours.close()
            await theirs.close()

    run(main())


def test_embedded_expiry_outlives_a_stripped_redis_ttl(
    redis_url: str, redis_prefix: str, redis_client: redis.Redis
) -> None:
    """Someone removing the Redis TTL (PERSIST) cannot make an entry live past its MAC'd expiry."""
    wall = [1_800_000_000.0]

    async def main() -> None:
        cache = RedisVerdictCache(
            redis_url, secret=SECRET, prefix=redis_prefix, wall_clock=lambda: wall[0]
        )
        try:
            await cache.set(key(), VERDICT, 5)
            redis_client.persist(redis_prefix + key().removeprefix("huren:v1:"))
            assert await cache.get(key()) == VERDICT
            wall[0] += 6
            assert await cache.get(key()) is None
            assert cache.rejected_entries == 0
        finally:
            await cache.close()

    run(main())


def test_redis_outage_is_fast_counted_once_and_recovers_by_itself(
    redis_server: redis_support.RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="huren.cache")

    async def timed(fn: Callable[[], Awaitable[T]]) -> tuple[T, float]:
        start = time.monotonic()
        result = await fn()
        return result, time.monotonic() - start

    async def main() -> None:
        cache = make_cache(settings(redis_url=redis_server.url, redis_timeout_seconds=0.2))
        assert isinstance(cache, RedisVerdictCache)
        try:
            await cache.set(key(), VERDICT, 30)
            assert await cache.get(key()) == VERDICT
            redis_server.stop()
            for _ in range(20):
                got, took = await timed(lambda: cache.get(key()))
                assert got is None
                assert took < 0.6
                _, took = await timed(lambda: cache.set(key(1), VERDICT, 30))
                assert took < 0.6
            assert not cache.available
            assert cache.outages == 1
            assert cache.errors >= 1
            warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warnings) == 1
            redis_server.start()
            deadline = time.monotonic() + 8
            while not cache.available and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert cache.available, "the cache did not reconnect by itself"
            await cache.set(key(2), VERDICT, 30)
            assert await cache.get(key(2)) == VERDICT
            assert cache.outages == 1
            infos = [r for r in caplog.records if "reachable again" in r.getMessage()]
            assert len(infos) == 1 and infos[0].levelno == logging.INFO
        finally:
            await cache.close()

    run(main())


def test_unreachable_redis_from_the_start_is_a_miss() -> None:
    async def main() -> None:
        port = redis_support.free_port()
        cache = make_cache(settings(redis_url=f"redis://127.0.0.1:{port}/0"))
        try:
            start = time.monotonic()
            assert await cache.get(key()) is None
            await cache.set(key(), VERDICT, 10)
            assert time.monotonic() - start < 1.0
            assert not cache.available
            assert isinstance(cache, RedisVerdictCache) and cache.outages == 1
        finally:
            await cache.close()

    run(main())


# ---------------------------------------------------------------------------- single flight


def test_single_flight_runs_once_for_50_concurrent_callers() -> None:
    async def main() -> None:
        flight = SingleFlight()
        calls = 0

        async def work() -> dict[str, int]:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.05)
            return {"answer": 42}

        results = await asyncio.gather(*(flight.run("k", work) for _ in range(50)))
        assert calls == 1
        assert all(r == {"answer": 42} for r in results)
        assert len(flight) == 0
        # A later miss does the work again; different keys do not share.
        await asyncio.gather(flight.run("k", work), flight.run("other", work))
        assert calls == 3
        assert len(flight) == 0

    run(main())


def test_single_flight_errors_reach_every_waiter_and_nothing_leaks() -> None:
    async def main() -> None:
        flight = SingleFlight()
        calls = 0

        async def boom() -> None:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.02)
            raise RuntimeError("verifier exploded")

        results = await asyncio.gather(
            *(flight.run("k", boom) for _ in range(10)), return_exceptions=True
        )
        assert calls == 1
        assert all(isinstance(r, RuntimeError) for r in results)
        assert len(flight) == 0

        # A cancelled caller does not cancel the work for the others.
        async def slow() -> str:
            await asyncio.sleep(0.05)
            return "done"

        first = asyncio.create_task(flight.run("s", slow))
        second = asyncio.create_task(flight.run("s", slow))
        await asyncio.sleep(0.01)
        first.cancel()
        assert await second == "done"
        assert first.cancelled()
        assert len(flight) == 0

    run(main())


def test_an_entry_that_could_not_be_read_back_is_not_written(
    redis_url: str, redis_prefix: str, redis_client: redis.Redis
) -> None:
    """Meta strings with "]" or a backslash would break the envelope: such a verdict is simply
    not cached (never stored, never read as something else)."""

    async def main() -> None:
        cache = RedisVerdictCache(redis_url, secret=SECRET, prefix=redis_prefix)
        try:
            for odd in ("PASSED]", "PASS\\ED"):
                await cache.set(key(), {**VERDICT, "indication": odd}, 30)
                assert redis_client.get(redis_prefix + key().removeprefix("huren:v1:")) is None
            await cache.set(key(), VERDICT, 30)
            assert await cache.get(key()) == VERDICT
        finally:
            await cache.close()

    run(main())


def test_entries_verified_once_are_known_by_their_bytes_only(
    redis_url: str, redis_prefix: str, redis_client: redis.Redis
) -> None:
    """A hot entry is authenticated once (when written or first read), then recognised by its
    exact bytes under its key; any other bytes there, authentic or not, are verified afresh; the
    memory of verified entries stays within its bound."""
    stored_key = redis_prefix + key().removeprefix("huren:v1:")

    async def main() -> None:
        cache = RedisVerdictCache(redis_url, secret=SECRET, prefix=redis_prefix)
        other = RedisVerdictCache(redis_url, secret=SECRET, prefix=redis_prefix)
        macs: list[str] = []
        mac = cache._mac
        cache._mac = lambda k, *parts: (macs.append(k), mac(k, *parts))[1]  # type: ignore[method-assign]
        try:
            await cache.set(key(), VERDICT, 30)
            assert macs == [key()]  # sealing it
            for _ in range(3):
                assert await cache.get(key()) == VERDICT
            assert macs == [key()]  # known: not verified again
            # Another instance rewrites the key with another authentic verdict: verified, served.
            changed = {**VERDICT, "checks": [{"code": "b", "n": 2}]}
            await other.set(key(), changed, 30)
            assert await cache.get(key()) == changed and await cache.get(key()) == changed
            assert macs == [key(), key()]
            # Tampered bytes are never taken for the known ones.
            good = redis_client.get(stored_key)
            assert isinstance(good, bytes)
            for bad in _tamper_cases(good):
                redis_client.set(stored_key, bad)
                assert await cache.get(key()) is None
            redis_client.set(stored_key, good)
            assert await cache.get(key()) == changed
            assert cache.rejected_entries == len(_tamper_cases(good))
            assert cache.hits == 6 and cache.errors == 0
            # Bounded: a small memory keeps the newest entries only, and the others still answer.
            small = RedisVerdictCache(
                redis_url, secret=SECRET, prefix=redis_prefix, memo_bytes=32 * (len(good) + 64)
            )
            try:
                for n in range(20):
                    await small.set(key(n), VERDICT, 30)
                    assert small._verified_bytes <= small.memo_bytes
                assert 0 < len(small._verified) < 20
                assert [await small.get(key(n)) for n in range(20)] == [VERDICT] * 20
                assert small.rejected_entries == 0
            finally:
                await small.close()
        finally:
            await cache.close()
            await other.close()

    run(main())


# ---------------------------------------------------------------------------- report levels

LEVELS = {
    "indication": "FAILED",
    "sub_indication": "HASH_FAILURE",
    "checks": [
        {"code": "format.size", "result": "PASSED"},
        {"code": "trust.fresh", "result": "INDETERMINATE"},
        {"code": "sealed.hash", "result": "FAILED"},
    ],
    "valid_until": None,
}


def test_one_entry_holds_both_reports_in_process_and_in_redis(
    redis_url: str, redis_prefix: str
) -> None:
    """The simple report is the detailed one without its passing checks; both come back from
    one entry, each as written, from either backend."""
    entry = CachedVerdict.of(LEVELS)
    assert entry.verdict() == LEVELS
    assert entry.verdict(detailed=False) == {**LEVELS, "checks": LEVELS["checks"][1:]}

    async def main() -> None:
        caches: list[VerdictCache] = [
            InProcessVerdictCache(),
            RedisVerdictCache(redis_url, secret=SECRET, prefix=redis_prefix),
        ]
        for cache in caches:
            try:
                await cache.set_entry(key(), entry, 30)
                got = await cache.get_entry(key())
                assert got is not None
                assert got.report(detailed=True) == entry.json
                assert got.report(detailed=False) == entry.simple != entry.json
            finally:
                await cache.close()

    run(main())


def test_an_entry_rendering_its_detailed_report_late_is_the_entry_rendering_it_at_once(
    demo_world: DemoWorld,
) -> None:
    """`from_verdict(..., detailed=False)` renders the detailed report on first use: the same
    bytes as the entry rendering both at once, for passing, failing and undecided verdicts, in
    either order of use, and the same stored form in Redis."""
    store = demo_world.store()
    stale = demo_world.verifier(store, now=demo_world.now + timedelta(days=400))
    token = demo_world.licence_sz
    head, body, signature = token.split(".")
    tokens = [token, f"{head}.{body}.{signature[::-1]}", "garbage", f"{head}.{body[:-4]}.x", ""]
    expects = [None, Expectations(licence_type="food-business"), Expectations(holder_id="x")]
    verdicts = [
        verifier.verify(VerificationRequest(DocumentKind.LICENCE, t.encode(), relying, None, e))
        for verifier in (demo_world.verifier(store), stale)
        for t in tokens
        for relying in ("442000", "440300")
        for e in expects
    ]
    assert {v.indication.value for v in verdicts} == {"PASSED", "FAILED", "INDETERMINATE"}
    cache = RedisVerdictCache("redis://unused", secret=SECRET, wall_clock=lambda: 1000.0)
    for verdict in verdicts:
        at_once = CachedVerdict.from_verdict(verdict)
        late = CachedVerdict.from_verdict(verdict, detailed=False)
        assert late.detailed is None and late.simple == at_once.simple
        assert cache.seal("k", late, 30) == cache.seal("k", at_once, 30)
        assert late.json == at_once.json == verdict.to_json()
        assert late.source is None and late == at_once
        simple_first = CachedVerdict.from_verdict(verdict, detailed=False)
        assert simple_first.report(detailed=False) == at_once.simple
        assert simple_first.verdict() == at_once.verdict() == verdict.to_dict()
        assert simple_first.meta_json() == at_once.meta_json()


def test_an_envelope_whose_reports_do_not_split_is_refused() -> None:
    entry = CachedVerdict.of(LEVELS)
    meta, value = entry.meta_json(), entry.value_json()
    assert CachedVerdict.from_parts(meta, value) == entry
    n = len(entry.simple)
    for bad_n in (n - 1, n + 1, 0, -1, len(value), 10**9):
        odd = meta.replace(b"," + str(n).encode() + b"]", b"," + str(bad_n).encode() + b"]")
        assert odd != meta
        assert CachedVerdict.from_parts(odd, value) is None
    for bad_value in (value[1:], value[:-1], b"", b"[]", b"{" + value[1:]):
        assert CachedVerdict.from_parts(meta, bad_value) is None
    four = meta.rsplit(b",", 1)[0] + b"]"  # a verdict2 envelope's meta: no split
    assert CachedVerdict.from_parts(four, value) is None
