"""`huren list`: author, sign, combine, verify, show and diff trust lists (drafts are the
unsigned payload as pretty JSON; every edit is a pure function from `trust_lists.authoring`)."""

from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cli.common import (
    TIME_HELP,
    UsageError,
    at_arg,
    combine_files,
    command_group,
    edit_command,
    edit_draft,
    granted_from_arg,
    issued_at_arg,
    non_negative_int,
    operators_arg,
    out_arg,
    pad,
    positive_int,
    read_bytes,
    read_certificate_key,
    read_config,
    read_list_file,
    read_public_key,
    read_signed_file,
    relative,
    render_table,
    say,
    service_keys,
    sign_and_combine_parsers,
    sign_file,
    threshold_arg,
    time_arg,
    valid_days_arg,
    with_path,
    write_draft,
)
from keys import (
    PublicKey,
)
from trust_lists import authoring
from trust_lists.anchors import load_anchors
from trust_lists.diff import Change, ChangeKind, diff_trust_lists
from trust_lists.errors import TrustStateError
from trust_lists.model import KeyStatus, ServiceKey, ServiceKind, TrustList
from trust_lists.signed import (
    MAX_TRUST_LIST_BYTES,
    Anchor,
    SignedTrustList,
    SignerSet,
)
from trust_lists.storage import TrustDirectory
from trust_lists.store import TrustStore
from trust_lists.text import shown
from trust_lists.timeutil import format_time, shift


def _status_at(key: ServiceKey, when: datetime) -> str:
    state = key.state_at(when)
    if state.status is None:
        return "not yet granted"
    return state.status.value


def render_list(
    tl: TrustList, signed: SignedTrustList | None, *, at: datetime, grace: timedelta = timedelta(0)
) -> str:
    """The readable table of `huren list show`."""
    out: list[str] = []
    if signed is None:
        out.append("TRUST LIST DRAFT (unsigned)")
    else:
        n = len(signed.envelope.signatures)
        out.append(f"SIGNED TRUST LIST ({n} signature{'s' if n != 1 else ''})")
    stale_from = shift(tl.next_update, grace)
    # The list's own next-update time first, then how far that is from the time shown.
    freshness = (
        f"STALE since {format_time(stale_from)}"
        if at >= stale_from
        else f"fresh, due {relative(tl.next_update, at)}"
    )
    rows = [
        ("jurisdiction", f"{tl.jurisdiction} {shown(tl.name_zh)} / {shown(tl.name_en)}"),
        ("sequence", str(tl.sequence)),
        ("issued at", format_time(tl.issued_at)),
        ("next update", f"{format_time(tl.next_update)} ({freshness}; now {format_time(at)})"),
    ]
    if signed is not None:
        rows.append(("digest", f"sha256:{signed.digest}"))
    out.extend(f"  {pad(k, 13)}{v}" for k, v in rows)

    op_keys = tl.operators.by_kid
    good = signed.envelope.verified_kids(op_keys) if signed is not None else frozenset()
    out.append("")
    out.append(f"OPERATORS (threshold {tl.operators.threshold} of {len(tl.operators.keys)})")
    op_rows = []
    for key in tl.operators.keys:
        if signed is None:
            mark = "-"
        elif key.kid in good:
            mark = "valid"
        elif any(s.kid == key.kid for s in signed.envelope.signatures):
            mark = "INVALID"
        else:
            mark = "no"
        op_rows.append((key.kid, key.alg, mark))
    out.append(render_table(("KID", "ALG", "SIGNED"), op_rows, "  "))
    if signed is not None:
        others = [s.kid for s in signed.envelope.signatures if s.kid not in op_keys]
        for kid in others:
            out.append(f"  + signature by {shown(kid)}: not one of this list's operator keys")
        status = "met" if len(good) >= tl.operators.threshold else "NOT met"
        out.append(
            f"  signatures of this list's operators: {len(good)} of {tl.operators.threshold} "
            f"needed ({status})"
        )

    out.append("")
    out.append(f"SERVICES ({len(tl.services)}; key status at {format_time(at)})")
    if not tl.services:
        out.append("  (none)")
    for service in tl.services:
        names = f"{shown(service.name_zh)} / {shown(service.name_en)}"
        out.append(f"  {service.id}  [{service.kind.value}]  {names}")
        out.append(f"    credit code   {service.credit_code}")
        out.append(f"    scope         {', '.join(sorted(service.scope))}")
        if service.status_lists:
            out.append(f"    status lists  {shown(', '.join(sorted(service.status_lists)))}")
        key_rows = []
        for skey in service.keys:
            history = "; ".join(f"{c.status.value} {format_time(c.since)}" for c in skey.history)
            key_rows.append((skey.kid, skey.key.alg, _status_at(skey, at), history))
        out.append(render_table(("KID", "ALG", "STATUS", "HISTORY"), key_rows, "    "))
    return "\n".join(out)


