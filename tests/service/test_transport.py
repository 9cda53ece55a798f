"""api/http/transport.py: a turn's writes leave in one send, in order, and nothing is lost or
sent after the connection is gone. Real sockets (a socketpair) under a real event loop; the
served answers themselves are checked byte for byte by the service tests (they run `huren
serve`, which uses this protocol)."""

from __future__ import annotations

import asyncio
import selectors
import socket
import threading
import time
from typing import Any

import pytest
import uvicorn

from api.http.transport import HttpProtocol, _JoinedWrites, _Sends


class _Recorded:
    """The real transport, with the writes it was given noted."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


async def _pair() -> tuple[_Recorded, _JoinedWrites, socket.socket]:
    ours, peer = socket.socketpair()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
    recorded = _Recorded(transport)
    return recorded, _JoinedWrites(recorded, _Sends(loop, HttpProtocol.send_within)), peer  # type: ignore[arg-type]


def _received(peer: socket.socket) -> bytes:
    peer.settimeout(5)
    got = b""
    while chunk := peer.recv(65536):
        got += chunk
    return got


def test_the_writes_of_one_turn_leave_in_one_send_in_order() -> None:
    async def main() -> None:
        recorded, joined, peer = await _pair()
        joined.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        joined.write(b"{}")
        assert recorded.writes == []  # held until the end of this turn
        assert joined.get_write_buffer_size() == 40
        await asyncio.sleep(0)
        assert recorded.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
        joined.write(b"next")
        await asyncio.sleep(0)
        joined.write(b" and last")
        joined.close()  # what was written goes first
        assert recorded.writes[1:] == [b"next", b" and last"]
        await asyncio.sleep(0.05)
        assert _received(peer) == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}next and last"

    asyncio.run(main())


def test_nothing_is_sent_once_the_connection_is_gone() -> None:
    async def main() -> None:
        recorded, joined, peer = await _pair()
        joined.write(b"an answer for a peer that left")
        recorded.transport.abort()  # the connection goes before the end of the turn
        await asyncio.sleep(0)  # no error from writing to a closed transport
        assert recorded.writes == []
        joined.write(b"late")
        joined.abort()
        await asyncio.sleep(0)
        assert recorded.writes == []
        peer.close()

    asyncio.run(main())


def test_what_the_transport_would_refuse_is_refused_when_written() -> None:
    async def main() -> None:
        recorded, joined, peer = await _pair()
        with pytest.raises(TypeError):
            joined.write("text, not bytes")  # type: ignore[arg-type]
        reused = bytearray(b"bytes-like")
        joined.write(memoryview(reused))
        reused[:] = b"overwritten"  # the writer's buffer, reused before the end of the turn
        await asyncio.sleep(0)
        assert recorded.writes == [b"bytes-like"]
        recorded.transport.close()
        peer.close()

    asyncio.run(main())


def test_everything_else_is_the_transports() -> None:
    async def main() -> None:
        recorded, joined, peer = await _pair()
        assert joined.get_extra_info("socket") is recorded.transport.get_extra_info("socket")
        assert not joined.is_closing()
        joined.close()
        assert joined.is_closing()
        peer.close()

    asyncio.run(main())


def test_held_answers_leave_at_the_end_of_the_turn_or_once_the_first_has_waited() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        sent: list[bytes] = []
        for within, sent_early in ((3600.0, False), (0.0, True)):
            first, second = await _pair(), await _pair()
            sends = _Sends(loop, within)
            a = _JoinedWrites(first[0], sends)  # type: ignore[arg-type]
            b = _JoinedWrites(second[0], sends)  # type: ignore[arg-type]
            a.write(b"a")
            b.write(b"b")
            sends.answered()  # an answer completes: the first held has waited >= 0 s
            sent = first[0].writes + second[0].writes
            assert sent == ([b"a", b"b"] if sent_early else [])
            await asyncio.sleep(0)  # the end of the turn sends whatever is still held, once
            assert first[0].writes + second[0].writes == [b"a", b"b"]
            for recorded, _, peer in (first, second):
                recorded.transport.close()
                peer.close()
        # A bound in time: the held answer leaves when an answer completes after it has waited.
        recorded, _, peer = await _pair()
        sends = _Sends(loop, 0.02)
        joined = _JoinedWrites(recorded, sends)  # type: ignore[arg-type]
        joined.write(b"held")
        sends.answered()
        assert recorded.writes == []
        time.sleep(0.03)  # the loop busy elsewhere, as verifying a licence keeps it
        sends.answered()
        assert recorded.writes == [b"held"]
        recorded.transport.close()
        peer.close()

    asyncio.run(main())


# The protocol itself, served by uvicorn as `huren serve` runs it (api/server.py: this protocol,
# the default loop), answering a small ASGI app over real sockets.

_BIG = 2 * 1024 * 1024


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path == "/boom":
        raise RuntimeError("the app failed")
    if path == "/slow":
        await asyncio.sleep(float(scope["query_string"] or b"0"))
    if path == "/busy":  # the loop held, as verifying a licence holds it
        scope["state"]["busy"].set()
        time.sleep(float(scope["query_string"]))
        scope["state"]["finished"].append((scope["query_string"], time.monotonic()))
    if path == "/stream":
        start = {"type": "http.response.start", "status": 200, "headers": []}
        await send(start)
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await scope["state"]["released"].wait()
        await send({"type": "http.response.body", "body": b"last"})
        return
    if path == "/release":
        scope["state"]["released"].set()
    answer = b"x" * _BIG if path == "/big" else f"{path} {len(body)}".encode()
    headers = [(b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


class _Served:
    """uvicorn with HttpProtocol in a thread, on a port of its own."""

    def __init__(self, keep_alive: float, http: type[HttpProtocol] = HttpProtocol) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "lifespan":
                while (await receive())["type"] != "lifespan.shutdown":
                    await send({"type": "lifespan.startup.complete"})
                await send({"type": "lifespan.shutdown.complete"})
                return
            scope["state"]["released"] = self.released
            scope["state"]["busy"] = self.busy
            scope["state"]["finished"] = self.finished
            await _app(scope, receive, send)

        config = uvicorn.Config(
            app, log_config=None, access_log=False, http=http, timeout_keep_alive=keep_alive
        )
        self.server = uvicorn.Server(config)
        self.released = asyncio.Event()
        self.busy = threading.Event()
        self.finished: list[tuple[bytes, float]] = []
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def __enter__(self) -> _Served:
        self.thread.start()
        while not self.server.started:
            assert self.thread.is_alive(), "the server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()

    def connect(self) -> socket.socket:
        conn = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def connections(self) -> list[HttpProtocol]:
        return list(self.server.server_state.connections)  # type: ignore[arg-type]


def _request(path: str, body: bytes = b"", close: bool = False) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nhost: t\r\ncontent-length: {len(body)}\r\n"
    return (head + ("connection: close\r\n" if close else "") + "\r\n").encode() + body


class _Reader:
    """HTTP/1.1 answers off one connection, parsed as a client would."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.buffer = b""

    def _more(self) -> None:
        chunk = self.conn.recv(1 << 20)
        if not chunk:
            raise EOFError(self.buffer)
        self.buffer += chunk

    def until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._more()
        got, _, self.buffer = self.buffer.partition(marker)
        return got + marker

    def answer(self) -> tuple[bytes, bytes]:
        head = self.until(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(self.buffer) < length:
            self._more()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return head, body

    def closed(self) -> bool:
        """Whether the server closes the connection with nothing more sent (waits for it)."""
        self.conn.settimeout(30)
        return self.conn.recv(1) == b"" and not self.buffer


def _eventually(condition: Any) -> bool:
    for _ in range(3000):
        if condition():
            return True
        time.sleep(0.01)
    return False


def test_pipelined_requests_are_answered_in_order_in_whole() -> None:
    with _Served(keep_alive=5) as served, served.connect() as conn:
        conn.sendall(_request("/a", b"1") + _request("/b", b"22") + _request("/c", b"333"))
        reader = _Reader(conn)
        answers = [reader.answer() for _ in range(3)]
        assert [body for _, body in answers] == [b"/a 1", b"/b 2", b"/c 3"]
        assert all(head.startswith(b"HTTP/1.1 200 OK\r\n") for head, _ in answers)
        # Pipelined again, the last asking to close: answered, then closed.
        conn.sendall(_request("/d") + _request("/e", close=True))
        assert [reader.answer()[1] for _ in range(2)] == [b"/d 0", b"/e 0"]
        assert reader.closed()


def test_large_bodies_both_ways() -> None:
    with _Served(keep_alive=5) as served, served.connect() as conn:
        upload = bytes(range(256)) * (_BIG // 256)
        conn.sendall(_request("/up", upload) + _request("/big"))
        reader = _Reader(conn)
        assert reader.answer()[1] == f"/up {_BIG}".encode()
        assert reader.answer()[1] == b"x" * _BIG


def test_a_streamed_answer_leaves_while_the_app_still_works() -> None:
    # The head and the first part are held only to the end of the turn: the client sees them
    # while the app waits (for a request the client sends only once it has seen them).
    with _Served(keep_alive=5) as served, served.connect() as conn, served.connect() as other:
        conn.sendall(_request("/stream"))
        reader = _Reader(conn)
        head = reader.until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"transfer-encoding: chunked" in head
        assert reader.until(b"first\r\n") == b"5\r\nfirst\r\n"
        other.sendall(_request("/release"))
        assert _Reader(other).answer()[1] == b"/release 0"
        assert reader.until(b"0\r\n\r\n") == b"4\r\nlast\r\n0\r\n\r\n"


def test_errors_answer_and_close() -> None:
    with _Served(keep_alive=5) as served:
        with served.connect() as conn:
            conn.sendall(_request("/boom"))
            reader = _Reader(conn)
            head, body = reader.answer()
            assert head.startswith(b"HTTP/1.1 500 ") and b"connection: close" in head
            assert body == b"Internal Server Error"
            assert reader.closed()
        with served.connect() as conn:
            conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            reader = _Reader(conn)
            head, _ = reader.answer()
            assert head.startswith(b"HTTP/1.1 400 ")
            assert reader.closed()


def test_a_client_that_leaves_early_leaves_nothing_behind() -> None:
    with _Served(keep_alive=5) as served:
        with served.connect() as conn:
            conn.sendall(_request("/a"))
            _Reader(conn).answer()
            (protocol,) = served.connections()
            assert protocol.timeout_keep_alive_task is not None  # idle: the timer is armed
        with served.connect() as conn:
            conn.sendall(_request("/a", b"halfway")[:-3])  # gone before the request is whole
        assert _eventually(lambda: not served.connections())
        assert protocol.timeout_keep_alive_task is None  # cancelled with the connection
        with served.connect() as conn:
            conn.sendall(_request("/after"))
            assert _Reader(conn).answer()[1] == b"/after 0"


def test_keep_alive_closes_an_idle_connection_and_only_an_idle_one() -> None:
    # keep_alive 2 s; times from the first answer. Its timer fires at 2 with a request in hand
    # (answered at 3): no close. The next, armed at 3, fires at 5 with the connection idle
    # since 4 (/b): no close, it looks again at 6; /c at 5.5 is answered. It closes at 7.5,
    # idle for 2 s.
    with _Served(keep_alive=2) as served, served.connect() as conn:
        reader = _Reader(conn)
        conn.sendall(_request("/a"))
        assert reader.answer()[1] == b"/a 0"
        time.sleep(0.5)
        conn.sendall(_request("/slow?2.5"))
        assert reader.answer()[1] == b"/slow 0"
        time.sleep(1)
        conn.sendall(_request("/b"))
        assert reader.answer()[1] == b"/b 0"
        time.sleep(1.5)
        conn.sendall(_request("/c"))
        assert reader.answer()[1] == b"/c 0"
        assert reader.closed()


@pytest.mark.parametrize("within", [HttpProtocol.send_within, 0.0, 3600.0])
def test_an_answer_does_not_wait_for_every_request_that_arrived_with_it(within: float) -> None:
    with _Served(keep_alive=5, http=HttpProtocol.sending_within(within)) as served:
        conns = [served.connect() for _ in range(5)]
        for conn in conns:  # accepted and served once, so that later they are read in one turn
            conn.sendall(_request("/ready"))
            assert _Reader(conn).answer()[1] == b"/ready 0"
        blocker = served.connect()
        blocker.sendall(_request("/busy?0.3"))
        assert served.busy.wait(10)  # the loop is held: the five requests arrive together
        for conn in conns:
            conn.sendall(_request("/busy?0.05"))
        with selectors.DefaultSelector() as sel:
            for conn in conns:
                sel.register(conn, selectors.EVENT_READ)
            assert sel.select(timeout=30)
            first_answer = time.monotonic()
        for conn in [*conns, blocker]:
            assert _Reader(conn).answer()[0].startswith(b"HTTP/1.1 200")
            conn.close()
        finished = [at for query, at in served.finished if query == b"0.05"]
        assert len(finished) == 5
        # Held to the end of the turn (a bound longer than the turn), the first answer leaves
        # only after all five are done.
        assert (first_answer < max(finished)) == (within < 0.05)


def test_a_client_that_half_closes_still_gets_its_answer() -> None:
    # shutdown(SHUT_WR) after the request: the peer still reads. The event loop closes the
    # transport on the EOF, so what is held has to leave first.
    with _Served(keep_alive=5) as served:
        for _ in range(20):
            conn = served.connect()
            conn.sendall(_request("/half"))
            conn.shutdown(socket.SHUT_WR)
            head, body = _Reader(conn).answer()
            assert head.startswith(b"HTTP/1.1 200") and body == b"/half 0"
            conn.close()
