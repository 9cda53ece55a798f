"""uvicorn's HTTP/1.1 protocol with a response's writes sent together, a bound on how long an
answer may wait for company, and its keep-alive timer armed once per idle spell rather than once
per request.

uvicorn (httptools) writes a response's head and its body as two `transport.write` calls; on an
idle socket each is its own `send` system call, and on loopback each delivers to the peer in our
process's time. Here the writes one turn of the event loop makes are held and sent at the end of
that turn: the same bytes in the same order, one system call for the usual answer, and under load
the answers of a turn leave back to back (their peers wake once for the lot, and so do we: more
answers per core, docs/performance.md). But when requests arrive together, an answer held to the
end of the turn waits for every other request of the turn to be verified. So held answers leave
as soon as an answer completes after the first of them has waited `send_within_seconds` (a
setting; docs/performance.md, "Its price: latency under bunched arrivals").
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import fields
from time import perf_counter
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from api.settings import Settings


class _Sends:
    """One server's connections with writes held: sent at the end of the event loop's turn, or
    as an answer completes once the first of them has waited `within` seconds."""

    __slots__ = ("_held", "_loop", "_since", "within")

    def __init__(self, loop: asyncio.AbstractEventLoop, within: float) -> None:
        self._loop = loop
        self._held: list[_JoinedWrites] = []
        self._since = 0.0
        self.within = within

    def hold(self, conn: _JoinedWrites) -> None:
        """`conn` has begun holding writes."""
        if not self._held:
            self._since = perf_counter()
            self._loop.call_soon(self.send)
        self._held.append(conn)

    def answered(self) -> None:
        """An answer is complete: send now if the first held one has waited long enough."""
        if self._held and perf_counter() - self._since >= self.within:
            self.send()

    def send(self) -> None:
        held = self._held
        if held:
            self._held = []
            for conn in held:
                conn.send()


# One holder per uvicorn server (its ServerState), so that servers on different loops or with
# different bounds never share one; gone with the server.
_SENDS: weakref.WeakKeyDictionary[ServerState, _Sends] = weakref.WeakKeyDictionary()
_SEND_WITHIN_DEFAULT: float = next(
    f.default for f in fields(Settings) if f.name == "send_within_seconds"
)  # type: ignore[assignment]


class _JoinedWrites:
    """A transport whose writes are held (see `_Sends`), then sent as one; everything else is
    the wrapped transport's."""

    __slots__ = ("_held", "_sends", "_transport")

    def __init__(self, transport: asyncio.Transport, sends: _Sends) -> None:
        self._transport = transport
        self._sends = sends
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        if type(data) is not bytes:  # uvicorn writes bytes; anything else is checked and copied
            if not isinstance(data, bytearray | memoryview):
                # Refused here, in the writer's request, as the real transport would refuse it;
                # held, it would fail later in the send of every connection held with it.
                raise TypeError(f"data: expected a bytes-like object, not {type(data).__name__}")
            data = bytes(data)  # held past the call: the writer may reuse its buffer
        if not self._held:
            self._sends.hold(self)
        self._held.append(data)

    def send(self) -> None:
        """Send what is held, if anything."""
        held = self._held
        if held:
            self._held = []
            # Gone meanwhile (the peer reset, an abort): dropped, as the kernel would drop it;
            # uvicorn itself writes nothing once it knows of the disconnect.
            if not self._transport.is_closing():
                self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self.send()  # what was written goes before the close, as it would have
        self._transport.close()

    def write_eof(self) -> None:
        self.send()
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
    """uvicorn's httptools protocol on a transport that holds a turn's writes (`_Sends`).

    Keep-alive: uvicorn cancels its idle timer when data arrives and starts a new one
    (`call_later`) when each answer completes, a timer made and unmade per request. Here the
    timer stays armed across requests: an answer notes when the connection fell idle, arriving
    data notes it busy, and the timer when it fires closes the connection only if it has been
    idle for `timeout_keep_alive` since; else it is set again for the rest of that time (or,
    busy, left to the next answer to arm). The connection closes at the moment uvicorn's would.
    """

    _idle_since: float | None = None  # loop time the last answer completed; None while busy
    _sends: _Sends
    send_within: float = _SEND_WITHIN_DEFAULT  # seconds (`_Sends`); see sending_within

    @classmethod
    def sending_within(cls, seconds: float) -> type[HttpProtocol]:
        """This protocol with held answers sent as soon as an answer completes once the first
        has waited `seconds` (send_within_seconds): the bound plus one request's work in the
        event loop, not a timer."""
        return type(cls.__name__, (cls,), {"send_within": seconds})

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sends = _SENDS.get(self.server_state)
        if sends is None:
            sends = _SENDS[self.server_state] = _Sends(self.loop, self.send_within)
        self._sends = sends
        super().connection_made(_JoinedWrites(transport, self._sends))  # type: ignore[arg-type]

    def eof_received(self) -> None:
        # The peer has finished sending, not reading (a half-close); returning None lets the
        # event loop close the transport, so what is held must go first.
        self.transport.send()  # type: ignore[attr-defined]

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
        """uvicorn's, with the idle timer kept (class docstring), and held answers sent once
        the first has waited long enough (`_Sends`)."""
        self.server_state.total_requests += 1
        self._sends.answered()
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
