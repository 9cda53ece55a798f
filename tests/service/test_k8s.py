"""deploy/k8s: every overlay renders, validates against the Kubernetes schemas (offline, strict:
an unknown field is an error), and agrees with the service it runs: probe paths that are routes,
ports, setting names that exist, a grace period that covers the drain, the image's uid, a
PodDisruptionBudget and resource requests, and no private key anywhere."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from api.app import create_app
from api.server import SHUTDOWN_GRACE_SECONDS
from api.settings import ENVIRONMENT_ONLY, ENVIRONMENT_VARIABLES, Settings
from demo.world import DemoWorld
from tests.support.api_support import service_dir, settings_for
from tests.support.kustomize import render

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30.0"
OVERLAYS = ["standalone", "sentinel", "cluster"]
ENTRY_POINT_VARIABLES = {"SERVER_DIR", "STATE_DIR", "HOST", "PORT"}  # deploy/entrypoint.sh


def _objects(overlay: str) -> list[dict[str, Any]]:
    return render(K8S / "overlays" / overlay)


def _one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def _huren(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    sts = _one(docs, "StatefulSet", "huren")
    (container,) = [
        c for c in sts["spec"]["template"]["spec"]["containers"] if c["name"] == "huren"
    ]
    return sts, container


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_validates_against_the_kubernetes_schemas(overlay: str) -> None:
    docs = _objects(overlay)
    assert {d["kind"] for d in docs} >= {"StatefulSet", "Service", "PodDisruptionBudget"}
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    example = yaml.safe_load((K8S / "base" / "secrets.example.yaml").read_text())
    kubernetes_validate.validate(example, KUBERNETES_VERSION, strict=True)


def test_a_schema_violation_is_caught() -> None:
    """The validation above can fail: a misspelt field is refused."""
    sts, container = _huren(_objects("standalone"))
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(sts, KUBERNETES_VERSION, strict=True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_small_renderer_renders_what_kubectl_does(overlay: str) -> None:
    out = subprocess.run(
        ["kubectl", "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip

    def key(d: dict[str, Any]) -> tuple[str, str]:
        return d["kind"], d["metadata"]["name"]

    theirs = sorted((d for d in yaml.safe_load_all(out) if d), key=key)
    assert sorted(_objects(overlay), key=key) == theirs


def _routes(world: DemoWorld, tmp_path: Path) -> set[str]:
    app = create_app(settings_for(service_dir(world, tmp_path / "svc")))
    return {getattr(r, "path", "") for r in app.routes}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_ports_and_settings_agree_with_the_service(
    overlay: str, demo_world: DemoWorld, tmp_path: Path
) -> None:
    docs = _objects(overlay)
    sts, container = _huren(docs)
    routes = _routes(demo_world, tmp_path)
    port = container["ports"][0]
    assert port == {"name": "http", "containerPort": 8000}  # the entry point's default PORT
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert {"/healthz", "/readyz"} <= routes
    for service in (d for d in docs if d["kind"] == "Service" and d["metadata"]["name"] in (
        "huren", "huren-replicas"
    )):  # fmt: skip
        assert service["spec"]["ports"][0]["targetPort"] == "http"
        assert service["spec"]["selector"] == sts["spec"]["selector"]["matchLabels"]

    settings = _one(docs, "ConfigMap", "huren-settings")["data"]
    names = set(settings) | {e["name"] for e in container["env"]}
    known = set(ENVIRONMENT_VARIABLES.values()) | ENVIRONMENT_ONLY | ENTRY_POINT_VARIABLES
    unknown = names - known
    assert not unknown
    # The service accepts the values as given (HUREN_STRICT_SETTINGS is on in the ConfigMap).
    env = {**settings, "HUREN_INSTANCE_ID": "huren-0", "HUREN_CACHE_SECRET": "x" * 32}
    loaded = Settings.load(None, env=env)
    assert loaded.unknown_environment == ()

    # The grace period covers the drain and the requests still in flight after it.
    grace = sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= loaded.drain_seconds + SHUTDOWN_GRACE_SECONDS
    assert loaded.drain_seconds > 0


def test_the_pod_runs_as_the_images_user_with_requests_and_a_budget() -> None:
    docs = _objects("standalone")
    sts, container = _huren(docs)
    user = re.search(r"^USER (\d+):(\d+)$", (REPO / "Dockerfile").read_text(), re.M)
    assert user is not None
    pod = sts["spec"]["template"]["spec"]["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert (pod["runAsUser"], pod["runAsGroup"], pod["fsGroup"]) == (
        int(user.group(1)), int(user.group(2)), int(user.group(2))
    )  # fmt: skip
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert set(container["resources"]["requests"]) == {"cpu", "memory"}
    pdb = _one(docs, "PodDisruptionBudget", "huren")
    assert pdb["spec"]["selector"] == sts["spec"]["selector"]
    # Each replica's trust directory on its own volume, where the image keeps its state.
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]]["mountPath"] == "/var/lib/huren"
    assert mounts["server"] == {"name": "server", "mountPath": "/srv/huren", "readOnly": True}


def test_secrets_hold_api_keys_cache_secret_and_receipt_key_never_an_operator_key() -> None:
    sts, container = _huren(_objects("standalone"))
    secret_keys = set()
    for volume in sts["spec"]["template"]["spec"]["volumes"]:
        for source in volume.get("projected", {}).get("sources", []):
            if "secret" in source:
                secret_keys |= {item["key"] for item in source["secret"]["items"]}
    for e in container["env"]:
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            secret_keys.add(ref["key"])
    assert secret_keys == {"api-keys.json", "receipt.pem", "cache-secret"}
    example = yaml.safe_load((K8S / "base" / "secrets.example.yaml").read_text())
    assert set(example["stringData"]) == secret_keys
    for path in K8S.rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "PRIVATE KEY" not in text and not re.search(r"operator\S*\.pem", text), path
