"""The service's lifecycle, against real `huren serve` processes on loopback: a SIGTERM under
load drains (no failed request, /readyz 503 at once), `--workers 2` sharing one trust directory
serve no list older than an acknowledged upload, and `huren trust submit` to a served directory
is refused (never silently ignored, never overwritten)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.server import _listening_socket
from demo.world import DemoWorld, build_demo_world
from tests.support import redis_support
from tests.support.api_support import SZ, ZS, auth, next_list, service_dir, settings_for
from tests.support.server_support import REPO, ServiceProcess, demo_directory, start

LICENCE = "/v1/licences/verify"


def _licence(world: DemoWorld) -> dict[str, str]:
    return {"token": world.licence_sz, "relying_jurisdiction": ZS}


def _upload(url: str, world: DemoWorld) -> dict[str, object]:
    data = next_list(world, SZ, issued_at=datetime.now(UTC).replace(microsecond=0) - timedelta(1))
    r = httpx.put(
        f"{url}/v1/trust-lists/{SZ}",
        content=data,
        headers={**auth("admin"), "Content-Type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert isinstance(body, dict)
    return body


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_under_load_drains_without_a_failed_request(tmp_path: Path, workers: int) -> None:
    world = demo_directory(tmp_path / "demo")
    server = start(
        tmp_path / "demo",
        huren_serve=True,
        env={"HUREN_DRAIN_SECONDS": "6"},
        serve_args=("--workers", str(workers)),
    )
    results: list[tuple[bool, int | str]] = []  # (sent after SIGTERM, status or error)
    readiness: list[int] = []
    signalled = threading.Event()
    stop = threading.Event()

    def keep_alive_client() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            while not stop.is_set():
                after = signalled.is_set()
                try:
                    r = client.post(LICENCE, json=_licence(world), headers=auth("counter"))
                    results.append((after, r.status_code))
                except httpx.HTTPError as exc:
                    results.append((after, f"{type(exc).__name__}: {exc}"))

    def new_connection_client() -> None:  # what a load balancer does for new clients
        while not stop.is_set():
            after = signalled.is_set()
            try:
                r = httpx.post(
                    server.url + LICENCE, json=_licence(world), headers=auth("counter"), timeout=30
                )
                results.append((after, r.status_code))
            except httpx.HTTPError as exc:
                results.append((after, f"{type(exc).__name__}: {exc}"))

    threads = [threading.Thread(target=keep_alive_client) for _ in range(3)]
    threads.append(threading.Thread(target=new_connection_client))
    try:
        for t in threads:
            t.start()
        while len(results) < 20:
            time.sleep(0.05)
        server.proc.send_signal(signal.SIGTERM)
        signalled.set()
        readiness.append(httpx.get(server.url + "/readyz", timeout=30).status_code)
        time.sleep(2.0)  # the load balancer has not noticed yet: traffic keeps coming
        readiness.append(httpx.get(server.url + "/readyz", timeout=30).status_code)
    finally:
        stop.set()
        for t in threads:
            t.join()
    code = server.proc.wait(timeout=60)
    failed = [r for r in results if r[1] != 200]
    assert failed == [], failed[:5]
    assert sum(1 for after, _ in results if after) >= 4, "no request was sent while draining"
    assert readiness == [503, 503]
    assert code == 0, server.log.read_text()[-2000:]
    log = server.log.read_text()
    assert "draining" in log and "huren service stopped" in log


def _counted(url: str) -> int:
    """Licence verdicts served, as one worker's /metrics counts them (a fresh connection)."""
    text = httpx.get(url + "/metrics", timeout=30).text
    found = re.findall(
        r'^huren_http_requests_total\{[^}]*route="/v1/licences/verify"[^}]*status="200"[^}]*\} '
        r"(\S+)$",
        text,
        re.M,
    )
    return int(sum(float(v) for v in found))


def test_two_workers_without_redis_never_serve_a_list_older_than_an_upload(
    tmp_path: Path,
) -> None:
    world = demo_directory(tmp_path / "demo")
    server = start(tmp_path / "demo", huren_serve=True, serve_args=("--workers", "2"))
    try:
        for _ in range(10):  # both workers hold the first list, and have cached its verdict
            httpx.post(server.url + LICENCE, json=_licence(world), headers=auth("counter"))
        accepted = _upload(server.url, world)
        versions = []
        for _ in range(20):  # each on a new connection: the kernel spreads them over both
            r = httpx.post(
                server.url + LICENCE, json=_licence(world), headers=auth("counter"), timeout=30
            )
            assert r.status_code == 200, r.text
            versions.append(r.json()["verdict"]["trust"])
        stale = [v for v in versions if v["list_sequence"] != accepted["sequence"]]
        assert stale == [], f"{len(stale)} of 20 verdicts on the old list"
        assert {v["trust_state_version"] for v in versions} == {accepted["trust_state_version"]}
        # Both workers answered some of them (else this proved nothing): a worker's own count
        # below the total shows the other served the rest.
        counts = {_counted(server.url) for _ in range(30)}
        assert any(0 < c < 30 for c in counts), counts
    finally:
        server.stop()