_DIFF_MARK = {
    ChangeKind.OPERATOR_ADDED: "+",
    ChangeKind.SERVICE_ADDED: "+",
    ChangeKind.KEY_ADDED: "+",
    ChangeKind.OPERATOR_REMOVED: "-",
    ChangeKind.SERVICE_REMOVED: "-",
    ChangeKind.KEY_REMOVED: "-",
    ChangeKind.KEY_HISTORY_REWRITTEN: "!",
    ChangeKind.KEY_CERTIFICATE: "!",
    ChangeKind.JURISDICTION: "!",
}


def _change_line(c: Change) -> str:
    mark = _DIFF_MARK.get(c.kind, "~")
    k = c.kind
    if k is ChangeKind.OPERATOR_ADDED:
        return f"{mark} operator key {c.subject} ({c.new})"
    if k is ChangeKind.OPERATOR_REMOVED:
        return f"{mark} operator key {c.subject} ({c.old})"
    if k is ChangeKind.OPERATOR_THRESHOLD:
        return f"{mark} operator threshold: {c.old} -> {c.new}"
    if k is ChangeKind.SERVICE_ADDED:
        return f"{mark} service {c.subject}: {c.new}"
    if k is ChangeKind.SERVICE_REMOVED:
        return f"{mark} service {c.subject}: {c.old}"
    if k is ChangeKind.SERVICE_CHANGED:
        return f"{mark} service {c.subject} {c.field}: {c.old or '(none)'} -> {c.new or '(none)'}"
    if k is ChangeKind.KEY_ADDED:
        return f"{mark} key {c.subject} in {c.service}: {c.new}"
    if k is ChangeKind.KEY_REMOVED:
        return f"{mark} key {c.subject} in {c.service}: {c.old}"
    if k is ChangeKind.KEY_MOVED:
        return f"{mark} key {c.subject} moved from service {c.old} to {c.new}"
    if k is ChangeKind.KEY_STATUS:
        return f"{mark} key {c.subject} in {c.service}: {c.old} -> {c.new}"
    if k is ChangeKind.KEY_CERTIFICATE:
        was, now = c.old or "no certificate", c.new or "no certificate"
        return f"{mark} key {c.subject} in {c.service} listed with: {was} -> {now}"
    if k is ChangeKind.KEY_HISTORY_REWRITTEN:
        return f"{mark} key {c.subject} in {c.service} history rewritten: {c.old} => {c.new}"
    label = c.field or k.value.replace("_", " ")
    return f"{mark} {label}: {c.old} -> {c.new}"


def render_diff(old: TrustList, new: TrustList) -> str:
    d = diff_trust_lists(old, new)
    out = [
        f"--- {old.jurisdiction} {shown(old.name_en)} sequence {old.sequence}",
        f"+++ {new.jurisdiction} {shown(new.name_en)} sequence {new.sequence}",
    ]
    # Each change is one line whatever its names hold: they are printed escaped.
    out.extend(shown(_change_line(c)) for c in d.changes)
    if d.warnings:
        out.append("")
        out.append("review before signing:")
        out.extend(f"  ! {shown(w)}" for w in d.warnings)
    n, w = len(d.changes), len(d.warnings)
    out.append("")
    out.append(
        "no changes"
        if d.empty
        else f"{n} change{'s' if n != 1 else ''}, {w} warning{'s' if w != 1 else ''}"
    )
    return "\n".join(out)


# -- commands: authoring -----------------------------------------------------------------------


