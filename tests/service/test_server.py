"""A real uvicorn process serving a demo directory written by `demo.world.write_demo`, spoken to
over real HTTP on a loopback port (the `huren serve` path: `uvicorn --factory
api.server:app_from_env` with HUREN_CONFIG)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from demo.world import DemoWorld, build_demo_world, write_demo
from tests.support.server_support import free_port, stop
from trust_lists import authoring

SZ, ZS = "440300", "442000"
REPO = Path(__file__).resolve().parents[2]
MAX_BODY = 64 * 1024


@dataclass
class Server:
    url: str
    world: DemoWorld
    directory: Path
    keys: dict[str, str]  # role -> secret
    log: Path

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def _credentials(path: Path) -> dict[str, str]:
    keys = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            _, role, secret = line.split("\t")
            keys[role] = secret
    return keys


def _start(directory: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "HUREN_CONFIG": str(directory / "huren.json"),
        "HUREN_MAX_BODY_BYTES": str(MAX_BODY),
        "HUREN_CACHE_SECRET": "server-test-cache-secret-0123456789",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("HUREN_REDIS_URL", None)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "api.server:app_from_env",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
                "--no-proxy-headers",
            ],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    stop(proc)
    raise RuntimeError(f"the service did not start; log:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # The process runs on the real clock, so the world is built at the real now.
    world = build_demo_world(datetime.now(UTC).replace(microsecond=0))
    directory = tmp_path_factory.mktemp("served") / "demo"
    write_demo(directory, world)
    log = directory.parent / "server.log"
    proc, url = _start(directory, log)
    try:
        yield Server(url, world, directory, _credentials(directory / "demo-credentials.txt"), log)
    finally:
        stop(proc)


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert response.headers["x-request-id"]


def licence(server: Server) -> str:
    return (server.directory / "samples" / "licence-sz-business.jws").read_text().strip()


def test_shenzhen_licence_passes_for_a_zhongshan_counter(server: Server, http: httpx.Client):
    body = {"token": licence(server), "relying_jurisdiction": ZS, "receipt": True}
    r = http.post("/v1/licences/verify", json=body, headers=server.auth("counter"))
    assert r.status_code == 200, r.text
    assert r.json()["verdict"]["indication"] == "PASSED"
    assert r.json()["verdict"]["trust"]["issuing_jurisdiction"] == SZ
    assert r.json()["receipt"].count(".") == 2


def test_roles_and_keys(server: Server, http: httpx.Client):
    body = {"token": licence(server), "relying_jurisdiction": ZS}
    assert_problem(http.post("/v1/licences/verify", json=body), 401, "unauthorized")
    r = http.post("/v1/licences/verify", json=body, headers=server.auth("business"))
    assert_problem(r, 403, "forbidden")


def test_oversized_bodies_are_refused(server: Server, http: httpx.Client):
    big = {"token": "x" * (MAX_BODY + 1), "relying_jurisdiction": ZS}
    r = http.post("/v1/licences/verify", json=big, headers=server.auth("counter"))
    assert_problem(r, 413, "payload_too_large")

    def chunks() -> Iterator[bytes]:
        yield b'{"token": "'
        for _ in range(MAX_BODY // 1024 + 2):
            yield b"x" * 1024

    r = http.post(
        "/v1/licences/verify",
        content=chunks(),
        headers={**server.auth("counter"), "content-type": "application/json"},
    )
    assert_problem(r, 413, "payload_too_large")


def test_bad_input_is_a_4xx_problem_never_a_500(server: Server, http: httpx.Client):
    json_ct = {**server.auth("admin"), "content-type": "application/json"}
    r = http.post("/v1/licences/verify", content=b'{"token": "x", ', headers=json_ct)
    assert_problem(r, 400, "malformed_json")
    assert_problem(http.get("/v1/no/such/route"), 404, "not_found")
    assert_problem(http.patch("/v1/licences/verify"), 405, "method_not_allowed")
    bad: list[tuple[str, bytes, dict[str, str]]] = [
        ("/v1/licences/verify", b"\xff\xfe\x00", json_ct),
        ("/v1/licences/verify", b"[]", json_ct),
        ("/v1/licences/verify", b'{"token": "x", "relying_jurisdiction": "999999"}', json_ct),
        ("/v1/seals/verify", b"--x\r\n", {**json_ct, "content-type": "multipart/form-data"}),
        ("/v1/verify/batch", b'{"items": [{"kind": "nope"}]}', json_ct),
        (f"/v1/trust-lists/{SZ}", b'{"payload": "", "signatures": []}', json_ct),
        ("/v1/status-lists", b"...", {**json_ct, "content-type": "application/jwt"}),
        ("/v1/catalogue", b"null", json_ct),
    ]
    for path, content, headers in bad:
        r = http.post(path, content=content, headers=headers)
        assert 400 <= r.status_code < 500, (path, content, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"


def test_admin_upload_is_reflected_by_the_next_verdict(server: Server, http: httpx.Client):
    body = {"token": licence(server), "relying_jurisdiction": ZS}
    before = http.post("/v1/licences/verify", json=body, headers=server.auth("counter")).json()
    seq = before["verdict"]["trust"]["list_sequence"]
    assert http.post("/v1/licences/verify", json=body, headers=server.auth("counter")).json()[
        "cached"
    ]

    world = server.world
    rotated = authoring.next_version(
        world.trust_lists[SZ],
        issued_at=datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1),
        validity=timedelta(days=30),
    )
    r = http.put(
        f"/v1/trust-lists/{SZ}",
        content=world.sign_list(rotated),
        headers={**server.auth("admin"), "content-type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["sequence"] == seq + 1

    after = http.post("/v1/licences/verify", json=body, headers=server.auth("counter")).json()
    assert after["cached"] is False
    assert after["verdict"]["trust"]["list_sequence"] == seq + 1
    assert after["verdict"]["indication"] == "PASSED"
    audit = [json.loads(x) for x in (server.directory / "audit.log").read_text().splitlines()]
    assert audit[-1]["outcome"] == "accepted" and audit[-1]["new_sequence"] == seq + 1


def test_ready_and_metrics(server: Server, http: httpx.Client):
    r = http.get("/readyz")
    assert r.status_code == 200, r.text
    http.post(
        "/v1/licences/verify",
        json={"token": licence(server), "relying_jurisdiction": ZS},
        headers=server.auth("counter"),
    )
    text = http.get("/metrics").text
    assert "huren_verdicts_total{" in text and 'indication="PASSED"' in text
    assert "huren_trust_list_stale{" in text


def test_logs_are_json_lines_without_secrets(server: Server, http: httpx.Client):
    r = http.get("/healthz", headers={"X-Request-ID": "log-check-1"})
    assert r.headers["x-request-id"] == "log-check-1"
    deadline = time.monotonic() + 5
    while "log-check-1" not in server.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [json.loads(x) for x in server.log.read_text().splitlines() if x.startswith("{")]
    access = [x for x in lines if x.get("logger") == "huren.access"]
    assert any(x.get("request_id") == "log-check-1" and x["status"] == 200 for x in access)
    text = server.log.read_text()
    assert licence(server) not in text
    for secret in server.keys.values():
        assert secret not in text


def test_the_served_process_tunes_the_collector(server: Server):
    """`build` (the serve path) freezes start-up objects and raises the collector's thresholds;
    checked in a fresh interpreter, as the server runs it."""
    code = (
        "import gc, sys; from api.server import GC_THRESHOLD, build; "
        "before = gc.get_threshold(); build(sys.argv[1]); "
        "print(before != GC_THRESHOLD, gc.get_threshold() == GC_THRESHOLD, "
        "gc.get_freeze_count() > 0)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(server.directory / "huren.json")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=True,
    )
    assert out.stdout.split() == ["True", "True", "True"], out.stderr[-2000:]


def test_sigterm_loses_no_log_line(tmp_path: Path):
    """uvicorn re-raises SIGTERM after its graceful shutdown, which ends the process without
    atexit: the buffered log must be written by then, up to the last request and the service's
    own "stopped" line (docker stop sends SIGTERM)."""
    world = build_demo_world(datetime.now(UTC).replace(microsecond=0))
    directory = tmp_path / "demo"
    write_demo(directory, world)
    log = tmp_path / "server.log"
    proc, url = _start(directory, log)
    try:
        keys = _credentials(directory / "demo-credentials.txt")
        r = httpx.post(
            url + "/v1/licences/verify",
            json={"token": world.licence_sz, "relying_jurisdiction": ZS},
            headers={"Authorization": f"Bearer {keys['counter']}", "X-Request-ID": "last-one"},
            timeout=10,
        )
        assert r.status_code == 200
    finally:
        stop(proc)
    assert proc.returncode == -signal.SIGTERM
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
    assert any(x.get("request_id") == "last-one" for x in lines)
    assert lines[-1]["message"] == "huren service stopped"
