"""uvicorn's HTTP/1.1 protocol with a response's writes sent together, and its keep-alive timer
armed once per idle spell rather than once per request.

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

    def is_closing(self) -> bool:
        # Once per request (uvicorn asks when an answer completes): through __getattr__, after
        # the ordinary lookup has failed, it would cost as much as the rest of this class.
        return self._transport.is_closing()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._held))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a transport that joins a turn's writes.

    Keep-alive: uvicorn cancels its idle timer when data arrives and starts a new one
    (`call_later`) when each answer completes, a timer made and unmade per request. Here the
    timer stays armed across requests: an answer notes when the connection fell idle, arriving
    data notes it busy, and the timer when it fires closes the connection only if it has been
    idle for `timeout_keep_alive` since; else it is set again for the rest of that time (or,
    busy, left to the next answer to arm). The connection closes at the moment uvicorn's would.
    """

    _idle_since: float | None = None  # loop time the last answer completed; None while busy

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_JoinedWrites(transport, self.loop))  # type: ignore[arg-type]

    def _unset_keepalive_if_required(self) -> None:
        # uvicorn calls this when data arrives: busy, not idle (and on a clean connection_lost,
        # which cancels the timer below).
        self._idle_since = None

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None

    def on_response_complete(self) -> None:
        """uvicorn's, with the idle timer kept (class docstring)."""
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        self._idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self._keep_alive_expired
            )

    def _keep_alive_expired(self) -> None:
        self.timeout_keep_alive_task = None
        if self._idle_since is None:
            return  # busy: the answer in hand arms the timer again when it completes
        left = self._idle_since + self.timeout_keep_alive - self.loop.time()
        if left > 0:
            self.timeout_keep_alive_task = self.loop.call_later(left, self._keep_alive_expired)
        else:
            self.timeout_keep_alive_handler()
