"""HTTP/1.1 keep-alive load generators: `wrk` when installed, else an asyncio one of our own.

Both take the same job (method, path, headers, a file of request bodies, connections, duration,
warm-up) and return the same result dict:
    {"tool", "requests", "seconds", "rps", "p50", "p99", "max", "errors", "non2xx", "wrapped"}
(latencies in seconds). Each runs in its own process so its cost shows up as CPU taken from the
server, the same for every figure of one run.

Bodies file: one request body per line (compact JSON has no raw newline). Consecutive requests
use consecutive bodies (across all connections) so that "uncached" runs never repeat a token;
`wrapped` says the run needed more bodies than the file had.

The asyncio generator: `python -m bench.loadgen --port P --path /x [--bodies F] ...` prints the
result as JSON. It uses raw asyncio protocols over pre-built request bytes (no HTTP library)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Job:
    port: int
    path: str
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    bodies: Path | None = None  # one body per line; None: no body
    warm_bodies: Path | None = None  # used during warm-up (so measured bodies stay unseen)
    conns: int = 64
    duration: float = 4.0
    warmup: float = 1.0
    host: str = "127.0.0.1"
    timeout: float = 10.0


def wrk_path() -> str | None:
    if os.environ.get("BENCH_NO_WRK") == "1":
        return None
    return shutil.which("wrk")


def tool_name() -> str:
    return "wrk" if wrk_path() else "asyncio"


def run(job: Job) -> dict[str, Any]:
    """Run a job with the preferred tool, in a child process. Never raises for server errors:
    failures come back as errors in the result."""
    return run_wrk(job) if wrk_path() else run_asyncio(job)


# ------------------------------------------------------------------------------------ asyncio


def run_asyncio(job: Job) -> dict[str, Any]:
    args = [
        sys.executable,
        "-m",
        "bench.loadgen",
        "--host",
        job.host,
        "--port",
        str(job.port),
        "--path",
        job.path,
        "--method",
        job.method,
        "--conns",
        str(job.conns),
        "--duration",
        str(job.duration),
        "--warmup",
        str(job.warmup),
        "--timeout",
        str(job.timeout),
    ]
    for k, v in job.headers.items():
        args += ["--header", f"{k}: {v}"]
    if job.bodies is not None:
        args += ["--bodies", str(job.bodies)]
    if job.warm_bodies is not None:
        args += ["--warm-bodies", str(job.warm_bodies)]
    limit = job.duration + job.warmup + job.timeout + 30
    try:
        proc = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=limit,
            check=False,
            cwd=Path(__file__).resolve().parent.parent,
        )
    except subprocess.TimeoutExpired:
        return _failed("asyncio", "load generator timed out")
    if proc.returncode != 0:
        return _failed("asyncio", f"load generator failed: {proc.stderr.strip()[-400:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _failed(tool: str, why: str) -> dict[str, Any]:
    return {
        "tool": tool,
        "requests": 0,
        "seconds": 0.0,
        "rps": 0.0,
        "p50": float("nan"),
        "p99": float("nan"),
        "max": float("nan"),
        "errors": 1,
        "non2xx": 0,
        "wrapped": False,
        "failure": why,
    }


def _build_request(job: Job, body: bytes | None) -> bytes:
    lines = [f"{job.method} {job.path} HTTP/1.1", f"Host: {job.host}:{job.port}"]
    lines += [f"{k}: {v}" for k, v in job.headers.items()]
    if body is not None:
        if not any(k.lower() == "content-type" for k in job.headers):
            lines.append("Content-Type: application/json")
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + (body or b"")


def _load_requests(job: Job, path: Path | None) -> list[bytes]:
    if path is None:
        return [_build_request(job, None)]
    bodies = [line for line in path.read_bytes().split(b"\n") if line]
    return [_build_request(job, b) for b in bodies]


class _Shared:
    def __init__(self, warm: list[bytes], main: list[bytes], t_measure: float, t_end: float):
        self.warm = warm
        self.main = main
        self.warm_i = 0
        self.main_i = 0
        self.wrapped = False
        self.t_measure = t_measure
        self.t_end = t_end
        self.latencies: list[float] = []
        self.errors = 0
        self.non2xx = 0
        self.done = 0  # completed in the measurement window

    def next_request(self, now: float) -> bytes:
        if now < self.t_measure:
            req = self.warm[self.warm_i % len(self.warm)]
            self.warm_i += 1
            return req
        if self.main_i >= len(self.main) and len(self.main) > 1:
            self.wrapped = True
        req = self.main[self.main_i % len(self.main)]
        self.main_i += 1
        return req


class _Client(asyncio.Protocol):
    def __init__(self, shared: _Shared, finished: asyncio.Future[None]) -> None:
        self.s = shared
        self.finished = finished
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.start = 0.0
        self.need: int | None = None  # bytes of the full response, once the head is parsed
        self.chunked = False
        self.status = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        now = time.perf_counter()
        if now >= self.s.t_end:
            self.transport.close()
            return
        self.start = now
        self.need = None
        self.transport.write(self.s.next_request(now))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            if self.need is None:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(self.buf[:end]).lower()
                try:
                    self.status = int(head[9:12])
                except ValueError:
                    self.status = 0
                self.chunked = b"transfer-encoding: chunked" in head
                length = 0
                pos = head.find(b"content-length:")
                if pos >= 0:
                    stop = head.find(b"\r\n", pos)
                    length = int(head[pos + 15 : stop if stop >= 0 else None])
                self.need = end + 4 + length
            if self.chunked:
                term = self.buf.find(b"\r\n0\r\n\r\n", self.need - 2)
                if term < 0:
                    return
                total = term + 7
            else:
                if len(self.buf) < self.need:
                    return
                total = self.need
            del self.buf[:total]
            self._complete()
            if self.transport is None or self.transport.is_closing():
                return
            if not self.buf:
                return

    def _complete(self) -> None:
        now = time.perf_counter()
        s = self.s
        if s.t_measure <= self.start and now <= s.t_end:
            s.done += 1
            s.latencies.append(now - self.start)
            if not 200 <= self.status < 300:
                s.non2xx += 1
        self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if time.perf_counter() < self.s.t_end:
            self.s.errors += 1
        if not self.finished.done():
            self.finished.set_result(None)


async def _one_connection(job: Job, shared: _Shared) -> None:
    loop = asyncio.get_running_loop()
    while time.perf_counter() < shared.t_end:
        finished: asyncio.Future[None] = loop.create_future()
        try:
            await loop.create_connection(lambda f=finished: _Client(shared, f), job.host, job.port)
        except OSError:
            shared.errors += 1
            await asyncio.sleep(0.05)
            continue
        remaining = shared.t_end - time.perf_counter() + job.timeout
        try:
            await asyncio.wait_for(finished, max(remaining, 0.1))
        except TimeoutError:
            shared.errors += 1
            return


async def _main(job: Job) -> dict[str, Any]:
    main = _load_requests(job, job.bodies)
    warm = _load_requests(job, job.warm_bodies) if job.warm_bodies else main[-1:]
    t0 = time.perf_counter()
    shared = _Shared(warm, main, t0 + job.warmup, t0 + job.warmup + job.duration)
    await asyncio.gather(*(_one_connection(job, shared) for _ in range(job.conns)))
    lat = sorted(shared.latencies)

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else float("nan")

    return {
        "tool": "asyncio",
        "requests": shared.done,
        "seconds": job.duration,
        "rps": shared.done / job.duration,
        "p50": pct(0.50),
        "p99": pct(0.99),
        "max": lat[-1] if lat else float("nan"),
        "errors": shared.errors,
        "non2xx": shared.non2xx,
        "wrapped": shared.wrapped,
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--method", default="GET")
    p.add_argument("--header", action="append", default=[])
    p.add_argument("--bodies", type=Path)
    p.add_argument("--warm-bodies", type=Path)
    p.add_argument("--conns", type=int, default=64)
    p.add_argument("--duration", type=float, default=4.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--timeout", type=float, default=10.0)
    a = p.parse_args(argv)
    headers = dict(h.split(": ", 1) for h in a.header)
    job = Job(
        a.port,
        a.path,
        a.method,
        headers,
        a.bodies,
        a.warm_bodies,
        a.conns,
        a.duration,
        a.warmup,
        a.host,
        a.timeout,
    )
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    print(json.dumps(asyncio.run(_main(job))))


# ---------------------------------------------------------------------------------------- wrk

_WRK_LUA = r"""
local method = os.getenv("BENCH_METHOD")
local path = os.getenv("BENCH_PATH")
local file = os.getenv("BENCH_BODIES") or ""
local hdrs = {}
for line in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^\n]+") do
  local k, v = string.match(line, "^([^:]+):%s*(.*)$")
  if k then hdrs[k] = v end
