"""Append-only audit log of administrative changes: one JSON object per line, fsynced.

Each record: time, key_id, action, jurisdiction (or status-list URI / "catalogue"), outcome
("accepted" / "unchanged" / "refused" with the refusal code), and the old and new sequence and
digest. Refused uploads are recorded too: an attempt to roll back a list is worth knowing about."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class AuditLog:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one line and fsync it before returning. No path: nothing is written."""
        if self.path is None:
            return
        line = json.dumps(dict(record), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        data = (line.replace("\n", " ") + "\n").encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)


__all__ = ["AuditLog"]
