"""Running the service: `huren serve --config huren.json` calls `serve`, and
`uvicorn --factory api.server:app_from_env` builds the app from $HUREN_CONFIG (plus HUREN_*).

Stopping: on SIGTERM the process drains: `/readyz` answers 503 at once while every request,
in flight or newly arriving, is still served for `drain_seconds` (load balancers and Kubernetes
need that long to stop sending); then the listener closes, requests in flight get up to
SHUTDOWN_GRACE_SECONDS, and the process exits. SIGINT (Ctrl-C), or a second SIGTERM, skips the
drain.

`--workers N` runs N processes, each listening on the same port (SO_REUSEPORT: the kernel spreads
connections evenly) under a supervisor that forwards signals and replaces a worker that dies.
They share trust state through the trust directory (its writers' lock and STAMP, checked before
every verdict: trust_lists/storage.py) and, when configured, Redis."""

from __future__ import annotations

import errno
import gc
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import time
from pathlib import Path
from types import FrameType

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from api.context import Lifecycle
from api.http.transport import HttpProtocol
from api.obs.logs import configure_logging
from api.settings import Settings, SettingsError

log = logging.getLogger("huren.server")

GC_THRESHOLD = (20_000, 20, 20)
SHUTDOWN_GRACE_SECONDS = 10  # after the drain: requests still in flight get this long
STARTUP_FAILURE = 3  # a worker's exit code when it could not start (as uvicorn's)


def build(config_path: Path | str | None) -> FastAPI:
    """Settings from the file and environment, JSON logs, the trust store loaded, the app."""
    settings = Settings.load(config_path)
    configure_logging(settings.log_level)
    app = create_app(settings)
    # Everything built so far (modules, the trust store, the app) lives as long as the process:
    # move it out of the collector's generations, so collections under load only scan what
    # requests allocate and do not pause the event loop to re-walk the trust state. (No
    # gc.collect() first: it would add a full collection to every start-up.)
    gc.freeze()
    # A request allocates a few hundred short-lived containers, nearly all freed by reference
    # counting; with the default threshold (700) the young generation is scanned every few
    # requests. Fewer, larger collections: ~5% less CPU per uncached verification (bench 2a),
    # at the price of a young-generation pause of about a millisecond now and then.
    gc.set_threshold(GC_THRESHOLD[0], GC_THRESHOLD[1], GC_THRESHOLD[2])
    state = app.state.ctx.store.state
    log.info(
        "huren service configured",
        extra={
            "fields": {
                "config": str(settings.config_path) if settings.config_path else None,
                "jurisdictions": app.state.ctx.store.jurisdictions,
                "lists": {code: s.trust_list.sequence for code, s in state.lists.items()},
                "trust_state_version": state.version,
                "redis": settings.redis_mode
                if settings.redis_url or settings.redis_mode != "standalone"
                else None,
                "instance_id": settings.instance_id,
            }
        },
    )
    return app


class DrainingServer(uvicorn.Server):
    """uvicorn's server, draining on the first SIGTERM instead of closing the listener."""

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle, drain_seconds: float) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle
        self.drain_seconds = drain_seconds
        self._drain_until: float | None = None
        self._announced = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and self._drain_until is None and self.drain_seconds > 0:
            # In a signal handler: set state only; on_tick logs and ends the drain.
            self.lifecycle.begin_drain()
            self._drain_until = time.monotonic() + self.drain_seconds
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        until = self._drain_until
        if until is not None:
            if not self._announced:
                self._announced = True
                log.info(
                    "SIGTERM: draining (/readyz 503, requests still served) for %.1f s",
                    self.drain_seconds,
                )
            if time.monotonic() >= until:
                self.should_exit = True
        return await super().on_tick(counter)


def _serve_one(config_path: Path | str, host: str, port: int, sock: socket.socket | None) -> None:
    app = build(config_path)
    settings: Settings = app.state.ctx.settings
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # keep our JSON logging
        access_log=False,  # one access line per request comes from our middleware
        # The app reads X-Forwarded-For itself, from configured proxies only
        # (forwarded_allow_ips): uvicorn's default would believe any loopback peer.
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,
        http=protocol_for(settings),
    )
    server = DrainingServer(config, app.state.ctx.lifecycle, settings.drain_seconds)
    server.run(sockets=[sock] if sock is not None else None)
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def serve(config_path: Path | str, host: str, port: int, workers: int | None = None) -> None:
    """Run the service in the foreground until stopped; `workers` overrides the setting."""
    check_port_free(host, port)  # before anything else: the port is the commonest clash
    settings = Settings.load(config_path)
    count = settings.workers if workers is None else workers
    if count < 1:
        raise SettingsError("--workers must be at least 1")
    if count == 1:
        _serve_one(config_path, host, port, None)
        return
    if settings.trust_dir is None and not settings.redis_url:
        raise SettingsError(
            f"--workers {count} needs a trust_dir (the workers share it) or a redis_url: "
            "without either an upload would reach only the worker that received it"
        )
    configure_logging(settings.log_level)
    Supervisor(config_path, host, port, count).run()


