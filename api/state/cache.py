"""Verdict caches: an in-process bounded LRU, or Redis shared by every instance.

Keys come from `cache_key`, which hashes every input of a verdict including the trust-state
version, so a cached verdict can never outlive the trust state it was computed under.

The Redis backend never trusts what it reads back: each entry carries an HMAC-SHA256 (secret from
the settings) over its key, expiry and value; a tampered, foreign or malformed entry is counted in
`rejected_entries` and treated as a miss. Redis being down or slow never fails a request: every
operation is bounded by a timeout, failures are misses / dropped writes, an outage is logged once
when it starts and once when it ends, and a background probe reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar, runtime_checkable

import orjson

from api.http.jsonbody import dump_json
from api.state.redis import Health, RedisConfig, SharedRedis, classify
from api.state.resp import RespClient, RespError
from keys.frozen import positional_maker
from trust_lists.timeutil import format_time
from verifier.verdict import Verdict, reported_checks

log = logging.getLogger("huren.cache")

T = TypeVar("T")

# "verdict3": entries carry their meta fields (CachedVerdict) and both reports in the
# authenticated envelope; an instance of an older version sharing the Redis keeps to its own
# "verdict:" / "verdict2:" keys.
KEY_PREFIX = "huren:v1:verdict3:"
DEFAULT_REDIS_PREFIX = "huren:v1:"
DEFAULT_MAX_ENTRIES = 10_000
DEFAULT_MAX_TTL_SECONDS = 300.0
DEFAULT_REDIS_TIMEOUT_SECONDS = 0.25
MAX_ENTRY_BYTES = 1024 * 1024
# Bytes of entries a Redis cache remembers as already verified (see RedisVerdictCache.open); an
# entry above a sixteenth of it is verified on every read instead.
VERIFIED_MEMO_BYTES = 4 * 1024 * 1024
MIN_SECRET_BYTES = 16
_MAC_CONTEXT = b"huren:v1:verdict-cache-3\x00"
_EXP = rb"[0-9]{1,16}"
_META = rb"\[[^\]\\]*\]"  # meta strings hold no "]" or backslash: the value starts after it
_ENTRY = re.compile(
    rb'\{"exp":(' + _EXP + rb'),"mac":"([0-9a-f]{64})","meta":(' + _META + rb'),"value":(.*)\}',
    re.DOTALL,
)
_READABLE_EXP = re.compile(_EXP)
_READABLE_META = re.compile(_META)


@dataclass(frozen=True, slots=True, eq=False)
class CachedVerdict:
    """A verdict as the caches hold it: the JSON bytes of both its reports (what responses embed
    as they are; one entry serves either level, so a level is never a second verification or a
    second key) and the few fields every hit needs, so that serving a hit decodes nothing.

    An entry made from a Verdict for the simple report alone (`from_verdict(...,
    detailed=False)`) renders the detailed one the first time it is asked for: most answers are
    simple, and then a verification renders only what it answers."""

    detailed: bytes | None  # the detailed report, every check; None until `json` renders it
    simple: bytes  # the simple report: the checks that did not pass (verdict.reported_checks)
    indication: str | None
    sub_indication: str | None
    document_sha256: str | None
    valid_until: str | None
    source: Verdict | None = None  # what `json` renders the detailed report from, then drops

    @property
    def json(self) -> bytes:
        """The detailed report, rendered on first use if it was not at first."""
        # `source` is read before `detailed` and dropped after it is set: another thread
        # rendering at the same time leaves one of the two to read, never neither.
        source = self.source
        detailed = self.detailed
        if detailed is None:
            assert source is not None
            detailed = source.to_json()
            object.__setattr__(self, "detailed", detailed)
            object.__setattr__(self, "source", None)
        return detailed

    def _compared(self) -> tuple[bytes | str | None, ...]:
        # What a frozen dataclass compares and hashes: every field, the late-rendered one too.
        meta = (self.indication, self.sub_indication, self.document_sha256, self.valid_until)
        return (self.json, self.simple, *meta)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CachedVerdict):
            return NotImplemented
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash(self._compared())

    @classmethod
    def of(cls, value: dict[str, Any]) -> CachedVerdict:
        """Raises TypeError/ValueError if `value` is not JSON-serialisable."""
        checks = value.get("checks")
        simple = value
        if type(checks) is list:
            simple = {**value, "checks": reported_checks(checks, detailed=False)}
        return cls(
            _encode_value(value),
            _encode_value(simple),
            _str(value.get("indication")),
            _str(value.get("sub_indication")),
            _str(value.get("document_sha256")),
            _str(value.get("valid_until")),
        )

    @classmethod
    def from_verdict(cls, verdict: Verdict, *, detailed: bool = True) -> CachedVerdict:
        """`detailed`: render the detailed report now (it will be read: an answer or receipt
        with it, a shared cache storing it), else on first use."""
        if detailed:
            simple, every = verdict.reports_json()  # the verdict's fields rendered once
        else:
            simple, every = verdict.to_json(detailed=False), None
        sub = verdict.sub_indication
        # _value_ is what .value returns, without the enum property's Python-level call.
        return (_make_entry if cls is CachedVerdict else cls)(
            every,
            simple,
            verdict.indication._value_,
            sub._value_ if sub else None,
            verdict.document_sha256,
            format_time(verdict.valid_until) if verdict.valid_until else None,
            None if detailed else verdict,
        )

    def report(self, *, detailed: bool) -> bytes:
        return self.json if detailed else self.simple

    def verdict(self, *, detailed: bool = True) -> dict[str, Any]:
        """A fresh dict of the verdict's report (callers may mutate it)."""
        value = _decode_value(self.report(detailed=detailed))
        if value is None:  # pragma: no cover - json is always what _encode_value wrote
            raise ValueError("cached verdict is not a JSON object")
        return value

    def meta_json(self) -> bytes:
        return orjson.dumps(
            [
                self.indication,
                self.sub_indication,
                self.document_sha256,
                self.valid_until,
                len(self.simple),
            ]
        )

    def value_json(self) -> bytes:
        """Both reports as one JSON array, [simple, detailed]; meta holds the first's length."""
        return b"[" + self.simple + b"," + self.json + b"]"

    @classmethod
    def from_parts(cls, meta: bytes, raw: bytes) -> CachedVerdict | None:
        """The entry of meta_json() and value_json() bytes; None if they do not fit together."""
        try:
            fields = orjson.loads(meta)
        except orjson.JSONDecodeError:
            return None
        if (
            type(fields) is not list
            or len(fields) != 5
            or not all(f is None or type(f) is str for f in fields[:4])
            or type(fields[4]) is not int
        ):
            return None
        split = fields[4] + 1
        if not (0 < split < len(raw) - 1 and raw[:1] == b"[" and raw[split : split + 1] == b","):
            return None
        if raw[-1:] != b"]":
            return None
        return cls(raw[split + 1 : -1], raw[1:split], *fields[:4])


