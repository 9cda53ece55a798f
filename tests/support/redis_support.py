"""Real Redis for tests: find one, or run a throwaway redis-server, and clean up after it.

Policy (used by the fixtures in conftest.py):
- REDIS_URL set: use it.
- else 127.0.0.1:6379 answering PING: use it (tests write only under a random key prefix).
- else start a throwaway `redis-server` on a free port in a temporary directory.
- no redis-server binary: skip LOUDLY, or fail when HUREN_REQUIRE_REDIS=1 (CI sets this).

A throwaway server runs daemonised with its own pidfile and is stopped by that pid; stopping waits
until the process is gone (`kill -0` fails, or only a zombie is left), so the port can be reused.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis

DEFAULT_URL = "redis://127.0.0.1:6379/0"
REQUIRE_ENV = "HUREN_REQUIRE_REDIS"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0


def redis_required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


def unavailable(reason: str) -> None:
    """Skip (loudly) or, when HUREN_REQUIRE_REDIS=1, fail: never pass silently without Redis."""
    message = (
        f"REDIS UNAVAILABLE - {reason}. Tests that need Redis did NOT run. Install redis-server, "
        f"or set REDIS_URL; set {REQUIRE_ENV}=1 to make this an error."
    )
    if redis_required():
        pytest.fail(f"{REQUIRE_ENV}=1 but {message}", pytrace=False)
    pytest.skip(message)


def random_prefix(label: str = "test") -> str:
    """A key prefix no other test (or person) uses: `huren-test:<label>:<random>:`."""
    return f"huren-test:{label}:{secrets.token_hex(8)}:"


def client(url: str, timeout: float = 0.5) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)


def ping(url: str, timeout: float = 0.5) -> bool:
    """True iff a Redis server at url answers PING within the timeout."""
    conn = client(url, timeout)
    try:
        return bool(conn.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        conn.close()


def wait_for_ping(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if ping(url, timeout=0.2):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


def _alive(pid: int) -> bool:
    """kill -0 succeeds and the process is not a zombie (an unreaped zombie holds no port)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): trust kill -0
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