def cmd_list_new(args: argparse.Namespace) -> int:
    operators = [read_public_key(p) for p in args.operator]
    tl = authoring.new_trust_list(
        jurisdiction=args.jurisdiction,
        name_zh=args.name_zh,
        name_en=args.name_en,
        operators=operators,
        threshold=args.threshold,
        issued_at=args.issued_at,
        validity=timedelta(days=args.valid_days),
        sequence=args.sequence,
    )
    tl = write_draft(tl, args.out)
    say(
        args,
        f"draft {args.out}: {tl.jurisdiction} {tl.name_zh} sequence {tl.sequence}, "
        f"{tl.operators.threshold} of {len(tl.operators.keys)} operators, "
        f"next update {format_time(tl.next_update)}",
    )
    return 0


def _edit(args: argparse.Namespace, edit: Callable[[TrustList], TrustList], done: str) -> int:
    target = args.out or args.file
    bump = f"huren list bump {target}"
    return edit_draft(args, read_list_file, write_draft, edit, done, kind="list", bump=bump)


def cmd_list_add_service(args: argparse.Namespace) -> int:
    keys = service_keys(args)
    scope = [s.strip() for s in args.scope.split(",") if s.strip()]
    return _edit(
        args,
        lambda tl: authoring.add_service(
            tl,
            service_id=args.id,
            kind=ServiceKind(args.kind),
            name_zh=args.name_zh,
            name_en=args.name_en,
            credit_code=args.credit_code,
            scope=scope,
            keys=keys,
            granted_from=args.granted_from,
            status_lists=args.status_list or (),
        ),
        f"added service {args.id} with {len(keys)} key(s)",
    )


def cmd_list_remove_service(args: argparse.Namespace) -> int:
    return _edit(
        args,
        lambda tl: authoring.remove_service(tl, args.id),
        f"removed service {args.id} (its key history is gone; prefer withdraw-key)",
    )


def cmd_list_add_key(args: argparse.Namespace) -> int:
    key = read_public_key(args.key) if args.key else read_certificate_key(args.cert).key
    return _edit(
        args,
        lambda tl: authoring.add_key(tl, args.service, key, granted_from=args.granted_from),
        f"added key {key.kid} to service {args.service}, granted from "
        f"{format_time(args.granted_from)}",
    )


def _status_change(status: KeyStatus) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return _edit(
            args,
            lambda tl: authoring.change_key_status(tl, args.kid, status, effective=args.effective),
            f"key {args.kid} {status.value} from {format_time(args.effective)}",
        )

    return run


def cmd_list_rotate_operators(args: argparse.Namespace) -> int:
    keys = [read_public_key(p) for p in args.operator]
    return _edit(
        args,
        lambda tl: authoring.set_operators(tl, keys, args.threshold),
        f"operators set to {args.threshold} of {len(keys)} keys; the list must be signed by a "
        "threshold of the current AND of the new operator keys",
    )


def cmd_list_bump(args: argparse.Namespace) -> int:
    return _edit(
        args,
        lambda tl: authoring.next_version(
            tl, issued_at=args.issued_at, validity=timedelta(days=args.valid_days)
        ),
        f"bumped, issued {format_time(args.issued_at)}, valid {args.valid_days} days",
    )


def cmd_list_sign(args: argparse.Namespace) -> int:
    tl, signed = read_list_file(args.file)
    key = sign_file(args, tl, signed, SignedTrustList.create, tl.jurisdiction)
    if key.kid not in tl.operators.by_kid:
        say(
            args,
            "note: this key is not one of the list's operator keys (expected only for an "
            "outgoing operator during a rotation)",
        )
    return 0


def cmd_list_combine(args: argparse.Namespace) -> int:
    return combine_files(args, read_signed_file, "list")


def _signature_report(signed: SignedTrustList, trusted: SignerSet | None) -> list[str]:
    new_ops = signed.trust_list.operators.by_kid
    known: dict[str, PublicKey] = dict(new_ops)
    if trusted is not None:
        known.update(trusted.keys)
    good = signed.envelope.verified_kids(known)
    lines = []
    for sig in signed.envelope.signatures:
        roles = []
        if trusted is not None and sig.kid in trusted.kids:
            roles.append("current operator")
        if sig.kid in new_ops:
            roles.append("listed operator")
        role = " and ".join(roles) or "unknown key"
        valid = "valid" if sig.kid in good else ("INVALID" if sig.kid in known else "unchecked")
        lines.append(f"  signature {shown(sig.kid)}: {valid} ({role})")
    return lines


