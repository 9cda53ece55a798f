"""What every `huren` command shares: the parser class, the one-line errors, reading files
and times, tables, the --config option, and the options several command groups take."""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import logging
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, Protocol, TypeVar

from keys import (
    GeneralJWS,
    KeyMaterialError,
    MalformedJSON,
    PublicKey,
    SigningKey,
    public_key_from_jwk,
    strict_json_loads,
)
from keys.certificate_keys import MAX_CERT_FILE_BYTES, CertificateKey, read_certificate
from trust_lists.anchors import load_anchors
from trust_lists.errors import DocumentTooLarge, MalformedDocument, TrustStateError
from trust_lists.model import TrustList
from trust_lists.signed import (
    MAX_TRUST_LIST_BYTES,
    UNSIGNED_DRAFT,
    Anchor,
    SignedTrustList,
)
from trust_lists.storage import TrustDirectory, atomic_write
from trust_lists.store import TrustStore
from trust_lists.text import shown
from trust_lists.timeutil import parse_time

PROG = "huren"
_D = TypeVar("_D")
MAX_JWK_BYTES = 64 * 1024
_KID = re.compile(r"\A[A-Za-z0-9_-]{43}\Z")


class UsageError(Exception):
    """The command line itself is wrong (exit status 2)."""


class PartMissing(Exception):
    """A part of huren a command needs is not installed (the container image holds no demo
    world): one line on stderr, exit status 1."""


