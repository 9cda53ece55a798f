"""The log contract (docs/service.md "Logs and metrics"): one JSON object per line on stderr with
the documented header and the record's fields; every line written at a clean exit and at a
SIGTERM shutdown, by one process or several; a forked child writes its own lines."""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.obs.logs import JsonFormatter, _access_line
from tests.support.api_support import SECRETS, ZS, auth
from tests.support.server_support import demo_directory, start, stop

ROOT = Path(__file__).resolve().parents[2]
HEADER = ["time", "level", "logger", "message"]


def record(
    msg: str = "request",
    args: tuple[Any, ...] = (),
    level: int = logging.INFO,
    name: str = "huren.access",
    exc_info: Any = None,
    **extra: Any,
) -> logging.LogRecord:
    return logging.getLogger(name).makeRecord(
        name, level, "x.py", 1, msg, args, exc_info, extra=extra or None
    )


def line(rec: logging.LogRecord) -> dict[str, Any]:
    text = JsonFormatter().format(rec)
    out: dict[str, Any] = json.loads(text)
    assert text == json.dumps(out, ensure_ascii=False, separators=(",", ":"))  # compact, one line
    return out


# -- the line ------------------------------------------------------------------------------------


def test_a_line_is_the_header_then_the_fields() -> None:
    fields = {"request_id": "r-1", "status": 200, "duration_ms": 0.5, "城市": "深圳", "ok": None}
    rec = record("%d items from %s", (3, "中山"), fields=fields)
    rec.created, rec.msecs = 1_795_665_600.1239, 123.0  # 2026-11-26T04:00:00.123Z
    out = line(rec)
    assert list(out) == HEADER + list(fields)
    assert out["time"] == "2026-11-26T04:00:00.123+00:00"
    assert (out["level"], out["logger"], out["message"]) == (
        "info",
        "huren.access",
        "3 items from 中山",
    )
    assert {k: out[k] for k in fields} == fields


def test_fields_win_over_the_header_and_extras_do_not() -> None:
    out = line(record(fields={"message": "m", "level": "x"}, peer="10.0.0.1", message_id=7))
    assert (out["message"], out["level"], out["peer"], out["message_id"]) == (
        "m",
        "x",
        "10.0.0.1",
        7,
    )
    out = line(record(fields={"request_id": "r1"}, request_id="shadowed"))
    assert out["request_id"] == "r1"
    assert "fields" not in line(record(fields=["not", "a", "dict"]))


def test_an_error_carries_its_traceback_and_levels_are_lower_case() -> None:
    try:
        raise ValueError("bad thing ✗")
    except ValueError:
        rec = record("failed", level=logging.ERROR, name="huren.error", exc_info=sys.exc_info())
    out = line(rec)
    assert list(out) == [*HEADER, "exception"] and out["level"] == "error"
    assert out["exception"].startswith("Traceback (most recent call last):")
    assert out["exception"].endswith("ValueError: bad thing ✗")
    assert line(record(level=logging.WARNING, name="uvicorn.error"))["level"] == "warning"


def test_values_json_cannot_hold_still_make_a_line() -> None:
    """Objects become their str(); integers beyond 64 bits and lone surrogates (which orjson
    refuses) go through the json module instead of losing the line."""
    out = line(
        record(fields={"path": Path("/srv/huren"), "n": 2**70, "s": "a\ud800b", "t": (1, 2)})
    )
    assert out["path"] == "/srv/huren" and out["n"] == 2**70 and out["s"] == "a\ud800b"
    assert out["t"] == [1, 2]


_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None)
@given(fields=st.dictionaries(st.text(), _values, max_size=6), message=st.text())
def test_any_fields_round_trip(fields: dict[str, Any], message: str) -> None:
    out = line(record(message, fields=fields))
    header = {k: out.pop(k) for k in HEADER if k not in fields}
    assert out == fields and header.get("message", message) == message


# -- the access line's own path: the same text as the formatter's --------------------------------


class Colour(enum.Enum):
    RED = "red"