class RedisServer:
    """A throwaway redis-server (no persistence) bound to 127.0.0.1 on a fixed port."""

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        binary: str | None = None,
        extra: tuple[str, ...] = (),
        config: str | None = None,
    ) -> None:
        found = binary or redis_server_binary()
        if found is None:
            raise FileNotFoundError("redis-server not found on PATH")
        self.binary = found
        self.directory = directory
        self.port = port or free_port()
        self.pidfile = directory / "redis.pid"
        self.logfile = directory / "redis.log"
        self.pid: int | None = None
        self.extra = extra  # more redis-server options (cluster mode, replicaof, ...)
        self.config = config  # a config file's text, written and passed first (sentinels)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __repr__(self) -> str:
        return f"RedisServer(port={self.port}, pid={self.pid})"

    def start(self) -> None:
        """Start on self.port (the same port on a restart) and wait until it answers PING."""
        if self.pid is not None and _alive(self.pid):
            raise RuntimeError(f"{self!r} is already running")
        self.directory.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.pidfile.unlink()
        head = [self.binary]
        if self.config is not None:
            conf = self.directory / "redis.conf"
            conf.write_text(self.config)
            head.append(str(conf))
        subprocess.run(
            [
                *head,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "yes",
                "--pidfile", str(self.pidfile),
                "--dir", str(self.directory),
                "--logfile", str(self.logfile),
                *self.extra,
            ],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            timeout=START_TIMEOUT,
        )  # fmt: skip
        ok = wait_for_ping(self.url, START_TIMEOUT) if "--sentinel" not in self.extra else True
        self.pid = self._read_pid()
        if not ok:
            self.stop()
            raise RuntimeError(
                f"redis-server on port {self.port} did not answer PING within {START_TIMEOUT}s; "
                f"log tail: {self._log_tail()}"
            )

    def _read_pid(self) -> int | None:
        # The daemon writes its pidfile shortly after forking.
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                return int(self.pidfile.read_text().strip())
            except (FileNotFoundError, ValueError):
                time.sleep(0.02)
        return None

    def _log_tail(self) -> str:
        try:
            return " | ".join(self.logfile.read_text(errors="replace").splitlines()[-5:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """Stop by pid (SIGTERM, then SIGKILL) and wait until the process is gone. Idempotent."""
        pid, self.pid = self.pid, None
        if pid is None:
            return
        for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if not _alive(pid):
                    return
                time.sleep(0.02)
        raise RuntimeError(f"redis-server pid {pid} did not exit")

    @classmethod
    def launch(cls, directory: Path, attempts: int = 3) -> RedisServer:
        """Start on a free port, retrying with another port if one was taken meanwhile."""
        error: Exception | None = None
        for attempt in range(attempts):
            server = cls(directory / f"run{attempt}")
            try:
                server.start()
            except (RuntimeError, subprocess.SubprocessError) as exc:
                error = exc
                continue
            return server
        raise RuntimeError(f"could not start a throwaway redis-server: {error}")


def match_prefix(prefix: str) -> str:
    """A SCAN MATCH pattern for every key under prefix (a test name may hold glob characters
    such as the "[" of a parametrised test)."""
    return "".join(f"\\{c}" if c in "[]*?\\" else c for c in prefix) + "*"


def trust_key(prefix: str, name: str) -> str:
    """The Redis name of a trust key: under the hash tag `{prefix}` (docs/cache-and-sync.md)."""
    return "{" + prefix + "}" + name


def delete_prefix(url: str, prefix: str) -> None:
    """Delete only the keys under prefix, verdict keys and tagged trust keys alike (never
    FLUSHDB: the server may be shared)."""
    conn = client(url, timeout=2.0)
    try:
        keys = [
            *conn.scan_iter(match=match_prefix(prefix), count=500),
            *conn.scan_iter(match=match_prefix("{" + prefix + "}"), count=500),
        ]
        for start in range(0, len(keys), 500):
            conn.delete(*keys[start : start + 500])
    except (redis.RedisError, OSError):
        pass  # the server may have been stopped by the test itself
    finally:
        conn.close()


# -- Redis Cluster and Sentinel on loopback ------------------------------------------------------

CLUSTER_NODE_TIMEOUT_MS = 1000
MASTER_NAME = "huren"


def redis_cli_binary() -> str | None:
    return shutil.which("redis-cli")


def need_redis_binaries() -> None:
    """Skip loudly (or fail under HUREN_REQUIRE_REDIS=1) without redis-server and redis-cli."""
    if redis_server_binary() is None or redis_cli_binary() is None:
        unavailable("redis-server or redis-cli is not on PATH (needed for Cluster and Sentinel)")


def _wait(condition: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _info(url: str, section: str) -> dict[str, Any]:
    conn = client(url, timeout=0.5)
    try:
        return dict(conn.info(section))
    except (redis.RedisError, OSError):
        return {}
    finally:
        conn.close()


def cluster_port() -> int:
    """A free port P at most 55535 whose bus port P + 10000 is free too (cluster mode)."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 55535)
        try:
            for candidate in (port, port + 10000):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                    sock.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


class RedisClusterSet:
    """Six redis-server processes in cluster mode (3 masters, 3 replicas) on loopback, with a
    1 s node timeout so a failover takes a couple of seconds. Every process is stopped by pid."""

    def __init__(self, directory: Path, masters: int = 3, replicas: int = 1) -> None:
        self.directory = directory
        self.nodes = [
            RedisServer(
                directory / f"node{i}",
                port=cluster_port(),
                extra=(
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    str(CLUSTER_NODE_TIMEOUT_MS),
                    # Redis 7 waits 5 s by default before a diskless full sync (to gather
                    # replicas): a replica would miss the first WAIT of a test.
                    "--repl-diskless-sync-delay",
                    "0",
                ),
            )
            for i in range(masters * (1 + replicas))
        ]
        self.replicas = replicas

    @property
    def seeds(self) -> list[str]:
        return [f"127.0.0.1:{n.port}" for n in self.nodes]

    def by_port(self, port: int) -> RedisServer:
        return next(n for n in self.nodes if n.port == port)

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        cli = redis_cli_binary()
        assert cli is not None
        subprocess.run(
            [cli, "--cluster", "create", *self.seeds, "--cluster-replicas", str(self.replicas),
             "--cluster-yes"],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            timeout=60,
        )  # fmt: skip
        self.wait_healthy()

    def alive(self) -> list[RedisServer]:
        return [n for n in self.nodes if n.pid is not None and _alive(n.pid)]

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Every live node says cluster_state:ok, every slot has a live master, and every live
        replica is in sync with its master (an upload waits for one: WAIT)."""

        def ok() -> bool:
            for node in self.alive():
                conn = client(node.url, timeout=0.5)
                try:
                    if conn.cluster("info").get("cluster_state") != "ok":
                        return False
                    replication = conn.info("replication")
                    if replication.get("role") == "slave" and (
                        replication.get("master_link_status") != "up"
                    ):
                        return False
                except (redis.RedisError, OSError):
                    return False
                finally:
                    conn.close()
            covered = sum(last - first + 1 for first, last, _ in self.slot_owners())
            return covered == 16384

        _wait(ok, "cluster_state:ok", timeout)

    def slot_owners(self) -> list[tuple[int, int, int]]:
        """(first slot, last slot, master port) as a live node sees them."""
        for node in self.alive():
            conn = client(node.url, timeout=0.5)
            try:
                return [(int(r[0]), int(r[1]), int(r[2][1])) for r in conn.execute_command(
                    "CLUSTER", "SLOTS")]  # fmt: skip
            except (redis.RedisError, OSError):
                continue
            finally:
                conn.close()
        return []

    def masters(self) -> list[int]:
        return sorted({port for _, _, port in self.slot_owners()})

    def keyslot(self, key: str) -> int:
        node = self.alive()[0]
        conn = client(node.url, timeout=0.5)
        try:
            return int(conn.execute_command("CLUSTER", "KEYSLOT", key))
        finally:
            conn.close()

    def master_of(self, key: str) -> RedisServer:
        slot = self.keyslot(key)
        port = next(p for first, last, p in self.slot_owners() if first <= slot <= last)
        return self.by_port(port)

    def kill9(self, node: RedisServer) -> None:
        assert node.pid is not None
        os.kill(node.pid, signal.SIGKILL)
        _wait(lambda: not _alive(node.pid or 0), "the killed node to exit")
        node.pid = None

    def stop(self) -> None:
        for node in self.nodes:
            with contextlib.suppress(Exception):
                node.stop()


def migrate_slot(
    cluster: RedisClusterSet, slot: int, source: RedisServer, target: RedisServer
) -> None:
    """Move one slot, keys and all, from source to target (what `redis-cli --cluster reshard`
    does, for one chosen slot)."""
    src = client(source.url, timeout=5)
    dst = client(target.url, timeout=5)
    try:
        src_id = src.execute_command("CLUSTER", "MYID")
        dst_id = dst.execute_command("CLUSTER", "MYID")
        dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
        src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
        while True:
            keys = src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100)
            if not keys:
                break
            src.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys)
        for port in cluster.masters():
            conn = client(cluster.by_port(port).url, timeout=5)
            conn.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
            conn.close()
    finally:
        src.close()
        dst.close()


class RedisSentinelSet:
    """A master, one replica and three sentinels (quorum 2, down after 1 s) on loopback."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.master = RedisServer(directory / "master")
        self.replica = RedisServer(directory / "replica")
        self.replica.extra = ("--replicaof", "127.0.0.1", str(self.master.port))
        self.sentinels = [RedisServer(directory / f"sentinel{i}") for i in range(3)]
        for sentinel in self.sentinels:
            sentinel.extra = ("--sentinel",)
            sentinel.config = (
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master.port} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
                f"sentinel failover-timeout {MASTER_NAME} 4000\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n"
            )

    @property
    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{s.port}" for s in self.sentinels]

    @property
    def servers(self) -> list[RedisServer]:
        return [self.master, self.replica]

    def start(self) -> None:
        self.master.start()
        self.replica.start()
        _wait(
            lambda: _info(self.replica.url, "replication").get("master_link_status") == "up",
            "the replica to sync",
        )
        for sentinel in self.sentinels:
            sentinel.start()
        _wait(self._settled, "the sentinels to see each other and the replica")

    def _sentinel_view(self) -> list[Any]:
        views = []
        for sentinel in self.sentinels:
            if sentinel.pid is None:
                continue
            conn = redis.Redis(port=sentinel.port, socket_timeout=0.5, decode_responses=True)
            try:
                views.append(conn.sentinel_master(MASTER_NAME))
            except (redis.RedisError, OSError, KeyError):
                return []
            finally:
                conn.close()
        return views

    def _settled(self) -> bool:
        views = self._sentinel_view()
        if len(views) != len(self.sentinels):
            return False
        for view in views:
            if int(view.get("num-other-sentinels", 0)) < 2:
                return False
            if int(view.get("num-slaves", 0)) < 1:
                return False
        return True

    def current_master_port(self) -> int | None:
        for sentinel in self.sentinels:
            conn = client(sentinel.url, timeout=0.5)
            try:
                _, port = conn.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)
                return int(port)
            except (redis.RedisError, OSError, TypeError, ValueError):
                continue
            finally:
                conn.close()
        return None

    def by_port(self, port: int) -> RedisServer:
        return next(s for s in self.servers if s.port == port)

    def kill9(self, server: RedisServer) -> None:
        assert server.pid is not None
        pid = server.pid
        os.kill(pid, signal.SIGKILL)
        _wait(lambda: not _alive(pid), "the killed server to exit")
        server.pid = None

    def stop(self) -> None:
        for server in [*self.sentinels, self.replica, self.master]:
            with contextlib.suppress(Exception):
                server.stop()
