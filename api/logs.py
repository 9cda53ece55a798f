"""Structured logs: one JSON object per line on stderr.

The access log (logger "huren.access") writes one line per request with the request id, route,
status, duration, document SHA-256 and indication. Tokens, documents, images and key material are
never logged: handlers only ever put digests and verdict fields into the per-request log fields."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_STD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "color_message",  # uvicorn's ANSI-coloured duplicate of the message
}


# What json.dumps(out, ensure_ascii=False, default=str, separators=(",", ":")) builds on every
# call, built once (an encoder keeps no state between calls).
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str, separators=(",", ":"))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        for key, value in record.__dict__.items():
            if key not in _STD_ATTRS and key != "fields" and key not in out:
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return _ENCODER.encode(out)


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for huren's loggers and uvicorn's (its own access log is replaced by
    ours, so it is silenced)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True


__all__ = ["JsonFormatter", "configure_logging"]
