"""Structured logs: one JSON object per line on stderr.

The access log (logger "huren.access") writes one line per request with the request id, route,
status, duration, document SHA-256 and indication. Tokens, documents, images and key material are
never logged: handlers only ever put digests and verdict fields into the per-request log fields.

The standard library's queue pair keeps the write off the request path: the root logger's only
handler is a `QueueHandler` that formats the line (python-json-logger's orjson formatter) and
queues it, and a `QueueListener` thread writes the queued lines to stderr in batches. The service
stops the listener when it shuts down (it writes every queued line first) and from then on each
line is written at once; the interpreter's exit does the same. A forked child starts a queue and a
listener of its own.

The access line, one per request, takes a shorter way into the same queue (`log_access`): made
with orjson in the formatter's layout, when nothing but the queue would see its record."""

from __future__ import annotations

import atexit
import json
import logging
import logging.handlers
import os
import queue
import sys
import time
from typing import Any

import orjson
from pythonjsonlogger.core import RESERVED_ATTRS, merge_record_extra
from pythonjsonlogger.orjson import OrjsonFormatter

_HEADER = "%(asctime)s %(levelname)s %(name)s %(message)s"
_NOT_EXTRA = [*RESERVED_ATTRS, "fields", "taskName", "color_message"]  # uvicorn's ANSI duplicate


_MILLIS = tuple(f".{ms:03d}+00:00" for ms in range(1000))  # what follows the whole second


class _Clock:
    # (whole second, its text): one tuple, replaced in one assignment, so that a thread never
    # pairs one second's number with another's text.
    second: tuple[int, str] = (-1, "")


def _stamp(whole: int, msecs: float) -> str:
    """The `time` of a line: UTC to the millisecond. The date and time text is the same for a
    whole second: made once per second."""
    second = _Clock.second
    if second[0] != whole:
        second = _Clock.second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return second[1] + _MILLIS[int(msecs)]


class JsonFormatter(OrjsonFormatter):
    """One compact JSON object: time (UTC, milliseconds), level (lower case), logger, message,
    the record's `fields` dict, any other `extra` attributes, and `exception` (the formatted
    traceback) if the record has one."""

    def __init__(self) -> None:
        super().__init__(_HEADER, reserved_attrs=_NOT_EXTRA)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _stamp(int(record.created), record.msecs)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        # Our names for the header, then the record's `fields` flattened into the line; the base
        # class's pass over every record attribute only when there are other extras.
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
        if not self._skip_fields.issuperset(attrs):  # extras never replace what is there
            for key, value in merge_record_extra(record, {}, self._skip_fields).items():
                log_data.setdefault(key, value)

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        try:
            return super().jsonify_log_record(log_data)
        except orjson.JSONEncodeError:  # integers beyond 64 bits, lone surrogates: still a line
            return json.dumps(log_data, ensure_ascii=False, default=str, separators=(",", ":"))


class _LineQueueHandler(logging.handlers.QueueHandler):
    """Queues the finished JSON line: formatted here, while the message's arguments and the
    traceback are still what was logged, and no copy of the record crosses the thread."""

    def prepare(self, record: logging.LogRecord) -> Any:
        return self.format(record) + "\n"


GATHER_SECONDS = 0.1  # how long the lines after a first one gather before they are written
BATCH_BYTES = 1024 * 1024  # at most this much in one write


class _Batches:
    """The queue between the two: get() waits for a line, lets the lines of the next
    GATHER_SECONDS gather, and returns them joined, for one write. Woken per line, the listener
    would take the GIL from the event loop for every request and again after every write (up to
    the switch interval, 5 ms, each time); this way a busy service pays that a few times per
    GATHER_SECONDS. What is not a line (the listener's stop sentinel) comes out on its own, after
    the lines queued before it."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._held: list[Any] = []  # touched by the listener thread only
        self._behind = False  # the last batch was full: more is waiting, no time to gather

    def put_nowait(self, item: Any) -> None:
        self._queue.put_nowait(item)

    def get(self, block: bool = True) -> Any:
        if self._held:
            return self._held.pop()
        first = self._queue.get(block)
        if not isinstance(first, str):
            return first
        if not self._behind:
            time.sleep(GATHER_SECONDS)
        lines, size = [first], len(first)
        while size < BATCH_BYTES:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if not isinstance(item, str):
                self._held.append(item)
                break
            lines.append(item)
            size += len(item)
        self._behind = size >= BATCH_BYTES
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
    """A process's queue, its listener thread, and the stream they write to."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.batches = _Batches()
        self.formatter = JsonFormatter()
        self.handler = _LineQueueHandler(self.batches)
        self.handler.setFormatter(self.formatter)
        self.listener = logging.handlers.QueueListener(self.batches, _BatchWriter(stream))
        self.listener.start()

    def direct(self) -> logging.Handler:
        """A handler writing each line at once, for when the listener has stopped."""
        handler = logging.StreamHandler(self.stream)
        handler.setFormatter(JsonFormatter())
        return handler


