"""A lean asyncio Redis client for hot-path commands: RESP2 over one pipelined connection.

redis-py's asyncio client spends ~70 us of CPU per GET here (pool checkout, locks, per-command
parsing layers). This client packs commands with hiredis.pack_command, parses replies with a
hiredis.Reader fed from a Protocol, sends every command issued in one event-loop iteration in one
write, and matches replies to callers in send order. It speaks plain commands only (no pub/sub,
MULTI, blocking commands, RESP3, cluster or sentinel); `from_url` raises UnsupportedURL for a URL
it cannot serve, so the caller can fall back to redis-py.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlparse

import hiredis

Arg = bytes | str | int

# hiredis' stub types the argument as a 1-tuple and leaves the result untyped.
_pack = cast(Callable[[tuple[Arg, ...]], bytes], hiredis.pack_command)
_MORE = object()  # Reader.gets() result when no whole reply is buffered yet
# Error replies that say the connection is unusable rather than that the command failed
# (missing or wrong credentials, a Redis still loading its data, too many clients): raised as
# ConnectionError, as redis-py does (AuthenticationError, BusyLoadingError, ...), so a caller
# treats them as Redis being unavailable.
_CONNECTION_REPLIES = (
    "NOAUTH ",
    "WRONGPASS ",
    "LOADING ",
    "ERR max number of clients reached",
    "ERR invalid password",
)


class RespError(Exception):
    """An error reply from Redis; the text is the server's message (e.g. "ERR ...")."""


class UnsupportedURL(ValueError):
    """A URL this client does not serve: use redis-py for it."""


@dataclass(frozen=True)
class Endpoint:
    host: str = "localhost"
    port: int = 6379
    path: str | None = None  # a Unix socket instead of host:port
    tls: bool = False
    username: str | None = None
    password: str | None = None
    db: int = 0