end
wrk.method = method
wrk.path = path
wrk.headers = hdrs
local nthreads = 0
function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
  thread:set("nthreads_hint", tonumber(os.getenv("BENCH_THREADS")))
end
local bodies = nil
local n = 0
local pos = 0
local step = 1
if file ~= "" then
  function init(args)
    bodies = {}
    for line in io.lines(file) do
      if #line > 0 then n = n + 1; bodies[n] = line end
    end
    step = nthreads_hint or 1
    pos = tid or 0
    if n == 1 then wrk.body = bodies[1]; bodies = nil end
  end
end
if file ~= "" then
  function request()
    if bodies == nil then return wrk.format(nil, nil, nil, wrk.body) end
    local b = bodies[(pos % n) + 1]
    pos = pos + step
    return wrk.format(method, path, hdrs, b)
  end
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50":%d,"p99":%d,"max":%d,"bodies":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, n))
end
"""


def run_wrk(job: Job) -> dict[str, Any]:
    exe = wrk_path()
    assert exe is not None
    threads = max(1, min(2, job.conns))
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        script = Path(tmp) / "bench.lua"
        script.write_text(_WRK_LUA)
        env = dict(os.environ)
        env.update(
            {
                "BENCH_METHOD": job.method,
                "BENCH_PATH": job.path,
                "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in job.headers.items()),
                "BENCH_THREADS": str(threads),
            }
        )
        if job.method != "GET" and "Content-Type" not in job.headers:
            env["BENCH_HEADERS"] += "\nContent-Type: application/json"
        url = f"http://{job.host}:{job.port}{job.path}"

        def once(seconds: float, bodies: Path | None) -> dict[str, Any] | str:
            env["BENCH_BODIES"] = str(bodies) if bodies else ""
            secs = max(1, round(seconds))
            cmd = [
                exe,
                "-t",
                str(threads),
                "-c",
                str(job.conns),
                "-d",
                f"{secs}s",
                "--timeout",
                f"{max(1, int(job.timeout))}s",
                "-s",
                str(script),
                url,
            ]
            try:
                proc = subprocess.run(
                    cmd,
                    capture_output=True,
                    text=True,
                    env=env,
                    check=False,
                    timeout=secs + job.timeout + 30,
                )
            except subprocess.TimeoutExpired:
                return "wrk timed out"
            for line in proc.stdout.splitlines():
                if line.startswith("BENCHJSON "):
                    out: dict[str, Any] = json.loads(line[10:])
                    out["seconds"] = out["duration_us"] / 1e6
                    return out
            return f"wrk failed ({proc.returncode}): {(proc.stderr or proc.stdout)[-400:]}"

        if job.warmup > 0:
            warm = once(job.warmup, job.warm_bodies or job.bodies)
            if isinstance(warm, str):
                return _failed("wrk", warm)
        res = once(job.duration, job.bodies)
        if isinstance(res, str):
            return _failed("wrk", res)
    errors = res["connect"] + res["read"] + res["write"] + res["timeout"]
    return {
        "tool": "wrk",
        "requests": res["requests"],
        "seconds": res["seconds"],
        "rps": res["requests"] / res["seconds"] if res["seconds"] else 0.0,
        "p50": res["p50"] / 1e6,
        "p99": res["p99"] / 1e6,
        "max": res["max"] / 1e6,
        "errors": errors,
        "non2xx": res["status"],
        "wrapped": res["bodies"] > 1 and res["requests"] > res["bodies"],
    }


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
