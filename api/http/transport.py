"""uvicorn's HTTP/1.1 protocol with a response's writes sent together.

uvicorn (httptools) writes a response's head and its body as two `transport.write` calls; on an
idle socket each is its own `send` system call, and on loopback each delivers to the peer in our
process's time. Here the writes one turn of the event loop makes are joined and sent once at the
end of that turn: the same bytes in the same order, one system call for the usual answer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _JoinedWrites:
    """A transport whose writes are held until the end of the event loop's turn, then sent
    as one; everything else is the wrapped transport's."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self._send)
        self._held.append(data)

    def _send(self) -> None:
        held = self._held
        if held:
            self._held = []
            # Gone meanwhile (the peer reset, an abort): dropped, as the kernel would drop it;
            # uvicorn itself writes nothing once it knows of the disconnect.
            if not self._transport.is_closing():
                self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self._send()  # what was written goes before the close, as it would have
        self._transport.close()

    def write_eof(self) -> None:
        self._send()
        self._transport.write_eof()

    def abort(self) -> None:
        self._held = []
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._held))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a transport that joins a turn's writes."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_JoinedWrites(transport, self.loop))  # type: ignore[arg-type]
