"""One server process of a benchmark: uvicorn on its own SO_REUSEPORT socket.

    python -m bench.serve --app MODULE:FACTORY --port P [--http MODULE:FACTORY]

The parent starts one of these per worker, all on the same port: the kernel spreads connections
evenly over the processes' sockets (unlike `uvicorn --workers N`, whose shared socket can hand a
burst of connections to one worker). Every app in a run gets the same settings here, but for the
HTTP protocol: the baselines run on uvicorn's own httptools protocol, as their users would run
them, and huren on the protocol `huren serve` runs it on (`--http`, api/http/transport.py)."""

from __future__ import annotations

import argparse
import socket
import threading
import time
from pathlib import Path

import uvicorn
from uvicorn.importer import import_from_string

# The one set of uvicorn settings used for every app in the benchmark.
UVICORN_SETTINGS: dict[str, object] = {
    "loop": "uvloop",
    "http": "httptools",
    "lifespan": "auto",
    "access_log": False,
    "log_level": "warning",
    "backlog": 2048,
    "timeout_keep_alive": 30,
    "timeout_graceful_shutdown": 2,
    "proxy_headers": False,  # as `huren serve` (api/server.py)
}
# The protocol `huren serve` runs the service on (api/server.py `_serve_one`), made from the same
# settings as the app (HUREN_CONFIG, HUREN_SEND_WITHIN_SECONDS, ...).
SERVICE_PROTOCOL = "api.server:protocol_from_env"


def reuseport_socket(host: str, port: int, *, listen: bool = True) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(2048)
        sock.set_inheritable(True)
    return sock


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--app", required=True, help="module:factory (called with no arguments)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ready-file", type=Path, help="touched once this process serves")
    p.add_argument(
        "--http",
        default="httptools",
        help="uvicorn's name of a protocol, or module:factory (called with no arguments)",
    )
    a = p.parse_args()
    sock = reuseport_socket(a.host, a.port)
    settings = dict(UVICORN_SETTINGS)
    if ":" in a.http:
        settings["http"] = import_from_string(a.http)()
    config = uvicorn.Config(a.app, factory=True, **settings)  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    if a.ready_file is not None:

        def announce() -> None:
            while not server.started and not server.should_exit:
                time.sleep(0.005)
            if server.started:
                a.ready_file.write_text("ready\n")

        threading.Thread(target=announce, daemon=True).start()
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