def same_as_the_formatter(fields: dict[str, Any], message: str = "request") -> str:
    """The access path's line for `fields` and the formatter's for the record access.info()
    makes, at that record's time: asserted the same text, and returned."""
    rec = record(message, fields=fields)
    made = _access_line(rec.name, message, fields, int(rec.created), rec.msecs).decode()
    assert made == JsonFormatter().format(rec) + "\n"
    return made


def test_the_access_line_is_the_formatters_line() -> None:
    """Field for field, in order: header, level, time format, the fields (those named like the
    header replace its values in place), and what JSON has no type for."""
    access = {
        "request_id": "3f6c2a9e1b7d4c05",
        "method": "POST",
        "route": "/v1/licences/verify",
        "status": 200,
        "duration_ms": 0.123,
        "document_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "indication": "PASSED",
        "sub_indication": None,
        "cached": True,
    }
    made = json.loads(same_as_the_formatter(access))
    assert list(made) == HEADER + list(access)
    assert (made["level"], made["logger"], made["message"]) == ("info", "huren.access", "request")
    assert datetime.fromisoformat(made["time"]).utcoffset() == UTC.utcoffset(None)
    assert len(made["time"]) == len("2026-11-26T04:00:00.123+00:00")
    same_as_the_formatter({"message": "m", "level": "x", "城市": "深圳"}, "100% %s")
    odd: dict[Any, Any] = {"path": Path("/srv"), "when": datetime(2026, 1, 2, tzinfo=UTC)}
    odd |= {"colour": Colour.RED, "raw": b"\xff", "t": (1, 2), 3: "a key that is no str"}
    same_as_the_formatter(odd)


def test_the_access_line_leaves_what_orjson_refuses_to_the_formatter() -> None:
    for fields in ({"n": 2**70}, {"s": "a\ud800b"}):
        with pytest.raises(orjson.JSONEncodeError):
            same_as_the_formatter(fields)


@settings(max_examples=100, deadline=None)
@given(fields=st.dictionaries(st.text(), _values, max_size=6), message=st.text())
def test_any_access_line_is_the_formatters_line(fields: dict[str, Any], message: str) -> None:
    with contextlib.suppress(orjson.JSONEncodeError):  # lone surrogates: left to the formatter
        same_as_the_formatter(fields, message)


# -- configure_logging: a fresh interpreter each, as the service runs it -----------------------


def run(code: str) -> subprocess.CompletedProcess[str]:
    prelude = (
        "import logging, os, sys\n"
        "from api.obs.logs import configure_logging, log_access, stop_listener\n"
        "access = logging.getLogger('huren.access')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", prelude + code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in text.splitlines() if x.startswith("{")]


def test_a_clean_exit_writes_every_line_in_order() -> None:
    """More than one batch's worth (BATCH_BYTES), all of it, in order: access lines by their own
    path (checked taken), every fifth the ordinary way, a warning, an error with its traceback
    and a line the access path leaves to the formatter between them."""
    done = run(
        "from api.obs.logs import _here, _reaches_only\n"
        "configure_logging('INFO')\n"
        "assert _reaches_only(access, _here.logging.handler)\n"
        "cache = logging.getLogger('huren.cache')\n"
        "for i in range(3000):\n"
        "    fields = {'request_id': f'r{i}', 'pad': 'x' * 500}\n"
        "    if i % 5:\n"
        "        log_access(access, fields)\n"
        "    else:\n"
        "        access.info('request', extra={'fields': fields})\n"
        "    if i % 500 == 7:\n"
        "        cache.warning('between', extra={'fields': {'after': i}})\n"
        "        log_access(access, {'request_id': f'big{i}', 'n': 2**70})\n"
        "        try:\n"
        "            raise ValueError(i)\n"
        "        except ValueError:\n"
        "            logging.getLogger('huren.error').exception('failed')\n"
        "logging.getLogger('uvicorn.error').warning('uvicorn speaks JSON too')\n"
        "logging.getLogger('uvicorn.access').info('silenced: ours replaces it')\n"
    )
    out = lines(done.stderr)
    expected: list[str] = []
    for i in range(3000):
        expected.append(f"r{i}")
        if i % 500 == 7:
            expected += [f"between {i}", f"big{i} {2**70}", f"failed ValueError: {i}"]
    seen = [
        x.get("request_id", x["message"])
        + (f" {x['after']}" if "after" in x else "")
        + (f" {x['n']}" if "n" in x else "")
        + (f" {x['exception'].splitlines()[-1]}" if "exception" in x else "")
        for x in out[:-1]
    ]
    assert seen == expected
    assert out[-1]["logger"] == "uvicorn.error" and out[-1]["level"] == "warning"


