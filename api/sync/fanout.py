"""Keeping every instance's trust store current: Redis fan-out of accepted documents, the trust
epoch that makes "no stale verdict after an acknowledged upload" hold; the pull of signed lists
from the jurisdictions' publication URLs (api/sync/pull.py) runs from here. See
docs/cache-and-sync.md.

Redis is never trusted with trust: whatever is read from it (or pulled over HTTP) is submitted to
this instance's own TrustStore, which verifies it against its own pinned anchors and state.

Redis layout (prefix `settings.redis_prefix`, default "huren:v1:"; every key below sits under the
hash tag `{<prefix>}`, so in a cluster they share one slot and the scripts stay atomic):
- `trust-docs`    hash  field -> latest accepted bytes; field "trust_list:<jurisdiction>",
                        "status_list:<uri>" or "catalogue"
- `trust-seqs`    hash  field -> its sequence (status lists: iat), so readers fetch only news
- `trust-history:<jurisdiction>` hash sequence -> bytes (recent lists, to replay rotations)
- `trust-epoch`   int   incremented by every publish (INCR, in the same script as the write)
- `trust-incarnation`   random token set with the first epoch (detects a wiped Redis)
- channel `trust` notification of each publish (sharded pub/sub in a cluster)

Connections, errors and outages belong to the shared owner, api/state/redis.py.
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
from typing import TYPE_CHECKING, Any, TypeVar, cast

# redis and httpx are imported where first used: an instance without Redis or sources (the
# default) starts without loading either.
if TYPE_CHECKING:
    import redis.asyncio as aioredis

from api.state.redis import Health, SharedRedis, classify
from api.state.resp import RespClient
from api.sync.pull import (
    DEFAULT_PULL_INTERVAL,
    DEFAULT_PULL_MAX_BYTES,
    DEFAULT_PULL_RETRY_BASE,
    DEFAULT_PULL_TIMEOUT,
    Fetcher,
    Puller,
    TrustDocumentKind,
)
from trust_lists.catalogue import MAX_CATALOGUE_BYTES, SignedCatalogue
from trust_lists.errors import (
    NotYetIssued,
    Rollback,
    RotationNotAuthorised,
    StorageError,
    ThresholdNotMet,
    TrustStateError,
)
from trust_lists.signed import MAX_TRUST_LIST_BYTES, SignedTrustList
from trust_lists.status_list import MAX_STATUS_LIST_TOKEN_BYTES, StatusList
from trust_lists.store import TrustStore

log = logging.getLogger("huren.sync")

T = TypeVar("T")
KINDS: tuple[TrustDocumentKind, ...] = ("trust_list", "status_list", "catalogue")

DEFAULT_PREFIX = "huren:v1:"
DEFAULT_TIMEOUT = 0.25
DEFAULT_RESYNC_SECONDS = 30.0
HISTORY_KEPT = 32
# What one catch-up before a verdict may do (docs/cache-and-sync.md, "Catch-up budget").
DEFAULT_BUDGET_DOCUMENTS = 16
DEFAULT_BUDGET_BYTES = 16 * 1024 * 1024
DEFAULT_BUDGET_SECONDS = 0.5
DEFAULT_MAX_LAG_SECONDS = 30.0
# Refusals that may change when the same bytes are offered later: not remembered.
_TRANSIENT = (NotYetIssued, StorageError)
_REFUSALS_KEPT = 1024
# The largest document of each kind the store would parse: anything larger is refused unread.
_MAX_BYTES: dict[str, int] = {
    "trust_list": MAX_TRUST_LIST_BYTES,
    "status_list": MAX_STATUS_LIST_TOKEN_BYTES,
    "catalogue": MAX_CATALOGUE_BYTES,
}
_LARGEST_DOCUMENT = max(_MAX_BYTES.values())
# Every sequence, iat and epoch we write fits in a signed 64-bit integer.
_MAX_COUNTER_DIGITS = 19
_CHAIN_NEEDED = (RotationNotAuthorised, ThresholdNotMet)
# A slot moved under a connection of our own (pub/sub, publish): followed, not an outage.
_REDIRECTS = ("moved", "ask")

# KEYS: docs, seqs, epoch, incarnation, history
# ARGV: field, seq, data, incarnation candidate, channel, message, keep history (0/1), history cap,
# the publish command (SPUBLISH in a cluster: the channel hashes to the keys' slot)
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
redis.call(ARGV[9], ARGV[5], ARGV[6])
return {inc, epoch, stored}
"""

