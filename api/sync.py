"""Keeping every instance's trust store current: Redis fan-out of accepted documents, the trust
epoch that makes "no stale verdict after an acknowledged upload" hold, and pulling signed lists
from the jurisdictions' publication URLs. See docs/architecture.md.

Redis is never trusted with trust: whatever is read from it (or pulled over HTTP) is submitted to
this instance's own TrustStore, which verifies it against its own pinned anchors and state.

Redis layout (prefix `settings.redis_prefix`, default "huren:v1:"):
- `trust-docs`    hash  field -> latest accepted bytes; field "trust_list:<jurisdiction>",
                        "status_list:<uri>" or "catalogue"
- `trust-seqs`    hash  field -> its sequence (status lists: iat), so readers fetch only news
- `trust-history:<jurisdiction>` hash sequence -> bytes (recent lists, to replay rotations)
- `trust-epoch`   int   incremented by every publish (INCR, in the same script as the write)
- `trust-incarnation`   random token set with the first epoch (detects a wiped Redis)
- channel `trust` notification of each publish
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

# redis and httpx are imported where first used: an instance without Redis or sources (the
# default) starts without loading either.
if TYPE_CHECKING:
    import httpx
    import redis.asyncio as aioredis

from api.resp import RespClient, UnsupportedURL, is_refusal
from trust_lists.catalogue import SignedCatalogue
from trust_lists.errors import (
    NotYetIssued,
    Rollback,
    RotationNotAuthorised,
    StorageError,
    ThresholdNotMet,
    TrustStateError,
)
from trust_lists.signed import SignedTrustList
from trust_lists.status_list import StatusList
from trust_lists.store import TrustStore
from trust_lists.timeutil import format_time

log = logging.getLogger("huren.sync")

T = TypeVar("T")
Kind = Literal["trust_list", "status_list", "catalogue"]
KINDS: tuple[Kind, ...] = ("trust_list", "status_list", "catalogue")

DEFAULT_PREFIX = "huren:v1:"
DEFAULT_TIMEOUT = 0.25
DEFAULT_PULL_INTERVAL = 300.0
DEFAULT_PULL_TIMEOUT = 10.0
DEFAULT_PULL_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_PULL_RETRY_BASE = 1.0
DEFAULT_RESYNC_SECONDS = 30.0
HISTORY_KEPT = 32
# Refusals that cannot change by retrying the same bytes later.
_TRANSIENT = (NotYetIssued, StorageError)
_CHAIN_NEEDED = (RotationNotAuthorised, ThresholdNotMet)

# KEYS: docs, seqs, epoch, incarnation, history
# ARGV: field, seq, data, incarnation candidate, channel, message, keep history (0/1), history cap
_PUBLISH_LUA = """
local cur = redis.call('HGET', KEYS[2], ARGV[1])
local stored = 0
if (not cur) or (tonumber(cur) or -1) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  stored = 1
end
if ARGV[7] == '1' then
  redis.call('HSET', KEYS[5], ARGV[2], ARGV[3])
  local cap = tonumber(ARGV[8])
  if redis.call('HLEN', KEYS[5]) > cap then
    local seqs = redis.call('HKEYS', KEYS[5])
    table.sort(seqs, function(a, b) return (tonumber(a) or 0) < (tonumber(b) or 0) end)
    for i = 1, #seqs - cap do redis.call('HDEL', KEYS[5], seqs[i]) end
  end
end
-- A new incarnation whenever the epoch counter is (re)created, so a wiped or evicted epoch can
-- never repeat a value an instance has already seen.
local inc = redis.call('GET', KEYS[4])
if (not inc) or redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('SET', KEYS[4], ARGV[4])
  inc = ARGV[4]
