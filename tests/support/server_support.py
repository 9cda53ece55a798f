"""A real service process for the fault, abuse and soak tests: the demo world written with
`demo.world.write_demo`, served by `uvicorn --factory api.server:app_from_env` on a free loopback
port, with the test API keys of tests/support/api_support.py (every role and a revoked key) and any
HUREN_* settings the caller adds. Stopped by its own pid only."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from demo.world import DemoWorld, build_demo_world, write_demo
from tests.support.api_support import api_keys_json

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_directory(directory: Path, world: DemoWorld | None = None) -> DemoWorld:
    """A demo world at the real now (the process runs on the real clock), written to directory."""
    world = world or build_demo_world(datetime.now(UTC).replace(microsecond=0))
    write_demo(directory, world)
    return world


@dataclass
class ServiceProcess:
    proc: subprocess.Popen[bytes]
    url: str
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def memory_kib(self) -> dict[str, int]:
        """VmRSS (now) and VmHWM (peak) of the process, in KiB (Linux /proc)."""
        out: dict[str, int] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(value.split()[0])
        return out

    def stop(self) -> None:
        stop(self.proc)


def start(
    directory: Path,
    *,
    env: dict[str, str] | None = None,
    port: int | None = None,
    workers: int = 1,
    timeout: float = 30.0,
    huren_serve: bool = False,
    host: str = "127.0.0.1",
    serve_args: tuple[str, ...] = (),
) -> ServiceProcess:
    """Serve directory/huren.json; wait until /healthz answers. `huren_serve`: through the
    production entry point (`huren serve`, api/server.py's uvicorn settings) instead, with
    `serve_args` added (e.g. --workers 2) and no drain on SIGTERM unless `env` sets one."""
    port = port or free_port()
    log = directory.parent / f"server-{port}.log"
    environment = {
        **os.environ,
        "HUREN_CONFIG": str(directory / "huren.json"),
        "HUREN_API_KEYS": api_keys_json(),
        "HUREN_CACHE_SECRET": "fault-test-cache-secret-0123456789",
        "PYTHONUNBUFFERED": "1",
        "HUREN_DRAIN_SECONDS": "0",  # stop() at once; the drain has its own tests
    }
    environment.pop("HUREN_REDIS_URL", None)
    environment.update(env or {})
    args = [
        sys.executable, "-m", "uvicorn", "--factory", "api.server:app_from_env",
        "--host", host, "--port", str(port), "--no-access-log", "--log-level", "warning",
        "--no-proxy-headers",  # as `huren serve`: the app reads X-Forwarded-For itself
    ]  # fmt: skip
    if workers > 1:
        args += ["--workers", str(workers)]
    if huren_serve:
        config = str(directory / "huren.json")
        args = [sys.executable, "-m", "cli.main", "serve", "--config", config, "--port", str(port)]
        args += ["--host", host, *serve_args]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            args,
            cwd=REPO,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return ServiceProcess(proc, url, port, log)
        except httpx.HTTPError:
            time.sleep(0.05)
    stop(proc)
    raise RuntimeError(f"the service did not start; log:\n{log.read_text()[-4000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 15 s; this process only."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def last_verdict(output: str) -> dict[str, object]:
    """The verdict of the last curl's answer (curl prints no newline after a body)."""
    answer = json.loads(output[output.rindex('{"verdict"') :])
    assert isinstance(answer["verdict"], dict)
    return answer["verdict"]


def run_script(script: str, cwd: Path) -> str:
    """Run a README section with bash -eu in `cwd`, without the HUREN_* variables of the test
    process; its standard output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUREN_")}
    done = subprocess.run(
        ["bash", "-eu", "-c", script],
        cwd=cwd,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    return done.stdout


def readme_section(title: str) -> str:
    """The one shell block of the README section `title`."""
    text = (REPO / "README.md").read_text()
    section = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) == 1, blocks
    return blocks[0]


@contextmanager
def readme_checkout(folder: Path) -> Iterator[tuple[Path, ServiceProcess]]:
    """For running README sections as written: a checkout-like directory under `folder` (a demo
    in .demo, the installed huren as .venv/bin/huren) and a real service over that demo."""
    root = folder / "checkout"
    demo = root / ".demo"
    demo_directory(demo)
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "huren").symlink_to(Path(sys.executable).parent / "huren")
    service = start(demo, env={"HUREN_API_KEYS": (demo / "api-keys.json").read_text()})
    try:
        yield root, service
    finally:
        service.stop()