def _verify_basis(
    args: argparse.Namespace,
) -> tuple[list[Anchor], TrustDirectory | None, timedelta]:
    """What `list verify` checks against: a service's config, or anchors (and a trust dir)."""
    if args.config:
        if args.anchors or args.trust_dir:
            raise UsageError("give either --config or --anchors (with --trust-dir), not both")
        return read_config(args.config)
    if not args.anchors:
        raise UsageError("give --config CONFIG (the service) or --anchors ANCHORS")
    directory = None
    if args.trust_dir:
        if not Path(args.trust_dir).is_dir():
            raise FileNotFoundError(errno.ENOENT, "no such trust directory", args.trust_dir)
        directory = TrustDirectory(args.trust_dir)
    return load_anchors(args.anchors), directory, timedelta(0)


def cmd_list_verify(args: argparse.Namespace) -> int:
    data = read_bytes(args.file, MAX_TRUST_LIST_BYTES)
    try:
        signed = SignedTrustList.parse(data)
    except TrustStateError as exc:
        raise with_path(exc, args.file) from exc
    anchors, directory, grace = _verify_basis(args)
    if args.grace_seconds is not None:
        grace = timedelta(seconds=args.grace_seconds)
    store = TrustStore(anchors, grace=grace)
    if directory is not None:
        store.directory = directory
        for problem in store.load():
            print(f"warning: {problem}", file=sys.stderr)
        store.directory = None  # verify only: nothing is ever written
    tl = signed.trust_list
    slot = args.jurisdiction or tl.jurisdiction
    current = store.state.trust_list(slot)
    anchor = store.anchors.get(slot)
    trusted: SignerSet | None
    if current is not None:
        trusted = SignerSet.of(current.operators)
        basis = (
            f"current list {slot} sequence {current.sequence} in {args.config or args.trust_dir}"
        )
    elif anchor is not None:
        trusted = anchor.signer_set_for(tl)
        basis = f"pinned anchors of {slot} in {args.anchors or args.config}"
    else:
        trusted, basis = None, "nothing (jurisdiction not pinned)"
    print(f"{tl.jurisdiction} {shown(tl.name_en)} sequence {tl.sequence}, sha256:{signed.digest}")
    print(f"  checked against {basis}")
    print("\n".join(_signature_report(signed, trusted)))
    before = store.state
    store.submit_trust_list(data, now=args.at, jurisdiction=slot)
    what = (
        f"the list {slot} currently held"
        if store.state is before
        else f"acceptable as the next list of {slot}"
    )
    stale = store.state.is_stale(slot, args.at)
    print(f"OK: {what}" + (" (but stale: past next update + grace)" if stale else ""))
    return 0


def cmd_list_show(args: argparse.Namespace) -> int:
    tl, signed = read_list_file(args.file)
    print(render_list(tl, signed, at=args.at))
    return 0


def cmd_list_diff(args: argparse.Namespace) -> int:
    old, _ = read_list_file(args.old)
    new, _ = read_list_file(args.new)
    print(render_diff(old, new))
    return 0