# Old spellings of an option, still accepted but not shown in --help: one name per idea.
HIDDEN_ALIASES: frozenset[str] = frozenset({"--trust", "--trust-dir"})
TIME_HELP = "RFC 3339 UTC like 2026-11-26T08:00:00Z, or now"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Lists each option under its canonical name only (HIDDEN_ALIASES stay accepted)."""

    def _format_action_invocation(self, action: argparse.Action) -> str:
        shown_names = [o for o in action.option_strings if o not in HIDDEN_ALIASES]
        if shown_names == action.option_strings:
            return super()._format_action_invocation(action)
        visible = copy.copy(action)
        visible.option_strings = shown_names
        return super()._format_action_invocation(visible)


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and no exit: main() decides the status."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


# -- small helpers -----------------------------------------------------------------------------


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def time_arg(text: str) -> datetime:
    """An RFC 3339 UTC time like 2026-11-26T08:00:00Z, or `now`."""
    if text == "now":
        return utc_now()
    try:
        return parse_time(text, "time")
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid time {text!r}: use RFC 3339 UTC like 2026-11-26T08:00:00Z, or now"
        ) from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def read_bytes(path: str | Path, limit: int) -> bytes:
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise DocumentTooLarge(f"{path} is larger than {limit} bytes")
    return data


def read_passphrase(env: str | None) -> bytes | None:
    if env is None:
        return None
    value = os.environ.get(env)
    if not value:
        raise UsageError(f"environment variable {env} (--passphrase-env) is not set or empty")
    return value.encode("utf-8")


def read_public_key(path: str) -> PublicKey:
    """A public JWK file (as written by `huren keys generate`). Private keys are refused."""
    data = read_bytes(path, MAX_JWK_BYTES)
    if data.lstrip().startswith(b"-----BEGIN"):
        raise KeyMaterialError(
            f"{path} is a PEM private key; give its public JWK file ({path}.jwk.json) instead"
        )
    try:
        return public_key_from_jwk(strict_json_loads(data, max_bytes=MAX_JWK_BYTES))
    except (KeyMaterialError, MalformedJSON) as exc:
        raise KeyMaterialError(f"{path}: {exc}") from exc


def read_certificate_key(path: str) -> CertificateKey:
    """An X.509 certificate file (DER or PEM; SM2 or P-256) as a trust-list key."""
    return read_certificate(read_bytes(path, MAX_CERT_FILE_BYTES), path)


def service_keys(args: argparse.Namespace) -> list[PublicKey]:
    """The keys of `--key JWK...` and `--cert FILE...`, in that order; at least one."""
    keys = [read_public_key(p) for p in args.key or ()]
    keys += [read_certificate_key(p).key for p in args.cert or ()]
    if not keys:
        raise UsageError("give the service's keys: --key JWK or --cert CERTIFICATE")
    return keys


def with_path(exc: TrustStateError, path: str) -> TrustStateError:
    return type(exc)(f"{path}: {exc}")


def read_draft_or_signed(
    path: str, limit: int, parse_signed: Callable[[bytes], _D], parse_draft: Callable[[Any], Any]
) -> tuple[Any, _D | None]:
    """A draft (the unsigned payload as JSON, read by `parse_draft`) or a signed envelope (read
    by `parse_signed`): (the draft's document or None, the envelope or None)."""
    data = read_bytes(path, limit)
    try:
        doc = strict_json_loads(data, max_bytes=limit)
    except MalformedJSON as exc:
        raise MalformedDocument(f"{path}: {exc}") from exc
    try:
        if isinstance(doc, dict) and "payload" in doc and "signatures" in doc:
            return None, parse_signed(data)
        return parse_draft(doc), None
    except TrustStateError as exc:
        raise with_path(exc, path) from exc


def read_list_file(path: str) -> tuple[TrustList, SignedTrustList | None]:
    """A draft (the unsigned payload as JSON) or a signed envelope; the list and the envelope."""
    draft, signed = read_draft_or_signed(
        path, MAX_TRUST_LIST_BYTES, SignedTrustList.parse, TrustList.from_dict
    )
    return (signed.trust_list if signed is not None else draft), signed


class _Combinable(Protocol):
    @property
    def digest(self) -> str: ...

    @property
    def envelope(self) -> GeneralJWS: ...

    def combine(self, other: Any) -> Any: ...


_S = TypeVar("_S", bound=_Combinable)


def combine_files(args: argparse.Namespace, read: Callable[[str], _S], what: str) -> int:
    """`huren list|catalogue combine`: the signatures of separately signed copies of one
    document, written to --out; copies of another document are refused."""
    result = read(args.files[0])
    for path in args.files[1:]:
        part = read(path)
        if part.digest != result.digest:
            raise MalformedDocument(
                f"{path} signs another {what} than {args.files[0]} "
                f"(sha256:{part.digest[:16]}... vs sha256:{result.digest[:16]}...)"
            )
        result = result.combine(part)
    write_output(args.out, result.envelope.to_json())
    kids = ", ".join(s.kid for s in result.envelope.signatures)
    say(args, f"combined {len(result.envelope.signatures)} signature(s) -> {args.out}: {kids}")
    return 0


def sign_and_combine_parsers(
    actions: Any, what: str, sign: Callable[..., int], combine: Callable[..., int]
) -> None:
    """The `sign` and `combine` actions of `huren list` and `huren catalogue`."""
    g = actions.add_parser("sign", help=f"sign a draft (or add a signature to a signed {what})")
    g.add_argument("file", metavar="FILE", help=f"the draft, or a {what} signed by others")
    g.add_argument("--key", required=True, help="operator private key (PEM), e.g. --key op1.pem")
    passphrase_arg(g)
    out_arg(g, f"the signed {what}")
    g.set_defaults(func=sign)

    g = actions.add_parser("combine", help=f"combine separately made signatures over one {what}")
    g.add_argument("files", nargs="+", metavar="FILE", help=f"signed copies of the same {what}")
    out_arg(g, f"the {what} with every signature")
    g.set_defaults(func=combine)


def read_signed_file(path: str) -> SignedTrustList:
    _, signed = read_list_file(path)
    if signed is None:
        raise MalformedDocument(f"{path}: {UNSIGNED_DRAFT}")
    return signed


def draft_json(tl: TrustList) -> bytes:
    """The draft form: the payload pretty-printed (signing uses its canonical form)."""
    return (json.dumps(tl.to_dict(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_draft(tl: TrustList, path: str) -> TrustList:
    """Check the list as a verifier would parse it, then write it atomically."""
    checked = TrustList.from_dict(tl.to_dict())
    write_output(path, draft_json(checked))
    return checked


def say(args: argparse.Namespace, text: str) -> None:
    """Progress for the administrator: on stdout, or stderr when stdout carries the output."""
    to_stdout = getattr(args, "out", None) != "-"
    print(text, file=sys.stdout if to_stdout else sys.stderr)


class _Draft(Protocol):
    @property
    def sequence(self) -> int: ...


_T = TypeVar("_T", bound=_Draft)


def edit_draft(
    args: argparse.Namespace,
    read: Callable[[str], tuple[_T, object | None]],
    write: Callable[[_T, str], _T],
    edit: Callable[[_T], _T],
    done: str,
    *,
    kind: str,
    bump: str,
) -> int:
    """Edit the draft or signed `kind` in args.file into a draft at --out (or in place when
    it is a draft); a signed one is never overwritten by a draft. `bump` is the command that
    raises the sequence, suggested when the edit left it where the signed one was."""
    doc, signed = read(args.file)
    target = args.out or args.file
    if signed is not None and not args.out:
        raise UsageError(f"{args.file} is a signed {kind}; give --out for the new draft")
    new = write(edit(doc), target)
    say(args, f"{done} -> draft {target} (sequence {new.sequence})")
    if signed is not None and new.sequence <= doc.sequence:
        say(args, f"note: the sequence is still {new.sequence}; run `{bump}`")
    return 0


def edit_command(
    group: Any, name: str, help_text: str, *, signed: str, metavar: str | None = "FILE"
) -> argparse.ArgumentParser:
    """A command of `group` that edits a draft, or a signed `signed` into a new draft."""
    e: argparse.ArgumentParser = group.add_parser(name, help=help_text)
    e.add_argument(
        "file", metavar=metavar, help=f"draft (edited in place unless --out) or signed {signed}"
    )
    e.add_argument(
        "--out", metavar=metavar, help=f"write the new draft here (needed for a signed {signed})"
    )
    return e


class _Signed(Protocol):
    @property
    def digest(self) -> str: ...

    def add_signature(self, key: SigningKey) -> Any: ...

    def to_json(self) -> bytes: ...


def sign_file(
    args: argparse.Namespace,
    doc: _T,
    signed: _Signed | None,
    create: Callable[[_T, list[SigningKey]], _Signed],
    what: str,
) -> SigningKey:
    """`huren list|catalogue sign`: sign the draft with --key, or add --key's signature to the
    signed document; write it to --out. The key is returned for the caller's own checks."""
    key = SigningKey.load(args.key, read_passphrase(args.passphrase_env))
    result = create(doc, [key]) if signed is None else signed.add_signature(key)
    write_output(args.out, result.to_json())
    say(args, f"signed {what} sequence {doc.sequence} with {key.kid} -> {args.out}")
    say(args, f"  digest sha256:{result.digest}")
    return key


def write_output(path: str, data: bytes) -> None:
    """Write a file atomically; `-` is standard output. Never replaces anything but a regular
    file (an atomic rename onto /dev/null would replace the device itself)."""
    if path == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    target = Path(path)
    if target.is_symlink() or (target.exists() and not target.is_file()):
        raise UsageError(f"{path} exists and is not a regular file; refusing to replace it")
    atomic_write(target, data)


# -- display -----------------------------------------------------------------------------------


def display_width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "") -> str:
    widths = [display_width(h) for h in headers]
    for row in rows:
        widths = [max(w, display_width(c)) for w, c in zip(widths, row, strict=True)]
    lines = []
    for row in (headers, *rows):
        cells = [pad(c, w) for c, w in zip(row, widths, strict=True)]
        lines.append((indent + "  ".join(cells)).rstrip())
    return "\n".join(lines)


def relative(target: datetime, now: datetime) -> str:
    seconds = int((target - now).total_seconds())
    span = abs(seconds)
    if span >= 86400:
        text = f"{span // 86400}d{(span % 86400) // 3600}h"
    elif span >= 3600:
        text = f"{span // 3600}h{(span % 3600) // 60}m"
    else:
        text = f"{span // 60}m{span % 60}s"
    return f"in {text}" if seconds > 0 else f"{text} ago"


# -- commands: trust store, demo, service ------------------------------------------------------


def config_path(path: str) -> str:
    """`--config` names huren.json or the service directory holding it."""
    return str(Path(path) / "huren.json") if Path(path).is_dir() else path


def read_config(path: str) -> tuple[list[Anchor], TrustDirectory, timedelta]:
    """What the offline commands need from huren.json, read exactly as the service reads it
    (api.settings: paths relative to the file, HUREN_* environment variables win)."""
    from api.settings import Settings  # light: no FastAPI, no Redis

    # The service's warning about a missing cache secret means nothing to an offline command.
    logging.getLogger("huren.settings").setLevel(logging.ERROR)
    settings = Settings.load(config_path(path))
    if settings.anchors is None or settings.trust_dir is None:
        raise MalformedDocument(f"{path}: 'anchors' and 'trust_dir' are both needed")
    return (
        load_anchors(settings.anchors),
        TrustDirectory(settings.trust_dir),
        timedelta(seconds=settings.grace_seconds),
    )


def open_store(config: str) -> TrustStore:
    anchors, directory, grace = read_config(config)
    store = TrustStore(anchors, directory, grace=grace)
    for problem in store.load():
        print(f"warning: {problem}", file=sys.stderr)
    return store


# -- the parser --------------------------------------------------------------------------------


def config_option(g: argparse.ArgumentParser, *aliases: str) -> None:
    """`--config`, the one name for "which service" (its huren.json or directory)."""
    g.add_argument(
        "--config",
        *aliases,
        dest="config",
        required=True,
        metavar="CONFIG",
        help="the service's huren.json, or the directory holding it, e.g. --config .demo",
    )


def one_line(text: str) -> str:
    return shown(" ".join(str(text).split()))


# -- options shared by several commands ------------------------------------------------------


def out_arg(g: argparse.ArgumentParser, what: str, *, required: bool = True) -> None:
    g.add_argument("--out", required=required, metavar="FILE", help=f"{what}; - for stdout")


def passphrase_arg(g: argparse.ArgumentParser) -> None:
    g.add_argument(
        "--passphrase-env",
        metavar="VAR",
        help="the private key's passphrase is in this environment variable, "
        "e.g. --passphrase-env HUREN_KEY_PASS",
    )


def at_arg(g: argparse.ArgumentParser, what: str) -> None:
    g.add_argument(
        "--at", type=time_arg, default="now", metavar="TIME", help=f"{what}: {TIME_HELP}"
    )


def threshold_arg(g: argparse.ArgumentParser, what: str) -> None:
    g.add_argument(
        "--threshold",
        required=True,
        type=positive_int,
        help=f"how many {what} must sign each list, e.g. --threshold 2 (of 3 operators)",
    )


def operators_arg(g: argparse.ArgumentParser, *, required: bool) -> None:
    g.add_argument(
        "--operator",
        required=required,
        nargs="+",
        action="extend",
        metavar="JWK",
        help="operator public JWK files (from `huren keys generate`), "
        "e.g. --operator op1.pem.jwk.json op2.pem.jwk.json",
    )


def valid_days_arg(g: argparse.ArgumentParser) -> None:
    g.add_argument(
        "--valid-days",
        type=positive_int,
        default=30,
        help="days from the issue time to the list's next update (default 30), "
        "e.g. --valid-days 30",
    )


def issued_at_arg(g: argparse.ArgumentParser) -> None:
    g.add_argument(
        "--issued-at",
        type=time_arg,
        default="now",
        metavar="TIME",
        help=f"the list's issue time (default now): {TIME_HELP}",
    )


def granted_from_arg(g: argparse.ArgumentParser) -> None:
    g.add_argument(
        "--granted-from",
        required=True,
        type=time_arg,
        metavar="TIME",
        help=f"the key is trusted for what it signs from this time on: {TIME_HELP}, "
        "e.g. --granted-from now",
    )


def command_group(sub: Any, name: str, help_text: str) -> Any:
    """`huren NAME ACTION ...`: a command whose actions are subcommands."""
    return sub.add_parser(name, help=help_text).add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )


def load_part(module: str, what: str) -> Any:
    """Import a part of huren only the command that uses it needs (the web stack, the demo
    world), so the rest of the command line starts fast and works without it."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        # The module, or its whole package (the image holds no demo/): missing either way.
        if exc.name == module:
            path = module.replace(".", "/") + ".py"
        elif exc.name is not None and module.startswith(f"{exc.name}."):
            path = exc.name.replace(".", "/") + "/"
        else:
            raise
        raise PartMissing(f"{what} is not available ({path} is missing)") from None
