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
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

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

    def __init__(self, directory: Path, port: int | None = None, binary: str | None = None) -> None:
        found = binary or redis_server_binary()
        if found is None:
            raise FileNotFoundError("redis-server not found on PATH")
        self.binary = found
        self.directory = directory
        self.port = port or free_port()
        self.pidfile = directory / "redis.pid"
        self.logfile = directory / "redis.log"
        self.pid: int | None = None

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
        subprocess.run(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "yes",
                "--pidfile", str(self.pidfile),
                "--dir", str(self.directory),
                "--logfile", str(self.logfile),
            ],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            timeout=START_TIMEOUT,
        )  # fmt: skip
        ok = wait_for_ping(self.url, START_TIMEOUT)
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


def delete_prefix(url: str, prefix: str) -> None:
    """Delete only the keys under prefix (never FLUSHDB: the server may be shared)."""
    conn = client(url, timeout=2.0)
    try:
        keys = list(conn.scan_iter(match=match_prefix(prefix), count=500))
        for start in range(0, len(keys), 500):
            conn.delete(*keys[start : start + 500])
    except (redis.RedisError, OSError):
        pass  # the server may have been stopped by the test itself
    finally:
        conn.close()