def test_more_workers_need_a_shared_trust_directory_or_redis(tmp_path: Path) -> None:
    demo_directory(tmp_path / "demo")
    config = tmp_path / "demo" / "huren.json"
    doc = json.loads(config.read_text())
    doc.pop("trust_dir", None)
    doc["sources"] = {SZ: "http://127.0.0.1:9/none"}  # starts without a trust directory
    config.write_text(json.dumps(doc))
    r = subprocess.run(
        [sys.executable, "-m", "cli.main", "serve", "--config", str(config), "--workers", "2",
         "--port", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert r.returncode != 0
    assert "needs a trust_dir" in r.stderr and "redis_url" in r.stderr, r.stderr


def _submit(config: Path, document: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "trust", "submit", str(document), "--config",
         str(config)],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*.jws")}


def test_trust_submit_to_a_served_directory_is_refused_never_lost(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    world = demo_directory(directory)
    config = directory / "huren.json"
    trust = directory / "trust"
    document = tmp_path / "next.json"
    document.write_bytes(
        next_list(world, SZ, issued_at=datetime.now(UTC).replace(microsecond=0) - timedelta(1))
    )
    server: ServiceProcess = start(directory, huren_serve=True)
    try:
        before = _files(trust)
        refused = _submit(config, document)
        assert refused.returncode != 0
        assert "running huren service holds" in refused.stderr, refused.stderr
        assert "PUT /v1/trust-lists/" in refused.stderr
        assert _files(trust) == before  # nothing written behind the service's back
        audit = [json.loads(x) for x in (directory / "audit.log").read_text().splitlines()]
        assert audit[-1]["outcome"] == "refused" and audit[-1]["code"] == "directory_served"
        assert audit[-1]["key_id"].startswith("cli:")
        # Through the API, the same list is accepted and served.
        accepted = _upload(server.url, world)
        r = httpx.post(server.url + LICENCE, json=_licence(world), headers=auth("counter"))
        assert r.json()["verdict"]["trust"]["list_sequence"] == accepted["sequence"]
    finally:
        server.stop()
    # With the service stopped the command line may write, and is audited like an upload.
    newer = tmp_path / "newer.json"
    issued = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    newer.write_bytes(next_list(world, SZ, issued_at=issued, sequence_bump=2))
    done = _submit(config, newer)
    assert done.returncode == 0, done.stderr
    audit = [json.loads(x) for x in (directory / "audit.log").read_text().splitlines()]
    assert audit[-1]["outcome"] == "accepted" and audit[-1]["action"] == "trust_list"
    assert audit[-1]["new_sequence"] == accepted["sequence"] + 1  # type: ignore[operator]
    assert audit[-1]["old_sequence"] == accepted["sequence"]


def test_readiness_survives_a_cache_outage_and_says_so(tmp_path: Path) -> None:
    """Redis unreachable: verdicts are right without the cache, so the instance stays ready;
    the body and the metrics say the cache is unavailable."""
    world = demo_directory(tmp_path / "demo")
    dead = "redis://127.0.0.1:9/0"  # nothing listens on the discard port
    server = start(tmp_path / "demo", huren_serve=True, env={"HUREN_REDIS_URL": dead})
    try:
        r = httpx.post(server.url + LICENCE, json=_licence(world), headers=auth("counter"))
        assert r.status_code == 200 and r.json()["verdict"]["indication"] == "PASSED"
        ready = httpx.get(server.url + "/readyz", timeout=30)
        assert ready.status_code == 200, ready.text
        checks = ready.json()["checks"]
        assert checks["cache"].startswith("unavailable")
        assert checks["trust_sync"].startswith("ok (Redis unreachable")
        metrics = httpx.get(server.url + "/metrics", timeout=30).text
        assert re.search(r"^huren_verdict_cache_available 0\.0$", metrics, re.M)
        assert re.search(r"^huren_ready 1\.0$", metrics, re.M)
    finally:
        server.stop()


def test_readiness_fails_when_redis_refuses_trust_sync_past_the_bound(
    tmp_path: Path, redis_server: redis_support.RedisServer
) -> None:
    """Redis answers but refuses trust sync's epoch read (here an ACL without MGET; in a cluster
    CROSSSLOT, on a demoted master READONLY): other instances may be publishing uploads this one
    cannot see. Within sync_max_broken_seconds it stays ready and says so; past it, not ready;
    once Redis serves sync again, ready."""
    world = build_demo_world(datetime.now(UTC).replace(microsecond=0))
    root = service_dir(world, tmp_path / "svc")
    settings = settings_for(
        root,
        redis_url=redis_server.url,
        redis_prefix=redis_support.random_prefix("life"),
        sync_max_broken_seconds=0.5,
    )
    admin = redis_support.client(redis_server.url)
    admin.execute_command("ACL", "SETUSER", "default", "-mget")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        r = client.post(LICENCE, json=_licence(world), headers=auth("counter"))
        assert r.status_code == 200 and r.json()["verdict"]["indication"] == "PASSED"
        first = client.get("/readyz")
        # Never timed: only what the bound says once it has certainly passed.
        time.sleep(0.6)
        client.post(LICENCE, json=_licence(world), headers=auth("counter"))
        broken = client.get("/readyz")
        assert broken.status_code == 503, broken.text
        assert "Redis refuses trust sync" in broken.json()["checks"]["trust_sync"]
        assert "NOPERM" in broken.json()["checks"]["trust_sync"]
        assert broken.json()["checks"]["cache"] == "ok"  # the cache is not what failed
        metrics = client.get("/metrics").text
        assert re.search(r"^huren_ready 0\.0$", metrics, re.M)
        assert not re.search(r"^huren_trust_sync_refused_seconds 0\.0$", metrics, re.M)
        admin.execute_command("ACL", "SETUSER", "default", "+mget")
        # Ready again at the first epoch read after the outage's back-off (a fraction of a
        # second): verdicts keep asking; the loop only bounds a hang.
        deadline = time.monotonic() + 30
        while True:
            client.post(LICENCE, json=_licence(world), headers=auth("counter"))
            again = client.get("/readyz")
            if again.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert again.status_code == 200, again.text
    # Within the bound it was ready, with the refusal in the body (unless this run was so slow
    # that the bound had passed already: then it said not ready for the same reason).
    assert "Redis refuses trust sync" in first.json()["checks"]["trust_sync"]


def _workers(supervisor: int) -> set[int]:
    """The supervisor's worker processes (spawned children running spawn_main)."""
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split()
    return {
        int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    }


def _listens(pid: int, port: int) -> bool:
    """Whether process pid holds a listening TCP socket on port (Linux /proc): a worker's socket
    listens only once the worker serves."""
    listeners = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        for line in table.read_text().splitlines()[1:] if table.exists() else ():
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                listeners.add(f"socket:[{fields[9]}]")
    descriptors = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            descriptors.add(os.readlink(fd))
        except FileNotFoundError:  # closed since the listing
            continue
    return bool(listeners & descriptors)


def test_a_starting_worker_takes_no_connection_until_it_serves() -> None:
    # A worker binds its socket before it loads the trust state (seconds) and listens only when
    # it serves; the kernel hands a connection on the shared port only to a listening socket, so
    # a replacement that is still loading never gets one: the workers serving get them all.
    serving = _listening_socket("127.0.0.1", 0)
    port = serving.getsockname()[1]
    serving.listen(64)
    loading = _listening_socket("127.0.0.1", port)
    with serving, loading:
        assert loading.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 0
        for _ in range(200):
            with socket.create_connection(("127.0.0.1", port)) as client:
                accepted, _ = serving.accept()
                assert accepted.getpeername() == client.getsockname()
                accepted.close()


def test_a_worker_that_dies_is_replaced(tmp_path: Path) -> None:
    world = demo_directory(tmp_path / "demo")
    server = start(tmp_path / "demo", huren_serve=True, serve_args=("--workers", "2"))
    try:
        workers = _workers(server.pid)
        assert len(workers) == 2
        # start() returns when one worker answers; the other may still be loading. Killing the
        # only one serving would leave no listener (connections refused) until one is up: no
        # service promises more. So first both serve.
        deadline = time.monotonic() + 60
        while not all(_listens(w, server.port) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert all(_listens(w, server.port) for w in workers)
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        # While the replacement starts, the survivor answers every request on a new connection.
        replaced = False
        while not replaced and time.monotonic() < deadline:
            now = _workers(server.pid) - {victim}
            replaced = len(now) == 2 and all(_listens(w, server.port) for w in now)
            r = httpx.post(server.url + LICENCE, json=_licence(world), headers=auth("counter"))
            assert r.status_code == 200, r.text
            time.sleep(0.2)
        assert replaced, now
        for _ in range(10):  # both serve: the kernel spreads these over both
            r = httpx.post(server.url + LICENCE, json=_licence(world), headers=auth("counter"))
            assert r.status_code == 200, r.text
        assert "starting another" in server.log.read_text()
    finally:
        server.stop()
