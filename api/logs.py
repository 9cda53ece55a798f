"""Structured logs: one JSON object per line on stderr.

The access log (logger "huren.access") writes one line per request with the request id, route,
status, duration, document SHA-256 and indication. Tokens, documents, images and key material are
never logged: handlers only ever put digests and verdict fields into the per-request log fields.

The standard library's queue pair keeps the write off the request path: the root logger's only
handler is a `QueueHandler`, and a `QueueListener` thread formats each record (python-json-logger
with orjson) and writes it to stderr. The service stops the listener when it shuts down (every
queued line is written first) and from then on writes each line at once; so does the interpreter's
exit. A forked child gets a queue and a listener of its own."""

from __future__ import annotations

import atexit
import functools
import json
import logging
import logging.handlers
import os
import queue
import sys
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from pythonjsonlogger.core import RESERVED_ATTRS, merge_record_extra
from pythonjsonlogger.orjson import OrjsonFormatter

_HEADER = "%(asctime)s %(levelname)s %(name)s %(message)s"
_NOT_EXTRA = [*RESERVED_ATTRS, "fields", "taskName", "color_message"]  # uvicorn's ANSI duplicate


@functools.lru_cache(maxsize=4)
def _second(whole: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))


class JsonFormatter(OrjsonFormatter):
    """One compact JSON object: time (UTC, milliseconds), level (lower case), logger, message,
    the record's `fields` dict, any other `extra` attributes, and `exception` (the formatted
    traceback) if the record has one."""

    def __init__(self) -> None:
        super().__init__(_HEADER, reserved_attrs=_NOT_EXTRA)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        # The date and time text is the same for a whole second: made once per second.
        return f"{_second(int(record.created))}.{int(record.msecs):03d}+00:00"

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        # The header under our names, lower-case levels, then the
        # record's `fields` flattened into the line; the base class's generic pass over every
        # record attribute only when there are extras besides `fields`.
        attrs = record.__dict__
        log_data["time"] = attrs.get("asctime")
        log_data["level"] = record.levelname.lower()
        log_data["logger"] = record.name
        log_data["message"] = attrs.get("message")
        log_data.update(message_dict)
        if "exc_info" in log_data:
            log_data["exception"] = log_data.pop("exc_info")
        fields = attrs.get("fields")
        if isinstance(fields, dict):
            log_data.update(fields)
        if not self._skip_fields.issuperset(attrs):
            merge_record_extra(record, log_data, reserved=self._skip_fields)

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        try:
            return super().jsonify_log_record(log_data)
        except orjson.JSONEncodeError:  # integers beyond 64 bits, lone surrogates: still a line
            return json.dumps(log_data, ensure_ascii=False, default=str, separators=(",", ":"))


class _LineQueueHandler(logging.handlers.QueueHandler):
    """Enqueues the finished JSON line: formatted here, while the message's arguments and the
    traceback are still what was logged, and no copy of the record crosses the thread."""

    def prepare(self, record: logging.LogRecord) -> Any:
        return self.format(record) + "\n"


GATHER_SECONDS = 0.1  # how long the listener lets lines gather before it writes them
BATCH_BYTES = 1024 * 1024  # at most this much in one write


class _BatchListener(logging.handlers.QueueListener):
    """Waits for a line, lets the lines of the next GATHER_SECONDS gather, and hands its handler
    all of them as one string. Woken per line, the thread would take the GIL from the event loop
    for every request and again after every write (up to the switch interval, 5 ms, each time);
    this way a busy service pays that a few times per GATHER_SECONDS."""

    _stop_next = False

    def dequeue(self, block: bool) -> Any:
        if self._stop_next:
            return self._sentinel
        first = self.queue.get(block)
        if first is self._sentinel:
            return self._sentinel
        time.sleep(GATHER_SECONDS)
        lines = [first]
        size = len(first)
        while size < BATCH_BYTES:
            try:
                line = self.queue.get_nowait()
            except queue.Empty:
                break
            if line is self._sentinel:
                self._stop_next = True  # write this batch first
                break
            lines.append(line)
            size += len(line)
        return "".join(lines)


class _BatchWriter(logging.StreamHandler[Any]):
    """The listener's handler: writes the lines it is given (a str ending in a newline)."""

    def emit(self, record: Any) -> None:
        try:
            self.stream.write(record)
            self.flush()
        except Exception:
            self.handleError(logging.makeLogRecord({"msg": "log lines not written"}))


class _Logging:
    """This process's queue, its listener thread, and the stream they write to."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.handler = _LineQueueHandler(self.queue)
        self.handler.setFormatter(JsonFormatter())
        self.listener = _BatchListener(self.queue, _BatchWriter(stream))
        self.listener.start()

    def direct(self) -> logging.Handler:
        """A handler writing each line at once, for when the listener has stopped."""
        handler = logging.StreamHandler(self.stream)
        handler.setFormatter(JsonFormatter())
        return handler


_current: _Logging | None = None


def _swap_root_handler(old: logging.Handler, new: logging.Handler) -> None:
    root = logging.getLogger()
    root.handlers[:] = [new if h is old else h for h in root.handlers]


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for huren's loggers and uvicorn's (its own access log is replaced by
    ours, so it is silenced), written by a listener thread. Calling it again stops (drains) the
    listener it started before."""
    global _current
    previous, _current = _current, _Logging(sys.stderr)
    root = logging.getLogger()
    root.handlers[:] = [_current.handler]
    if previous is not None:
        previous.listener.stop()
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True


def stop_listener() -> None:
    """Write every queued line, stop the listener, and write each later line at once. The
    service calls it when it shuts down: uvicorn ends a SIGTERM shutdown by re-raising the
    signal, which ends the process without atexit, so nothing may wait in the queue by then."""
    global _current
    current, _current = _current, None
    if current is not None:
        _swap_root_handler(current.handler, current.direct())
        current.listener.stop()


def _own_listener_after_fork() -> None:
    # The listener thread did not fork; what the parent had queued, the parent writes.
    global _current
    current = _current
    if current is not None:
        _current = _Logging(current.stream)
        _swap_root_handler(current.handler, _current.handler)


os.register_at_fork(after_in_child=_own_listener_after_fork)
atexit.register(stop_listener)

__all__ = ["JsonFormatter", "configure_logging", "stop_listener"]