# The positional maker (keys/frozen.py) of every entry a verification makes.
_make_entry = positional_maker(CachedVerdict)


def _str(value: object) -> str | None:
    return value if type(value) is str else None


@runtime_checkable
class VerdictCache(Protocol):
    """`get_entry`/`set_entry` are the service's path; `get`/`set` the same with dicts."""

    @property
    def available(self) -> bool: ...

    # True when get_entry/set_entry never suspend (the service then needs no single flight).
    synchronous: bool

    async def get_entry(self, key: str) -> CachedVerdict | None: ...

    async def set_entry(self, key: str, entry: CachedVerdict, ttl_seconds: float) -> None: ...

    async def get(self, key: str) -> dict[str, Any] | None: ...

    async def set(self, key: str, value: dict[str, Any], ttl_seconds: float) -> None: ...

    async def close(self) -> None: ...


class _DictAccess:
    """get/set in terms of get_entry/set_entry."""

    async def get_entry(self, key: str) -> CachedVerdict | None:
        raise NotImplementedError

    async def set_entry(self, key: str, entry: CachedVerdict, ttl_seconds: float) -> None:
        raise NotImplementedError

    async def get(self, key: str) -> dict[str, Any] | None:
        entry = await self.get_entry(key)
        return None if entry is None else entry.verdict()

    async def set(self, key: str, value: dict[str, Any], ttl_seconds: float) -> None:
        try:
            entry = CachedVerdict.of(value)
        except (TypeError, ValueError) as exc:
            self.errors += 1
            log.error("verdict not cached: value is not JSON-serialisable (%s)", exc)
            return
        await self.set_entry(key, entry, ttl_seconds)

    errors: int


# -- keys -----------------------------------------------------------------------------------


def _json_default(obj: object) -> object:
    if isinstance(obj, set | frozenset):
        items = sorted(json.dumps(v, sort_keys=True, default=_json_default) for v in obj)
        return {"$set": items}
    if isinstance(obj, datetime):
        return {"$datetime": obj.isoformat()}
    if isinstance(obj, bytes):
        return {"$bytes": obj.hex()}
    raise TypeError(f"cache_key: cannot encode {type(obj).__name__} in expectations")


