"""bench/loadgen.py's paced jobs keep to their schedule: wrk against a real keep-alive server on
loopback. (What a run measures is the bench's business; here only that the pace holds the rate
down and that every request is answered.)"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench import loadgen
from tests.support.wrk_support import require_wrk


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects

    def do_GET(self) -> None:
        # One write: head and body apart would meet Nagle and delayed ACKs (~40 ms an answer).
        self.wfile.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")

    def log_message(self, *_: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, *_: object) -> None:
        pass  # wrk resets its connections when it ends


@pytest.fixture
def port() -> Iterator[int]:
    require_wrk()
    server = _Server(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_paced_job_sends_no_faster_than_its_rate(port: int) -> None:
    # Unpaced, this server answers about ten thousand a second; paced at 100/s over 8
    # connections for 2 s the schedule allows ~200 requests (wrk's whole milliseconds round a
    # slot, they do not add slots).
    res = loadgen.run(loadgen.Job(port, "/", conns=8, duration=2.0, warmup=0.0, rate=100.0))
    assert res["errors"] == 0 and res["non2xx"] == 0
    assert 0 < res["requests"] <= 240
