"""api/http/transport.py: a turn's writes leave in one send, in order, and nothing is lost or
sent after the connection is gone. Real sockets (a socketpair) under a real event loop; the
served answers themselves are checked byte for byte by the service tests (they run `huren
serve`, which uses this protocol)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from api.http.transport import _JoinedWrites


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
    return recorded, _JoinedWrites(recorded, loop), peer  # type: ignore[arg-type]


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


def test_everything_else_is_the_transports() -> None:
    async def main() -> None:
        recorded, joined, peer = await _pair()
        assert joined.get_extra_info("socket") is recorded.transport.get_extra_info("socket")
        assert not joined.is_closing()
        joined.close()
        assert joined.is_closing()
        peer.close()

    asyncio.run(main())