def test_the_level_setting_and_lines_after_the_listener_stopped() -> None:
    done = run(
        "configure_logging('warning')\n"
        "access.info('request', extra={'fields': {'request_id': 'below the level'}})\n"
        "logging.getLogger('huren.cache').warning('kept', extra={'fields': {'n': 1}})\n"
        "stop_listener()\n"
        "logging.getLogger('huren.app').error('after the listener', extra={'fields': {'n': 2}})\n"
        "os._exit(0)  # no atexit: the last line was written when it was logged\n"
    )
    assert [(x["message"], x["n"]) for x in lines(done.stderr)] == [
        ("kept", 1),
        ("after the listener", 2),
    ]


def test_configuring_again_drains_the_listener_it_replaces() -> None:
    done = run(
        "for i in range(20):\n"
        "    configure_logging('INFO')\n"
        "    access.info('request', extra={'fields': {'request_id': f'c{i}'}})\n"
        "import threading\n"
        "print(sum(t.is_alive() for t in threading.enumerate()))\n"
    )
    assert [x["request_id"] for x in lines(done.stderr)] == [f"c{i}" for i in range(20)]
    assert done.stdout.split() == ["2"]  # the main thread and one listener


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_forked_child_writes_its_own_lines_once() -> None:
    done = run(
        "configure_logging('INFO')\n"
        "access.info('request', extra={'fields': {'request_id': 'parent-before'}})\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    for i in range(100):\n"
        "        log_access(access, {'request_id': f'child-{i}'})\n"
        "    sys.exit(0)  # a clean exit of the child: its atexit drains its own listener\n"
        "os.waitpid(pid, 0)\n"
        "log_access(access, {'request_id': 'parent-after'})\n"
    )
    ids = [x["request_id"] for x in lines(done.stderr)]
    assert sorted(ids) == sorted(
        ["parent-before", "parent-after", *(f"child-{i}" for i in range(100))]
    )
    assert [i for i in ids if i.startswith("child-")] == [f"child-{i}" for i in range(100)]


# -- a real service: SIGTERM after a burst of requests -------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_right_after_a_burst_loses_no_line(tmp_path: Path, workers: int) -> None:
    """docker stop sends SIGTERM; uvicorn shuts down gracefully and then re-raises the signal,
    which skips atexit. Every request's line is written by then, in each worker, with the
    document's hash and never the document or the key."""
    directory = tmp_path / "demo"
    world = demo_directory(directory)
    service = start(directory, workers=workers)
    hashes: dict[str, str] = {}
    try:
        with httpx.Client(base_url=service.url, timeout=10) as http:
            for i in range(200):
                r = http.post(
                    "/v1/licences/verify",
                    json={"token": world.licence_sz, "relying_jurisdiction": ZS},
                    headers={**auth("counter"), "X-Request-ID": f"burst-{i}"},
                )
                assert r.status_code == 200
                hashes[f"burst-{i}"] = r.json()["verdict"]["document_sha256"]
    finally:
        stop(service.proc)
    text = service.log.read_text()
    out = [json.loads(x) for x in text.splitlines() if x.startswith("{")]
    access = {x["request_id"]: x for x in out if x["logger"] == "huren.access"}
    assert set(hashes) <= set(access)
    assert all(
        access[i]["document_sha256"] == h and access[i]["status"] == 200 for i, h in hashes.items()
    )
    assert sum(x["message"] == "huren service stopped" for x in out) == workers
    assert world.licence_sz.split(".")[1] not in text and SECRETS["counter"] not in text