KEY_SALT = b"huren:v1:verdict-key\x00"  # before the key's JSON, in every verdict key


def cache_key(
    *,
    kind: str,
    document_sha256: str,
    relying: str,
    at: str | None,
    expectations: dict[str, Any],
    trust_version: str,
) -> str:
    """A fixed-length key naming one verdict: every input goes into a SHA-256 over canonical JSON
    (sorted keys), so equal inputs give equal keys and any difference gives another key."""
    doc = {
        "kind": kind,
        "document_sha256": document_sha256,
        "relying": relying,
        "at": at,
        "expectations": expectations,
        "trust_version": trust_version,
    }
    if (
        type(expectations) is dict
        and _STR_OR_NONE.issuperset(
            map(type, (kind, document_sha256, relying, at, trust_version, *expectations.values()))
        )
        and _STR.issuperset(map(type, expectations))
    ):
        # Strings and None only: orjson writes exactly the json module's bytes (same escapes,
        # keys sorted by code point), several times faster.
        raw = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    else:
        raw = json.dumps(
            doc,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
            default=_json_default,
        ).encode("utf-8")
    digest = hashlib.sha256(KEY_SALT + raw).hexdigest()
    return KEY_PREFIX + digest


_STR = frozenset((str,))
_STR_OR_NONE = frozenset((str, type(None)))


def _encode_value(value: dict[str, Any]) -> bytes:
    """Compact JSON in the dict's own key order: exactly the bytes
    api.http.jsonbody.dump_json writes
    for the verdict inside a response, so a hit is served by embedding them as they are."""
    return dump_json(value)


def _decode_value(raw: bytes) -> dict[str, Any] | None:
    value: Any
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        # orjson refuses some JSON the json module reads (NaN, 1e400, lone surrogate escapes):
        # those answer as they always did.
        try:
            value = json.loads(raw)
        except (ValueError, RecursionError):
            return None
    return value if isinstance(value, dict) else None


# -- in-process -----------------------------------------------------------------------------


class InProcessVerdictCache(_DictAccess):
    """Bounded LRU with per-entry TTL of immutable CachedVerdict entries (JSON bytes), so a
    caller mutating a returned dict never changes the cache."""

    synchronous = True

    def __init__(
        self,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_ttl_seconds: float = DEFAULT_MAX_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("cache_max_entries must be at least 1")
        self.max_entries = max_entries
        self.max_ttl_seconds = max_ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, CachedVerdict]] = OrderedDict()
        self.available = True
        self.hits = 0
        self.misses = 0
        self.errors = 0
        self.rejected_entries = 0
        self.outages = 0
        self.evictions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, key: str) -> CachedVerdict | None:
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        expires, entry = found
        if self._clock() >= expires:
            del self._entries[key]
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def store(self, key: str, entry: CachedVerdict, ttl_seconds: float) -> None:
        ttl = min(float(ttl_seconds), self.max_ttl_seconds)
        if not ttl > 0:
            self._entries.pop(key, None)
            return
        self._entries[key] = (self._clock() + ttl, entry)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
            self.evictions += 1

    async def get_entry(self, key: str) -> CachedVerdict | None:
        return self.lookup(key)

    async def set_entry(self, key: str, entry: CachedVerdict, ttl_seconds: float) -> None:
        self.store(key, entry, ttl_seconds)

    async def close(self) -> None:
        self._entries.clear()


# -- Redis ----------------------------------------------------------------------------------


class _Failed:
    """Marker for an operation that did not complete (Redis down, slow or erroring)."""


_FAILED = _Failed()