# KEYS: a hash of documents; ARGV: triples of a field, the length it had when last probed at the
# same sequence (-1: none) and the largest document of its kind. For each field its length and,
# if not empty and not larger than its kind allows, the SHA-1 hex of its bytes; "=" instead if
# the length is the one given (not hashed again: the caller knows the digest). An oversized
# document is never hashed: it is refused by its length alone.
_PROBE_LUA = """
local out = {}
for i = 1, #ARGV, 3 do
  local length = redis.call('HSTRLEN', KEYS[1], ARGV[i])
  local largest = tonumber(ARGV[i + 2])
  local digest = ''
  if length > 0 and length == tonumber(ARGV[i + 1]) then
    digest = '='
  elseif length > 0 and length <= largest then
    digest = redis.sha1hex(redis.call('HGET', KEYS[1], ARGV[i]))
  end
  out[#out + 1] = length
  out[#out + 1] = digest
end
return out
"""


class SyncPublishError(RuntimeError):
    """The document was accepted locally but could not be written to Redis, so other instances
    will not learn of it (until Redis is back and it is re-uploaded, or they pull it)."""


class _RedisFailure(Exception):
    pass


class _OutOfBudget(Exception):
    def __init__(self, budget: str) -> None:
        super().__init__(budget)
        self.budget = budget  # "documents", "bytes" or "seconds"


@dataclass(slots=True)
class _Budget:
    """What one catch-up may still fetch and verify before the verdict waiting on it proceeds
    without it. The first document is always allowed, so every catch-up makes progress."""

    deadline: float  # time.monotonic()
    bytes_left: int
    documents_left: int
    fetched: int = 0

    def spend(self, length: int) -> None:
        if self.fetched:
            if self.documents_left <= 0:
                raise _OutOfBudget("documents")
            if length > self.bytes_left:
                raise _OutOfBudget("bytes")
            if time.monotonic() >= self.deadline:
                raise _OutOfBudget("seconds")
        self.fetched += 1
        self.documents_left -= 1
        self.bytes_left -= length


def describe(kind: TrustDocumentKind, data: bytes) -> tuple[str, int]:
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


def _kind_of(field: str) -> TrustDocumentKind | None:
    head = field.split(":", 1)[0]
    for kind in KINDS:
        if head == kind:
            return kind
    return None