def parse_url(url: str) -> Endpoint:
    """redis-py's `parse_url` rules (unquoted credentials, `?db=` beats the path) for the parts
    this client supports; any other query option raises UnsupportedURL rather than be ignored."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise UnsupportedURL("Redis URL scheme must be redis://, rediss:// or unix://")
    parts = urlparse(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    if set(query) - {"db"}:
        raise UnsupportedURL(f"unsupported Redis URL options: {sorted(set(query) - {'db'})}")
    try:
        db = int(query["db"]) if "db" in query else None
        port = parts.port
    except ValueError:
        raise UnsupportedURL("invalid db or port in the Redis URL") from None
    if port == 0:
        # redis-py before 8.2 read port 0 as the default port, 8.2 reads it as port 0: the two
        # clients given this URL could reach different servers: left to redis-py alone.
        raise UnsupportedURL("port 0 in the Redis URL: give the port, or none for 6379")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    if parts.scheme == "unix":
        if not parts.path:
            raise UnsupportedURL("unix:// Redis URL without a socket path")
        return Endpoint(path=unquote(parts.path), username=username, password=password, db=db or 0)
    if db is None and parts.path:
        with contextlib.suppress(ValueError):  # redis-py ignores a path that is not a number
            db = int(unquote(parts.path).replace("/", ""))
    return Endpoint(
        host=unquote(parts.hostname) if parts.hostname else "localhost",
        port=port or 6379,
        tls=parts.scheme == "rediss",
        username=username,
        password=password,
        db=db or 0,
    )


class _Connection(asyncio.Protocol):
    """One connection: commands go out in one write per loop iteration; replies resolve the
    waiting futures first-in first-out."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self.loop = loop
        self.timeout = timeout
        self.transport: asyncio.Transport | None = None
        self.reader = hiredis.Reader(replyError=RespError, notEnoughData=_MORE)
        self.waiters: deque[list[Any]] = deque()  # [future, deadline or None until written]
        self.unsent: list[list[Any]] = []  # the waiters of the commands in `out`
        self.out: list[bytes] = []
        self.flush_scheduled = False
        self.timer: asyncio.TimerHandle | None = None
        self.error: Exception | None = None  # set once the connection is unusable
        self.closed: asyncio.Future[None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = self.loop.create_future()
        if self.error is not None:
            fut.set_exception(_copy(self.error))
            return fut
        # [future, deadline]: the deadline is set when the command is written, so time the
        # event loop spends elsewhere before our flush runs is not charged to Redis.
        waiter: list[Any] = [fut, None]
        self.waiters.append(waiter)
        self.unsent.append(waiter)
        # Writes are only buffered (a paused transport buffers too): the watchdog bounds how
        # long anything waits, so a server that stops reading cannot grow this forever.
        self.out.append(packed)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self._flush)
        return fut

    def _flush(self) -> None:
        self.flush_scheduled = False
        if self.error is None and self.transport is not None and self.out:
            self.transport.write(self.out[0] if len(self.out) == 1 else b"".join(self.out))
            deadline = self.loop.time() + self.timeout
            for waiter in self.unsent:
                waiter[1] = deadline
            if self.timer is None:
                self.timer = self.loop.call_at(deadline, self._watchdog)
        self.out.clear()
        self.unsent.clear()

    def _watchdog(self) -> None:
        # One timer per connection, not one per command: it fires at the oldest waiter's
        # deadline. A server that has not answered that one is hung, and waiters behind it would
        # only pile up, so the whole connection is dropped (TimeoutError to every waiter) and the
        # next command reconnects.
        self.timer = None
        if self.error is not None or not self.waiters:
            return
        deadline = self.waiters[0][1]
        if deadline is None:
            return  # not written yet: the flush arms the watchdog
        if self.loop.time() < deadline:
            self.timer = self.loop.call_at(deadline, self._watchdog)
        else:
            self.abort(TimeoutError(f"Redis did not answer within {self.timeout} s"))

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while True:
            try:
                reply = self.reader.gets()
            except hiredis.ProtocolError as exc:
                self.abort(ConnectionError(f"Redis protocol error: {exc}"))
                return
            if reply is _MORE:
                return
            if not self.waiters:
                self.abort(ConnectionError("Redis sent a reply to no command"))
                return
            fut = self.waiters.popleft()[0]
            if fut.done():  # its caller was cancelled: drop the reply, keep the order
                continue
            if isinstance(reply, RespError):
                fut.set_exception(_refusal(reply))
            else:
                fut.set_result(reply)

    def eof_received(self) -> bool | None:
        # Marked unusable now, not at connection_lost: no new command may queue behind the EOF.
        self._fail(ConnectionError("Redis closed the connection"))
        return None  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        lost = ConnectionError("connection to Redis lost" + (f": {exc}" if exc else ""))
        lost.__cause__ = exc
        self._fail(lost)  # a no-op for the waiters if abort() already failed them
        if not self.closed.done():
            self.closed.set_result(None)

    def abort(self, error: Exception) -> None:
        self._fail(error)
        if self.transport is not None:
            self.transport.abort()

    def _fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.out.clear()
        self.unsent.clear()
        waiters, self.waiters = self.waiters, deque()
        for fut, _ in waiters:
            if not fut.done():
                fut.set_exception(_copy(self.error))


def _refusal(reply: RespError) -> Exception:
    if str(reply).startswith(_CONNECTION_REPLIES):
        error = ConnectionError(f"Redis refused the command: {reply}")
        error.__cause__ = reply
        return error
    return reply


def _copy(error: Exception) -> Exception:
    """A fresh instance per waiter: one instance raised in many tasks would mix tracebacks."""
    fresh = type(error)(*error.args)
    fresh.__cause__ = error.__cause__
    return fresh


