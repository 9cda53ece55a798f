"""The one owner of Redis: connections, timeouts, error classification, outage state and recovery
for both the verdict cache (api/state/cache.py) and the trust sync (api/sync/). See
docs/cache-and-sync.md.

Modes (setting `redis_mode`):
- `standalone`: one server at `redis_url`; hot-path GET/SET/MGET go through the lean pipelined
  client (api/state/resp.py: about a tenth of redis-py's CPU per GET), the rest through redis-py.
- `sentinel`: the master named `redis_master_name`, found through the sentinels at
  `redis_sentinels`; every command follows a failover (redis-py's Sentinel).
- `cluster`: a Redis Cluster seeded by `redis_nodes` (redis-py's RedisCluster follows MOVED/ASK).

Key layout: verdict keys are `<prefix>verdict3:<sha256>`, untagged so they spread over the
shards; every trust key sits under one hash tag, `{<prefix>}trust-...`, so the epoch read and the
publish script stay single-slot and atomic. A prefix holding `{` or `}` is refused: it would move
keys into other slots than these rules say.

Errors are classified into a few kinds (`ERROR_KINDS`). Every one is counted
(`huren_redis_errors_total{kind}`); all but `refused` (Redis answered, the command was wrong for
this data) are an outage of the use that met them: logged at WARNING once when the outage starts
and at INFO when it ends.
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import logging
import random
import ssl
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from api.state.resp import Endpoint, RespClient, RespError, UnsupportedURL

if TYPE_CHECKING:  # redis-py is imported with the first client: no Redis, no import
    import redis.asyncio as aioredis

log = logging.getLogger("huren.redis")

MODES = ("standalone", "sentinel", "cluster")
# Every kind an error is classified as, in the order the metrics list them.
ERROR_KINDS = (
    "timeout",
    "connection",
    "noauth",
    "loading",
    "readonly",
    "clusterdown",
    "tryagain",
    "crossslot",
    "moved",
    "ask",
    "no_master",
    "refused",
)
# Error-reply prefixes (the server's words) and the kind they are.
_REPLY_KINDS = (
    ("CROSSSLOT", "crossslot"),
    ("CLUSTERDOWN", "clusterdown"),
    ("TRYAGAIN", "tryagain"),
    ("READONLY", "readonly"),
    ("LOADING", "loading"),
    ("NOAUTH", "noauth"),
    ("WRONGPASS", "noauth"),
    ("NOPERM", "noauth"),
    ("MOVED", "moved"),
    ("ASK", "ask"),
    ("MASTERDOWN", "clusterdown"),
)
_EXPLAINED = {
    "crossslot": "keys in more than one cluster slot (a configuration error)",
    "moved": "a slot moved and the client did not follow it",
    "ask": "a slot is migrating and the client did not follow it",
    "readonly": "writing to a replica (a demoted master?)",
    "noauth": "authentication refused (check the Redis username and password)",
    "loading": "Redis is loading its data",
    "clusterdown": "the cluster is down or a slot has no master",
    "tryagain": "a slot is being resharded",
    "no_master": "no sentinel names a master",
}
DEFAULT_TIMEOUT = 0.25
DEFAULT_WAIT_SECONDS = 1.0


def key_slot(key: str) -> int:
    """The cluster slot of `key` (CRC16 of its hash tag, or of the whole key without one), as
    redis.crc.key_slot computes it, without importing redis-py."""
    raw = key.encode("utf-8")
    start = raw.find(b"{")
    if start > -1:
        end = raw.find(b"}", start + 1)
        if end > start + 1:
            raw = raw[start + 1 : end]
    return binascii.crc_hqx(raw, 0) & 16383


class RedisConfigError(ValueError):
    """The Redis settings do not describe one usable deployment."""


def classify(exc: BaseException) -> str:
    """The kind of a failed Redis command (one of ERROR_KINDS)."""
    errors = sys.modules.get("redis.exceptions")  # only once redis-py is loaded
    if errors is not None:
        for cls, kind in (
            (errors.ClusterCrossSlotError, "crossslot"),
            (errors.ClusterDownError, "clusterdown"),
            (errors.SlotNotCoveredError, "clusterdown"),
            (errors.TryAgainError, "tryagain"),
            (errors.MovedError, "moved"),
            (errors.AskError, "ask"),
            (errors.ReadOnlyError, "readonly"),
            (errors.BusyLoadingError, "loading"),
            (errors.AuthenticationError, "noauth"),
            (errors.AuthorizationError, "noauth"),
            (errors.NoPermissionError, "noauth"),
        ):
            if isinstance(exc, cls):
                return kind
        sentinel = sys.modules.get("redis.asyncio.sentinel") or sys.modules.get("redis.sentinel")
        if sentinel is not None and isinstance(exc, sentinel.MasterNotFoundError):
            return "no_master"
    # The server's own words, wherever the reply was wrapped (the lean client, redis-py).
    for err in (exc, exc.__cause__):
        if err is None:
            continue
        text = str(err)
        for prefix, kind in _REPLY_KINDS:
            if text.startswith(prefix + " ") or text == prefix:
                return kind
    if isinstance(exc, TimeoutError) or (
        errors is not None and isinstance(exc, errors.TimeoutError)
    ):
        return "timeout"
    if isinstance(exc, RespError) or (errors is not None and isinstance(exc, errors.ResponseError)):
        return "refused"
    return "connection"


class Health:
    """The outage state of one use of Redis (the verdict cache, the trust sync). A failure starts
    an outage (unless Redis merely refused the command); the first success ends it. While down,
    `may_try()` spaces attempts with jittered exponential backoff; a `probe`, if given, is run in
    the background with the same backoff and ends the outage when it succeeds."""

    def __init__(
        self,
        owner: SharedRedis,
        use: str,
        consequence: str,
        *,
        probe: Callable[[], Awaitable[Any]] | None = None,
        logger: logging.Logger = log,
        backoff_initial: float = 0.1,
        backoff_max: float = 2.0,
    ) -> None:
        self.owner = owner
        self.use = use
        self.consequence = consequence
        self.probe = probe
        self.log = logger
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.available = True
        self.outages = 0
        self.last_kind: str | None = None
        self._since = 0.0
        self._backoff = backoff_initial
        self._retry_at = 0.0
        self._probe_task: asyncio.Task[None] | None = None

    def failure(self, exc: BaseException) -> str:
        """Count a failed command; start (or continue) an outage unless it was a refusal."""
        kind = classify(exc)
        self.owner.count(kind)
        if kind == "refused":
            self.log.debug("%s: Redis refused a command: %s", self.use, exc)
            return kind
        now = time.monotonic()
        if self.available:
            self.available = False
            self.outages += 1
            self.last_kind = kind
            self._since = now
            self._backoff = self.backoff_initial
            reason = f"{kind}, {_EXPLAINED[kind]}" if kind in _EXPLAINED else kind
            self.log.warning(
                "%s: Redis unavailable (%s; %s: %s); %s",
                self.use,
                reason,
                type(exc).__name__,
                exc,
                self.consequence,
            )
            if self.probe is not None and (self._probe_task is None or self._probe_task.done()):
                self._probe_task = asyncio.get_running_loop().create_task(self._recover())
        else:
            self._backoff = min(self._backoff * 2, self.backoff_max)
        self._retry_at = now + self._backoff * random.uniform(0.5, 1.0)  # noqa: S311 (jitter)
        return kind

    def success(self) -> None:
        if not self.available:
            self.available = True
            self._backoff = self.backoff_initial
            self.log.info(
                "%s: Redis reachable again after %.1f s", self.use, time.monotonic() - self._since
            )

    def may_try(self) -> bool:
        """Up, or down and the backoff since the last failure has passed."""
        return self.available or time.monotonic() >= self._retry_at

    def down_seconds(self) -> float:
        """How long the current outage has lasted (0 when available)."""
        return 0.0 if self.available else time.monotonic() - self._since

    async def _recover(self) -> None:
        probe = self.probe
        assert probe is not None
        delay = self.backoff_initial
        while not self.owner.closed and not self.available:
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 (jitter)
            try:
                await asyncio.wait_for(probe(), self.owner.guard)
            except Exception as exc:
                self.owner.count(classify(exc))
                delay = min(delay * 2, self.backoff_max)
                continue
            self.success()

    def stop(self) -> None:
        task, self._probe_task = self._probe_task, None
        if task is not None:
            task.cancel()


@dataclass(frozen=True, slots=True)
class RedisConfig:
    mode: str = "standalone"
    url: str | None = None
    nodes: tuple[tuple[str, int], ...] = ()  # cluster seeds
    sentinels: tuple[tuple[str, int], ...] = ()
    master_name: str | None = None
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None
    tls: bool = False
    tls_ca_file: str | None = None
    prefix: str = "huren:v1:"
    timeout: float = DEFAULT_TIMEOUT
    wait_replicas: int = 0  # replicas an accepted trust upload must reach before it is acknowledged
    wait_seconds: float = DEFAULT_WAIT_SECONDS

    def __post_init__(self) -> None:
        check_prefix(self.prefix)
        if self.mode not in MODES:
            raise RedisConfigError(f"redis_mode must be one of {', '.join(MODES)}")
        if self.mode == "standalone" and not self.url:
            raise RedisConfigError("redis_mode standalone needs redis_url")
        if self.mode == "cluster" and not self.nodes:
            raise RedisConfigError("redis_mode cluster needs redis_nodes (host:port seeds)")
        if self.mode == "sentinel" and not (self.sentinels and self.master_name):
            raise RedisConfigError(
                "redis_mode sentinel needs redis_sentinels (host:port) and redis_master_name"
            )
        if self.wait_replicas < 0 or not self.wait_seconds > 0:
            raise RedisConfigError(
                "redis_wait_replicas must be >= 0 and redis_wait_seconds positive"
            )

    @classmethod
    def from_settings(cls, settings: Any) -> RedisConfig | None:
        """The Redis the settings describe; None when they describe none."""
        mode = str(getattr(settings, "redis_mode", "standalone") or "standalone")
        url = getattr(settings, "redis_url", None) or None
        if mode == "standalone" and url is None:
            return None
        replicas = getattr(settings, "redis_wait_replicas", None)
        return cls(
            mode=mode,
            url=url,
            nodes=tuple(parse_address(a) for a in getattr(settings, "redis_nodes", ()) or ()),
            sentinels=tuple(
                parse_address(a) for a in getattr(settings, "redis_sentinels", ()) or ()
            ),
            master_name=getattr(settings, "redis_master_name", None) or None,
            username=getattr(settings, "redis_username", None) or None,
            password=getattr(settings, "redis_password", None) or None,
            sentinel_password=getattr(settings, "redis_sentinel_password", None) or None,
            tls=bool(getattr(settings, "redis_tls", False)),
            tls_ca_file=str(getattr(settings, "redis_tls_ca_file", None) or "") or None,
            prefix=str(getattr(settings, "redis_prefix", "huren:v1:")),
            timeout=float(getattr(settings, "redis_timeout_seconds", DEFAULT_TIMEOUT)),
            wait_replicas=(0 if mode == "standalone" else 1) if replicas is None else int(replicas),
            wait_seconds=float(getattr(settings, "redis_wait_seconds", DEFAULT_WAIT_SECONDS)),
        )


def check_prefix(prefix: str) -> str:
    if "{" in prefix or "}" in prefix:
        raise RedisConfigError(
            f"redis_prefix {prefix!r} holds '{{' or '}}': huren places its own hash tag (trust "
            "keys in one cluster slot, verdict keys spread over all); remove the braces"
        )
    return prefix


def parse_address(text: str) -> tuple[str, int]:
    """`host:port` (IPv6 as `[addr]:port`)."""
    host, sep, port = str(text).strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise RedisConfigError(f"expected host:port, got {text!r}")
    return host, int(port)


class SharedRedis:
    """One process's Redis: the clients (per event loop), the key layout, the error counts and
    the outage state of each use. Shared by the verdict cache and the trust sync."""

    def __init__(self, config: RedisConfig) -> None:
        self.config = config
        self.mode = config.mode
        self.timeout = config.timeout
        # An operation is abandoned after this long even if a socket timeout did not fire.
        self.guard = 2 * config.timeout + 0.05
        self.errors: dict[str, int] = dict.fromkeys(ERROR_KINDS, 0)
        self.closed = False
        self._client: Any = None
        self._sentinel: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.lean: RespClient | None = None
        # Cluster mode: one lean client per master, by redis-py's node name (host:port), for the
        # hot path (below).
        self._lean_nodes: dict[str, RespClient] = {}
        self._refreshing: asyncio.Task[Any] | None = None
        if config.mode == "standalone" and config.url and not config.tls_ca_file:
            try:
                self.lean = RespClient.from_url(config.url, timeout=config.timeout)
            except UnsupportedURL:
                self.lean = None
        prefix = config.prefix
        self.verdict_prefix = prefix
        self.trust_tag = "{" + prefix + "}"

    @classmethod
    def from_settings(cls, settings: Any) -> SharedRedis | None:
        config = RedisConfig.from_settings(settings)
        return None if config is None else cls(config)

    # -- keys ------------------------------------------------------------------------------

    def trust_key(self, name: str) -> str:
        """A trust key: all of them hash to one slot (the tag is the prefix in braces)."""
        return self.trust_tag + name

    def count(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    # -- clients ---------------------------------------------------------------------------

    def _connection_kwargs(self) -> dict[str, Any]:
        c = self.config
        kwargs: dict[str, Any] = {
            "socket_timeout": c.timeout,
            "socket_connect_timeout": c.timeout,
            "health_check_interval": 0,
        }
        if c.username:
            kwargs["username"] = c.username
        if c.password:
            kwargs["password"] = c.password
        if c.tls:
            kwargs["ssl"] = True
            if c.tls_ca_file:
                kwargs["ssl_ca_certs"] = c.tls_ca_file
            kwargs["ssl_cert_reqs"] = ssl.CERT_REQUIRED
        return kwargs

    def client(self) -> aioredis.Redis:
        """The redis-py client of this mode (RedisCluster in cluster mode), made on first use
        and again when used from another event loop."""
        loop = asyncio.get_running_loop()
        if self._client is not None and self._loop is loop:
            return self._client  # type: ignore[no-any-return]
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        c = self.config
        # One immediate retry on a fresh connection: a pooled connection may have died with a
        # Redis restart or failover. The guard still bounds the total.
        retry = Retry(NoBackoff(), 1)
        if c.mode == "cluster":
            from redis.asyncio.cluster import ClusterNode, RedisCluster

            client: Any = RedisCluster(
                startup_nodes=[ClusterNode(h, p) for h, p in c.nodes],
                retry=retry,
                require_full_coverage=False,  # a shard failing over must not fail the others
                **self._connection_kwargs(),
            )
        elif c.mode == "sentinel":
            from redis.asyncio.sentinel import Sentinel

            sentinel_kwargs: dict[str, Any] = {
                "socket_timeout": c.timeout,
                "socket_connect_timeout": c.timeout,
            }
            if c.sentinel_password:
                sentinel_kwargs["password"] = c.sentinel_password
            self._sentinel = Sentinel(  # type: ignore[no-untyped-call, unused-ignore]  # typed from redis 8.2
                list(c.sentinels), sentinel_kwargs=sentinel_kwargs, **self._connection_kwargs()
            )
            assert c.master_name is not None
            client = self._sentinel.master_for(c.master_name, retry=retry)
        else:
            assert c.url is not None
            client = aioredis.Redis.from_url(c.url, retry=retry, **self._connection_kwargs())
        self._client, self._loop = client, loop
        return client  # type: ignore[no-any-return]

    def lean_for(self, key: str) -> RespClient | None:
        """The lean client for a hot-path command on `key`: the standalone one, or in cluster mode
        the one of the master serving key's slot in redis-py's slot map (None before that map is
        read, or with a CA file the lean client cannot take: then redis-py serves). A MOVED or
        ASK it meets is the caller's cue to refresh() and use redis-py once."""
        if self.mode != "cluster":
            return self.lean
        cluster = self._client
        if cluster is None or self.config.tls_ca_file:
            return None
        # redis-py's map as it is now (it replaces it on a refresh and edits it on a redirect):
        # the slot's first node is its master. Read per call, so a move is followed at once.
        nodes = cluster.nodes_manager.slots_cache.get(key_slot(key))
        if not nodes:
            return None  # slot map not read yet, or a slot without master
        node = nodes[0]
        lean = self._lean_nodes.get(node.name)
        if lean is None:
            c = self.config
            endpoint = Endpoint(
                str(node.host), int(node.port), tls=c.tls, username=c.username, password=c.password
            )
            lean = self._lean_nodes[node.name] = RespClient(endpoint, timeout=c.timeout)
        return lean

    async def trust_primary(self, *, timeout: float | None = None) -> aioredis.Redis:
        """A plain client of the master that holds the trust slot now (for pub/sub and for a
        publish followed by WAIT on the same connection). The caller closes it."""
        import redis.asyncio as aioredis

        c = self.config
        kwargs = self._connection_kwargs()
        if timeout is not None:
            kwargs["socket_timeout"] = timeout
        if c.mode == "standalone":
            assert c.url is not None
            return aioredis.Redis.from_url(c.url, **kwargs)
        if c.mode == "sentinel":
            self.client()
            assert self._sentinel is not None and c.master_name is not None
            host, port = await self._sentinel.discover_master(c.master_name)
        else:
            cluster: Any = self.client()
            await cluster.initialize()
            node = cluster.get_node_from_key(self.trust_key("epoch"))
            host, port = node.host, node.port
        return aioredis.Redis(host=host, port=port, **kwargs)

    async def refresh(self) -> None:
        """After a slot moved: re-read the cluster's slot map (no-op in the other modes). Callers
        meeting the same move at once share one reading."""
        if self.mode != "cluster" or self._client is None:
            return
        task = self._refreshing
        if task is None or task.done():
            task = self._refreshing = asyncio.get_running_loop().create_task(
                asyncio.wait_for(self._client.nodes_manager.initialize(), self.guard)
            )
        with contextlib.suppress(Exception):
            await asyncio.shield(task)

    @contextlib.asynccontextmanager
    async def primary_connection(self, timeout: float) -> AsyncIterator[aioredis.Redis]:
        """One connection to the trust slot's master, closed on exit (WAIT counts the writes of
        its own connection only)."""
        client = await self.trust_primary(timeout=timeout)
        single = client.client()  # a Redis bound to one connection
        try:
            yield single
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(single.aclose(), self.guard)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.aclose(), self.guard)

    async def close(self) -> None:
        self.closed = True
        client, self._client = self._client, None
        if client is not None:
            try:
                await asyncio.wait_for(client.aclose(), self.guard)
            except Exception as exc:
                log.debug("closing the Redis client: %s", exc)
        leans = [*([self.lean] if self.lean else []), *self._lean_nodes.values()]
        self._lean_nodes.clear()
        for lean in leans:
            try:
                await asyncio.wait_for(lean.close(), self.guard)
            except Exception as exc:
                log.debug("closing the lean Redis connection: %s", exc)

    def reopen(self) -> None:
        """Usable again after close() (a test or app restarting on a new loop)."""
        self.closed = False


__all__ = [
    "ERROR_KINDS",
    "MODES",
    "Health",
    "RedisConfig",
    "RedisConfigError",
    "SharedRedis",
    "check_prefix",
    "classify",
    "key_slot",
    "parse_address",
]
