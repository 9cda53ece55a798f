"""Structured logs: one JSON object per line on stderr.

The access log (logger "huren.access") writes one line per request with the request id, route,
status, duration, document SHA-256 and indication. Tokens, documents, images and key material are
never logged: handlers only ever put digests and verdict fields into the per-request log fields.

Logging is on every request's path, so it is kept cheap: lines are encoded with orjson, the
logging module is told not to look up what our lines never show (caller, thread, process), and
stderr is written through `BufferedStreamHandler`, which collects lines and writes them in
batches (at once for warnings and errors, else within `FLUSH_INTERVAL` seconds, and at exit)."""

from __future__ import annotations

import io
import json
import logging
import math
import os
import select
import stat
import sys
import threading
import weakref
from datetime import UTC, datetime
from typing import Any, BinaryIO

import orjson

_STD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "color_message",  # uvicorn's ANSI-coloured duplicate of the message
}
_NOT_EXTRA = _STD_ATTRS | {"fields"}


# The reference encoding: what json.dumps(out, ensure_ascii=False, default=str,
# separators=(",", ":")) builds on every call, built once (an encoder keeps no state between
# calls). orjson gives the same text faster; this encoder is the fall-back for what orjson
# refuses (integers beyond 64 bits, non-str keys, lone surrogates, nesting deeper than 254).
_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str, separators=(",", ":"))

# Dates, times and dataclasses go to `_default` (so to str(), as with the json encoder) instead
# of orjson's own RFC 3339 / object forms.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_NEWLINE_OPTIONS = _ORJSON_OPTIONS | orjson.OPT_APPEND_NEWLINE


def _default(obj: Any) -> Any:
    """What the json encoder does with what orjson does not serialise itself."""
    if isinstance(obj, tuple):  # namedtuples (orjson takes only exact tuples): arrays
        return list(obj)
    if isinstance(obj, float):  # float subclasses: numbers
        return float(obj)
    return str(obj)


_LEVEL_NAMES: dict[str, str] = {}


def _level(levelname: str) -> str:
    """The level's name as our lines write it (lower case), remembered for the usual few."""
    level = _LEVEL_NAMES.get(levelname)
    if level is None:
        level = levelname.lower()
        if len(_LEVEL_NAMES) < 64:
            _LEVEL_NAMES[levelname] = level
    return level


_MILLIS = tuple(f".{ms:03d}+00:00" for ms in range(1000))  # what follows the whole second