end
local epoch = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return {inc, epoch, stored}
"""


class SyncPublishError(RuntimeError):
    """The document was accepted locally but could not be written to Redis, so other instances
    will not learn of it (until Redis is back and it is re-uploaded, or they pull it)."""


class _RedisFailure(Exception):
    pass


class _PullError(Exception):
    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code


@dataclass(frozen=True, slots=True)
class _Source:
    name: str  # diagnostics key, same form as the Redis field
    kind: Kind
    url: str
    jurisdiction: str | None = None


def describe(kind: Kind, data: bytes) -> tuple[str, int]:
    """The Redis field and the ordering number of a document (raises TrustStateError)."""
    if kind == "trust_list":
        tl = SignedTrustList.parse(data).trust_list
        return f"trust_list:{tl.jurisdiction}", tl.sequence
    if kind == "status_list":
        sl, _ = StatusList.parse(data)
        return f"status_list:{sl.uri}", int(sl.issued_at.timestamp())
    if kind == "catalogue":
        return "catalogue", SignedCatalogue.parse(data).catalogue.sequence
    raise ValueError(f"unknown trust document kind {kind!r}")


def _kind_of(field: str) -> Kind | None:
    head = field.split(":", 1)[0]
    for kind in KINDS:
        if head == kind:
            return kind
    return None


def _bytes(value: bytes | str | None) -> bytes:
    if value is None:
        return b""
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


_ORDER = {"trust_list": 0, "status_list": 1, "catalogue": 2}


class TrustSync:
    def __init__(
        self,
        settings: Any,
        store: TrustStore,
        on_adopted: Callable[[str], None],
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.on_adopted = on_adopted
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.redis_url: str | None = getattr(settings, "redis_url", None) or None
        prefix = str(getattr(settings, "redis_prefix", DEFAULT_PREFIX))
        self.timeout = float(getattr(settings, "redis_timeout_seconds", DEFAULT_TIMEOUT))
        self._guard = 2 * self.timeout + 0.05
        self.channel = prefix + "trust"
        self._docs_key = prefix + "trust-docs"
        self._seqs_key = prefix + "trust-seqs"
        self._epoch_key = prefix + "trust-epoch"
        self._inc_key = prefix + "trust-incarnation"
        self._history_prefix = prefix + "trust-history:"
        self.resync_seconds = float(
            getattr(settings, "sync_resync_seconds", DEFAULT_RESYNC_SECONDS)
        )
        self.backoff_initial = 0.1
        self.backoff_max = 2.0

        self.pull_interval = float(
            getattr(settings, "pull_interval_seconds", DEFAULT_PULL_INTERVAL)
        )
        self.pull_timeout = float(getattr(settings, "pull_timeout_seconds", DEFAULT_PULL_TIMEOUT))
        self.pull_max_bytes = int(getattr(settings, "pull_max_bytes", DEFAULT_PULL_MAX_BYTES))
        self.pull_retry_base = float(
            getattr(settings, "pull_retry_base_seconds", DEFAULT_PULL_RETRY_BASE)
        )
        sources: list[_Source] = []
        for code, url in sorted((getattr(settings, "sources", None) or {}).items()):
            sources.append(_Source(f"trust_list:{code}", "trust_list", str(url), str(code)))
        for url in getattr(settings, "status_sources", None) or []:
            sources.append(_Source(f"status_list:{url}", "status_list", str(url)))
        catalogue_url = getattr(settings, "catalogue_source", None)
        if catalogue_url:
            sources.append(_Source("catalogue", "catalogue", str(catalogue_url)))
        self.sources: tuple[_Source, ...] = tuple(sources)

        self.last_pull: dict[str, dict[str, Any]] = {}
        self.available = self.redis_url is not None
        self.published = 0
        self.adopted_from_redis = 0
        self.refused_from_redis = 0
        self.adopted_from_pull = 0
        self.redis_errors = 0
        self.outages = 0
        self.catch_ups = 0

        self._client: aioredis.Redis | None = None
        # The epoch check runs before every verdict: through the lean client (api/resp.py) when
        # it understands the URL, else through redis-py like every other command here.
        self._lean: RespClient | None = None
        self._http: httpx.AsyncClient | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._seen: tuple[bytes, int] | None = None  # (incarnation, epoch) fully caught up to
        self._pending: asyncio.Future[None] | None = None
        self._pending_force = False
        self._runner: asyncio.Task[None] | None = None
        self._catchup_lock: asyncio.Lock | None = None  # made in start(), on the running loop
        self._refused: set[tuple[str, str]] = set()
        self._etags: dict[str, str] = {}
        self._retry_at = 0.0
        self._backoff = self.backoff_initial
        self._outage_started = 0.0
        self._stopping = False

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Catch up from Redis (bounded; Redis down is not an error), then listen for
        notifications and start the pull loops."""
        self._stopping = False
        self._catchup_lock = asyncio.Lock()
        if self.redis_url is not None and self._client is None:
            import redis.asyncio as aioredis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            self._client = aioredis.Redis.from_url(
                self.redis_url,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                # One immediate retry on a fresh connection: a pooled connection may have
                # died with a Redis restart. The timeout guard still bounds the total.
                retry=Retry(NoBackoff(), 1),
                health_check_interval=0,
            )
            try:
                self._lean = RespClient.from_url(self.redis_url, timeout=self.timeout)
            except UnsupportedURL:
                self._lean = None
            await self._check_once(force=True)
            self._spawn(self._listen(), "huren-sync-listen")
        if self.sources and self._http is None:
            import httpx

            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self.pull_timeout),
                follow_redirects=False,
                headers={"User-Agent": "huren-trust-sync/1"},
            )
            for source in self.sources:
                self._spawn(self._pull_loop(source), f"huren-pull-{source.name}")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(coro, name=name))

    async def stop(self) -> None:
        self._stopping = True
        tasks = [*self._tasks, *([self._runner] if self._runner else [])]
        self._tasks.clear()
        self._runner = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._pending is not None and not self._pending.done():
            self._pending.set_result(None)
        self._pending = None
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.aclose(), self._guard)
        lean, self._lean = self._lean, None
        if lean is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(lean.close(), self._guard)
        http, self._http = self._http, None
        if http is not None:
            with contextlib.suppress(Exception):
                await http.aclose()

    # -- Redis plumbing ---------------------------------------------------------------------

    async def _redis(self, op: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        """One bounded Redis operation; raises _RedisFailure (and records the outage)."""
        client = self._client
        if client is None:
            raise _RedisFailure("not connected")
        try:
            # asyncio.timeout, not wait_for: the same deadline without a task per command.
            async with asyncio.timeout(self._guard):
                result = await op(client)
        except Exception as exc:
            raise self._failure(exc) from exc
        self._mark_up()
        return result

    async def _epoch(self) -> list[Any]:
        """[epoch, incarnation] as MGET gives them; raises _RedisFailure like _redis()."""
        lean = self._lean
        if lean is None or self._client is None:
            return await self._redis(lambda c: c.mget([self._epoch_key, self._inc_key]))
        try:
            # No asyncio.timeout here: the client bounds every wait by the timeout itself.
            result = await lean.mget(self._epoch_key, self._inc_key)
        except Exception as exc:
            raise self._failure(exc) from exc
        self._mark_up()
        return result

    def _failure(self, exc: Exception) -> _RedisFailure:
        """Count a failed command (an outage unless Redis answered) and say so to the caller."""
        self.redis_errors += 1
        if is_refusal(exc):  # Redis answered: it is up, but refused it
            log.warning("trust sync: Redis refused a command: %s", exc)
        else:
            self._mark_down(exc)
        return _RedisFailure(str(exc))

    def _mark_down(self, exc: BaseException) -> None:
        now = time.monotonic()
        if self.available:
            self.available = False
            self.outages += 1
            self._outage_started = now
            self._backoff = self.backoff_initial
            log.warning(
                "trust sync: Redis unavailable (%s: %s); this instance keeps its own trust "
                "state and cannot see other instances' uploads until Redis is back",
                type(exc).__name__,
                exc,
            )
        else:
            self._backoff = min(self._backoff * 2, self.backoff_max)
        self._retry_at = now + self._backoff * random.uniform(0.5, 1.0)  # noqa: S311

    def _mark_up(self) -> None:
        if not self.available:
            self.available = True
            self._backoff = self.backoff_initial
            log.info(
                "trust sync: Redis reachable again after %.1f s",
                time.monotonic() - self._outage_started,
            )

    # -- publish ----------------------------------------------------------------------------

    async def publish(self, kind: Kind, data: bytes) -> None:
        """Record a document this instance has accepted, bump the trust epoch and notify the
        others, all in one atomic script. Call it BEFORE acknowledging the upload. No-op without
        Redis; raises SyncPublishError when Redis cannot be written."""
        if self.redis_url is None:
            return
        if self._client is None:
            raise SyncPublishError("trust sync is not started")
        data = bytes(data)
        field, seq = describe(kind, data)
        history = (
            self._history_prefix + field.split(":", 1)[1]
            if kind == "trust_list"
            else self._history_prefix + "-"
        )
        message = json.dumps({"field": field, "seq": seq}, separators=(",", ":"))
        try:
            raw: Any = await self._redis(
                lambda c: c.eval(
                    _PUBLISH_LUA,
                    5,
                    self._docs_key,
                    self._seqs_key,
                    self._epoch_key,
                    self._inc_key,
                    history,
                    field,
                    str(seq),
                    data,
                    secrets.token_hex(8),
                    self.channel,
                    message,
                    "1" if kind == "trust_list" else "0",
                    str(HISTORY_KEPT),
                )
            )
        except _RedisFailure as exc:
            raise SyncPublishError(f"could not publish {field} to Redis: {exc}") from exc
        incarnation, epoch = bytes(raw[0]), int(raw[1])
        self.published += 1
        # Our own store already holds this document; if nothing else happened since the state
        # we last caught up to, we are current at the new epoch without reading it back.
        if self._seen == (incarnation, epoch - 1):
            self._seen = (incarnation, epoch)

    # -- staying current --------------------------------------------------------------------

    async def ensure_current(self) -> None:
        """Call before serving any verdict. One GET-sized round trip (shared by concurrent
        callers); if another instance published since we last looked, catch up before returning.
        Never raises; with Redis unreachable returns at once (after at most one bounded try)."""
        if self._client is None:
            return
        if not self.available and time.monotonic() < self._retry_at:
            return
        await asyncio.shield(self._schedule(force=False))

    def _schedule(self, *, force: bool) -> asyncio.Future[None]:
        """Join the next check that STARTS after this call (one already running may have read the
        epoch before a publish we must see), starting a runner if none is active."""
        if force:
            self._pending_force = True
        if self._pending is None:
            self._pending = asyncio.get_running_loop().create_future()
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._run_checks())
        return self._pending

    async def _run_checks(self) -> None:
        while self._pending is not None:
            waiter, self._pending = self._pending, None
            force, self._pending_force = self._pending_force, False
            if not force and not self.available and time.monotonic() < self._retry_at:
                waiter.set_result(None)  # Redis just failed: do not queue another timeout
                continue
            try:
                await self._check_once(force=force)
            except Exception:
                log.exception("trust sync: check failed")
            finally:
                if not waiter.done():
                    waiter.set_result(None)

    async def _check_once(self, *, force: bool) -> None:
        try:
            raw = await self._epoch()
        except _RedisFailure:
            return
        try:
            token = (_bytes(raw[1]), int(raw[0] or 0))
        except ValueError:  # not a counter: never equal to what we saw, so always catch up
            token = (_bytes(raw[1]), -1)
        if token == self._seen and not force:
            return
        if self._catchup_lock is None:
            self._catchup_lock = asyncio.Lock()
        async with self._catchup_lock:
            try:
                await self._catch_up()
            except _RedisFailure:
                return
        self._seen = token

    def _held(self, field: str) -> int:
        kind = _kind_of(field)
        rest = field.split(":", 1)[1] if ":" in field else ""
        state = self.store.state
        if kind == "trust_list":
            return self.store.highest_sequence(rest)
        if kind == "status_list":
            held = state.status_lists.get(rest)
            return int(held.status_list.issued_at.timestamp()) if held else 0
        if kind == "catalogue":
            return state.catalogue.catalogue.sequence if state.catalogue else 0
        return 0

    async def _catch_up(self) -> None:
        """Submit every document in Redis newer than what the store holds (trust lists first,
        then status lists, then the catalogue)."""
        self.catch_ups += 1
        seqs = await self._redis(lambda c: cast(Awaitable[Any], c.hgetall(self._seqs_key)))
        wanted: list[str] = []
        for raw_field, raw_seq in seqs.items():
            field = bytes(raw_field).decode("utf-8", "replace")
            try:
                seq = int(raw_seq)
            except ValueError:
                continue
            if _kind_of(field) is not None and seq > self._held(field):
                wanted.append(field)
        if not wanted:
            return
        wanted.sort(key=lambda f: (_ORDER[f.split(":", 1)[0]], f))
        docs = await self._redis(lambda c: cast(Awaitable[Any], c.hmget(self._docs_key, wanted)))
        for field, data in zip(wanted, docs, strict=True):
            if data is not None:
                await self._adopt_from_redis(field, bytes(data))

    async def _adopt_from_redis(self, field: str, data: bytes) -> None:
        kind = _kind_of(field)
        assert kind is not None
        digest = hashlib.sha256(data).hexdigest()
        if (field, digest) in self._refused:
            return
        slot = field.split(":", 1)[1] if kind == "trust_list" else None
        try:
            adopted = await asyncio.to_thread(self._submit, kind, data, slot)
        except _CHAIN_NEEDED as exc:
            if kind == "trust_list" and slot is not None and await self._replay_history(slot):
                return
            self._refuse(field, digest, exc)
            return
        except Rollback:
            return  # we already hold something at least as new
        except TrustStateError as exc:
            self._refuse(field, digest, exc)
            return
        except Exception as exc:
            self._refuse(field, digest, exc)
            return
        if adopted:
            self.adopted_from_redis += 1
            log.info("trust sync: adopted %s from another instance", field)
            self._notify(kind)

    async def _replay_history(self, jurisdiction: str) -> bool:
        """An operator-key rotation needs the intermediate lists: submit the recent history in
        order. True if the newest of them was reached."""
        key = self._history_prefix + jurisdiction
        versions = await self._redis(lambda c: cast(Awaitable[Any], c.hkeys(key)))
        highest = self.store.highest_sequence(jurisdiction)
        seqs = sorted(int(v) for v in versions if bytes(v).isdigit() and int(v) > highest)
        if not seqs:
            return False
        docs = await self._redis(
            lambda c: cast(Awaitable[Any], c.hmget(key, [str(s) for s in seqs]))
        )
        adopted_any = False
        for seq, data in zip(seqs, docs, strict=True):
            if data is None:
                continue
            try:
                if await asyncio.to_thread(self._submit, "trust_list", bytes(data), jurisdiction):
                    adopted_any = True
            except TrustStateError as exc:
                log.warning(
                    "trust sync: history list %s/%s refused (%s)", jurisdiction, seq, exc.code
                )
                break
        if adopted_any:
            self.adopted_from_redis += 1
            log.info("trust sync: replayed %s's list history from another instance", jurisdiction)
            self._notify("trust_list")
        return self.store.highest_sequence(jurisdiction) >= seqs[-1]

    def _refuse(self, field: str, digest: str, exc: BaseException) -> None:
        code = getattr(exc, "code", type(exc).__name__)
        self.refused_from_redis += 1
        if not isinstance(exc, _TRANSIENT):
            self._refused.add((field, digest))
            if len(self._refused) > 1024:
                self._refused.clear()
        log.warning("trust sync: refused %s from Redis (%s): %s", field, code, exc)

    def _submit(self, kind: Kind, data: bytes, slot: str | None) -> bool:
        """Submit to our own store (verified against our anchors); True if it was adopted."""
        now = self.clock()
        state = self.store.state
        if kind == "trust_list":
            signed = SignedTrustList.parse(data)
            code = slot or signed.trust_list.jurisdiction
            before_list = state.lists.get(code)
            return self.store.submit_trust_list(data, now=now, jurisdiction=slot) is not before_list
        if kind == "status_list":
            sl, _ = StatusList.parse(data)
            before_sl = state.status_lists.get(sl.uri)
            return self.store.submit_status_list(data, now=now) is not before_sl
        before_cat = state.catalogue
        return self.store.submit_catalogue(data, now=now) is not before_cat

    def _notify(self, kind: Kind) -> None:
        try:
            self.on_adopted(kind)
        except Exception:
            log.exception("trust sync: on_adopted callback failed")

    async def _subscribe(self, pubsub: Any) -> None:
        """Subscribe and wait for the confirmation (sending alone succeeds on a dead socket)."""
        await pubsub.subscribe(self.channel)
        while True:
            message = await pubsub.get_message(timeout=self.timeout)
            if message is None:
                raise _RedisFailure("no subscription confirmation")
            if message.get("type") == "subscribe":
                return

    async def _listen(self) -> None:
        """Subscribe; on every notification check the epoch; resubscribe with backoff after a
        Redis failure and catch up (notifications sent meanwhile are lost)."""
        delay = self.backoff_initial
        while not self._stopping:
            client = self._client
            if client is None:
                return
            pubsub = client.pubsub()
            try:
                await asyncio.wait_for(self._subscribe(pubsub), self._guard)
                self._mark_up()
                delay = self.backoff_initial
                await asyncio.shield(self._schedule(force=True))
                last_resync = time.monotonic()
                while not self._stopping:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    force = time.monotonic() - last_resync >= self.resync_seconds
                    # Commands failed while the subscription stayed up: probe, so that an idle
                    # instance notices the recovery (and catches up) by itself.
                    probe = not self.available and time.monotonic() >= self._retry_at
                    if message is not None or force or probe:
                        if force:
                            last_resync = time.monotonic()
                        await asyncio.shield(self._schedule(force=force))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.redis_errors += 1
                self._mark_down(exc)
            finally:
                with contextlib.suppress(Exception):
                    aclose = cast(Callable[[], Awaitable[None]], pubsub.aclose)
                    await asyncio.wait_for(aclose(), self._guard)
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311
            delay = min(delay * 2, self.backoff_max)

    # -- pull -------------------------------------------------------------------------------

    async def pull_once(self) -> None:
        """Fetch every configured source once (concurrently). Diagnostics in `last_pull`."""
        if not self.sources:
            return
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(
                timeout=httpx.Timeout(self.pull_timeout),
                follow_redirects=False,
                headers={"User-Agent": "huren-trust-sync/1"},
            )
        await asyncio.gather(*(self._pull_source(s) for s in self.sources))

    async def _pull_loop(self, source: _Source) -> None:
        failures = 0
        while not self._stopping:
            ok = await self._pull_source(source)
            failures = 0 if ok else failures + 1
            if ok:
                delay = self.pull_interval * random.uniform(0.9, 1.0)  # noqa: S311
            else:
                backoff = self.pull_retry_base * 2 ** min(failures - 1, 30)
                delay = min(self.pull_interval, backoff) * random.uniform(0.5, 1.0)  # noqa: S311
            await asyncio.sleep(delay)

    async def _fetch(self, source: _Source) -> tuple[bytes | None, str | None]:
        """The body (None for 304 Not Modified) and its ETag; raises _PullError."""
        import httpx  # loaded with the client

        http = self._http
        assert http is not None
        headers = {}
        etag = self._etags.get(source.name)
        if etag:
            headers["If-None-Match"] = etag
        try:
            async with asyncio.timeout(self.pull_timeout):
                async with http.stream("GET", source.url, headers=headers) as resp:
                    if resp.status_code == 304:
                        return None, etag
                    if resp.status_code != 200:
                        raise _PullError(f"http_{resp.status_code}")
                    length = resp.headers.get("content-length")
                    if (
                        length is not None
                        and length.isdigit()
                        and int(length) > self.pull_max_bytes
                    ):
                        raise _PullError("too_large", f"Content-Length {length}")
                    body = bytearray()
                    async for chunk in resp.aiter_bytes():
                        body += chunk
                        if len(body) > self.pull_max_bytes:
                            raise _PullError("too_large", f"more than {self.pull_max_bytes} bytes")
                    new_etag = resp.headers.get("etag")
        except TimeoutError as exc:
            raise _PullError("timeout", f"no complete answer within {self.pull_timeout}s") from exc
        except httpx.HTTPError as exc:
            raise _PullError("unreachable", f"{type(exc).__name__}: {exc}") from exc
        return bytes(body), new_etag

    async def _pull_source(self, source: _Source) -> bool:
        """One fetch-and-submit. True unless the fetch failed or the document was refused
        (an older or unchanged document is not a failure)."""
        entry = self.last_pull.setdefault(
            source.name, {"kind": source.kind, "url": source.url, "failures": 0}
        )
        status, error, detail = "unchanged", None, None
        etag: str | None = None
        try:
            data, etag = await self._fetch(source)
        except _PullError as exc:
            data, status, error, detail = None, "error", exc.code, str(exc)
        except Exception as exc:
            data, status, error, detail = None, "error", "fetch_failed", repr(exc)
        if data is not None:
            try:
                adopted = await asyncio.to_thread(
                    self._submit, source.kind, data, source.jurisdiction
                )
                status = "adopted" if adopted else "unchanged"
                if etag:
                    self._etags[source.name] = etag
            except Rollback as exc:
                status, error, detail = "ignored", exc.code, str(exc)
                log.debug("pull %s: older document ignored (%s)", source.url, exc)
            except TrustStateError as exc:
                status, error, detail = "refused", exc.code, str(exc)
            except Exception as exc:
                status, error, detail = "refused", "malformed", repr(exc)
            else:
                if adopted:
                    self.adopted_from_pull += 1
                    log.info("pull %s: adopted a new %s", source.url, source.kind)
                    try:
                        await self.publish(source.kind, data)
                    except (SyncPublishError, TrustStateError) as exc:
                        log.warning("pull %s: adopted but not published: %s", source.url, exc)
                    self._notify(source.kind)
        failed = status in ("error", "refused")
        if failed:
            log.warning("pull %s: %s (%s) %s", source.url, status, error, detail or "")
        entry.update(
            status=status,
            time=format_time(self.clock()),
            error=error,
            detail=detail,
            failures=entry["failures"] + 1 if failed else 0,
        )
        if not failed:
            entry["last_success"] = entry["time"]
        return not failed


__all__ = ["KINDS", "Kind", "SyncPublishError", "TrustSync", "describe"]
