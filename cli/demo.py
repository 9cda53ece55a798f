"""`huren demo`: the Shenzhen-Zhongshan demo world (init, renew, export-server). The demo
package is imported lazily: the command line works without it."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import Any

from cli.common import PROG, UsageError, command_group, load_part, positive_int, utc_now


def cmd_demo_init(args: argparse.Namespace) -> int:
    target = Path(args.dir)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} exists and is not a directory")
    if (target / "huren.json").exists():
        raise UsageError(f"{target / 'huren.json'} exists; the demo world is already there")
    demo = load_part("demo.world", "the demo world")
    demo.write_demo(target, demo.build_demo_world(utc_now()))
    print(f"demo world written to {target}")
    print(f"  start the service: {PROG} serve --config {target / 'huren.json'}")
    print(f"  demo API keys: {target / 'demo-credentials.txt'}")
    return 0


def cmd_demo_export_server(args: argparse.Namespace) -> int:
    export = load_part("demo.export", "the export")
    source, out = Path(args.dir), Path(args.out)
    try:
        written = export.export_server_directory(source / "huren.json", out)
    except export.ExportError as exc:
        raise UsageError(str(exc)) from exc
    print(f"server directory written to {out}: {', '.join(written)} (no operator keys)")
    print(f"  for the container image (uid 10001): chown -R 10001:10001 {out}")
    return 0


def cmd_demo_renew(args: argparse.Namespace) -> int:
    target = Path(args.dir)
    if not (target / "huren.json").is_file():
        raise UsageError(f"no demo world in {target}: create one with `{PROG} demo init {target}`")
    demo = load_part("demo.world", "the demo world")
    within = timedelta(days=args.within_days)
    done = demo.renew_demo(target, utc_now(), within=within)
    for line in done:
        print(f"renewed {line}")
    if not done:
        print(f"nothing in {target} lapses within {args.within_days} days: kept as it is")
    return 0


def add_parser(sub: Any) -> None:
    demo = command_group(sub, "demo", "the Shenzhen-Zhongshan demo world")
    g = demo.add_parser("init", help="create a complete demo world in DIR")
    g.add_argument("dir", metavar="DIR", help="a new or empty directory, e.g. .demo")
    g.set_defaults(func=cmd_demo_init)
    g = demo.add_parser(
        "renew", help="keep the demo in DIR: renew its lists that lapse soon (make run does this)"
    )
    g.add_argument("dir", metavar="DIR", help="the demo's directory, e.g. .demo")
    g.add_argument(
        "--within-days",
        type=positive_int,
        default=3,
        help="renew what lapses within this many days (default 3), e.g. --within-days 7",
    )
    g.set_defaults(func=cmd_demo_renew)
    g = demo.add_parser(
        "export-server",
        help="copy what a server needs from DIR into OUT, without operator keys "
        "(docs/deployment.md), e.g. huren demo export-server .demo srv",
    )
    g.add_argument("dir", metavar="DIR", help="a directory holding huren.json, e.g. .demo")
    g.add_argument("out", metavar="OUT", help="the new server directory (absent or empty)")
    g.set_defaults(func=cmd_demo_export_server)