class RespClient:
    """Redis over one pipelined connection, opened on first use and reopened after a failure
    (or when used from another event loop). Every wait is bounded by `timeout`. Commands raise
    RespError for an error reply, ConnectionError when there is no usable connection (refused,
    lost, closed, AUTH/SELECT refused, or a reply such as NOAUTH or LOADING that says so) and
    TimeoutError when Redis does not answer in time."""

    def __init__(self, endpoint: Endpoint, *, timeout: float) -> None:
        if not timeout > 0:
            raise ValueError("timeout must be positive")
        self.endpoint = endpoint
        self.timeout = timeout
        self._conn: _Connection | None = None
        self._connecting: asyncio.Task[_Connection] | None = None

    @classmethod
    def from_url(cls, url: str, *, timeout: float) -> RespClient:
        return cls(parse_url(url), timeout=timeout)

    # -- commands ---------------------------------------------------------------------------

    async def execute(self, *args: Arg) -> Any:
        """The reply (bytes, int, None or a list); an error reply raises RespError."""
        return await self._submit(args)

    async def get(self, key: str | bytes) -> bytes | None:
        return cast("bytes | None", await self._submit((b"GET", key)))

    async def set(self, key: str | bytes, value: bytes | str, *, px: int | None = None) -> None:
        await self._submit((b"SET", key, value) if px is None else (b"SET", key, value, b"PX", px))

    async def mget(self, *keys: str | bytes) -> list[bytes | None]:
        return cast("list[bytes | None]", await self._submit((b"MGET", *keys)))

    async def ping(self) -> bool:
        return bool(await self._submit((b"PING",)) == b"PONG")

    def _submit(self, args: tuple[Arg, ...]) -> Awaitable[Any]:
        packed = _pack(args)
        conn = self._conn
        if conn is not None and conn.error is None and conn.loop is asyncio.get_running_loop():
            return conn.send(packed)  # the hot path: no coroutine, one future
        return self._connect_and_send(packed)

    async def _connect_and_send(self, packed: bytes) -> Any:
        conn = await self._connect()
        return await conn.send(packed)

    # -- connection -------------------------------------------------------------------------

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        task = self._connecting
        if task is None or task.get_loop() is not loop:
            task = self._connecting = loop.create_task(self._open(loop))
            task.add_done_callback(self._connect_done)
        try:
            # Shielded: one cancelled caller must not cancel the connect the others wait for.
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if task.cancelled() and me is not None and not me.cancelling():
                raise ConnectionError("Redis client closed while connecting") from None
            raise

    def _connect_done(self, task: asyncio.Task[_Connection]) -> None:
        if self._connecting is task:
            self._connecting = None
        if not task.cancelled():
            task.exception()  # retrieved: every caller may have given up

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        old, self._conn = self._conn, None
        if old is not None:
            _drop(old, "Redis connection replaced")
        ep = self.endpoint
        conn: _Connection | None = None
        try:
            async with asyncio.timeout(self.timeout):  # connect and handshake together

                def factory() -> _Connection:
                    return _Connection(loop, self.timeout)

                if ep.path is not None:
                    _, conn = await loop.create_unix_connection(factory, ep.path)
                else:
                    tls = ssl.create_default_context() if ep.tls else None
                    _, conn = await loop.create_connection(
                        factory, ep.host, ep.port, ssl=tls, server_hostname=ep.host if tls else None
                    )
                # Sent before any caller's command can be: callers only get `conn` afterwards.
                handshake = []
                if ep.username:  # redis-py's rules: AUTH user pass, or AUTH pass
                    handshake.append(conn.send(_pack((b"AUTH", ep.username, ep.password or ""))))
                elif ep.password:
                    handshake.append(conn.send(_pack((b"AUTH", ep.password))))
                if ep.db:
                    handshake.append(conn.send(_pack((b"SELECT", ep.db))))
                try:
                    await asyncio.gather(*handshake)
                except (RespError, ConnectionError) as exc:
                    # As in redis-py: a failed AUTH/SELECT is no connection.
                    reply = exc if isinstance(exc, RespError) else exc.__cause__
                    if not isinstance(reply, RespError):
                        raise
                    raise ConnectionError(f"Redis refused the connection setup: {reply}") from reply
        except BaseException as exc:
            if conn is not None:
                conn.abort(ConnectionError("Redis connection setup failed"))
            if isinstance(exc, OSError) and not isinstance(exc, ConnectionError | TimeoutError):
                raise ConnectionError(f"cannot connect to Redis: {exc}") from exc
            raise
        self._conn = conn
        return conn

    async def close(self) -> None:
        """Drop the connection (pending commands fail with ConnectionError). Idempotent; a later
        command opens a new connection."""
        task, self._connecting = self._connecting, None
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            await asyncio.wait({task})
        conn, self._conn = self._conn, None
        if conn is not None:
            _drop(conn, "Redis client closed")
            if conn.loop is asyncio.get_running_loop():
                await asyncio.wait({conn.closed}, timeout=self.timeout)  # the socket is closed


def _drop(conn: _Connection, reason: str) -> None:
    if conn.loop is asyncio.get_running_loop():
        conn.abort(ConnectionError(reason))
    elif not conn.loop.is_closed():
        # Another loop's futures and transport are only touched from that loop.
        conn.loop.call_soon_threadsafe(conn.abort, ConnectionError(reason))


__all__ = ["Endpoint", "RespClient", "RespError", "UnsupportedURL", "parse_url"]