def _listening_socket(host: str, port: int) -> socket.socket:
    """This worker's own listener on the shared port (SO_REUSEPORT), bound but not listening:
    uvicorn listens once the app is loaded, and until then the kernel hands the port's
    connections to the workers already serving (listening early would queue some on this one
    for the whole start-up)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    return sock


def _worker_main(config_path: str, host: str, port: int) -> None:
    _serve_one(config_path, host, port, _listening_socket(host, port))


class Supervisor:
    """N worker processes on one port: signals forwarded, a worker that dies replaced (one that
    cannot start stops them all: it would fail again)."""

    def __init__(self, config_path: Path | str, host: str, port: int, count: int) -> None:
        self.args = (str(config_path), host, port)
        self.count = count
        self.stopping = False
        self.context = multiprocessing.get_context("spawn")  # no threads or loop inherited
        self.workers: list[multiprocessing.process.BaseProcess] = []

    def _start(self, index: int) -> multiprocessing.process.BaseProcess:
        worker = self.context.Process(
            target=_worker_main, args=self.args, name=f"huren-worker-{index}", daemon=False
        )
        worker.start()
        log.info("worker %d started", index, extra={"fields": {"worker_pid": worker.pid}})
        return worker

    def _forward(self, sig: int, frame: FrameType | None) -> None:
        self.stopping = True
        for worker in self.workers:
            if worker.pid is not None and worker.is_alive():
                os.kill(worker.pid, sig)

    def run(self) -> None:
        previous = {s: signal.signal(s, self._forward) for s in (signal.SIGTERM, signal.SIGINT)}
        failed = False
        try:
            self.workers = [self._start(i) for i in range(self.count)]
            while True:
                alive = [w for w in self.workers if w.is_alive()]
                if not alive:
                    break
                multiprocessing.connection.wait([w.sentinel for w in alive], timeout=1.0)
                if self.stopping:
                    continue
                for index, worker in enumerate(self.workers):
                    if worker.is_alive():
                        continue
                    if worker.exitcode == STARTUP_FAILURE:
                        log.error("worker %d could not start: stopping the service", index)
                        failed = True
                        self._forward(signal.SIGTERM, None)
                        break
                    log.warning(
                        "worker %d (pid %s) exited with %s: starting another",
                        index,
                        worker.pid,
                        worker.exitcode,
                    )
                    self.workers[index] = self._start(index)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            for worker in self.workers:
                worker.join()
        if failed:
            sys.exit(STARTUP_FAILURE)


class PortBusy(ValueError):
    """The address is taken (another huren, or another service)."""

    code = "port_busy"


def check_port_free(host: str, port: int) -> None:
    """Bind the address as uvicorn will (SO_REUSEADDR, so a closed connection's TIME_WAIT is no
    clash) and let it go; a taken address is one line saying what to do."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return  # uvicorn reports an unresolvable host itself
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise PortBusy(
                f"port {port} on {host} is already in use (another huren still running?); stop "
                f"it or choose another port: `make run PORT={port + 1}` or `huren serve --port "
                f"{port + 1}`",
            ) from None


def protocol_for(settings: Settings) -> type[HttpProtocol]:
    """The HTTP protocol huren is served on: a turn's answers sent together, each within
    send_within_seconds (api/http/transport.py)."""
    return HttpProtocol.sending_within(settings.send_within_seconds)


def protocol_from_env() -> type[HttpProtocol]:
    """`protocol_for` the settings from $HUREN_CONFIG and HUREN_* (as `app_from_env` reads them):
    for a server that builds the app with `app_from_env`, such as the benchmark's."""
    return protocol_for(Settings.load())


def app_from_env() -> FastAPI:
    """ASGI factory: `uvicorn --factory api.server:app_from_env` with HUREN_CONFIG set."""
    config = os.environ.get("HUREN_CONFIG")
    if not config:
        raise RuntimeError("set HUREN_CONFIG to the path of huren.json")
    return build(Path(config))


__all__ = [
    "DrainingServer",
    "Supervisor",
    "app_from_env",
    "build",
    "protocol_for",
    "protocol_from_env",
    "serve",
]
