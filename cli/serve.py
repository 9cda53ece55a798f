"""`huren serve`: run the verification service (the web stack is imported lazily)."""

from __future__ import annotations

import argparse
from typing import Any

from cli.common import config_option, load_part


def cmd_serve(args: argparse.Namespace) -> int:
    serve = load_part("api.server", "the service").serve
    serve(args.config, args.host, args.port, args.workers)
    return 0


def add_parser(sub: Any) -> None:
    g = sub.add_parser("serve", help="run the verification service")
    config_option(g)
    g.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    g.add_argument(
        "--port", type=int, default=8000, help="port to listen on (default 8000), e.g. --port 8080"
    )
    g.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes serving the port (default: the workers setting, 1); more than one needs "
        "a trust_dir or a redis_url",
    )
    g.set_defaults(func=cmd_serve)
