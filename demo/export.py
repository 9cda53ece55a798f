"""A server directory made from an operator's (or the demo's) service directory: only what the
service reads, never an operator's or issuer's private key (docs/deployment.md).

Copied: huren.json (its path members rewritten to the fixed names below; every other member as
it was), anchors.json (public), api-keys.json (hashes only), receipt.pem (the one private key a
server holds) and the trust directory with its rollback guards (`HIGHEST`). Left behind: keys/
(operator, issuer and seal keys), demo-credentials.txt (the clients' API secrets), samples/, the
audit log (each server keeps its own)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Final

from api.settings import Settings, SettingsError
from keys import KeyMaterialError, SigningKey
from trust_lists.anchors import load_anchors

ANCHORS: Final = "anchors.json"
API_KEYS: Final = "api-keys.json"
RECEIPT_KEY: Final = "receipt.pem"
TRUST_DIR: Final = "trust"
CONFIG: Final = "huren.json"
# huren.json members that name a file; the server directory's own names replace them.
_PATH_MEMBERS: Final = ("anchors", "trust_dir", "receipt_key", "api_keys", "audit_log")


class ExportError(ValueError):
    """The source cannot be made into a server directory (says which file and why)."""


def _copy_file(source: Path, target: Path, mode: int) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(source.read_bytes())


def export_server_directory(config_path: Path, out: Path) -> list[str]:
    """Write the server directory of the service configured by config_path into out (absent or
    empty). Returns the names written, for the caller to show."""
    config_path = Path(config_path)
    try:
        settings = Settings.load(config_path, env={})
        raw: dict[str, Any] = json.loads(config_path.read_bytes())
    except SettingsError as exc:
        raise ExportError(str(exc)) from exc
    if settings.anchors is None or settings.trust_dir is None:
        raise ExportError(f"{config_path} names no anchors or no trust_dir")
    if not settings.trust_dir.is_dir():
        raise ExportError(f"trust_dir {settings.trust_dir} does not exist")
    if settings.receipt_key is None:
        # Every replica must sign receipts with one key, or /v1/receipts/jwks.json disagrees.
        raise ExportError(f"{config_path} names no receipt_key (a P-256 PKCS#8 PEM)")
    try:
        receipt_kid = SigningKey.load(settings.receipt_key).kid
    except KeyMaterialError as exc:
        raise ExportError(f"receipt_key: {exc}") from exc
    if any(receipt_kid in anchor.kids for anchor in load_anchors(settings.anchors)):
        raise ExportError("receipt_key is an operator key: give the server a key of its own")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out} exists and is not an empty directory")

    out.mkdir(mode=0o750, parents=True, exist_ok=True)
    written = [ANCHORS, RECEIPT_KEY, TRUST_DIR]
    _copy_file(settings.anchors, out / ANCHORS, 0o644)
    _copy_file(settings.receipt_key, out / RECEIPT_KEY, 0o600)
    shutil.copytree(settings.trust_dir, out / TRUST_DIR, ignore=shutil.ignore_patterns(".*.tmp"))
    config = {k: v for k, v in raw.items() if k not in _PATH_MEMBERS}
    config.update(anchors=ANCHORS, trust_dir=TRUST_DIR, receipt_key=RECEIPT_KEY)
    if settings.api_keys_file is not None:
        _copy_file(settings.api_keys_file, out / API_KEYS, 0o600)
        config["api_keys"] = API_KEYS
        written.append(API_KEYS)
    # Written last: its presence means the directory is complete.
    (out / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    return [CONFIG, *sorted(written)]