class RedisVerdictCache(_DictAccess):
    """Verdicts in Redis, authenticated with HMAC-SHA256; never raises from get/set. Connections,
    errors and outages belong to the shared owner (api/state/redis.py); keys are untagged, so in
    a cluster they spread over every shard."""

    synchronous = False

    def __init__(
        self,
        url: str | None = None,
        *,
        secret: bytes,
        redis: SharedRedis | None = None,
        max_ttl_seconds: float = DEFAULT_MAX_TTL_SECONDS,
        timeout_seconds: float = DEFAULT_REDIS_TIMEOUT_SECONDS,
        prefix: str = DEFAULT_REDIS_PREFIX,
        max_entry_bytes: int = MAX_ENTRY_BYTES,
        memo_bytes: int = VERIFIED_MEMO_BYTES,
        backoff_initial: float = 0.1,
        backoff_max: float = 2.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(
                f"cache_secret must be at least {MIN_SECRET_BYTES} bytes when Redis is used"
            )
        self._owns_redis = redis is None
        if redis is None:
            if not url:
                raise ValueError("RedisVerdictCache needs a url or a SharedRedis")
            redis = SharedRedis(RedisConfig(url=url, prefix=prefix, timeout=timeout_seconds))
        self.redis = redis
        self.url = url or redis.config.url
        self._secret = bytes(secret)
        self.max_ttl_seconds = max_ttl_seconds
        self.timeout_seconds = redis.timeout
        self.prefix = redis.verdict_prefix
        self.max_entry_bytes = max_entry_bytes
        self._wall = wall_clock
        self._guard = redis.guard
        self.health = Health(
            redis,
            "verdict cache",
            "serving without the shared cache and retrying in the background",
            probe=self._ping,
            logger=log,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
        )
        self._closed = False
        self.hits = 0
        self.misses = 0
        self.errors = 0
        self.rejected_entries = 0
        # Key -> (stored bytes, expiry in ms, entry) of entries verified by open() or written
        # here: the same bytes read back under the same key are the same authentic entry, so a
        # hot key costs a byte comparison instead of an HMAC, a regex and a parse per read.
        self._verified: OrderedDict[str, tuple[bytes, int, CachedVerdict]] = OrderedDict()
        self._verified_bytes = 0
        self.memo_bytes = memo_bytes

    @property
    def available(self) -> bool:
        return self.health.available

    @property
    def outages(self) -> int:
        return self.health.outages

    @property
    def _lean(self) -> RespClient | None:
        return self.redis.lean

    # -- plumbing ---------------------------------------------------------------------------

    def _redis_key(self, key: str) -> str:
        return self.prefix + key.removeprefix(DEFAULT_REDIS_PREFIX)

    async def _ping(self) -> None:
        lean = self.redis.lean
        if lean is not None:
            await lean.ping()
        elif self.redis.mode == "cluster":
            from redis.asyncio.cluster import RedisCluster

            client: Any = self.redis.client()
            await client.ping(target_nodes=RedisCluster.PRIMARIES)
        else:
            await self.redis.client().ping()

    async def _command(self, *args: str | bytes | int) -> Any:
        """One command through the lean client in standalone mode, else redis-py; a failure
        starts (or continues) an outage and gives _FAILED."""
        if not self.health.available or self._closed:
            return _FAILED
        key = args[1]
        lean = self.redis.lean_for(key if isinstance(key, str) else "")
        try:
            if lean is not None:
                try:
                    # No asyncio.timeout here: the client bounds every wait by the timeout itself.
                    return await lean.execute(*args)
                except RespError as exc:
                    if classify(exc) not in ("moved", "ask"):
                        raise
                    await self.redis.refresh()  # a slot moved: redis-py follows it, this once
            async with asyncio.timeout(self._guard):
                return await self.redis.client().execute_command(*args)  # type: ignore[no-untyped-call]
        except Exception as exc:
            self.errors += 1
            self.health.failure(exc)
            return _FAILED

    # -- entries ----------------------------------------------------------------------------

    def _mac(self, key: str, exp: bytes, meta: bytes, value: bytes) -> bytes:
        k = key.encode("utf-8")
        msg = b"".join(
            (_MAC_CONTEXT, len(k).to_bytes(8, "big"), k, exp, b"\x00", meta, b"\x00", value)
        )
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest().encode("ascii")

    def seal(self, key: str, entry: CachedVerdict, ttl_seconds: float) -> tuple[bytes, int] | None:
        """The stored form: compact JSON {"exp": ms, "mac": hex, "meta": [...], "value": [simple,
        detailed]}, and its expiry in ms;
        None if `open` could not read it back (meta strings with "]" or a backslash)."""
        exp_ms = int((self._wall() + ttl_seconds) * 1000)
        exp = str(exp_ms).encode("ascii")
        meta = entry.meta_json()
        if not (_READABLE_EXP.fullmatch(exp) and _READABLE_META.fullmatch(meta)):
            return None
        value = entry.value_json()
        mac = self._mac(key, exp, meta, value)
        stored = (
            b'{"exp":' + exp + b',"mac":"' + mac + b'","meta":' + meta + b',"value":' + value + b"}"
        )
        return stored, exp_ms

    def open(self, key: str, stored: bytes) -> CachedVerdict | None:
        """The entry if it is authentic and unexpired; None otherwise (rejections are counted;
        an expired entry is not a rejection). The value is not parsed: it is what this service
        wrote under the secret, bound to this key."""
        known = self._verified.get(key)
        if known is not None and known[0] == stored:
            if known[1] <= int(self._wall() * 1000):
                return None
            self._verified.move_to_end(key)
            return known[2]
        match = _ENTRY.fullmatch(stored) if len(stored) <= self.max_entry_bytes else None
        if match is None:
            self.rejected_entries += 1
            return None
        exp, mac, meta, raw = match.groups()
        if not hmac.compare_digest(self._mac(key, exp, meta, raw), mac):
            self.rejected_entries += 1
            return None
        if int(exp) <= int(self._wall() * 1000):
            return None
        entry = CachedVerdict.from_parts(meta, raw)
        if entry is None:
            self.rejected_entries += 1
        else:
            self._remember(key, stored, int(exp), entry)
        return entry

    def _remember(self, key: str, stored: bytes, exp_ms: int, entry: CachedVerdict) -> None:
        """Keep a verified entry for open(), oldest out first within memo_bytes."""
        size = 2 * len(stored)  # the stored bytes and the entry's slices of them
        if size > self.memo_bytes // 16:
            return
        old = self._verified.pop(key, None)
        if old is not None:
            self._verified_bytes -= 2 * len(old[0])
        self._verified[key] = (stored, exp_ms, entry)
        self._verified_bytes += size
        while self._verified_bytes > self.memo_bytes:
            _, (gone, _, _) = self._verified.popitem(last=False)
            self._verified_bytes -= 2 * len(gone)

    async def get_entry(self, key: str) -> CachedVerdict | None:
        stored = await self._command("GET", self._redis_key(key))
        entry = None
        if isinstance(stored, bytes):
            entry = self.open(key, stored)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        return entry

    async def set_entry(self, key: str, entry: CachedVerdict, ttl_seconds: float) -> None:
        ttl = min(float(ttl_seconds), self.max_ttl_seconds)
        if not ttl > 0:
            return
        sealed = self.seal(key, entry, ttl)
        if sealed is None or len(sealed[0]) > self.max_entry_bytes:
            return  # it would be refused when read back
        stored, exp_ms = sealed
        px = max(1, int(ttl * 1000))
        if await self._command("SET", self._redis_key(key), stored, "PX", px) is not _FAILED:
            self._remember(key, stored, exp_ms, entry)

    async def close(self) -> None:
        self._closed = True
        self._verified.clear()
        self._verified_bytes = 0
        self.health.stop()
        if self._owns_redis:
            await self.redis.close()


def make_cache(settings: Any, redis: SharedRedis | None = None) -> VerdictCache:
    """The cache the settings ask for: Redis when they describe one (shared with the trust sync
    when `redis` is given), else in-process."""
    max_ttl = float(getattr(settings, "cache_max_ttl_seconds", DEFAULT_MAX_TTL_SECONDS))
    if redis is None:
        redis = SharedRedis.from_settings(settings)
        owns = True
    else:
        owns = False
    if redis is None:
        return InProcessVerdictCache(
            max_entries=int(getattr(settings, "cache_max_entries", DEFAULT_MAX_ENTRIES)),
            max_ttl_seconds=max_ttl,
        )
    secret = getattr(settings, "cache_secret", b"") or b""
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    cache = RedisVerdictCache(secret=secret, redis=redis, max_ttl_seconds=max_ttl)
    cache._owns_redis = owns
    return cache


# -- single flight --------------------------------------------------------------------------


class SingleFlight:
    """Concurrent calls with the same key share one execution of `fn` (per process and event
    loop). The work runs in its own task, so a cancelled caller does not cancel it for the
    others; its result or exception goes to every caller; the entry is removed when it ends."""

    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Task[Any]] = {}

    def __len__(self) -> int:
        return len(self._inflight)

    async def run(self, key: str, fn: Callable[[], Awaitable[T]]) -> T:
        task = self._inflight.get(key)
        if task is None:

            async def call() -> T:
                try:
                    return await fn()
                finally:
                    if self._inflight.get(key) is new:
                        del self._inflight[key]

            new: asyncio.Task[T] = asyncio.get_running_loop().create_task(call())
            self._inflight[key] = new
            new.add_done_callback(lambda t: self._done(key, t))
            task = new
        result: T = await asyncio.shield(task)
        return result

    def _done(self, key: str, task: asyncio.Task[Any]) -> None:
        if self._inflight.get(key) is task:  # e.g. cancelled before it ever ran
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # mark retrieved: every caller may have gone away


__all__ = [
    "KEY_PREFIX",
    "KEY_SALT",
    "CachedVerdict",
    "InProcessVerdictCache",
    "RedisVerdictCache",
    "SingleFlight",
    "VerdictCache",
    "cache_key",
    "make_cache",
]
