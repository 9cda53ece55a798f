"""api/state/resp.py against real Redis: commands, pipelining, ordering, failures, AUTH/SELECT,
URLs."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import quote

import pytest
import redis
from redis.connection import parse_url as _redis_py_parse_url

from api.state.resp import Endpoint, RespClient, RespError, UnsupportedURL, parse_url
from tests.support import redis_support

T = TypeVar("T")
redis_py_parse_url: Callable[[str], dict[str, Any]] = _redis_py_parse_url  # untyped upstream

TIMEOUT = 2.0


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def _fake_server(
    reply: bytes | None,
) -> tuple[asyncio.Server, int, list[asyncio.StreamWriter]]:
    """A TCP server that accepts and then never answers (reply None) or answers `reply` to
    whatever it reads."""
    accepted: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        while data := await reader.read(65536):
            if reply is not None and data:
                writer.write(reply)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    return server, port, accepted


# -- URLs ------------------------------------------------------------------------------------

SUPPORTED_URLS = [
    ("redis://localhost", Endpoint()),
    ("redis://", Endpoint()),
    ("redis://h:6380/2", Endpoint(host="h", port=6380, db=2)),
    ("redis://H.Example:7000", Endpoint(host="h.example", port=7000)),
    ("redis://[::1]:7001/0", Endpoint(host="::1", port=7001)),
    ("redis://user:p%40ss%3Aw%2Frd@h/1",
     Endpoint(host="h", username="user", password="p@ss:w/rd", db=1)),
    ("redis://:secret@h", Endpoint(host="h", password="secret")),
    ("redis://:@h", Endpoint(host="h")),
    ("redis://user@h", Endpoint(host="h", username="user")),
    ("redis://h/3?db=5", Endpoint(host="h", db=5)),
    ("redis://h/?db=4", Endpoint(host="h", db=4)),
    ("redis://h/abc", Endpoint(host="h")),  # redis-py ignores a path that is not a number
    ("rediss://h:6390/1", Endpoint(host="h", port=6390, tls=True, db=1)),
    ("unix:///tmp/r.sock", Endpoint(path="/tmp/r.sock")),
    ("unix:///tmp/r.sock?db=2", Endpoint(path="/tmp/r.sock", db=2)),
    ("unix://:pw@/tmp/r%20s.sock", Endpoint(path="/tmp/r s.sock", password="pw")),
]  # fmt: skip


@pytest.mark.parametrize(("url", "expected"), SUPPORTED_URLS)
def test_parse_url_follows_redis_py(url: str, expected: Endpoint) -> None:
    got = parse_url(url)
    assert got == expected
    theirs = redis_py_parse_url(url)
    assert got.db == theirs.get("db", 0)
    assert got.username == theirs.get("username")
    assert got.password == theirs.get("password")
    if got.path is None:
        assert (got.host, got.port) == (theirs.get("host", "localhost"), theirs.get("port", 6379))
    else:
        assert got.path == theirs["path"]
    assert RespClient.from_url(url, timeout=1.0).endpoint == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://h",
        "REDIS://h",  # redis-py's scheme check is case-sensitive too
        "redis+sentinel://h",
        "valkey://h",
        "h:6379",
        "redis://h?protocol=3",
        "redis://h/0?ssl_cert_reqs=none",
        "redis://h?decode_responses=true",
        "redis://h:notaport",
        "redis://h:99999",
        "redis://h:0",  # the default port to redis-py before 8.2, port 0 from 8.2: refused
        "redis://h/?db=x",
        "unix://",
    ],
)
def test_parse_url_refuses_what_it_cannot_serve(url: str) -> None:
    with pytest.raises(UnsupportedURL):
        RespClient.from_url(url, timeout=1.0)
    assert issubclass(UnsupportedURL, ValueError)


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="timeout"):
        RespClient.from_url("redis://h", timeout=0)


# -- commands against the shared server ------------------------------------------------------


def test_get_set_px_and_ping(redis_url: str, redis_client: redis.Redis, redis_prefix: str) -> None:
    key, short = redis_prefix + "k", redis_prefix + "short"

    async def main() -> None:
        c = RespClient.from_url(redis_url, timeout=TIMEOUT)
        try:
            assert await c.ping() is True
            assert await c.get(key) is None
            await c.set(key, "välue", px=1500)
            assert await c.get(key) == "välue".encode()
            assert 0 < redis_client.pttl(key) <= 1500
            await c.set(key.encode(), b"no-expiry")
            assert redis_client.pttl(key) == -1
            await c.set(short, b"x", px=50)
            assert await c.get(short) == b"x"
            await asyncio.sleep(0.25)
            assert await c.get(short) is None
            assert await c.execute("PTTL", short) == -2
            assert await c.execute("EXISTS", key, short) == 1
        finally:
            await c.close()

    run(main())


def test_binary_empty_and_1mb_values(
    redis_url: str, redis_client: redis.Redis, redis_prefix: str
) -> None:
    values = {
        "crlf": b"\r\n",
        "resp-lookalike": b"$-1\r\n*2\r\n:1\r\n-ERR x\r\n+OK\r\n",
        "empty": b"",
        "nul": bytes(range(256)) * 4,
        "big": b"\r\n" + os.urandom(1 << 20) + b"\r\n$3\r\n",
    }

    async def main() -> None:
        c = RespClient.from_url(redis_url, timeout=TIMEOUT)
        try:
            for name, value in values.items():
                await c.set(redis_prefix + name, value)
            for name, value in values.items():
                assert await c.get(redis_prefix + name) == value, name
                assert redis_client.get(redis_prefix + name) == value, name
            redis_client.set(redis_prefix + "from-redis-py", values["big"][::-1])
            assert await c.get(redis_prefix + "from-redis-py") == values["big"][::-1]
        finally:
            await c.close()

    run(main())


def test_mget_with_missing_keys(
    redis_url: str, redis_client: redis.Redis, redis_prefix: str
) -> None:
    redis_client.mset({redis_prefix + "a": b"1", redis_prefix + "c": b"3"})

    async def main() -> None:
        c = RespClient.from_url(redis_url, timeout=TIMEOUT)
        try:
            got = await c.mget(redis_prefix + "a", redis_prefix + "b", redis_prefix + "c")
            assert got == [b"1", None, b"3"]
            assert await c.mget(redis_prefix + "nope") == [None]
            with pytest.raises(RespError, match="wrong number of arguments"):
                await c.mget()
        finally:
            await c.close()

    run(main())


def test_error_replies_raise_and_the_connection_keeps_working(
    redis_url: str, redis_client: redis.Redis, redis_prefix: str
) -> None:
    key = redis_prefix + "text"
    redis_client.set(key, b"not a number")

    async def main() -> None:
        c = RespClient.from_url(redis_url, timeout=TIMEOUT)
        try:
            await c.ping()
            conn = c._conn
            with pytest.raises(RespError, match=r"^ERR value is not an integer") as info:
                await c.execute("INCR", key)
            assert type(info.value) is RespError
            with pytest.raises(RespError, match="unknown command"):
                await c.execute("NO-SUCH-COMMAND", 1)
            # An error between good replies, all in one pipeline: each caller gets its own.
            got = await asyncio.gather(
                c.execute("INCR", redis_prefix + "n"),
                c.execute("INCR", key),
                c.execute("INCRBY", redis_prefix + "n", 41),
                return_exceptions=True,
            )
            assert got[0] == 1 and isinstance(got[1], RespError) and got[2] == 42
            assert await c.get(key) == b"not a number"
            assert c._conn is conn  # the same connection throughout
        finally:
            await c.close()

    run(main())


def test_2000_concurrent_commands_get_their_own_replies_in_order(
    redis_url: str, redis_client: redis.Redis, redis_prefix: str
) -> None:
    keys = [f"{redis_prefix}{i}" for i in range(2000)]
    values = [f"value-{i}-{os.urandom(4).hex()}".encode() * (1 + i % 7) for i in range(2000)]
    assert len(set(values)) == len(values)
    redis_client.mset(dict(zip(keys, values, strict=True)))

    async def main() -> None:
        c = RespClient.from_url(redis_url, timeout=TIMEOUT)
        try:
            # Issued before the connection exists: all wait for the connect, then go out.
            assert await asyncio.gather(*(c.get(k) for k in keys)) == values
            assert await asyncio.gather(*(c.get(k) for k in reversed(keys))) == values[::-1]
            mixed: list[Awaitable[Any]] = []
            expected: list[Any] = []
            for i, k in enumerate(keys[:300]):
                if i % 3 == 0:
                    mixed.append(c.mget(k, redis_prefix + "missing", keys[-1 - i]))
                    expected.append([values[i], None, values[-1 - i]])
                elif i % 3 == 1:
                    mixed.append(c.execute("STRLEN", k))
                    expected.append(len(values[i]))
                else:
                    mixed.append(c.ping())
                    expected.append(True)
            assert await asyncio.gather(*mixed) == expected
        finally:
            await c.close()

    run(main())


def test_concurrent_commands_coalesce_into_one_write(
    redis_url: str, redis_client: redis.Redis, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = [f"{redis_prefix}{i}" for i in range(500)]
    redis_client.mset({k: k.encode() for k in keys})

    async def main() -> None:
        c = RespClient.from_url(redis_url, timeout=TIMEOUT)
        try:
            await c.ping()
            assert c._conn is not None and c._conn.transport is not None
            transport = c._conn.transport
            writes: list[int] = []
            real_write: Callable[[bytes], None] = transport.write

            def spy(data: bytes) -> None:
                writes.append(len(data))
                real_write(data)

            monkeypatch.setattr(transport, "write", spy)
            got = await asyncio.gather(*(c.get(k) for k in keys))
            assert got == [k.encode() for k in keys]
            assert len(writes) == 1, writes  # 500 GETs, one write
            assert await c.get(keys[0]) == keys[0].encode()
            assert len(writes) == 2  # a lone command is written on its own
        finally:
            await c.close()

    run(main())


def test_a_cancelled_caller_does_not_shift_later_replies(
    redis_url: str, redis_client: redis.Redis, redis_prefix: str
) -> None:
    redis_client.mset(
        {redis_prefix + "a": b"A", redis_prefix + "b": b"B", redis_prefix + "c": b"C"}
    )

    async def main() -> None:
        c = RespClient.from_url(redis_url, timeout=TIMEOUT)
        try:
            # Cancelled while the connection is being opened: the others still connect.
            first = asyncio.ensure_future(c.get(redis_prefix + "a"))
            second = asyncio.ensure_future(c.get(redis_prefix + "b"))
            await asyncio.sleep(0)
            first.cancel()
            assert await second == b"B"
            assert first.cancelled()
            # Cancelled after being sent: BLPOP holds the connection, so its reply (nil) and the
            # GET's come later; the nil must be dropped, not handed to the GET.
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.05):
                    await c.execute("BLPOP", redis_prefix + "empty-list", "0.3")
            assert await c.get(redis_prefix + "c") == b"C"
            # Cancelled before the flush: the command is still sent, its reply dropped.
            doomed = asyncio.ensure_future(c.get(redis_prefix + "a"))
            after = asyncio.ensure_future(c.get(redis_prefix + "b"))
            await asyncio.sleep(0)
            doomed.cancel()
            assert await after == b"B"
            assert await c.mget(redis_prefix + "c", redis_prefix + "a") == [b"C", b"A"]
        finally:
            await c.close()

    run(main())


def test_close_fails_pending_is_idempotent_and_the_client_reconnects(
    redis_url: str, redis_client: redis.Redis, redis_prefix: str
) -> None:
    redis_client.set(redis_prefix + "k", b"v")

    async def main() -> None:
        c = RespClient.from_url(redis_url, timeout=TIMEOUT)
        await c.close()  # never connected
        blocked = asyncio.ensure_future(c.execute("BLPOP", redis_prefix + "empty", "1"))
        await asyncio.sleep(0.05)
        await c.close()
        with pytest.raises(ConnectionError):
            await blocked
        await c.close()
        assert await c.get(redis_prefix + "k") == b"v"
        await c.close()

    run(main())


def test_used_from_another_event_loop_it_reconnects(
    redis_url: str, redis_client: redis.Redis, redis_prefix: str
) -> None:
    redis_client.set(redis_prefix + "k", b"v")
    c = RespClient.from_url(redis_url, timeout=TIMEOUT)
    conns: list[Any] = []

    async def use() -> None:
        assert await c.get(redis_prefix + "k") == b"v"
        conns.append(c._conn)

    with warnings.catch_warnings():
        # The first two loops end (closed by asyncio.run) with the connection open: such a
        # socket can only be closed by the garbage collector, which warns about it.
        warnings.simplefilter("ignore", ResourceWarning)
        run(use())
        run(use())
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(use())
            loop.run_until_complete(c.close())
        finally:
            loop.close()
        assert len({id(conn) for conn in conns}) == 3
        assert [conn.error is None for conn in conns] == [True, True, False]
        conns.clear()
        gc.collect()


# -- failures --------------------------------------------------------------------------------


def test_server_stop_fails_fast_and_a_restart_recovers(
    redis_server: redis_support.RedisServer,
) -> None:
    async def main() -> None:
        c = RespClient.from_url(redis_server.url, timeout=TIMEOUT)
        try:
            await c.set("k", b"v")
            blocked = asyncio.ensure_future(c.execute("BLPOP", "empty", "10"))
            await asyncio.sleep(0.05)
            started = time.monotonic()
            await asyncio.to_thread(redis_server.stop)
            with pytest.raises(ConnectionError):
                await blocked  # a pending command fails when the connection goes
            with pytest.raises(ConnectionError):
                await c.get("k")  # the server is gone: refused, not a hang
            assert time.monotonic() - started < TIMEOUT
            with pytest.raises(ConnectionError):
                await c.ping()
            await asyncio.to_thread(redis_server.start)  # same port, empty
            assert await c.get("k") is None
            await c.set("k", b"again")
            assert await c.get("k") == b"again"
        finally:
            await c.close()

    run(main())


@pytest.mark.parametrize(
    ("credentials", "db"),
    [("", "/0"), (":pw@", "/0"), ("", "/2")],  # hangs on the command, on AUTH, on SELECT
)
def test_a_server_that_never_answers_times_out(credentials: str, db: str) -> None:
    timeout = 0.2

    async def main() -> None:
        server, port, accepted = await _fake_server(reply=None)
        c = RespClient.from_url(f"redis://{credentials}127.0.0.1:{port}{db}", timeout=timeout)
        try:
            started = time.monotonic()
            got = await asyncio.gather(c.get("a"), c.get("b"), c.ping(), return_exceptions=True)
            elapsed = time.monotonic() - started
            assert all(isinstance(r, TimeoutError) for r in got), got
            assert timeout * 0.9 <= elapsed < timeout + 0.5
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                await c.get("a")  # on a new connection
            assert time.monotonic() - started < timeout + 0.5
            assert len(accepted) == 2
        finally:
            await c.close()
            server.close()

    run(main())


def test_a_server_that_stops_answering_mid_stream_times_out() -> None:
    timeout = 0.2

    async def main() -> None:
        replies = iter([b"+PONG\r\n"])

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await reader.read(65536):
                writer.write(next(replies, b""))  # answers the first command, then nothing
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = int(server.sockets[0].getsockname()[1])
        c = RespClient.from_url(f"redis://127.0.0.1:{port}", timeout=timeout)
        try:
            assert await c.ping() is True
            await asyncio.sleep(timeout * 2)  # idle is fine: only waiting commands time out
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                await c.ping()
            assert timeout * 0.9 <= time.monotonic() - started < timeout + 0.5
        finally:
            await c.close()
            server.close()

    run(main())


def test_protocol_garbage_is_a_connection_error() -> None:
    async def main() -> None:
        server, port, accepted = await _fake_server(reply=b"?what\r\n")
        c = RespClient.from_url(f"redis://127.0.0.1:{port}", timeout=TIMEOUT)
        try:
            got = await asyncio.gather(c.get("a"), c.get("b"), return_exceptions=True)
            assert all(isinstance(r, ConnectionError) for r in got), got
            with pytest.raises(ConnectionError, match="protocol error"):
                await c.get("a")
            assert len(accepted) == 2
        finally:
            await c.close()
            server.close()

    run(main())


def test_a_reply_to_no_command_drops_the_connection() -> None:
    async def main() -> None:
        server, port, accepted = await _fake_server(reply=b":1\r\n:2\r\n")  # one too many
        c = RespClient.from_url(f"redis://127.0.0.1:{port}", timeout=TIMEOUT)
        try:
            assert await c.execute("ANY") == 1
            first = c._conn
            assert first is not None
            for _ in range(100):  # the extra reply may come in a later read
                if first.error is not None:
                    break
                await asyncio.sleep(0.01)
            assert isinstance(first.error, ConnectionError)
            assert await c.execute("ANY") == 1
            assert c._conn is not first and len(accepted) == 2
        finally:
            await c.close()
            server.close()

    run(main())


def test_connection_refused_is_a_connection_error() -> None:
    port = redis_support.free_port()  # nothing listens here

    async def main() -> None:
        c = RespClient.from_url(f"redis://127.0.0.1:{port}", timeout=TIMEOUT)
        started = time.monotonic()
        for _ in range(3):
            with pytest.raises(ConnectionError):
                await c.get("k")
        assert time.monotonic() - started < TIMEOUT
        await c.close()

    run(main())


# -- AUTH, SELECT, Unix socket, TLS (a private server with a password) -----------------------

PASSWORD = "p@ss:w/rd%41#?"


@pytest.fixture(scope="module")
def auth_server() -> Iterator[tuple[int, str]]:
    """(port, unix socket path) of a private redis-server requiring PASSWORD."""
    binary = redis_support.redis_server_binary()
    if binary is None:
        redis_support.unavailable("redis-server is not on PATH (needed for a private server)")
        raise AssertionError("unreachable")
    port = redis_support.free_port()
    directory = tempfile.mkdtemp(prefix="resp-", dir="/tmp")  # short: socket paths are limited
    sock = os.path.join(directory, "redis.sock")
    proc = subprocess.Popen(
        [
            binary,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--unixsocket", sock,
            "--requirepass", PASSWORD,
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--dir", directory,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"redis://:{quote(PASSWORD, safe='')}@127.0.0.1:{port}/0"
        if not redis_support.wait_for_ping(url, timeout=10.0):
            pytest.fail("the private redis-server with a password did not start")
        yield port, sock
    finally:
        proc.kill()
        proc.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def _db(port: int, db: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, db=db, password=PASSWORD, socket_timeout=2)


@pytest.mark.redis
def test_auth_and_select_happen_before_queued_commands(auth_server: tuple[int, str]) -> None:
    port, _ = auth_server
    pw = quote(PASSWORD, safe="")
    db3, db0 = _db(port, 3), _db(port, 0)
    try:

        async def main() -> None:
            c = RespClient.from_url(f"redis://:{pw}@127.0.0.1:{port}/3", timeout=TIMEOUT)
            try:
                # All issued before the connection exists: they must follow AUTH and SELECT.
                await asyncio.gather(*(c.set(f"auth:{i}", str(i), px=60_000) for i in range(50)))
                assert await c.execute("CLIENT", "INFO") is not None
                assert await c.get("auth:7") == b"7"
            finally:
                await c.close()
            for url in (
                f"redis://default:{pw}@127.0.0.1:{port}?db=5",  # AUTH user pass
                f"redis://:{pw}@127.0.0.1:{port}/1?db=5",  # the query beats the path
            ):
                c = RespClient.from_url(url, timeout=TIMEOUT)
                try:
                    await c.set("auth:five", b"5", px=60_000)
                finally:
                    await c.close()

        run(main())
        assert [db3.get(f"auth:{i}") for i in range(50)] == [str(i).encode() for i in range(50)]
        assert db0.get("auth:7") is None
        assert _db(port, 5).get("auth:five") == b"5"
        assert _db(port, 1).get("auth:five") is None
    finally:
        db3.close()
        db0.close()


@pytest.mark.redis
def test_bad_credentials_or_db_fail_the_connection(auth_server: tuple[int, str]) -> None:
    port, _ = auth_server
    pw = quote(PASSWORD, safe="")

    async def main() -> None:
        c = RespClient.from_url(f"redis://:wrong@127.0.0.1:{port}/2", timeout=TIMEOUT)
        try:
            for _ in range(2):  # every attempt fails the same way, none hangs
                with pytest.raises(ConnectionError, match=r"setup: (WRONGPASS|invalid)") as info:
                    await c.get("k")
                assert isinstance(info.value.__cause__, RespError)
        finally:
            await c.close()
        c = RespClient.from_url(f"redis://:{pw}@127.0.0.1:{port}/99", timeout=TIMEOUT)
        try:
            with pytest.raises(ConnectionError, match="DB index is out of range"):
                await c.get("k")
        finally:
            await c.close()
        c = RespClient.from_url(f"redis://127.0.0.1:{port}", timeout=TIMEOUT)
        try:
            # NOAUTH says the connection is unusable: a ConnectionError, as in redis-py.
            with pytest.raises(ConnectionError, match="NOAUTH") as refused:
                await c.get("k")
            assert isinstance(refused.value.__cause__, RespError)
            assert await c.execute("AUTH", PASSWORD) == b"OK"
            assert await c.get("k") is None  # same connection, now authenticated
        finally:
            await c.close()

    run(main())


@pytest.mark.redis
def test_unix_socket_with_db_query(auth_server: tuple[int, str]) -> None:
    port, sock = auth_server

    async def main() -> None:
        c = RespClient.from_url(f"unix://:{quote(PASSWORD, safe='')}@{sock}?db=4", timeout=TIMEOUT)
        try:
            await c.set("unix:k", b"over the socket", px=60_000)
            assert await c.get("unix:k") == b"over the socket"
        finally:
            await c.close()

    run(main())
    assert _db(port, 4).get("unix:k") == b"over the socket"


@pytest.mark.redis
def test_rediss_to_a_plain_server_fails_within_the_timeout(auth_server: tuple[int, str]) -> None:
    port, _ = auth_server
    timeout = 0.5

    async def main() -> None:
        c = RespClient.from_url(f"rediss://127.0.0.1:{port}", timeout=timeout)
        started = time.monotonic()
        with contextlib.suppress(ConnectionError, TimeoutError):
            await c.ping()
            raise AssertionError("TLS to a plain-text server succeeded")
        assert time.monotonic() - started < timeout + 0.5
        await c.close()

    run(main())


@pytest.mark.redis
def test_a_redis_refusing_every_command_is_an_outage_for_the_cache(
    auth_server: tuple[int, str],
) -> None:
    """A Redis that answers NOAUTH to everything is unavailable, not a stream of unusable
    entries: the verdict cache reports an outage (and readiness says so), as with redis-py."""
    from api.state.cache import RedisVerdictCache, cache_key

    port, _ = auth_server
    key = cache_key(
        kind="licence",
        document_sha256="0" * 64,
        relying="442000",
        at=None,
        expectations={},
        trust_version="v",
    )

    async def main() -> None:
        cache = RedisVerdictCache(f"redis://127.0.0.1:{port}/0", secret=b"s" * 32)
        try:
            assert cache._lean is not None  # the lean client's path
            assert await cache.get(key) is None
            assert not cache.available and cache.outages == 1
        finally:
            await cache.close()

    run(main())


def test_time_the_loop_spends_elsewhere_before_the_write_is_not_charged_to_redis(
    redis_url: str, redis_prefix: str
) -> None:
    """The deadline of a command starts when it is written: a task that holds the event loop
    for longer than the timeout between the call and the write does not time it out."""

    async def main() -> None:
        c = RespClient.from_url(redis_url, timeout=0.25)
        try:
            assert await c.ping()

            async def hold_the_loop() -> None:
                time.sleep(0.4)  # blocking on purpose

            holder = asyncio.ensure_future(hold_the_loop())  # runs before the flush
            assert await c.get(redis_prefix + "absent") is None
            await holder
        finally:
            await c.close()

    run(main())