class _ThisProcess:
    logging: _Logging | None = None


_here = _ThisProcess()


_json_default = JsonFormatter().json_default  # python-json-logger's orjson default function
_LINE_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE  # as its formatter's, + \n


def _reaches_only(logger: logging.Logger, handler: logging.Handler) -> bool:
    """Whether a record of `logger` would reach nothing but `handler` and be changed by nothing
    on the way: the default record factory, no filter, no other handler, propagation up to a
    root whose one handler is `handler`. Not so under a test's log capture, for instance."""
    if logging.getLogRecordFactory() is not logging.LogRecord or handler.filters:
        return False
    node = logger
    while True:
        if node.filters:
            return False
        parent = node.parent
        if parent is None:  # the root
            handlers = node.handlers
            return len(handlers) == 1 and handlers[0] is handler
        if node.handlers or not node.propagate:
            return False
        node = parent


def _access_line(
    name: str, message: str, fields: dict[str, Any], whole: int, msecs: float
) -> bytes:
    """The line JsonFormatter writes for `logging.getLogger(name).info(message,
    extra={"fields": fields})` made at `whole` seconds and `msecs` milliseconds (and a newline),
    serialised as its jsonify_log_record() does. Raises orjson.JSONEncodeError where the
    formatter falls back to the json module."""
    log_data = {
        "time": _stamp(whole, msecs),
        "level": logging.getLevelName(logging.INFO).lower(),
        "logger": name,
        "message": message,
        **fields,
    }
    return orjson.dumps(log_data, default=_json_default, option=_LINE_OPTIONS)


def log_access(logger: logging.Logger, fields: dict[str, Any], message: str = "request") -> None:
    """`logger.info(message, extra={"fields": fields})`, for the access log's line per request.
    When that record would reach nothing but this process's queue (`_reaches_only`), the line is
    made here (`_access_line`) and queued as it is: no LogRecord, no handler chain, no pass of
    the formatter over the record (about three quarters of what a line cost). The same line in
    the same queue, so it keeps its place among the lines logged the ordinary way;
    tests/service/test_logs.py holds the two to the same text. Otherwise, or if the fields need
    the formatter's fall-back, the ordinary way."""
    if not logger.isEnabledFor(logging.INFO):
        return
    current = _here.logging
    if current is not None and _reaches_only(logger, current.handler):
        whole, rest = divmod(time.time_ns(), 1_000_000_000)
        try:
            line = _access_line(logger.name, message, fields, whole, rest // 1_000_000)
        except orjson.JSONEncodeError:
            pass
        else:
            current.batches.put_nowait(line.decode())
            return
    # Made as logger.info() makes it, without looking up the caller (never logged).
    logger.handle(
        logger.makeRecord(
            logger.name, logging.INFO, "", 0, message, (), None, extra={"fields": fields}
        )
    )


def _swap_root_handler(old: logging.Handler, new: logging.Handler) -> None:
    root = logging.getLogger()
    root.handlers[:] = [new if h is old else h for h in root.handlers]


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for huren's loggers and uvicorn's (its own access log is replaced by
    ours, so it is silenced), written by a listener thread. Calling it again stops (drains) the
    listener it started before."""
    previous, current = _here.logging, _Logging(sys.stderr)
    _here.logging = current
    root = logging.getLogger()
    root.handlers[:] = [current.handler]
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
    current, _here.logging = _here.logging, None
    if current is not None:
        _swap_root_handler(current.handler, current.direct())
        current.listener.stop()


def _own_listener_after_fork() -> None:
    # The listener thread did not fork; what the parent had queued, the parent writes.
    parents = _here.logging
    if parents is not None:
        _here.logging = _Logging(parents.stream)
        _swap_root_handler(parents.handler, _here.logging.handler)


os.register_at_fork(after_in_child=_own_listener_after_fork)
atexit.register(stop_listener)

__all__ = ["JsonFormatter", "configure_logging", "log_access", "stop_listener"]
