"""api/obs/logs.py: the orjson JsonFormatter gives what the json-module formatter gave, timestamps
are datetime's to the millisecond, and BufferedStreamHandler writes every line (at once for
warnings, else within its interval, on flush/close and at exit) without a write per line."""

from __future__ import annotations

import collections
import dataclasses
import decimal
import enum
import json
import logging
import math
import os
import random
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.obs.logs import BufferedStreamHandler, JsonFormatter, configure_logging

ROOT = Path(__file__).resolve().parents[2]


# -- the formatter before orjson (api/obs/logs.py as it was), the reference -----------------------

_REF_STD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "color_message",
}
_REF_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str, separators=(",", ":"))


class ReferenceFormatter(logging.Formatter):
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
            if key not in _REF_STD_ATTRS and key != "fields" and key not in out:
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return _REF_ENCODER.encode(out)


def make_record(
    msg: str = "request",
    args: tuple[Any, ...] = (),
    level: int = logging.INFO,
    name: str = "huren.access",
    exc_info: Any = None,
    created: float | None = None,
    **extra: Any,
) -> logging.LogRecord:
    record = logging.getLogger(name).makeRecord(
        name, level, "x.py", 1, msg, args, exc_info, extra=extra or None
    )
    if created is not None:
        record.created = created
    return record


class Colour(enum.StrEnum):
    RED = "red"


class Count(enum.IntEnum):
    THREE = 3


class Celsius(float):
    pass


Point = collections.namedtuple("Point", "x y")


@dataclasses.dataclass
class Box:
    size: int = 1


class Opaque:
    def __str__(self) -> str:
        return "opaque thing ✓"


def _exc_info() -> Any:
    try:
        raise ValueError("bad thing ✗")
    except ValueError:
        return sys.exc_info()


ACCESS = {
    "request_id": "3f6c2a9e1b7d4c05",
    "method": "POST",
    "route": "/v1/licences/verify",
    "status": 200,
    "duration_ms": 1.234,
    "key_id": "counter-sz",
    "kind": "licence",
    "document_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "indication": "PASSED",
    "cached": False,
}

# (case, record factory): every one must format to exactly the reference's text.
EXACT: list[tuple[str, Callable[[], logging.LogRecord]]] = [
    ("access line", lambda: make_record(fields=dict(ACCESS))),
    ("message args", lambda: make_record("%d items from %s", (3, "深圳"))),
    ("no fields", lambda: make_record("plain")),
    (
        "unicode",
        lambda: make_record(
            "互认 ✓",
            fields={"城市": "中山", "emoji": "😀", "ctl": "\x00\x1f\x7f\u2028", "q": '"\\'},
        ),
    ),
    (
        "nested",
        lambda: make_record(fields={"a": {"b": [1, {"c": None, "d": [True, False]}]}, "e": []}),
    ),
    (
        "objects to str",
        lambda: make_record(
            fields={
                "decimal": decimal.Decimal("1.10"),
                "path": Path("/srv/huren"),
                "set": {1},
                "bytes": b"\x00ab",
                "datetime": datetime(2026, 11, 26, 4, 0, 1, 5, tzinfo=UTC),
                "date": date(2026, 11, 26),
                "uuid": uuid.UUID(int=5),
                "dataclass": Box(),
                "opaque": Opaque(),
            }
        ),
    ),
    (
        "builtin subclasses",
        lambda: make_record(
            fields={
                "strenum": Colour.RED,
                "intenum": Count.THREE,
                "float_subclass": Celsius(36.6),
                "namedtuple": Point(1, 2),
                "tuple": (1, "a"),
            }
        ),
    ),
    ("big int (fallback)", lambda: make_record(fields={"n": 2**64, "m": -(2**63) - 1})),
    ("non-str keys (fallback)", lambda: make_record(fields={"k": {1: "a", None: 2, 1.5: 3}})),
    ("lone surrogate (fallback)", lambda: make_record(fields={"s": "a\ud800b"})),
    (
        "extras",
        lambda: make_record(fields={"request_id": "r1"}, peer="10.0.0.1", request_id="shadowed"),
    ),
    ("fields override the header", lambda: make_record(fields={"message": "m", "level": "x"})),
    ("fields not a dict", lambda: make_record(fields=["a", "b"])),
    ("floats", lambda: make_record(fields={"f": [0.1, 1.5, 1e16, 1e300, -0.0, 5e-324, 1.0]})),
    ("exception", lambda: make_record("failed", level=logging.ERROR, exc_info=_exc_info())),
    ("warning", lambda: make_record("w", level=logging.WARNING, name="uvicorn.error")),
    ("critical", lambda: make_record("c", level=logging.CRITICAL)),
    ("debug", lambda: make_record("d", level=logging.DEBUG)),
]


