"""Pinned anchors: per jurisdiction, the operator keys (or their thumbprints) and threshold that
must sign the first trust list. This file is configuration, read at start-up, never uploaded.

    {"jurisdictions": {"440300": {"threshold": 2, "keys": [<JWK>, ...]},
                       "442000": {"threshold": 1, "kids": ["<RFC 7638 thumbprint>", ...]}}}
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from keys import KeyMaterialError, MalformedJSON, public_key_from_jwk, strict_json_loads
from trust_lists.errors import MalformedDocument
from trust_lists.signed import Anchor

MAX_ANCHORS_BYTES = 1024 * 1024
_JURISDICTION = re.compile(r"\A[1-9][0-9]{5}\Z")


def parse_anchors(data: bytes) -> list[Anchor]:
    try:
        doc = strict_json_loads(data, max_bytes=MAX_ANCHORS_BYTES)
    except MalformedJSON as exc:
        raise MalformedDocument(f"anchors: {exc}") from exc
    if (
        not isinstance(doc, dict)
        or set(doc) != {"jurisdictions"}
        or not isinstance(doc["jurisdictions"], dict)
    ):
        raise MalformedDocument('anchors must be {"jurisdictions": {code: {...}}}')
    anchors: list[Anchor] = []
    for code, entry in doc["jurisdictions"].items():
        if not _JURISDICTION.match(code) or not isinstance(entry, dict):
            raise MalformedDocument(f"anchors: bad jurisdiction entry {code!r}")
        if set(entry) - {"threshold", "keys", "kids"} or "threshold" not in entry:
            raise MalformedDocument(f"anchors.{code}: needs threshold and keys and/or kids")
        threshold = entry["threshold"]
        try:
            keys = tuple(public_key_from_jwk(k) for k in entry.get("keys", []))
        except KeyMaterialError as exc:
            raise MalformedDocument(f"anchors.{code}: {exc}") from exc
        kids = entry.get("kids", [])
        if not isinstance(kids, list) or not all(isinstance(k, str) for k in kids):
            raise MalformedDocument(f"anchors.{code}.kids must be a list of strings")
        members = frozenset(kids) | {k.kid for k in keys}
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, int)
            or not 1 <= threshold <= len(members)
        ):
            raise MalformedDocument(f"anchors.{code}.threshold must be 1..{len(members)}")
        anchors.append(Anchor(code, threshold, members, keys))
    if not anchors:
        raise MalformedDocument("anchors: no jurisdiction configured")
    return anchors


def load_anchors(path: str | os.PathLike[str]) -> list[Anchor]:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise MalformedDocument(f"cannot read anchors file {path}: {exc.strerror}") from exc
    return parse_anchors(data)


def anchors_to_json(anchors: list[Anchor]) -> bytes:
    doc: dict[str, Any] = {"jurisdictions": {}}
    for a in anchors:
        entry: dict[str, Any] = {"threshold": a.threshold}
        if a.keys:
            entry["keys"] = [k.to_jwk() for k in a.keys]
        rest = sorted(a.kids - {k.kid for k in a.keys})
        if rest:
            entry["kids"] = rest
        doc["jurisdictions"][a.jurisdiction] = entry
    return json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"
