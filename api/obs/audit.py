"""Append-only audit log of administrative changes: one JSON object per line, fsynced.

Each record: time, key_id, action, jurisdiction (or status-list URI / "catalogue"), outcome
("accepted" / "unchanged" / "refused" with the refusal code), and the old and new sequence and
digest. Refused uploads are recorded too: an attempt to roll back a list is worth knowing about."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trust_lists.storage import write_synced

log = logging.getLogger("huren.audit")


class AuditLog:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, record: Mapping[str, Any]) -> bool:
        """Write one line and fsync it before returning. No path: nothing is written.

        If the file cannot be written (disk full, read-only file system), the record goes to the
        error log (logger huren.audit, member `audit_record`) instead and False is returned: a
        failing audit log must neither turn the trust store's answer into a 500 nor hide that an
        upload was accepted (and must still be published)."""
        if self.path is None:
            return True
        line = json.dumps(dict(record), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        data = (line.replace("\n", " ") + "\n").encode("utf-8")
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                write_synced(fd, data)
            except OSError as exc:
                log.error(
                    "audit log %s not written (%s); the record is in this line",
                    self.path,
                    exc.strerror or exc,
                    extra={"fields": {"audit_record": dict(record)}},
                )
                return False
        return True


__all__ = ["AuditLog"]