def _bytes(value: bytes | str | None) -> bytes:
    if value is None:
        return b""
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def _sha1(data: bytes) -> str:
    """The digest a refusal is remembered by: the one Redis computes in _PROBE_LUA."""
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def parse_counter(raw: object) -> int | None:
    """A sequence, iat or epoch read from Redis, or None: only 1 to 19 ASCII digits without a
    leading zero are one. Checked before int(), which is slow on long digit strings and raises
    past 4,300 digits (and would read "٣" or " 3" too)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw if raw >= 0 else None
    if not isinstance(raw, bytes | str):
        return None
    text = _bytes(raw)
    if not 0 < len(text) <= _MAX_COUNTER_DIGITS or not text.isdigit():
        return None
    if text.startswith(b"0") and text != b"0":
        return None
    return int(text)


_ORDER = {"trust_list": 0, "status_list": 1, "catalogue": 2}


class TrustSync:
    def __init__(
        self,
        settings: Any,
        store: TrustStore,
        on_adopted: Callable[[str], None],
        *,
        clock: Callable[[], datetime] | None = None,
        redis: SharedRedis | None = None,
        fetcher: Fetcher | None = None,
    ) -> None:
        self.store = store
        self.on_adopted = on_adopted
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._owns_redis = redis is None
        if redis is None:
            redis = SharedRedis.from_settings(settings)
        self.redis: SharedRedis | None = redis
        self.redis_url: str | None = self.redis.config.url if self.redis else None
        self.timeout = self.redis.timeout if self.redis else DEFAULT_TIMEOUT
        self._guard = 2 * self.timeout + 0.05
        key = self.redis.trust_key if self.redis else (lambda name: name)
        self.channel = key("trust")
        self._docs_key = key("trust-docs")
        self._seqs_key = key("trust-seqs")
        self._epoch_key = key("trust-epoch")
        self._inc_key = key("trust-incarnation")
        self._history_prefix = key("trust-history:")
        self.resync_seconds = float(
            getattr(settings, "sync_resync_seconds", DEFAULT_RESYNC_SECONDS)
        )
        self.backoff_initial = 0.1
        self.backoff_max = 2.0

        # The pull of published documents (api/sync/pull.py); what it adopts is published here.
        self.puller = Puller(
            settings, submit=self._submit, adopted=self._pulled, clock=self.clock, fetcher=fetcher
        )

        self.health: Health | None = None
        if self.redis is not None:
            self.health = Health(
                self.redis,
                "trust sync",
                "this instance keeps its own trust state and cannot see other instances' uploads "
                "until Redis is back",
                logger=log,
                # Short: while the epoch cannot be read this instance may serve a state older
                # than an upload another instance got acknowledged (a failover seen by one
                # instance before the other); retry it often.
                backoff_max=0.5,
            )
        self.published = 0
        self.republished = 0
        self.adopted_from_redis = 0
        self.refused_from_redis = 0
        self.redis_errors = 0
        self.catch_ups = 0
        self.fetched_from_redis = 0
        self.fetched_bytes_from_redis = 0
        self.verified_from_redis = 0
        self.refused_by_reason: dict[str, int] = {}
        self.budget_exhausted: dict[str, int] = {}
        self.budget_documents = int(
            getattr(settings, "sync_budget_documents", DEFAULT_BUDGET_DOCUMENTS)
        )
        self.budget_bytes = int(getattr(settings, "sync_budget_bytes", DEFAULT_BUDGET_BYTES))
        self.budget_seconds = float(
            getattr(settings, "sync_budget_seconds", DEFAULT_BUDGET_SECONDS)
        )
        self.max_lag_seconds = float(
            getattr(settings, "sync_max_lag_seconds", DEFAULT_MAX_LAG_SECONDS)
        )

        self._client: aioredis.Redis | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._seen: tuple[bytes, int] | None = None  # (incarnation, epoch) fully caught up to
        self._latest: tuple[bytes, int] | None = None  # the last one read
        self._behind_since: float | None = None  # monotonic; a catch-up stopped at its budget
        self._pending: asyncio.Future[None] | None = None
        self._pending_force = False
        self._runner: asyncio.Task[None] | None = None
        self._republisher: asyncio.Task[None] | None = None
        self._short_of_replicas = False
        self.short_of_replicas = 0  # publishes acknowledged on fewer replicas than asked
        self._catchup_lock: asyncio.Lock | None = None  # made in start(), on the running loop
        self._refused: set[tuple[str, str]] = set()
        self._catalogue_judged_with: dict[str, str] = {}
        # (hash key, field) -> (sequence, length, SHA-1) when last probed
        self._probed: dict[tuple[str, str], tuple[bytes, int, str]] = {}
        # Redis answers but refuses sync's commands (CROSSSLOT, READONLY, NOAUTH...): other
        # instances may be publishing what this one cannot read. Monotonic start, last reply.
        self.refusing_since: float | None = None
        self.last_refusal = ""
        self._stopping = False
        self._pulling = False

    async def _pulled(self, kind: TrustDocumentKind, data: bytes) -> None:
        """A pulled document was adopted: publish it for the other instances, then notify."""
        try:
            await self.publish(kind, data)
        except (SyncPublishError, TrustStateError) as exc:
            log.warning("pull: adopted a %s but did not publish it: %s", kind, exc)
        self._notify(kind)

    @property
    def available(self) -> bool:
        """Trust sync works: False while Redis is unreachable or refuses the trust keys (also
        False without Redis, when there is nothing to sync with)."""
        return self.health is not None and self.health.available

    @property
    def outages(self) -> int:
        return self.health.outages if self.health else 0

    def unavailable_seconds(self) -> float:
        """How long sync has been known broken (0 when it works or there is no Redis)."""
        return self.health.down_seconds() if self.health else 0.0

    @property
    def _lean(self) -> RespClient | None:
        # The epoch check runs before every verdict: through the lean client (api/state/resp.py) in
        # standalone mode, else through redis-py like every other command here.
        return self.redis.lean if self.redis else None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Catch up from Redis (bounded; Redis down is not an error), then listen for
        notifications and start the pull loops."""
        self._stopping = False
        self._catchup_lock = asyncio.Lock()
        if self.redis is not None and self._client is None:
            self.redis.reopen()
            self._client = self.redis.client()
            await self._check_once(force=True)
            self._spawn(self._listen(), "huren-sync-listen")
        if self.puller.sources and not self._pulling:
            self._pulling = True
            self.puller.stopping = False
            for source in self.puller.sources:
                self._spawn(self.puller.loop(source), f"huren-pull-{source.name}")

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
        self._client = None
        if self.redis is not None and self._owns_redis:
            await self.redis.close()
        self.puller.stopping = True
        self._pulling = False
        await self.puller.close()

    # -- Redis plumbing ---------------------------------------------------------------------

    async def _redis(self, op: Callable[[aioredis.Redis], Awaitable[T]]) -> T:
        """One bounded Redis operation; raises _RedisFailure (and records the outage)."""
        if self._client is None or self.redis is None:
            raise _RedisFailure("not connected")
        client = self.redis.client()
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
        lean = self.redis.lean_for(self._epoch_key) if self.redis else None
        result: list[Any]
        if lean is None or self._client is None:
            # Both keys share the trust slot: one single-slot MGET, on the master.
            try:
                result = await self._redis(lambda c: c.mget([self._epoch_key, self._inc_key]))
            except _RedisFailure:
                if self.redis is None or self.redis.mode != "cluster":
                    raise
                # The slot's master may have just changed: read the slot map again, once.
                await self.redis.refresh()
                result = await self._redis(lambda c: c.mget([self._epoch_key, self._inc_key]))
        else:
            try:
                # No asyncio.timeout here: the client bounds every wait by the timeout itself.
                result = await lean.mget(self._epoch_key, self._inc_key)
            except Exception as exc:
                if self.redis is None or self.redis.mode != "cluster":
                    raise self._failure(exc) from exc
                # In a cluster the slot map may be stale (a failover, a reshard): read it again
                # and ask through redis-py, which follows redirects.
                if classify(exc) not in ("moved", "ask"):
                    self._failure(exc)
                await self.redis.refresh()
                result = await self._redis(lambda c: c.mget([self._epoch_key, self._inc_key]))
            else:
                self._mark_up()
        self.refusing_since = None  # the epoch read is what staying current rests on
        return result

    def _failure(self, exc: BaseException) -> _RedisFailure:
        """Count a failed command (an outage unless Redis answered) and say so to the caller."""
        self.redis_errors += 1
        kind = self._mark_down(exc)
        if kind not in ("timeout", "connection", "no_master"):  # Redis answered, and refused
            self.last_refusal = str(exc)[:200]
            if self.refusing_since is None:  # once per episode, beside the outage's own line
                self.refusing_since = time.monotonic()
                log.warning("trust sync: Redis refused a command: %s", exc)
        return _RedisFailure(f"{kind}: {exc}")

    def _mark_down(self, exc: BaseException) -> str:
        assert self.health is not None
        return self.health.failure(exc)

    def _mark_up(self) -> None:
        if self.health is not None:
            self.health.success()

    def _may_try(self) -> bool:
        return self.health is not None and self.health.may_try()

    # -- publish ----------------------------------------------------------------------------

    async def publish(self, kind: TrustDocumentKind, data: bytes) -> None:
        """Record a document this instance has accepted, bump the trust epoch and notify the
        others, all in one atomic script. Call it BEFORE acknowledging the upload. No-op without
        Redis; raises SyncPublishError when Redis cannot be written or the write did not reach
        `redis_wait_replicas` replicas within `redis_wait_seconds` (a failover could lose it)."""
        if self.redis is None:
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
        args = (
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
            "SPUBLISH" if self.redis.mode == "cluster" else "PUBLISH",
        )
        raw = await self._publish_durably(field, args)
        incarnation, epoch = bytes(raw[0]), int(raw[1])
        self.published += 1
        # Our own store already holds this document; if nothing else happened since the state
        # we last caught up to, we are current at the new epoch without reading it back.
        if self._seen == (incarnation, epoch - 1):
            self._seen = (incarnation, epoch)

    async def _publish_durably(self, field: str, args: tuple[Any, ...]) -> Any:
        """Run the publish script on the trust slot's master, then WAIT on the same connection
        until enough replicas hold it. One retry after a slot move or failover."""
        owner = self.redis
        assert owner is not None
        wanted, wait = owner.config.wait_replicas, owner.config.wait_seconds
        for attempt in (1, 2):
            try:
                async with asyncio.timeout(2 * self._guard + wait):
                    async with owner.primary_connection(self.timeout + wait) as conn:
                        raw: Any = await conn.eval(_PUBLISH_LUA, 5, *args)
                        needed = wanted
                        if wanted:
                            # A master left without replicas (its replica was promoted, or is
                            # down) could never answer: wait for those it has. What it then
                            # loses, the instances re-publish from their stores (a Redis going
                            # back in time is seen).
                            info = await conn.info("replication")
                            needed = min(wanted, int(info.get("connected_slaves", 0)))
                            self._note_replicas(needed < wanted, info)
                        acked = needed
                        if needed:
                            acked = await conn.execute_command(  # type: ignore[no-untyped-call]
                                "WAIT", needed, int(wait * 1000)
                            )
            except Exception as exc:
                if attempt == 1 and classify(exc) in _REDIRECTS:
                    await owner.refresh()  # the slot moved: follow it, as the client would
                    continue
                failure = self._failure(exc)
                if attempt == 1 and owner.mode != "standalone":
                    await owner.refresh()
                    continue
                raise SyncPublishError(f"could not publish {field} to Redis: {failure}") from exc
            self._mark_up()
            if int(acked) < needed:
                raise SyncPublishError(
                    f"published {field}, but only {acked} of {needed} Redis replica(s) confirmed "
                    f"it within {wait:g} s: not acknowledged, a failover could lose it"
                )
            return raw
        raise AssertionError("unreachable")  # pragma: no cover

    def _note_replicas(self, short: bool, info: dict[str, Any]) -> None:
        """Say once per episode that uploads are acknowledged with fewer replicas than asked."""
        if short and not self._short_of_replicas:
            log.warning(
                "trust sync: the trust keys' Redis master has %s connected replica(s), fewer than "
                "redis_wait_replicas; uploads are acknowledged on fewer copies until one is back",
                info.get("connected_slaves", 0),
            )
        elif not short and self._short_of_replicas:
            log.info("trust sync: the trust keys' Redis master has its replicas again")
        if short:
            self.short_of_replicas += 1
        self._short_of_replicas = short

    # -- staying current --------------------------------------------------------------------

    async def ensure_current(self) -> None:
        """Call before serving any verdict. One GET-sized round trip (shared by concurrent
        callers); if another instance published since we last looked, catch up before returning.
        Never raises; with Redis unreachable returns at once (after at most one bounded try)."""
        if self._client is None:
            return
        if not self._may_try():
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
            if not force and not self._may_try():
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
        # An epoch that is not a counter reads as -1, caught up to like any other value.
        epoch = parse_counter(raw[0]) if raw[0] is not None else 0
        token = (_bytes(raw[1]), -1 if epoch is None else epoch)
        self._latest = token
        if token == self._seen and not force and self._behind_since is None:
            return
        if self._catchup_lock is None:
            self._catchup_lock = asyncio.Lock()
        async with self._catchup_lock:
            budget = _Budget(
                time.monotonic() + self.budget_seconds, self.budget_bytes, self.budget_documents
            )
            try:
                await self._catch_up(budget)
            except _RedisFailure:
                return
            except _OutOfBudget as exc:
                self.budget_exhausted[exc.budget] = self.budget_exhausted.get(exc.budget, 0) + 1
                if self._behind_since is None:
                    self._behind_since = time.monotonic()
                    log.warning(
                        "trust sync: catch-up stopped at its %s budget; serving this instance's "
                        "own verified state and continuing in the background",
                        exc.budget,
                    )
                return
        seen = self._seen
        # (An empty Redis last time, b"", lost nothing: whoever filled it since started over.)
        if seen is not None and seen[0] and (seen[0] != token[0] or token[1] < seen[1]):
            # Another Redis incarnation than the last one caught up to (wiped, replaced), or the
            # same one gone back in time (restored from a snapshot): it may hold older documents
            # than our store, which other instances would then never see.
            self._start_republish()
        self._seen = token
        if self._behind_since is not None:
            log.info(
                "trust sync: caught up after %.1f s behind", time.monotonic() - self._behind_since
            )
            self._behind_since = None

    def _start_republish(self) -> None:
        task = self._republisher
        if task is None or task.done():
            self._republisher = asyncio.get_running_loop().create_task(
                self._republish_newer(), name="huren-sync-republish"
            )
            self._tasks.append(self._republisher)

    async def _republish_newer(self) -> None:
        """Publish every trust list (with the history a rotation replays) and catalogue this
        store holds newer than Redis does, so a Redis that lost its data converges to the newest
        acknowledged state. Status lists are not kept as bytes by the store: their publishers'
        next upload or pull brings them back."""
        fields = [f for f in self._candidates() if _kind_of(f) != "status_list"]
        try:
            raw = await self._redis(lambda c: cast(Awaitable[Any], c.hmget(self._seqs_key, fields)))
        except _RedisFailure:
            return
        documents: list[tuple[TrustDocumentKind, bytes]] = []
        for field, raw_seq in zip(fields, raw, strict=True):
            there = 0 if raw_seq is None else parse_counter(raw_seq)
            if there is None or self._held(field) <= there:
                continue
            if field == "catalogue":
                catalogue = self.store.state.catalogue
                if catalogue is not None:
                    documents.append(("catalogue", catalogue.to_json()))
                continue
            code = field.split(":", 1)[1]
            for signed in self.store.history(code):
                if signed.trust_list.sequence > there:
                    documents.append(("trust_list", signed.to_json()))
        published = 0
        for kind, data in documents:
            try:
                await self.publish(kind, data)
            except (SyncPublishError, TrustStateError) as exc:
                log.warning("trust sync: could not re-publish to Redis: %s", exc)
                return
            published += 1
        if published:
            self.republished += published
            log.info(
                "trust sync: Redis held older trust documents than this instance; re-published "
                "%d of them",
                published,
            )

    def lag_seconds(self) -> float:
        """Seconds since a catch-up first stopped at its budget (0 when current)."""
        since = self._behind_since
        return 0.0 if since is None else time.monotonic() - since

    def epochs_behind(self) -> int:
        """Publishes seen in Redis but not yet caught up to (0 when current)."""
        if self._behind_since is None or self._latest is None:
            return 0
        seen = self._seen
        if seen is None or seen[0] != self._latest[0]:
            return max(self._latest[1], 1)
        return max(self._latest[1] - seen[1], 1)

    def readiness(self) -> str:
        """The /readyz check: "ok..." unless a catch-up has been stopped by its budget for longer
        than max_lag_seconds (the instance then serves an older, still verified, state)."""
        if self.redis is None:
            return "ok (no Redis)"
        lag = self.lag_seconds()
        if not lag:
            return "ok"
        behind = f"behind {lag:.1f} s, {self.epochs_behind()} epoch(s)"
        return f"ok ({behind})" if lag <= self.max_lag_seconds else behind

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

    def _candidates(self) -> list[str]:
        """Every field this instance could adopt: its jurisdictions' lists, the status lists those
        declare, the catalogue. Bounded by its own verified state, never by what Redis holds."""
        lists = self.store.state.lists
        uris = {
            uri
            for signed in lists.values()
            for service in signed.trust_list.services
            for uri in service.status_lists
        }
        return [
            *(f"trust_list:{code}" for code in self.store.jurisdictions),
            *(f"status_list:{uri}" for uri in sorted(uris)),
            "catalogue",
        ]

    async def _catch_up(self, budget: _Budget) -> None:
        """Submit every candidate document in Redis newer than what the store holds: trust lists
        first, then status lists, then the catalogue (re-read if a list was adopted: it may
        declare other status lists). Raises _OutOfBudget when the budget ends first."""
        self.catch_ups += 1
        wanted = await self._newer(self._candidates())
        lists = [(f, seq) for f, seq in wanted if _kind_of(f) == "trust_list"]
        rest = [(f, seq) for f, seq in wanted if _kind_of(f) != "trust_list"]
        if lists:
            before = {code: s.digest for code, s in self.store.state.lists.items()}
            await self._adopt_all(self._docs_key, lists, budget)
            if before != {code: s.digest for code, s in self.store.state.lists.items()}:
                others = [f for f in self._candidates() if _kind_of(f) != "trust_list"]
                rest = await self._newer(others)
        if rest:
            self._forget_catalogue_refusals()
            await self._adopt_all(self._docs_key, rest, budget)

    def _forget_catalogue_refusals(self) -> None:
        """A catalogue is judged against the lists held (which cities have one, their operators):
        one refused before (e.g. met before a city's list) is judged again once they change.
        Only verified lists change them, so a hostile Redis cannot make it judged again."""
        lists = {code: s.digest for code, s in self.store.state.lists.items()}
        if lists != self._catalogue_judged_with:
            self._catalogue_judged_with = lists
            self._refused = {r for r in self._refused if r[0] != "catalogue"}

    async def _newer(self, fields: list[str]) -> list[tuple[str, bytes]]:
        """The fields whose sequence in Redis is above what the store holds, with it (in
        order)."""
        raw = await self._redis(lambda c: cast(Awaitable[Any], c.hmget(self._seqs_key, fields)))
        wanted: list[tuple[str, bytes]] = []
        for field, raw_seq in zip(fields, raw, strict=True):
            if raw_seq is None:
                continue
            seq = parse_counter(raw_seq)
            if seq is None:
                digest = "sequence:" + _sha1(_bytes(raw_seq))
                self._refuse(field, digest, "malformed_sequence", "sequence")
            elif seq > self._held(field):
                wanted.append((field, _bytes(raw_seq)))
        return wanted

    async def _adopt_all(self, key: str, fields: list[tuple[str, bytes]], budget: _Budget) -> None:
        probes = await self._probe(key, fields)
        for (field, _), probe in zip(fields, probes, strict=True):
            data = await self._read_document(field, key, field, probe, budget)
            if data is not None:
                await self._adopt_from_redis(field, data, budget)

    async def _probe(self, key: str, entries: list[tuple[str, bytes]]) -> list[tuple[int, str]]:
        """(length, SHA-1 hex) of each (name, sequence) entry of a hash, computed by Redis: a
        document refused before is recognised without being downloaded again, and one probed
        before at the same sequence and length is not even hashed again. No digest above the
        largest document any kind allows (it will not be fetched)."""
        args: list[str] = []
        for name, seq in entries:
            known = self._probed.get((key, name))
            kind = _kind_of(name)
            largest = _MAX_BYTES[kind] if kind is not None else _LARGEST_DOCUMENT
            args += [name, str(known[1]) if known and known[0] == seq else "-1", str(largest)]
        raw = await self._redis(lambda c: c.eval(_PROBE_LUA, 1, key, *args))
        items = raw if isinstance(raw, list) and len(raw) == 2 * len(entries) else []
        if len(self._probed) >= _REFUSALS_KEPT:
            self._probed.clear()
        out: list[tuple[int, str]] = []
        for i, (name, seq) in enumerate(entries):
            length, digest = (items[2 * i], items[2 * i + 1]) if items else (0, b"")
            if not isinstance(length, int) or not isinstance(digest, bytes):
                length, digest = 0, b""
            known = self._probed.get((key, name))
            text = known[2] if digest == b"=" and known else digest.decode("ascii", "replace")
            if text:
                self._probed[(key, name)] = (seq, length, text)
            out.append((length, text))
        return out

    async def _read_document(
        self, field: str, key: str, name: str, probe: tuple[int, str], budget: _Budget
    ) -> bytes | None:
        """The bytes of one document, within the budget; None if it is gone or was refused
        before (by digest), or if it is larger than its kind allows (refused unread)."""
        length, digest = probe
        kind = _kind_of(field)
        assert kind is not None
        if length <= 0:
            return None
        if length > _MAX_BYTES[kind]:
            self._refuse(field, f"length:{length}", "too_large", f"{length} bytes")
            return None
        if (field, digest) in self._refused:
            return None
        budget.spend(length)
        data = await self._redis(lambda c: cast(Awaitable[Any], c.hget(key, name)))
        if data is None:
            return None
        data = bytes(data)
        self.fetched_from_redis += 1
        self.fetched_bytes_from_redis += len(data)
        # Remembered by the digest of what was read, not by what Redis said it was.
        read = _sha1(data)
        if read != digest:
            probed = self._probed.get((key, name))
            if probed is not None:
                self._probed[(key, name)] = (probed[0], len(data), read)
            if (field, read) in self._refused:
                return None
        return data

    async def _adopt_from_redis(self, field: str, data: bytes, budget: _Budget) -> None:
        """Submit one document; any refusal, whatever the exception, is remembered by digest."""
        kind = _kind_of(field)
        assert kind is not None
        digest = _sha1(data)
        slot = field.split(":", 1)[1] if kind == "trust_list" else None
        chain: TrustStateError | None = None
        self.verified_from_redis += 1
        try:
            adopted = await asyncio.to_thread(self._submit, kind, data, slot)
        except _CHAIN_NEEDED as exc:
            chain, adopted = exc, False
        except Exception as exc:  # a rollback too: the same bytes can never become newer
            self._refuse_document(field, digest, exc)
            return
        if chain is not None and slot is not None:
            try:
                if await self._replay_history(slot, budget):
                    return
            except (_RedisFailure, _OutOfBudget):
                raise
            except Exception as exc:
                self._refuse_document(field, digest, exc)
                return
        if chain is not None:
            self._refuse_document(field, digest, chain)
            return
        if not adopted:
            # Redis said newer, the store holds it already: remembered, not judged again.
            self._refuse(field, digest, "unchanged", "the store already holds it")
            return
        self.adopted_from_redis += 1
        log.info("trust sync: adopted %s from another instance", field)
        self._notify(kind)

    async def _replay_history(self, jurisdiction: str, budget: _Budget) -> bool:
        """An operator-key rotation needs the intermediate lists: submit the recent history in
        order. True if the newest of them was reached."""
        key = self._history_prefix + jurisdiction
        field = f"trust_list:{jurisdiction}"
        entries = await self._redis(lambda c: cast(Awaitable[Any], c.hlen(key)))
        if not isinstance(entries, int) or entries > 2 * HISTORY_KEPT:
            self._refuse(field, f"history:{entries}", "malformed_history", f"{entries} entries")
            return False
        highest = self.store.highest_sequence(jurisdiction)
        newer: list[tuple[int, bytes]] = []  # (sequence, entry name)
        for raw_name in await self._redis(lambda c: cast(Awaitable[Any], c.hkeys(key))):
            name = _bytes(raw_name)
            seq = parse_counter(name)
            if seq is None:
                self._refuse(field, "entry:" + _sha1(name), "malformed_sequence", "history entry")
            elif seq > highest:
                newer.append((seq, name))
        if not newer:
            return False
        newer.sort()
        names = [name.decode("ascii") for _, name in newer]
        probes = await self._probe(key, [(name, name.encode()) for name in names])
        adopted_any = False
        for entry, probe in zip(names, probes, strict=True):
            data = await self._read_document(field, key, entry, probe, budget)
            if data is None:
                if probe[0] > 0:
                    break  # refused (now or before): the chain cannot pass it
                continue
            self.verified_from_redis += 1
            try:
                if await asyncio.to_thread(self._submit, "trust_list", data, jurisdiction):
                    adopted_any = True
            except Rollback:
                continue
            except Exception as exc:
                self._refuse_document(field, _sha1(data), exc)
                break
        if adopted_any:
            self.adopted_from_redis += 1
            log.info("trust sync: replayed %s's list history from another instance", jurisdiction)
            self._notify("trust_list")
        return self.store.highest_sequence(jurisdiction) >= newer[-1][0]

    def _refuse_document(self, field: str, digest: str, exc: BaseException) -> None:
        """A document the store (or its parser) refused: remembered unless the reason is
        transient. Exceptions that are not the store's refusals count as `malformed`."""
        reason = exc.code if isinstance(exc, TrustStateError) else "malformed"
        if isinstance(exc, _TRANSIENT):
            self._count_refusal(reason)
            log.warning("trust sync: %s from Redis not adopted yet (%s): %s", field, reason, exc)
            return
        detail = str(exc) if isinstance(exc, TrustStateError) else type(exc).__name__
        self._refuse(field, digest, reason, detail)

    def _refuse(self, field: str, digest: str, reason: str, detail: str) -> None:
        """Remember a refusal (by field and digest) and count and log it the first time only."""
        if (field, digest) in self._refused:
            return
        if len(self._refused) >= _REFUSALS_KEPT:
            self._refused.clear()
        self._refused.add((field, digest))
        self._count_refusal(reason)
        log.warning("trust sync: refused %s from Redis (%s; %s): %s", field, reason, digest, detail)

    def _count_refusal(self, reason: str) -> None:
        self.refused_from_redis += 1
        self.refused_by_reason[reason] = self.refused_by_reason.get(reason, 0) + 1

    def _submit(self, kind: TrustDocumentKind, data: bytes, slot: str | None) -> bool:
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

    def _notify(self, kind: TrustDocumentKind) -> None:
        try:
            self.on_adopted(kind)
        except Exception:
            log.exception("trust sync: on_adopted callback failed")

    async def _subscribe(self, pubsub: Any, sharded: bool) -> None:
        """Subscribe and wait for the confirmation (sending alone succeeds on a dead socket)."""
        if sharded:
            await pubsub.ssubscribe(self.channel)
        else:
            await pubsub.subscribe(self.channel)
        confirmation = "ssubscribe" if sharded else "subscribe"
        while True:
            message = await pubsub.get_message(timeout=self.timeout)
            if message is None:
                raise _RedisFailure("no subscription confirmation")
            if message.get("type") == confirmation:
                return

    async def _listen(self) -> None:
        """Subscribe; on every notification check the epoch; resubscribe with backoff after a
        Redis failure and catch up (notifications sent meanwhile are lost)."""
        delay = self.backoff_initial
        owner = self.redis
        sharded = owner is not None and owner.mode == "cluster"
        while not self._stopping:
            if self._client is None or owner is None:
                return
            # A connection of its own to the master holding the trust slot (in a cluster the
            # shard channel lives there), found again after every failure or slot move.
            client: Any = None
            pubsub: Any = None
            moved = False
            try:
                client = await asyncio.wait_for(owner.trust_primary(), self._guard)
                pubsub = client.pubsub()
                await asyncio.wait_for(self._subscribe(pubsub, sharded), self._guard)
                self._mark_up()
                delay = self.backoff_initial
                await asyncio.shield(self._schedule(force=True))
                last_resync = time.monotonic()
                while not self._stopping:
                    message = await pubsub.get_message(timeout=1.0)
                    kind = message.get("type") if message else None
                    if kind in ("sunsubscribe", "unsubscribe"):
                        # The server dropped us: the slot moved to another shard.
                        moved = True
                        log.info("trust sync: the trust slot moved; subscribing again")
                        break
                    force = time.monotonic() - last_resync >= self.resync_seconds
                    # Commands failed while the subscription stayed up: probe, so that an idle
                    # instance notices the recovery (and catches up) by itself.
                    probe = not self.available and self._may_try()
                    # Behind after a catch-up stopped at its budget: go on, once a second.
                    behind = self._behind_since is not None
                    if kind in ("message", "smessage") or force or probe or behind:
                        if force:
                            last_resync = time.monotonic()
                        await asyncio.shield(self._schedule(force=force))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if classify(exc) in _REDIRECTS:
                    moved = True  # subscribed where the slot was: follow it
                else:
                    self.redis_errors += 1
                    self._mark_down(exc)
            finally:
                for closing in (pubsub, client):
                    if closing is not None:
                        with contextlib.suppress(Exception):
                            aclose = cast(Callable[[], Awaitable[None]], closing.aclose)
                            await asyncio.wait_for(aclose(), self._guard)
            await owner.refresh()
            if moved:
                await asyncio.sleep(0.05)  # the new owner's slot map may lag by a moment
                continue  # caught up again right after subscribing
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311
            delay = min(delay * 2, self.backoff_max)


__all__ = [
    "DEFAULT_PULL_INTERVAL",
    "DEFAULT_PULL_MAX_BYTES",
    "DEFAULT_PULL_RETRY_BASE",
    "DEFAULT_PULL_TIMEOUT",
    "KINDS",
    "SyncPublishError",
    "TrustDocumentKind",
    "TrustSync",
    "describe",
]
