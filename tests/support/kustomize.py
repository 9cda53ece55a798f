"""A small Kustomize renderer for deploy/k8s: resources (files and directories), metadata labels
and ConfigMap literals (created or merged, no name hash). Anything else in a kustomization is
refused, so that the overlays stay within what this renders exactly as `kubectl kustomize` does
(tests/service/test_k8s.py compares both where kubectl is installed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "labels", "configMapGenerator", "generatorOptions"}


def render(directory: Path) -> list[dict[str, Any]]:
    k = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(k) - SUPPORTED
    if unknown:
        raise ValueError(f"{directory}: this renderer does not do {sorted(unknown)}")
    docs: list[dict[str, Any]] = []
    for entry in k.get("resources", []):
        path = directory / entry
        if path.is_dir():
            docs.extend(render(path))
        else:
            docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    generators = k.get("configMapGenerator", [])
    hashed = not k.get("generatorOptions", {}).get("disableNameSuffixHash")
    # Merges into a base's generated ConfigMap inherit the base's option; new ones would not.
    if hashed and any(g.get("behavior", "create") == "create" for g in generators):
        raise ValueError(f"{directory}: generated names need disableNameSuffixHash")
    for gen in generators:
        if set(gen) - {"name", "literals", "behavior"}:
            raise ValueError(f"{directory}: configMapGenerator {gen['name']}: only literals")
        data = dict(item.split("=", 1) for item in gen.get("literals", []))
        if gen.get("behavior", "create") == "merge":
            (target,) = [
                d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == gen["name"]
            ]
            target.setdefault("data", {}).update(data)
        else:
            docs.append(
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": gen["name"]},
                 "data": data}
            )  # fmt: skip
    for label in k.get("labels", []):
        if set(label) != {"pairs"}:
            raise ValueError(f"{directory}: labels other than plain metadata pairs")
        for doc in docs:
            doc["metadata"].setdefault("labels", {}).update(label["pairs"])
    return docs