class JsonFormatter(logging.Formatter):
    """One compact JSON object: time, level, logger, message, the record's `fields`, any other
    `extra` attributes, and `exception` (the formatted traceback) if the record has one."""

    def __init__(self) -> None:
        super().__init__()
        # (whole second, its ISO text without the offset): one tuple, swapped in one assignment,
        # so a thread never reads one second's text with another's number.
        self._second: tuple[int, str] = (-1, "")

    def _time(self, created: float) -> str:
        """datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds"), computed as
        datetime does (microseconds rounded half-even, which can carry into the next second) but
        building the date and time text once per second."""
        frac, whole = math.modf(created)
        micro = round(frac * 1e6)
        second = int(whole)
        if micro >= 1_000_000:
            micro -= 1_000_000
            second += 1
        elif micro < 0:
            micro += 1_000_000
            second -= 1
        cached = self._second
        if cached[0] != second:
            text = datetime.fromtimestamp(second, UTC).isoformat(timespec="seconds")[:-6]
            cached = self._second = (second, text)
        return cached[1] + _MILLIS[micro // 1000]

    def _object(self, record: logging.LogRecord) -> dict[str, Any]:
        out: dict[str, Any] = {
            "time": self._time(record.created),
            "level": _level(record.levelname),
            "logger": record.name,
            "message": record.getMessage(),
        }
        attrs = record.__dict__
        fields = attrs.get("fields")
        if isinstance(fields, dict):
            out.update(fields)
        if not _NOT_EXTRA.issuperset(attrs):  # one pass in C; there are usually no extras
            for key, value in attrs.items():
                if key not in _NOT_EXTRA and key not in out:
                    out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return out

    def format(self, record: logging.LogRecord) -> str:
        out = self._object(record)
        try:
            return orjson.dumps(out, default=_default, option=_ORJSON_OPTIONS).decode()
        except orjson.JSONEncodeError:
            return _ENCODER.encode(out)  # raises, as before, if json cannot encode it either

    def format_line(self, record: logging.LogRecord) -> bytes:
        """format(record) + "\\n" as UTF-8, without a round trip through str."""
        return self._line(self._object(record))

    def fields_line(
        self, created: float, level: int, logger: str, message: str, fields: dict[str, Any]
    ) -> bytes:
        """format_line() of the record `logging.getLogger(logger).log(level, message,
        extra={"fields": fields})` would make at time `created`, without making it."""
        out: dict[str, Any] = {
            "time": self._time(created),
            "level": _level(logging.getLevelName(level)),
            "logger": logger,
            "message": message,
        }
        out.update(fields)
        return self._line(out)

    def _line(self, out: dict[str, Any]) -> bytes:
        try:
            return orjson.dumps(out, default=_default, option=_NEWLINE_OPTIONS)
        except orjson.JSONEncodeError:
            # Lone surrogates become \udXXX escapes, as stderr's error handler wrote them.
            return (_ENCODER.encode(out) + "\n").encode("utf-8", "backslashreplace")


FLUSH_INTERVAL = 0.2  # seconds an INFO line may wait in BufferedStreamHandler
BUFFER_SIZE = 64 * 1024

_live_handlers: weakref.WeakSet[BufferedStreamHandler] = weakref.WeakSet()


def _flush_periodically(
    ref: weakref.ref[BufferedStreamHandler], stop: threading.Event, interval: float
) -> None:
    # A weak reference: a handler dropped without close() is collected and this thread ends.
    while not stop.wait(interval):
        handler = ref()
        if handler is None:
            return
        if handler.has_pending():
            handler.flush()
        del handler


# StreamHandler's stream type is bound to text streams; this one writes bytes.
class BufferedStreamHandler(logging.StreamHandler[Any]):
    """A StreamHandler that collects lines and writes them to a binary stream (or a file
    descriptor) in batches: at once for records of `flush_level` (WARNING) and above, when
    `buffer_size` bytes are pending, every `interval` seconds from a daemon thread, and on
    flush() / close() (logging.shutdown() calls both at interpreter exit).

    Writes to a pipe go out in pieces of at most PIPE_BUF bytes cut at line ends, so that lines
    from several processes sharing the pipe (uvicorn workers) never interleave mid-line. Lines
    still pending when the process is killed (SIGKILL, os._exit) are lost. Errors while writing
    go to handleError(), as in every logging handler; the lines of a failed write are dropped."""

    def __init__(
        self,
        stream: BinaryIO | int | None = None,
        *,
        interval: float = FLUSH_INTERVAL,
        buffer_size: int = BUFFER_SIZE,
        flush_level: int = logging.WARNING,
    ) -> None:
        if not interval > 0:
            raise ValueError("interval must be positive")
        if stream is None:
            stream = sys.stderr.fileno()
        if isinstance(stream, int):
            # Our own unbuffered writer on the descriptor; the descriptor stays open.
            stream = open(stream, "wb", buffering=0, closefd=False)  # noqa: SIM115
        super().__init__(stream)
        self.interval = interval
        self.buffer_size = buffer_size
        self.flush_level = flush_level
        self._buffer = bytearray()
        self._shut = False
        self._atomic = _pipe_buf(stream)
        self._start_flusher()
        _live_handlers.add(self)

    def _start_flusher(self) -> None:
        self._stop = threading.Event()
        self._flusher = threading.Thread(
            target=_flush_periodically,
            args=(weakref.ref(self), self._stop, self.interval),
            name="huren-log-flush",
            daemon=True,
        )
        self._flusher.start()

    def has_pending(self) -> bool:
        return bool(self._buffer)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            formatter = self.formatter
            if isinstance(formatter, JsonFormatter):
                line = formatter.format_line(record)
            else:
                text = self.format(record) + self.terminator
                line = text.encode("utf-8", "backslashreplace")
            self._add(line, record.levelno)
        except RecursionError:  # as logging.StreamHandler
            raise
        except Exception:
            self.handleError(record)

    def emit_line(self, line: bytes, level: int) -> None:
        """emit() of a record already formatted as `line` (see direct_handler)."""
        try:
            self._add(line, level)
        except Exception:
            self.handleError(_write_failure(self))

    def _add(self, line: bytes, level: int) -> None:
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            buffer = self._buffer
            buffer += line
            if level >= self.flush_level or len(buffer) >= self.buffer_size or self._shut:
                self._write_pending()

    def flush(self) -> None:
        """Write what is pending. Never raises: a failed write goes to handleError()."""
        with self.lock:  # type: ignore[union-attr]
            try:
                self._write_pending()
            except Exception:
                self.handleError(_write_failure(self))

    def _write_pending(self) -> None:
        """With the lock held: write the pending lines; on an error they are dropped."""
        data = self._buffer
        if not data:
            return
        self._buffer = bytearray()
        limit = self._atomic
        if limit is None or len(data) <= limit:
            self._write_all(data)
        else:  # a pipe: pieces of whole lines, each at most PIPE_BUF bytes if it can be
            view = memoryview(data)
            start, end = 0, len(data)
            while start < end:
                stop = start + limit
                if stop < end:
                    cut = data.rfind(b"\n", start, stop)
                    if cut < 0:  # one line longer than PIPE_BUF: that line on its own
                        cut = data.find(b"\n", stop)
                    stop = end if cut < 0 else cut + 1
                else:
                    stop = end
                self._write_all(view[start:stop])
                start = stop
        stream_flush = getattr(self.stream, "flush", None)
        if stream_flush is not None:
            stream_flush()

    def _write_all(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while view:
            written = self.stream.write(view)
            if written is None:  # a non-blocking descriptor that is full
                raise BlockingIOError("log stream is not ready for writing")
            view = view[written:]

    def setStream(self, stream: BinaryIO) -> Any:
        """Write what is pending to the old stream, then switch (as StreamHandler does)."""
        with self.lock:  # type: ignore[union-attr]
            old = super().setStream(stream)
            self._atomic = _pipe_buf(self.stream)
            return old

    def close(self) -> None:
        """Write what is pending and stop the flusher thread. Lines logged through the handler
        after close() are written at once."""
        with self.lock:  # type: ignore[union-attr]
            self._shut = True
            self._stop.set()  # no join: logging.shutdown() calls close() holding our lock
            self.flush()
            super().close()

    def write_through(self) -> None:
        """Write what is pending, and from now on every line at once (as after close())."""
        with self.lock:  # type: ignore[union-attr]
            self._shut = True
            self._stop.set()
            self.flush()

    def _after_fork_in_child(self) -> None:
        # The pending lines are the parent's (it writes them); the flusher thread did not fork.
        self._buffer = bytearray()
        if not self._shut:
            self._start_flusher()


def _write_failure(handler: logging.Handler) -> logging.LogRecord:
    """The record handleError() reports when a batch (of many records) could not be written."""
    return logging.makeLogRecord(
        {
            "name": __name__,
            "levelno": logging.ERROR,
            "levelname": "ERROR",
            "msg": "could not write buffered log lines to %r",
            "args": (handler,),
        }
    )


def _pipe_buf(stream: BinaryIO) -> int | None:
    """PIPE_BUF if the stream is a pipe (writes up to that size are atomic), else None."""
    try:
        mode = os.fstat(stream.fileno()).st_mode
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
    return getattr(select, "PIPE_BUF", 512) if stat.S_ISFIFO(mode) else None


def _after_fork_in_child() -> None:
    for handler in list(_live_handlers):
        handler._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    # Runs after logging's own hook, which gives every handler a fresh lock in the child.
    os.register_at_fork(after_in_child=_after_fork_in_child)


def direct_handler(logger: logging.Logger, level: int) -> BufferedStreamHandler | None:
    """The one handler a record of `logger` at `level` would reach, when that is all that would
    happen to it: the level enabled, the default record factory, no filter and no other handler
    on the way, and at the root a BufferedStreamHandler with a JsonFormatter and no filter. Then
    the caller may hand it the formatted line directly (JsonFormatter.fields_line, emit_line) and
    skip building a LogRecord; otherwise (a test's capture handler, a filter, another
    configuration) it gets None and must log as usual. Cheap enough to ask for every line."""
    if not logger.isEnabledFor(level) or logging.getLogRecordFactory() is not logging.LogRecord:
        return None
    node: logging.Logger | None = logger
    root = logging.root
    while node is not root:
        if node is None or node.filters or node.handlers or not node.propagate:
            return None
        node = node.parent
    if root.filters or len(root.handlers) != 1:
        return None
    handler = root.handlers[0]
    if (
        type(handler) is not BufferedStreamHandler
        or handler.filters
        or level < handler.level
        or type(handler.formatter) is not JsonFormatter
    ):
        return None
    return handler


def write_through() -> None:
    """Switch the root logger's buffered handlers to writing every line at once, writing what
    is pending. The service calls it when it shuts down: after a graceful SIGTERM shutdown
    uvicorn re-raises the signal, which ends the process without atexit (logging.shutdown), so
    nothing may be left in a buffer by then."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, BufferedStreamHandler):
            handler.write_through()


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stderr for huren's loggers and uvicorn's (its own access log is replaced by
    ours, so it is silenced). Stderr is written through a BufferedStreamHandler; calling this
    again closes (flushes) the handler it installed before."""
    # The logging HOWTO's "Optimization": our lines never show the caller's file and line, the
    # thread or the process, so do not look them up for every record.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    setattr(logging, "logAsyncioTasks", False)  # noqa: B010  # Python 3.12+: the task name
    handler: logging.Handler
    try:
        handler = BufferedStreamHandler(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        handler = logging.StreamHandler(sys.stderr)  # stderr replaced by an in-memory stream
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.handlers[:]
    root.handlers[:] = [handler]
    for old in previous:
        if isinstance(old, BufferedStreamHandler):
            old.close()
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True


__all__ = [
    "BufferedStreamHandler",
    "JsonFormatter",
    "configure_logging",
    "direct_handler",
    "write_through",
]
