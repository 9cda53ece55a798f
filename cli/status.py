"""`huren status`: status lists from the command line (revoking and suspending licences and seals).

A status list is edited as a draft (`trust_lists.status_authoring`), reviewed with `show` and
`diff`, signed by the issuer key of the service that publishes it, and submitted to the service
(POST /v1/status-lists) or offline with `huren trust submit`. Unlike a trust list, a status list
token is a compact JWS with exactly one signature (IETF Token Status List): the threshold of
operators vouches for the issuer key in the trust list, and the issuer key signs the status list.

cli/main.py registers it with `status.add_parser(sub)` in build_parser(); the helpers shared
with `huren list` (files, output, times, tables) are in cli/common.py."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from cli.common import (
    PROG,
    UsageError,
    at_arg,
    command_group,
    config_option,
    edit_command,
    non_negative_int,
    open_store,
    positive_int,
    read_bytes,
    read_passphrase,
    relative,
    render_table,
    say,
    time_arg,
    utc_now,
    with_path,
    write_output,
)
from keys import MalformedJSON, SigningKey, strict_json_loads
from trust_lists.errors import MalformedDocument, TrustStateError
from trust_lists.status_authoring import (
    StatusListDraft,
    diff_status_lists,
    new_status_list,
    renew,
    set_status,
    status_name,
)
from trust_lists.status_list import MAX_STATUS_LIST_TOKEN_BYTES, Status, StatusList
from trust_lists.storage import status_stream
from trust_lists.timeutil import format_time

MAX_SHOWN_ENTRIES = 200


def read_status_file(path: str) -> tuple[StatusListDraft, StatusList | None]:
    """A draft (JSON) or a signed token; the draft form and, for a token, the parsed list. The
    token's signature is not checked here: the trust store checks it on submission."""
    data = read_bytes(path, MAX_STATUS_LIST_TOKEN_BYTES)
    try:
        if data.lstrip().startswith(b"{"):
            try:
                doc = strict_json_loads(data, max_bytes=MAX_STATUS_LIST_TOKEN_BYTES)
            except MalformedJSON as exc:
                raise MalformedDocument(str(exc)) from exc
            return StatusListDraft.from_dict(doc), None
        sl, _ = StatusList.parse(data)
        return StatusListDraft.from_status_list(sl), sl
    except TrustStateError as exc:
        raise with_path(exc, path) from exc


def _edit(
    args: argparse.Namespace,
    edit: Callable[[StatusListDraft], StatusListDraft],
    done: Callable[[StatusListDraft], str],
) -> int:
    draft, signed = read_status_file(args.file)
    target = args.out or args.file
    if signed is not None and not args.out:
        raise UsageError(f"{args.file} is a signed status list; give --out for the new draft")
    new = edit(draft)
    write_output(target, new.to_json())
    say(args, f"{done(new)} -> draft {target}")
    if signed is not None and new.issued_at <= signed.issued_at:
        say(
            args,
            f"note: issued_at is still {format_time(new.issued_at)}; the service takes only a "
            f"newer list: run `{PROG} status renew {target}` before signing",
        )
    return 0


def cmd_status_new(args: argparse.Namespace) -> int:
    draft = new_status_list(
        uri=args.uri,
        size=args.size,
        bits=args.bits,
        issued_at=args.issued_at,
        validity=timedelta(days=args.valid_days),
    )
    write_output(args.out, draft.to_json())
    say(
        args,
        f"draft {args.out}: {draft.uri}, {draft.size} entries of {draft.bits} bits, all valid, "
        f"expires {format_time(draft.expires_at)}",
    )
    return 0