@pytest.mark.parametrize("build", [b for _, b in EXACT], ids=[c for c, _ in EXACT])
def test_formatter_matches_the_json_module_formatter(
    build: Callable[[], logging.LogRecord],
) -> None:
    record = build()
    expected = ReferenceFormatter().format(record)
    formatter = JsonFormatter()
    assert formatter.format(record) == expected
    assert formatter.format_line(record) == (expected + "\n").encode("utf-8", "backslashreplace")


def test_formatter_keeps_asctime_and_custom_levels_like_before() -> None:
    record = make_record(fields={"a": 1}, color_message="\x1b[1mx")
    logging.Formatter("%(asctime)s %(message)s").format(record)  # adds asctime and message
    assert JsonFormatter().format(record) == ReferenceFormatter().format(record)
    assert "asctime" in json.loads(JsonFormatter().format(record))
    record = make_record(level=25)
    record.levelname = "NOTICE"  # as logging.addLevelName(25, "NOTICE") would name it
    assert json.loads(JsonFormatter().format(record))["level"] == "notice"
    assert JsonFormatter().format(record) == ReferenceFormatter().format(record)


def test_formatter_exception_text() -> None:
    record = make_record("failed", level=logging.ERROR, exc_info=_exc_info())
    out = json.loads(JsonFormatter().format(record))
    assert list(out) == ["time", "level", "logger", "message", "exception"]
    assert out["exception"].startswith("Traceback (most recent call last):")
    assert "ValueError: bad thing ✗" in out["exception"]


def test_formatter_small_floats_are_the_same_numbers() -> None:
    """orjson writes 1e-05 as 0.00001: another spelling of the same number."""
    values = [1e-05, 1.234e-07, 3.3e-10, 123456789.123]
    record = make_record(fields={"f": values})
    new, old = JsonFormatter().format(record), ReferenceFormatter().format(record)
    assert json.loads(new) == json.loads(old)
    assert list(json.loads(new)) == list(json.loads(old))


def test_formatter_differences_from_the_json_module() -> None:
    """The two deliberate/known differences: NaN and infinities become null (the json module
    wrote NaN/Infinity, which is not JSON), and a plain (non-str, non-int) Enum member is
    written as its value rather than str(member). huren logs only StrEnum/IntEnum members."""

    class Plain(enum.Enum):
        A = 1

    record = make_record(fields={"nan": math.nan, "inf": -math.inf, "enum": Plain.A})
    assert json.loads(JsonFormatter().format(record))["nan"] is None
    assert json.loads(JsonFormatter().format(record))["inf"] is None
    assert json.loads(JsonFormatter().format(record))["enum"] == 1
    assert '"nan":NaN' in ReferenceFormatter().format(record)


def test_formatter_still_fails_where_json_fails() -> None:
    """What neither encoder takes (a cycle) raises from format(), so the handler reports it
    through handleError as before."""
    loop: dict[str, Any] = {}
    loop["self"] = loop
    record = make_record(fields={"loop": loop})
    with pytest.raises(ValueError, match="Circular reference"):
        ReferenceFormatter().format(record)
    with pytest.raises(ValueError, match="Circular reference"):
        JsonFormatter().format(record)


_scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # unbounded: beyond 64 bits takes the fall-back
    | st.text()
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(fields=st.dictionaries(st.text(), _values, max_size=6), message=st.text())
def test_formatter_matches_reference_on_generated_fields(
    fields: dict[str, Any], message: str
) -> None:
    record = make_record(message.replace("%", "%%"), fields=fields)
    assert JsonFormatter().format(record) == ReferenceFormatter().format(record)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=6))
def test_formatter_floats_match_reference_as_numbers(values: list[float]) -> None:
    record = make_record(fields={"f": values})
    assert json.loads(JsonFormatter().format(record)) == json.loads(
        ReferenceFormatter().format(record)
    )


# -- timestamps --------------------------------------------------------------------------------


def expected_time(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


def logged_time(formatter: JsonFormatter, created: float) -> str:
    out = json.loads(formatter.format(make_record(created=created)))
    assert isinstance(out["time"], str)
    return out["time"]


def _boundary_timestamps() -> list[float]:
    out: list[float] = [0.0, 0.0005, 0.9999995, 1.0]
    for whole in (1_000_000_000, 1_795_665_600, 1_795_665_659, 1_798_761_599, 4_102_444_799):
        base = float(whole)
        out += [
            base,
            math.nextafter(base, math.inf),
            math.nextafter(base, 0.0),
            base + 0.0004999,
            base + 0.0005,
            base + 0.000999,
            base + 0.001,
            base + 0.1234565,
            base + 0.5,
            base + 0.9985,
            base + 0.999,
            base + 0.9994999,
            base + 0.9995,
            base + 0.9999994,
            base + 0.9999995,  # rounds to the next whole second in datetime
            base + 0.9999996,
            math.nextafter(base + 1, 0.0),
            base - 0.0000004,
            base - 0.0000005,
            base - 0.0000006,
        ]
    return out


def test_time_is_datetimes_isoformat_at_second_boundaries() -> None:
    formatter = JsonFormatter()
    stamps = _boundary_timestamps()
    for created in stamps + stamps[::-1]:  # forwards and backwards through the cached second
        assert logged_time(formatter, created) == expected_time(created), repr(created)
    assert logged_time(formatter, 1_795_665_600.123) == "2026-11-26T04:00:00.123+00:00"


def test_time_is_datetimes_isoformat_for_many_timestamps() -> None:
    rng = random.Random(20261126)
    formatter = JsonFormatter()
    now = time.time()
    stamps = [now + rng.uniform(-5, 5) for _ in range(3000)]  # a few seconds: the cache hits
    stamps += [rng.uniform(0, 4_102_444_800) for _ in range(3000)]  # up to 2100: it misses
    stamps += [math.floor(s) + rng.choice([0.9995, 0.99949999, 0.9999995, 0.0005]) for s in stamps]
    stamps.sort()
    stamps += stamps[::7]  # out of order, as records from several threads can be
    for created in stamps:
        assert logged_time(formatter, created) == expected_time(created), repr(created)


@settings(max_examples=500, deadline=None)
@given(created=st.floats(min_value=0, max_value=2**35, allow_nan=False))
def test_time_matches_datetime_generated(created: float) -> None:
    assert logged_time(JsonFormatter(), created) == expected_time(created)


# -- BufferedStreamHandler ---------------------------------------------------------------------


@contextmanager
def handler_on(path: Path, **kwargs: Any) -> Iterator[BufferedStreamHandler]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    handler = BufferedStreamHandler(fd, **kwargs)
    handler.setFormatter(JsonFormatter())
    try:
        yield handler
    finally:
        handler.close()
        os.close(fd)


def emit(handler: logging.Handler, msg: str, level: int = logging.INFO) -> None:
    handler.handle(make_record(msg, level=level, fields={"request_id": msg}))


def messages(path: Path) -> list[str]:
    return [json.loads(line)["message"] for line in path.read_text("utf-8").splitlines()]


def wait_for(predicate: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_info_is_buffered_and_a_warning_writes_it_at_once(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with handler_on(path, interval=60) as handler:
        emit(handler, "one")
        emit(handler, "two")
        assert path.read_bytes() == b""  # nothing written yet: no write per line
        emit(handler, "careful", logging.WARNING)
        assert messages(path) == ["one", "two", "careful"]  # in order, warning at once
        emit(handler, "three")
        assert messages(path) == ["one", "two", "careful"]
        emit(handler, "broken", logging.ERROR)
        assert messages(path) == ["one", "two", "careful", "three", "broken"]


def test_the_flusher_thread_writes_within_the_interval(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with handler_on(path, interval=0.1) as handler:
        emit(handler, "soon")
        start = time.monotonic()
        assert wait_for(lambda: b"soon" in path.read_bytes())
        assert time.monotonic() - start < 2.0
        emit(handler, "again")
        assert wait_for(lambda: b"again" in path.read_bytes())
    assert messages(path) == ["soon", "again"]


def test_flush_and_close_write_what_is_pending(tmp_path: Path) -> None:
    path = tmp_path / "log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        handler = BufferedStreamHandler(fd, interval=60)
        handler.setFormatter(JsonFormatter())
        flusher = handler._flusher
        assert flusher.is_alive() and flusher.daemon
        emit(handler, "flushed")
        assert path.read_bytes() == b""
        handler.flush()
        assert messages(path) == ["flushed"]
        emit(handler, "closed")
        assert messages(path) == ["flushed"]
        handler.close()
        assert messages(path) == ["flushed", "closed"]
        flusher.join(5)
        assert not flusher.is_alive()  # close() stops the thread
        emit(handler, "late")  # after close: written at once, not lost
        assert messages(path) == ["flushed", "closed", "late"]
    finally:
        os.close(fd)


def test_a_full_buffer_is_written_without_waiting(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with handler_on(path, interval=60, buffer_size=4096) as handler:
        line = len(JsonFormatter().format_line(make_record("x000", fields={"request_id": "x000"})))
        per_buffer = -(-4096 // line)  # lines to reach 4096 bytes
        for i in range(per_buffer - 1):
            emit(handler, f"x{i:03d}")
        assert path.read_bytes() == b""
        emit(handler, f"x{per_buffer - 1:03d}")
        assert len(messages(path)) == per_buffer
        assert len(path.read_bytes()) >= 4096


def test_a_binary_file_object_works_too(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with path.open("wb") as stream:
        handler = BufferedStreamHandler(stream, interval=60)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s ✓"))
        handler.handle(make_record("plain text"))
        assert path.read_bytes() == b""
        handler.close()
        assert path.read_text("utf-8") == "INFO plain text ✓\n"


def test_lines_from_many_threads_arrive_whole(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with handler_on(path, interval=0.01, buffer_size=2048) as handler:

        def work(t: int) -> None:
            for i in range(300):
                emit(handler, f"t{t}-{i}", logging.WARNING if i % 97 == 0 else logging.INFO)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    got = messages(path)  # every line parses
    assert sorted(got) == sorted(f"t{t}-{i}" for t in range(6) for i in range(300))
    for t in range(6):
        mine = [m for m in got if m.startswith(f"t{t}-")]
        assert mine == [f"t{t}-{i}" for i in range(300)]  # each thread's lines in order


class Recorder:
    """A binary stream on a pipe that records the size of every write."""

    def __init__(self, fd: int, fail: bool = False) -> None:
        self.fd = fd
        self.fail = fail
        self.writes: list[bytes] = []

    def fileno(self) -> int:
        return self.fd

    def write(self, data: bytes | memoryview) -> int:
        if self.fail:
            raise OSError(32, "Broken pipe")
        self.writes.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


def test_writes_to_a_pipe_are_whole_lines_of_at_most_pipe_buf() -> None:
    read_end, write_end = os.pipe()
    try:
        recorder = Recorder(write_end)
        handler = BufferedStreamHandler(recorder, interval=60)  # type: ignore[arg-type]
        handler.setFormatter(JsonFormatter())
        expected = b""
        for i in range(200):
            record = make_record(f"m{i}", fields={"pad": "é" * (i % 50)})
            handler.handle(record)
            expected += JsonFormatter().format_line(record)
        big = make_record("big", fields={"pad": "x" * (2 * select.PIPE_BUF)})
        handler.handle(big)
        expected += JsonFormatter().format_line(big)
        handler.handle(make_record("tail"))
        handler.close()
        assert b"".join(recorder.writes)[: len(expected)] == expected
        assert len(recorder.writes) > 3  # batched, but in pieces
        for piece in recorder.writes:
            assert piece.endswith(b"\n")
            assert len(piece) <= select.PIPE_BUF or piece.count(b"\n") == 1
        assert any(len(p) > select.PIPE_BUF for p in recorder.writes)  # the big line, alone
        assert len(recorder.writes) < 200 // 5  # and far fewer writes than lines
    finally:
        os.close(read_end)
        os.close(write_end)


class Reporting(BufferedStreamHandler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.errors: list[tuple[str, type[BaseException] | None]] = []

    def handleError(self, record: logging.LogRecord) -> None:
        self.errors.append((record.getMessage(), sys.exc_info()[0]))


def test_write_errors_go_to_handle_error_and_never_raise(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    try:
        broken = Recorder(write_end, fail=True)
        handler = Reporting(broken, interval=60)
        handler.setFormatter(JsonFormatter())
        emit(handler, "lost-1")
        handler.flush()  # does not raise
        assert len(handler.errors) == 1
        assert handler.errors[0][1] is BrokenPipeError
        assert "could not write buffered log lines" in handler.errors[0][0]
        emit(handler, "lost-2", logging.WARNING)  # from emit: handleError with the record
        assert handler.errors[1] == ("lost-2", BrokenPipeError)
        working = Recorder(write_end)
        handler.setStream(working)  # type: ignore[arg-type]
        emit(handler, "kept")
        handler.close()
        text = b"".join(working.writes).decode()
        assert "kept" in text and "lost" not in text  # failed batches are dropped, not kept
    finally:
        os.close(read_end)
        os.close(write_end)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_forked_child_does_not_repeat_the_parents_pending_lines(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with handler_on(path, interval=60) as handler:
        emit(handler, "parent-pending")
        parent_flusher = handler._flusher
        pid = os.fork()
        if pid == 0:  # the child: always leaves through os._exit
            code = 1
            try:
                emit(handler, "child")
                handler.flush()
                alive = handler._flusher.is_alive() and handler._flusher is not parent_flusher
                code = 0 if alive else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert messages(path) == ["child"]
    assert messages(path) == ["child", "parent-pending"]


# -- configure_logging -------------------------------------------------------------------------


@contextmanager
def isolated_logging() -> Iterator[None]:
    """configure_logging() changes process-wide state: put it all back afterwards."""
    root = logging.getLogger()
    saved_root = (root.handlers[:], root.level)
    saved_flags = (
        logging._srcfile,
        logging.logThreads,
        logging.logProcesses,
        logging.logMultiprocessing,
    )
    had_tasks = hasattr(logging, "logAsyncioTasks")
    saved_tasks = getattr(logging, "logAsyncioTasks", None)
    saved_uvicorn = {
        name: (logging.getLogger(name).handlers[:], logging.getLogger(name).propagate)
        for name in ("uvicorn", "uvicorn.error")
    }
    saved_access = logging.getLogger("uvicorn.access").disabled
    try:
        yield
    finally:
        for handler in root.handlers:
            if isinstance(handler, BufferedStreamHandler):
                handler.close()
        root.handlers[:], level = saved_root
        root.setLevel(level)
        (
            logging._srcfile,
            logging.logThreads,
            logging.logProcesses,
            logging.logMultiprocessing,
        ) = saved_flags
        if had_tasks:
            setattr(logging, "logAsyncioTasks", saved_tasks)
        elif hasattr(logging, "logAsyncioTasks"):
            delattr(logging, "logAsyncioTasks")
        for name, (handlers, propagate) in saved_uvicorn.items():
            logging.getLogger(name).handlers[:] = handlers
            logging.getLogger(name).propagate = propagate
        logging.getLogger("uvicorn.access").disabled = saved_access


def _flushers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "huren-log-flush" and t.is_alive()]


def test_configure_logging_again_and_again_keeps_one_flusher(
    capfd: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    with isolated_logging():
        before = threading.active_count()
        flushers_before = set(_flushers())
        replaced: list[logging.Handler] = []  # kept alive: only close() may stop their threads
        for i in range(25):
            configure_logging("INFO")
            replaced += root.handlers
            logging.getLogger("huren.access").info("request", extra={"fields": {"n": f"c{i}"}})
        assert len(root.handlers) == 1
        handler = root.handlers[0]
        assert isinstance(handler, BufferedStreamHandler)
        # Closed handlers' threads end promptly (they wait on an event that close() sets).
        assert wait_for(lambda: threading.active_count() <= before + 1)
        assert wait_for(lambda: set(_flushers()) - flushers_before == {handler._flusher})
        for old in replaced[:-1]:
            assert isinstance(old, BufferedStreamHandler)
            assert not old._flusher.is_alive()
        # Replacing a handler wrote its pending line: all but the last are out at once.
        err = capfd.readouterr().err
        assert all(f'"n":"c{i}"' in err for i in range(24))
    assert wait_for(lambda: threading.active_count() <= before)
    assert '"n":"c24"' in err + capfd.readouterr().err  # the last one, at the latest on close


def test_configure_logging_switches_off_lookups_and_keeps_tracebacks(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with isolated_logging():
        configure_logging("INFO")
        assert logging._srcfile is None
        assert not logging.logThreads and not logging.logProcesses
        assert not logging.logMultiprocessing
        records: list[logging.LogRecord] = []

        class Keep(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                records.append(record)

        logging.getLogger().addHandler(Keep())
        try:
            1 / 0
        except ZeroDivisionError:
            logging.getLogger("huren.error").exception(
                "unhandled error", extra={"fields": {"request_id": "boom-1"}}
            )
        assert records[-1].thread is None and records[-1].process is None
        assert records[-1].lineno == 0  # findCaller skipped
        # An ERROR is written at once: no waiting for the flusher.
        lines = [json.loads(x) for x in capfd.readouterr().err.splitlines() if x.startswith("{")]
        error = [x for x in lines if x.get("request_id") == "boom-1"]
        assert error and error[0]["level"] == "error"
        assert "ZeroDivisionError: division by zero" in error[0]["exception"]
        logging.getLogger("huren.access").info("request", extra={"fields": {"request_id": "a-1"}})
        assert wait_for(lambda: "a-1" in capfd.readouterr().err)


def test_configure_logging_without_a_real_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    fake = io.StringIO()
    monkeypatch.setattr(sys, "stderr", fake)
    with isolated_logging():
        configure_logging("INFO")
        handler = logging.getLogger().handlers[0]
        assert type(handler) is logging.StreamHandler
        logging.getLogger("huren.access").info("request", extra={"fields": {"request_id": "s"}})
        assert json.loads(fake.getvalue())["request_id"] == "s"


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


_PRELUDE = (
    "import logging, os\n"
    "from api.obs.logs import configure_logging\n"
    "configure_logging('INFO')\n"
    "log = logging.getLogger('huren.access')\n"
)


def test_a_clean_exit_writes_the_pending_lines() -> None:
    done = _run(_PRELUDE + "log.info('request', extra={'fields': {'request_id': 'at-exit-1'}})\n")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in done.stderr.splitlines()]
    assert [x["request_id"] for x in lines] == ["at-exit-1"]
    assert lines[0]["logger"] == "huren.access" and lines[0]["level"] == "info"


def test_a_killed_process_loses_only_unflushed_info_lines() -> None:
    """What docs/service.md says: without a clean exit the buffered INFO lines are lost;
    a WARNING was written at once."""
    code = (
        _PRELUDE
        + "import time\n"
        + "start = time.monotonic()  # the flusher thread's first turn is 0.2 s from about now\n"
        + "log.warning('slow', extra={'fields': {'request_id': 'warned-1'}})\n"
        + "log.info('request', extra={'fields': {'request_id': 'pending-1'}})\n"
        + "print(time.monotonic() - start, flush=True)\n"
        + "os._exit(0)\n"
    )
    for _ in range(5):
        done = _run(code)
        assert done.returncode == 0, done.stderr
        assert "warned-1" in done.stderr
        if float(done.stdout) < 0.1:  # else the flusher may have had its turn: try again
            break
    else:
        pytest.skip("the machine is too slow to tell buffering from the flusher's interval")
    assert "pending-1" not in done.stderr


# -- the access line without a LogRecord (api.obs.logs.direct_handler) ---------------------------


@contextmanager
def root_handler(handler: logging.Handler) -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


FIELDS: dict[str, Any] = {
    "request_id": "r-1",
    "method": "POST",
    "route": "/v1/licences/verify",
    "status": 200,
    "duration_ms": 0.731,
    "key_id": "counter-demo",
    "indication": "PASSED",
    "sub_indication": None,
    "cached": True,
    "holder": "深圳市前海互认科技有限公司",
}


def test_fields_line_is_the_line_of_the_record_logging_would_make() -> None:
    formatter = JsonFormatter()
    for created in (0.0, 1_764_000_000.9996, time.time()):
        for level in (logging.INFO, logging.WARNING, 15):
            record = make_record("request", level=level, fields=FIELDS, name="huren.access")
            record.created = created
            assert formatter.fields_line(
                created, level, "huren.access", "request", FIELDS
            ) == formatter.format_line(record)


def test_direct_handler_only_when_nothing_else_would_see_the_record(tmp_path: Path) -> None:
    from api.obs.logs import direct_handler

    logger = logging.getLogger("huren.access")
    with handler_on(tmp_path / "log") as handler, root_handler(handler):
        assert direct_handler(logger, logging.INFO) is handler
        assert direct_handler(logger, logging.DEBUG) is None  # not enabled
        extra = logging.NullHandler()
        for place in (logger, logging.getLogger("huren"), logging.getLogger()):
            place.addHandler(extra)  # e.g. a test's capture handler
            try:
                assert direct_handler(logger, logging.INFO) is None
            finally:
                place.removeHandler(extra)
            place.addFilter(lambda r: True)
            try:
                assert direct_handler(logger, logging.INFO) is None
            finally:
                place.filters.clear()
        handler.addFilter(lambda r: True)
        assert direct_handler(logger, logging.INFO) is None
        handler.filters.clear()
        handler.setFormatter(logging.Formatter())
        assert direct_handler(logger, logging.INFO) is None
        handler.setFormatter(JsonFormatter())
        logger.propagate = False
        try:
            assert direct_handler(logger, logging.INFO) is None
        finally:
            logger.propagate = True
        factory = logging.getLogRecordFactory()

        def wrapped(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return factory(*args, **kwargs)

        logging.setLogRecordFactory(wrapped)
        try:
            assert direct_handler(logger, logging.INFO) is None
        finally:
            logging.setLogRecordFactory(factory)
        assert direct_handler(logger, logging.INFO) is handler
