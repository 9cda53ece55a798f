"""Running the service: `huren serve --config huren.json` calls `serve`, and
`uvicorn --factory api.server:app_from_env` builds the app from $HUREN_CONFIG (plus HUREN_*)."""

from __future__ import annotations

import errno
import gc
import logging
import os
import socket
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from api.app import create_app
from api.obs.logs import configure_logging
from api.settings import Settings

log = logging.getLogger("huren.server")

GC_THRESHOLD = (20_000, 20, 20)


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


def serve(config_path: Path | str, host: str, port: int) -> None:
    """Run the service in the foreground until interrupted."""
    check_port_free(host, port)  # before anything else: the port is the commonest clash
    app = build(config_path)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,  # keep our JSON logging
        access_log=False,  # one access line per request comes from our middleware
        # The app reads X-Forwarded-For itself, from configured proxies only
        # (forwarded_allow_ips): uvicorn's default would believe any loopback peer.
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


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


def app_from_env() -> FastAPI:
    """ASGI factory: `uvicorn --factory api.server:app_from_env` with HUREN_CONFIG set."""
    config = os.environ.get("HUREN_CONFIG")
    if not config:
        raise RuntimeError("set HUREN_CONFIG to the path of huren.json")
    return build(Path(config))


__all__ = ["app_from_env", "build", "serve"]