def _entries_change(status: Status, verb: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        indices = sorted(set(args.index))
        shown = ", ".join(map(str, indices))
        return _edit(
            args, lambda d: set_status(d, indices, status), lambda _: f"{verb} entry {shown}"
        )

    return run


def cmd_status_renew(args: argparse.Namespace) -> int:
    def edit(draft: StatusListDraft) -> StatusListDraft:
        issued_at = args.issued_at
        if issued_at is None:  # now, but always later than the version it renews
            issued_at = max(utc_now(), draft.issued_at + timedelta(seconds=1))
        return renew(draft, issued_at=issued_at, validity=timedelta(days=args.valid_days))

    return _edit(
        args,
        edit,
        lambda new: (
            f"renewed: issued {format_time(new.issued_at)}, expires {format_time(new.expires_at)}"
        ),
    )


def cmd_status_sign(args: argparse.Namespace) -> int:
    draft, signed = read_status_file(args.file)
    if signed is not None:
        raise UsageError(
            f"{args.file} is already signed (by {signed.signer_kid}); a status list carries one "
            f"signature: make a draft with `{PROG} status renew {args.file} --out FILE` first"
        )
    key = SigningKey.load(args.key, read_passphrase(args.passphrase_env))
    token = draft.sign(key)
    write_output(args.out, token.encode("ascii") + b"\n")
    say(args, f"signed {draft.uri} with {key.kid} -> {args.out}")
    say(
        args,
        f"  issued {format_time(draft.issued_at)}, expires {format_time(draft.expires_at)}; "
        "submit it: POST /v1/status-lists (admin) or `huren trust submit`",
    )
    return 0


def render_status_list(draft: StatusListDraft, signed: StatusList | None, at: datetime) -> str:
    out = [
        "STATUS LIST DRAFT (unsigned)"
        if signed is None
        else f"SIGNED STATUS LIST (signed by {signed.signer_kid})"
    ]
    counts = draft.counts()
    summary = ", ".join(f"{n} {name}" for name, n in counts.items() if n or name == "valid")
    state = (
        f"EXPIRED {relative(draft.expires_at, at)}"
        if at >= draft.expires_at
        else f"valid, expires {relative(draft.expires_at, at)}"
    )
    rows = [
        ("uri", draft.uri),
        ("entries", f"{draft.size} of {draft.bits} bits: {summary}"),
        ("issued at", format_time(draft.issued_at)),
        ("expires at", f"{format_time(draft.expires_at)} ({state}; now {format_time(at)})"),
    ]
    if signed is not None:
        rows.append(("digest", f"sha256:{signed.digest}"))
    out.extend(f"  {label:<13}{value}" for label, value in rows)
    entries = sorted(draft.not_valid().items())
    out.append("")
    out.append(f"ENTRIES NOT VALID ({len(entries)})")
    if not entries:
        out.append("  (none)")
    else:
        shown = [(str(i), status_name(v)) for i, v in entries[:MAX_SHOWN_ENTRIES]]
        out.append(render_table(("INDEX", "STATUS"), shown, "  "))
        if len(entries) > MAX_SHOWN_ENTRIES:
            out.append(f"  ... and {len(entries) - MAX_SHOWN_ENTRIES} more")
    return "\n".join(out)


def cmd_status_show(args: argparse.Namespace) -> int:
    draft, signed = read_status_file(args.file)
    print(render_status_list(draft, signed, args.at))
    return 0


def render_status_diff(old: StatusListDraft, new: StatusListDraft) -> str:
    header, changes, warnings = diff_status_lists(old, new)
    out = [
        f"--- {old.uri} issued {format_time(old.issued_at)}",
        f"+++ {new.uri} issued {format_time(new.issued_at)}",
    ]
    out.extend(f"~ {line}" for line in header)
    out.extend(f"~ entry {c.index}: {c.old} -> {c.new}" for c in changes)
    if warnings:
        out.append("")
        out.append("review before signing:")
        out.extend(f"  ! {w}" for w in warnings)
    n, w = len(header) + len(changes), len(warnings)
    out.append("")
    out.append(
        "no changes"
        if n == 0
        else f"{n} change{'s' if n != 1 else ''}, {w} warning{'s' if w != 1 else ''}"
    )
    return "\n".join(out)


def cmd_status_diff(args: argparse.Namespace) -> int:
    old, _ = read_status_file(args.old)
    new, _ = read_status_file(args.new)
    print(render_status_diff(old, new))
    return 0


def cmd_status_verify(args: argparse.Namespace) -> int:
    """The store's own checks on a signed token, without storing it (as `list verify`)."""
    data = read_bytes(args.file, MAX_STATUS_LIST_TOKEN_BYTES)
    _, signed = read_status_file(args.file)
    if signed is None:
        raise UsageError(f"{args.file} is an unsigned draft; sign it with `{PROG} status sign`")
    store = open_store(args.config)
    store.directory = None  # verify only: nothing is ever written
    held = store.state.status_lists.get(signed.uri)
    try:
        issued = store.submit_status_list(data, now=args.at)
    except TrustStateError as exc:
        raise with_path(exc, args.file) from exc
    print(
        f"{signed.uri}: signed by {signed.signer_kid}, key of service {issued.service_id} "
        f"({issued.jurisdiction})"
    )
    was = "none held" if held is None else f"held: issued {format_time(held.status_list.issued_at)}"
    print(f"OK: acceptable as its next version ({was}); expires {format_time(signed.expires_at)}")
    return 0


def cmd_status_export(args: argparse.Namespace) -> int:
    store = open_store(args.config)
    held = store.state.status_lists.get(args.uri)
    if held is None or store.directory is None:
        uris = ", ".join(sorted(store.state.status_lists)) or "none"
        raise UsageError(f"no status list {args.uri} in the trust store; it holds: {uris}")
    version = int(held.status_list.issued_at.timestamp())
    write_output(args.out, store.directory.read(status_stream(args.uri), version))
    say(
        args,
        f"status list {args.uri} issued {format_time(held.status_list.issued_at)} -> {args.out}",
    )
    return 0


def add_parser(sub: Any) -> None:
    ss = command_group(
        sub, "status", "create, revoke, suspend, renew, sign and review status lists"
    )

    def edit(name: str, help_text: str) -> argparse.ArgumentParser:
        return edit_command(ss, name, help_text, signed="token", metavar=None)

    def validity(g: argparse.ArgumentParser) -> None:
        g.add_argument(
            "--valid-days",
            type=positive_int,
            default=7,
            help="days until the list expires (default 7); e.g. --valid-days 7",
        )

    g: argparse.ArgumentParser = ss.add_parser("new", help="create a draft status list, all valid")
    g.add_argument("--uri", required=True, help="its https URI, as the trust list declares it")
    g.add_argument("--size", required=True, type=positive_int, help="entries, e.g. 1024")
    g.add_argument(
        "--bits",
        type=int,
        choices=(1, 2, 4, 8),
        default=2,
        help="bits per entry (default 2: valid, revoked, suspended)",
    )
    validity(g)
    g.add_argument(
        "--issued-at",
        type=time_arg,
        default="now",
        metavar="TIME",
        help="the list's issue time (default now): RFC 3339 UTC or now",
    )
    g.add_argument("--out", required=True, help="the draft file")
    g.set_defaults(func=cmd_status_new)

    for name, status, verb, text in (
        ("revoke", Status.INVALID, "revoked", "revoke entries (final)"),
        ("suspend", Status.SUSPENDED, "suspended", "suspend entries (can be reinstated)"),
        ("reinstate", Status.VALID, "reinstated", "make suspended entries valid again"),
    ):
        g = edit(name, text)
        g.add_argument(
            "--index",
            required=True,
            type=non_negative_int,
            action="append",
            help="the document's status.status_list.idx (repeatable), e.g. --index 17",
        )
        g.set_defaults(func=_entries_change(status, verb))

    g = edit("renew", "new issue time (now) and expiry: the next version of the list")
    validity(g)
    g.add_argument(
        "--issued-at",
        type=time_arg,
        metavar="TIME",
        help="RFC 3339 UTC or now (default: now, and always after the current issue time)",
    )
    g.set_defaults(func=cmd_status_renew)

    g = ss.add_parser("sign", help="sign a draft with the issuer key of the service publishing it")
    g.add_argument("file", help="the draft")
    g.add_argument("--key", required=True, help="issuer private key (PEM)")
    g.add_argument("--passphrase-env", metavar="VAR", help="the key's passphrase is in $VAR")
    g.add_argument("--out", required=True, help="the signed token (compact JWS)")
    g.set_defaults(func=cmd_status_sign)

    g = ss.add_parser("show", help="show a draft or signed status list")
    g.add_argument("file", metavar="FILE", help="a draft or signed token")
    at_arg(g, "expiry as of this time")
    g.set_defaults(func=cmd_status_show)

    g = ss.add_parser("diff", help="what changed between two versions (review before signing)")
    g.add_argument("old", metavar="OLD", help="the version held now (draft or signed token)")
    g.add_argument("new", metavar="NEW", help="the version to be signed (draft or signed token)")
    g.set_defaults(func=cmd_status_diff)

    g = ss.add_parser("verify", help="check a signed token as the service would, storing nothing")
    g.add_argument("file", help="the signed token")
    config_option(g)
    at_arg(g, "check as of this time")
    g.set_defaults(func=cmd_status_verify)

    g = ss.add_parser("export", help="write the status list the trust store holds for a URI")
    config_option(g)
    g.add_argument(
        "--uri", required=True, help="the status list's URI, e.g. https://sz.example/status/1"
    )
    g.add_argument(
        "--out", required=True, metavar="FILE", help="the token file, or - for standard output"
    )
    g.set_defaults(func=cmd_status_export)