def add_parser(sub: Any) -> None:
    ls = command_group(sub, "list", "author, sign, verify, show and diff trust lists")

    def edit(name: str, help_text: str) -> argparse.ArgumentParser:
        return edit_command(ls, name, help_text, signed="list")

    g = ls.add_parser("new", help="create a draft trust list")
    g.add_argument("--jurisdiction", required=True, help="six-digit GB/T 2260 code, e.g. 440300")
    g.add_argument("--name-zh", required=True, help="the list's Chinese name, e.g. 深圳市")
    g.add_argument("--name-en", required=True, help="the list's English name, e.g. Shenzhen")
    operators_arg(g, required=True)
    threshold_arg(g, "of the operators")
    valid_days_arg(g)
    g.add_argument(
        "--sequence",
        type=positive_int,
        default=1,
        help="the list's sequence number (default 1); each next list needs a higher one",
    )
    issued_at_arg(g)
    out_arg(g, "the draft file")
    g.set_defaults(func=cmd_list_new)

    g = edit("add-service", "add a trusted service")
    g.add_argument("--id", required=True, help="the service's id in this list, e.g. sz-amr")
    g.add_argument(
        "--kind",
        required=True,
        choices=[k.value for k in ServiceKind],
        help="what the service issues",
    )
    g.add_argument("--name-zh", required=True, help="the service's Chinese name")
    g.add_argument("--name-en", required=True, help="the service's English name")
    g.add_argument(
        "--credit-code",
        required=True,
        help="unified social credit code (18 characters), e.g. 11440300MB2C92061X",
    )
    g.add_argument("--scope", required=True, help="comma-separated document type codes, e.g. BL,FL")
    g.add_argument(
        "--key",
        nargs="+",
        action="extend",
        metavar="JWK",
        help="public JWK files of the service's keys",
    )
    g.add_argument(
        "--cert",
        nargs="+",
        action="extend",
        metavar="CERTIFICATE",
        help="X.509 certificates (DER or PEM; SM2 CA or end-entity, P-256 end-entity); see "
        "`huren keys inspect`",
    )
    granted_from_arg(g)
    g.add_argument(
        "--status-list",
        nargs="+",
        action="extend",
        metavar="URI",
        help="https URIs of the status lists the service publishes, "
        "e.g. --status-list https://sz.example/status/1",
    )
    g.set_defaults(func=cmd_list_add_service)

    g = edit("remove-service", "remove a service and its key history")
    g.add_argument("--id", required=True, help="the service's id, e.g. sz-amr")
    g.set_defaults(func=cmd_list_remove_service)

    g = edit("add-key", "add a key to a service (issuer key rotation)")
    g.add_argument("--service", required=True, help="the service's id, e.g. sz-amr")
    which = g.add_mutually_exclusive_group(required=True)
    which.add_argument("--key", metavar="JWK", help="a public JWK file")
    which.add_argument("--cert", metavar="CERTIFICATE", help="an X.509 certificate (DER or PEM)")
    granted_from_arg(g)
    g.set_defaults(func=cmd_list_add_key)

    for name, status, text in (
        ("withdraw-key", KeyStatus.WITHDRAWN, "retire a key: what it signed before stays good"),
        ("revoke-key", KeyStatus.REVOKED, "revoke a compromised key from a time on"),
    ):
        g = edit(name, text)
        g.add_argument(
            "--kid", required=True, help="the key's RFC 7638 thumbprint (see `huren list show`)"
        )
        g.add_argument(
            "--effective",
            required=True,
            type=time_arg,
            metavar="TIME",
            help=f"from when, after the key's last status change: {TIME_HELP}, "
            "e.g. --effective now",
        )
        g.set_defaults(func=_status_change(status))

    g = edit("rotate-operators", "replace the operator keys and threshold")
    operators_arg(g, required=True)
    threshold_arg(g, "of the new operators")
    g.set_defaults(func=cmd_list_rotate_operators)

    g = edit("bump", "next sequence, issued now, new next-update")
    valid_days_arg(g)
    issued_at_arg(g)
    g.set_defaults(func=cmd_list_bump)

    sign_and_combine_parsers(ls, "list", cmd_list_sign, cmd_list_combine)

    g = ls.add_parser("verify", help="check a signed list against anchors or the trust store")
    g.add_argument("file", metavar="FILE", help="the signed list")
    g.add_argument(
        "--config",
        metavar="CONFIG",
        help="check it as the successor of the list this service holds (its huren.json or "
        "directory; gives the anchors, the trust directory and the grace), e.g. --config .demo",
    )
    g.add_argument("--anchors", metavar="ANCHORS", help="anchors.json (unless --config)")
    g.add_argument("--trust-dir", help=argparse.SUPPRESS)  # old spelling: a bare trust directory
    g.add_argument(
        "--jurisdiction", help="the slot it is offered for (default: its own), e.g. 440300"
    )
    at_arg(g, "check as of this time")
    g.add_argument(
        "--grace-seconds",
        type=non_negative_int,
        help="how long after its next update a list is still used (default: the config's, "
        "else 0), e.g. --grace-seconds 3600",
    )
    g.set_defaults(func=cmd_list_verify)

    g = ls.add_parser("show", help="show a draft or signed list as a table")
    g.add_argument("file", metavar="FILE", help="a draft or signed list")
    at_arg(g, "key status and freshness as of this time")
    g.set_defaults(func=cmd_list_show)

    g = ls.add_parser("diff", help="what changed between two lists (review before signing)")
    g.add_argument("old", metavar="OLD", help="the list held now (draft or signed)")
    g.add_argument("new", metavar="NEW", help="the list to be signed (draft or signed)")
    g.set_defaults(func=cmd_list_diff)
