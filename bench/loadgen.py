"""HTTP/1.1 keep-alive load with wrk (Debian's `wrk` package; `make bench` installs or names it).

A job (method, path, headers, a file of request bodies, connections, duration, warm-up) runs in a
wrk process, whose cost shows up as CPU taken from the server, the same for every figure of one
run. The result:
    {"tool", "requests", "seconds", "rps", "p50", "p99", "max", "errors", "non2xx", "wrapped"}
(latencies in seconds).

Bodies file: one request body per line (compact JSON has no raw newline). Consecutive requests
use consecutive bodies (each wrk thread takes every n-th) so that "uncached" runs never repeat a
token; `wrapped` says the run needed more bodies than the file had."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INSTALL_HINT = "install Debian's wrk package (sudo apt-get install -y wrk), or run `make bench`"


class WrkMissing(RuntimeError):
    """wrk is not on PATH: the HTTP figures cannot be measured."""

    def __init__(self) -> None:
        super().__init__(f"the HTTP figures need wrk: {INSTALL_HINT}")


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
    # Requests per second over all connections (None: as fast as the server answers). Each wrk
    # thread sends on a fixed schedule, one request every threads/rate seconds, on whichever of
    # its connections is free (the threads' schedules offset by a fraction of that): a steady
    # rate as wrk2's -R gives, not the bunches that one fixed wait per connection made. A
    # request whose slot finds no connection free goes when one is, and the schedule restarts
    # from then (no catch-up burst; `rps` shows the rate got). Latency is timed from the send,
    # as wrk times it (no coordinated-omission correction).
    rate: float | None = None


def wrk_path() -> str:
    exe = shutil.which("wrk")
    if exe is None:
        raise WrkMissing
    return exe


def tool_name() -> str:
    return "wrk" if shutil.which("wrk") else "none (wrk missing)"


def _failed(why: str) -> dict[str, Any]:
    return {
        "tool": "wrk",
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
local interval = tonumber(os.getenv("BENCH_INTERVAL_US") or "")
if interval then
  -- wrk asks delay() before each request and waits that many whole milliseconds: each call
  -- takes the thread's next slot on a schedule kept in microseconds (CLOCK_MONOTONIC).
  local ffi = require("ffi")
  ffi.cdef[[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clk, bench_timespec *ts);
  ]]
  local ts = ffi.new("bench_timespec")
  local slot = nil
  function delay()
    ffi.C.clock_gettime(1, ts)
    local now = tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
    if slot == nil then slot = now + (tid or 0) * interval / (nthreads_hint or 1) end
    if slot < now then slot = now end
    local wait = slot - now
    slot = slot + interval
    return math.floor(wait / 1000 + 0.5)
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


def run(job: Job) -> dict[str, Any]:
    """Run a job in a wrk process. Never raises for server errors: failures come back as
    errors in the result (a missing wrk raises WrkMissing)."""
    exe = wrk_path()
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
        if job.rate:
            env["BENCH_INTERVAL_US"] = f"{threads * 1e6 / job.rate:.3f}"
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
                return _failed(warm)
        res = once(job.duration, job.bodies)
        if isinstance(res, str):
            return _failed(res)
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
