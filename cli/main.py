"""`huren`: the administrator's command line.

Key generation, trust-list authoring (drafts are the unsigned payload as pretty JSON; every edit
is a pure function from `trust_lists.authoring`), separate signing by each operator and combining
of the signatures, verification against the pinned anchors or the current trust store, a readable
table and a review diff, offline submission into the store directory, the demo world and the
service.

Errors are one line on stderr: exit status 2 for a usage error, 1 for refused or invalid input,
141 (128 + SIGPIPE, silently) when the reader of stdout has gone away.
Nothing here imports FastAPI or Redis at import time (`serve` and `demo` import lazily)."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import sys
from collections.abc import Callable, Sequence

from cli import catalogue, demo, keys, licence, lists, serve, status, trust, verify
from cli.common import PROG, Parser, PartMissing, UsageError, one_line
from trust_lists.errors import TrustStateError


def _version() -> str:
    try:
        return importlib.metadata.version("huren")
    except importlib.metadata.PackageNotFoundError:  # run from a tree that is not installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description="huren (互认) trust-list administration and service.")
    p.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for group in (keys, lists, catalogue, trust, demo, licence, verify, status, serve):
        group.add_parser(sub)
    return p


def glue_kid_values(argv: Sequence[str]) -> list[str]:
    """A kid is base64url and may start with "-": `--kid VALUE` becomes `--kid=VALUE` so that
    argparse does not mistake such a value for an option."""
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--kid":
            value = next(it, None)
            out.append(arg if value is None else f"--kid={value}")
        else:
            out.append(arg)
    return out


EXIT_CLOSED_PIPE = 141  # 128 + SIGPIPE: what a shell reports for `cat` or `yes` in its place


def _closed_pipe() -> int:
    """The reader went away (`huren list show x | head -1`): stop quietly, as a Unix tool killed
    by SIGPIPE would, with its status. What is still buffered for stdout is dropped: stdout is
    pointed at /dev/null so the interpreter's final flush does not fail again (the Python docs'
    recipe, "Note on SIGPIPE" in the signal module)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout without a file descriptor (captured in a test)
        pass
    return EXIT_CLOSED_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(glue_kid_values(sys.argv[1:] if argv is None else argv))
        func: Callable[[argparse.Namespace], int] = args.func
        status = func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except BrokenPipeError:
        return _closed_pipe()
    except PartMissing as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except UsageError as exc:
        print(f"{PROG}: usage error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except TrustStateError as exc:
        print(f"{PROG}: refused [{exc.code}]: {one_line(str(exc))}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"{PROG}: error:{where}: {one_line(exc.strerror or str(exc))}", file=sys.stderr)
        return 1
    except ValueError as exc:  # KeyMaterialError, MalformedJSON, MalformedJWS, ...
        code = getattr(exc, "code", None)
        tag = f" [{code}]" if isinstance(code, str) else ""
        print(f"{PROG}: error{tag}: {one_line(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("HUREN_DEBUG"):
            raise
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {one_line(str(exc))} "
            "(set HUREN_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
