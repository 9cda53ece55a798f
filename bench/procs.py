"""Server processes for the HTTP figures: N uvicorn processes on one SO_REUSEPORT port, and a
throwaway redis-server. Loopback only; everything started here is stopped by its own pid."""

from __future__ import annotations

import atexit
import contextlib
import http.client
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.serve import reuseport_socket

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
_LIVE: list[subprocess.Popen[bytes]] = []


def _cleanup() -> None:
    for proc in list(_LIVE):
        _stop(proc)


atexit.register(_cleanup)


def _stop(proc: subprocess.Popen[bytes], timeout: float = 8.0) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(5)
    if proc in _LIVE:
        _LIVE.remove(proc)


def spawn(
    args: list[str], *, env: dict[str, str] | None = None, log: Path | None = None
) -> subprocess.Popen[bytes]:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    try:
        proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    _LIVE.append(proc)
    return proc


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        hdrs = dict(headers or {})
        if body is not None:
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_http_200(
    port: int,
    path: str,
    timeout: float,
    procs: list[subprocess.Popen[bytes]],
    interval: float = 0.01,
) -> float | None:
    """Seconds until GET path answers 200, or None on timeout or if a process died."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if any(p.poll() is not None for p in procs):
            return None
        try:
            status, _ = request(port, "GET", path, timeout=1.0)
            if status == 200:
                return time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(interval)
    return None


class Cluster:
    """`workers` processes of bench.serve for one app, each with its own SO_REUSEPORT socket."""

    def __init__(
        self,
        name: str,
        app: str,
        *,
        workers: int,
        env: dict[str, str] | None,
        workdir: Path,
        ready_path: str,
        http: str = "httptools",
    ) -> None:
        self.name = name
        self.app = app
        self.http = http  # bench.serve --http
        self.workers = workers
        self.env = {**os.environ, **(env or {})}
        self.workdir = workdir
        self.ready_path = ready_path
        self.procs: list[subprocess.Popen[bytes]] = []
        self._reserve = reuseport_socket(HOST, 0, listen=False)  # holds the port until ready
        self.port: int = self._reserve.getsockname()[1]
        self.log = workdir / f"{name}.log"

    def start(self, timeout: float = 60.0) -> float:
        """Start every worker; seconds until all serve and `ready_path` answers 200.
        Raises RuntimeError with the log tail if they do not."""
        t0 = time.perf_counter()
        ready_files = []
        for i in range(self.workers):
            ready = self.workdir / f"{self.name}.{self.port}.{i}.ready"
            ready.unlink(missing_ok=True)
            ready_files.append(ready)
            self.procs.append(
                spawn(
                    [
                        sys.executable,
                        "-m",
                        "bench.serve",
                        "--app",
                        self.app,
                        "--port",
                        str(self.port),
                        "--ready-file",
                        str(ready),
                        "--http",
                        self.http,
                    ],
                    env=self.env,
                    log=self.log,
                )
            )
        while not all(f.exists() for f in ready_files):
            if any(p.poll() is not None for p in self.procs) or time.perf_counter() - t0 > timeout:
                self.stop()
                raise RuntimeError(f"{self.name} did not start: {self.log_tail()}")
            time.sleep(0.01)
        left = timeout - (time.perf_counter() - t0)
        if wait_http_200(self.port, self.ready_path, max(left, 1.0), self.procs) is None:
            self.stop()
            raise RuntimeError(
                f"{self.name}: {self.ready_path} never answered 200: {self.log_tail()}"
            )
        self._reserve.close()
        return time.perf_counter() - t0

    def cpu_seconds(self) -> float:
        """User + system CPU seconds used so far by the workers (from /proc)."""
        total = 0
        tick = os.sysconf("SC_CLK_TCK")
        for p in self.procs:
            try:
                fields = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except (OSError, IndexError, ValueError):
                pass
        return total / tick

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def log_tail(self, n: int = 1200) -> str:
        try:
            return self.log.read_text(errors="replace")[-n:].strip() or "(empty log)"
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signal.SIGTERM)
        for p in self.procs:
            _stop(p)
        self.procs = []
        with contextlib.suppress(OSError):
            self._reserve.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RedisServer:
    """A throwaway redis-server on a free loopback port (no persistence), or $BENCH_REDIS_URL."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = os.environ.get("BENCH_REDIS_URL", "")

    @staticmethod
    def available() -> str | None:
        if os.environ.get("BENCH_REDIS_URL") or shutil.which("redis-server"):
            return None
        return "redis-server is not installed and BENCH_REDIS_URL is not set"

    def start(self) -> str:
        if self.url:
            return self.url
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server not found")
        sock = reuseport_socket(HOST, 0, listen=False)
        port = sock.getsockname()[1]
        sock.close()
        d = self.workdir / "redis"
        d.mkdir(exist_ok=True)
        self.proc = spawn(
            [
                exe,
                "--port",
                str(port),
                "--bind",
                HOST,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(d),
            ],
            log=self.workdir / "redis.log",
        )
        self.url = f"redis://{HOST}:{port}/0"
        import redis

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_timeout=0.5).ping():
                    return self.url
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("throwaway redis-server did not answer PING")

    def flush(self) -> None:
        """Empty the cache between runs (only ever on our own throwaway server)."""
        if self.proc is None:
            return
        import redis

        redis.Redis.from_url(self.url, socket_timeout=2).flushall()

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None
