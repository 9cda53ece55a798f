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
import base64
import binascii
import copy
import errno
import importlib
import importlib.metadata
import json
import logging
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

from keys import (
    ALLOWED_ALGORITHMS,
    KeyMaterialError,
    MalformedJSON,
    PublicKey,
    SigningKey,
    public_key_from_jwk,
    strict_json_loads,
)
from keys.certificate_keys import MAX_CERT_FILE_BYTES, CertificateKey, read_certificate
from trust_lists import authoring
from trust_lists.anchors import anchors_to_json, load_anchors, parse_anchors
from trust_lists.catalogue import CATALOGUE_TYP, MAX_CATALOGUE_BYTES
from trust_lists.diff import Change, ChangeKind, diff_trust_lists
from trust_lists.errors import DocumentTooLarge, MalformedDocument, TrustStateError
from trust_lists.model import KeyStatus, ServiceKey, ServiceKind, TrustList
from trust_lists.signed import (
    MAX_TRUST_LIST_BYTES,
    TRUST_LIST_TYP,
    UNSIGNED_DRAFT,
    Anchor,
    SignedTrustList,
    SignerSet,
    is_unsigned_draft,
)
from trust_lists.status_list import MAX_STATUS_LIST_TOKEN_BYTES
from trust_lists.storage import TrustDirectory, atomic_write
from trust_lists.store import TrustStore
from trust_lists.text import shown
from trust_lists.timeutil import format_time, parse_time, shift

PROG = "huren"
MAX_JWK_BYTES = 64 * 1024
_KID = re.compile(r"\A[A-Za-z0-9_-]{43}\Z")


class UsageError(Exception):
    """The command line itself is wrong (exit status 2)."""


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


class _Parser(argparse.ArgumentParser):
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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def _read_bytes(path: str | Path, limit: int) -> bytes:
    with open(path, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise DocumentTooLarge(f"{path} is larger than {limit} bytes")
    return data


def _passphrase(env: str | None) -> bytes | None:
    if env is None:
        return None
    value = os.environ.get(env)
    if not value:
        raise UsageError(f"environment variable {env} (--passphrase-env) is not set or empty")
    return value.encode("utf-8")


def read_public_key(path: str) -> PublicKey:
    """A public JWK file (as written by `huren keys generate`). Private keys are refused."""
    data = _read_bytes(path, MAX_JWK_BYTES)
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
    return read_certificate(_read_bytes(path, MAX_CERT_FILE_BYTES), path)


def service_keys(args: argparse.Namespace) -> list[PublicKey]:
    """The keys of `--key JWK...` and `--cert FILE...`, in that order; at least one."""
    keys = [read_public_key(p) for p in args.key or ()]
    keys += [read_certificate_key(p).key for p in args.cert or ()]
    if not keys:
        raise UsageError("give the service's keys: --key JWK or --cert CERTIFICATE")
    return keys


def _with_path(exc: TrustStateError, path: str) -> TrustStateError:
    return type(exc)(f"{path}: {exc}")


def read_list_file(path: str) -> tuple[TrustList, SignedTrustList | None]:
    """A draft (the unsigned payload as JSON) or a signed envelope; the list and the envelope."""
    data = _read_bytes(path, MAX_TRUST_LIST_BYTES)
    try:
        doc = strict_json_loads(data, max_bytes=MAX_TRUST_LIST_BYTES)
    except MalformedJSON as exc:
        raise MalformedDocument(f"{path}: {exc}") from exc
    try:
        if isinstance(doc, dict) and "payload" in doc and "signatures" in doc:
            signed = SignedTrustList.parse(data)
            return signed.trust_list, signed
        return TrustList.from_dict(doc), None
    except TrustStateError as exc:
        raise _with_path(exc, path) from exc


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


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "") -> str:
    widths = [display_width(h) for h in headers]
    for row in rows:
        widths = [max(w, display_width(c)) for w, c in zip(widths, row, strict=True)]
    lines = []
    for row in (headers, *rows):
        cells = [_pad(c, w) for c, w in zip(row, widths, strict=True)]
        lines.append((indent + "  ".join(cells)).rstrip())
    return "\n".join(lines)


def _status_at(key: ServiceKey, when: datetime) -> str:
    state = key.state_at(when)
    if state.status is None:
        return "not yet granted"
    return state.status.value


def _relative(target: datetime, now: datetime) -> str:
    seconds = int((target - now).total_seconds())
    span = abs(seconds)
    if span >= 86400:
        text = f"{span // 86400}d{(span % 86400) // 3600}h"
    elif span >= 3600:
        text = f"{span // 3600}h{(span % 3600) // 60}m"
    else:
        text = f"{span // 60}m{span % 60}s"
    return f"in {text}" if seconds > 0 else f"{text} ago"


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
        else f"fresh, due {_relative(tl.next_update, at)}"
    )
    rows = [
        ("jurisdiction", f"{tl.jurisdiction} {shown(tl.name_zh)} / {shown(tl.name_en)}"),
        ("sequence", str(tl.sequence)),
        ("issued at", format_time(tl.issued_at)),
        ("next update", f"{format_time(tl.next_update)} ({freshness}; now {format_time(at)})"),
    ]
    if signed is not None:
        rows.append(("digest", f"sha256:{signed.digest}"))
    out.extend(f"  {_pad(k, 13)}{v}" for k, v in rows)

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


# -- commands: keys and anchors ----------------------------------------------------------------


def cmd_keys_generate(args: argparse.Namespace) -> int:
    if args.out == "-":
        raise UsageError("private keys are never printed; give a file name to --out")
    out = Path(args.out)
    jwk_path = Path(f"{out}.jwk.json")
    for path in (out, jwk_path):
        if path.exists():
            raise UsageError(f"{path} already exists; keys are never overwritten")
    passphrase = _passphrase(args.passphrase_env)
    key = SigningKey.generate(args.alg)
    key.save(out, passphrase)
    public = json.dumps(key.public_key.to_jwk(), indent=2) + "\n"
    write_output(str(jwk_path), public.encode("ascii"))
    print(key.kid)
    print(f"  {key.alg} private key: {out} (mode 0600{', encrypted' if passphrase else ''})")
    print(f"  public JWK: {jwk_path}")
    return 0


def cmd_keys_public(args: argparse.Namespace) -> int:
    key = SigningKey.load(args.key, _passphrase(args.passphrase_env))
    public = json.dumps(key.public_key.to_jwk(), indent=2) + "\n"
    if args.out:
        write_output(args.out, public.encode("ascii"))
        say(args, key.kid)
    else:
        sys.stdout.write(public)
    return 0


def cmd_keys_inspect(args: argparse.Namespace) -> int:
    """What a certificate says, and the key a trust list will hold for it."""
    ck = read_certificate_key(args.file)
    now = utc_now()
    usage = ", ".join(sorted(ck.key_usage)) if ck.key_usage is not None else "(no keyUsage)"
    kind = "CA" if ck.is_ca else "end-entity"
    rows = [
        ("subject", ck.subject),
        ("issuer", ck.issuer + (" (self-issued)" if ck.self_issued else "")),
        ("serial", f"{ck.serial:x}"),
        (
            "validity",
            f"{format_time(ck.not_before)} .. {format_time(ck.not_after)} "
            f"({ck.validity_at(now)} at {format_time(now)})",
        ),
        ("key", f"{ck.curve} (alg {ck.key.alg}), {kind} certificate"),
        ("key usage", usage),
        ("sha256", ck.sha256),
    ]
    print(f"CERTIFICATE {args.file}")
    print("\n".join(f"  {_pad(k, 11)}{v}" for k, v in rows))
    jwk: dict[str, Any] = dict(ck.key.to_jwk())
    if "x5c" in jwk:  # the certificate itself, shown above by its digest
        jwk["x5c"] = [f"<this certificate: {len(jwk['x5c'][0])} base64 characters>"]
    print("")
    print("TRUST-LIST KEY (what `--cert` adds)")
    print(f"  kid        {ck.key.kid}")
    print(f"  alg        {ck.key.alg}")
    print(f"  jwk        {json.dumps(jwk, ensure_ascii=False)}")
    print(f"  vouches    {ck.vouches_for()}")
    return 0


def cmd_anchors_add(args: argparse.Namespace) -> int:
    path = Path(args.anchors)
    anchors: list[Anchor] = load_anchors(path) if path.exists() else []
    keys = tuple(read_public_key(p) for p in args.operator or ())
    extra = set(args.kid or ())
    for kid in extra:
        if not _KID.match(kid):
            raise UsageError(f"{kid!r} is not an RFC 7638 thumbprint (43 base64url characters)")
    kids = frozenset(extra | {k.kid for k in keys})
    if not kids:
        raise UsageError("give at least one --operator key file or --kid thumbprint")
    anchor = Anchor(args.jurisdiction, args.threshold, kids, () if args.thumbprints_only else keys)
    anchors = [a for a in anchors if a.jurisdiction != args.jurisdiction] + [anchor]
    data = anchors_to_json(sorted(anchors, key=lambda a: a.jurisdiction))
    parse_anchors(data)  # the same checks the service applies at start-up
    write_output(str(path), data)
    print(
        f"pinned {args.jurisdiction}: {args.threshold} of {len(kids)} operator keys "
        f"({'thumbprints only' if args.thumbprints_only or not keys else 'public keys'}) "
        f"in {path}"
    )
    return 0


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
    tl, signed = read_list_file(args.file)
    target = args.out or args.file
    if signed is not None and not args.out:
        raise UsageError(f"{args.file} is a signed list; give --out for the new draft")
    new = write_draft(edit(tl), target)
    say(args, f"{done} -> draft {target} (sequence {new.sequence})")
    if signed is not None and new.sequence <= tl.sequence:
        say(args, f"note: the sequence is still {new.sequence}; run `huren list bump {target}`")
    return 0


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
    key = SigningKey.load(args.key, _passphrase(args.passphrase_env))
    result = SignedTrustList.create(tl, [key]) if signed is None else signed.add_signature(key)
    write_output(args.out, result.to_json())
    say(args, f"signed {tl.jurisdiction} sequence {tl.sequence} with {key.kid} -> {args.out}")
    say(args, f"  digest sha256:{result.digest}")
    if key.kid not in tl.operators.by_kid:
        say(
            args,
            "note: this key is not one of the list's operator keys (expected only for an "
            "outgoing operator during a rotation)",
        )
    return 0


def cmd_list_combine(args: argparse.Namespace) -> int:
    parts = [read_signed_file(p) for p in args.files]
    result = parts[0]
    for path, part in zip(args.files[1:], parts[1:], strict=True):
        if part.digest != result.digest:
            raise MalformedDocument(
                f"{path} signs another list than {args.files[0]} "
                f"(sha256:{part.digest[:16]}... vs sha256:{result.digest[:16]}...)"
            )
        result = result.combine(part)
    write_output(args.out, result.to_json())
    kids = ", ".join(s.kid for s in result.envelope.signatures)
    say(args, f"combined {len(result.envelope.signatures)} signature(s) -> {args.out}: {kids}")
    return 0


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
    data = _read_bytes(args.file, MAX_TRUST_LIST_BYTES)
    try:
        signed = SignedTrustList.parse(data)
    except TrustStateError as exc:
        raise _with_path(exc, args.file) from exc
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


def _open_store(config: str) -> TrustStore:
    anchors, directory, grace = read_config(config)
    store = TrustStore(anchors, directory, grace=grace)
    for problem in store.load():
        print(f"warning: {problem}", file=sys.stderr)
    return store


def document_kind(data: bytes) -> str:
    """Which kind of signed document: "list", "catalogue" or "status" (from its type)."""
    if not data.lstrip().startswith(b"{"):
        return "status"
    doc = strict_json_loads(data, max_bytes=MAX_TRUST_LIST_BYTES)
    if is_unsigned_draft(data):
        raise MalformedDocument(UNSIGNED_DRAFT)
    try:
        protected = doc["signatures"][0]["protected"]
        header = json.loads(base64.urlsafe_b64decode(protected + "=" * (-len(protected) % 4)))
        typ = header["typ"]
    except (KeyError, IndexError, TypeError, ValueError, binascii.Error):
        raise MalformedDocument("not a signed trust list, catalogue or status list") from None
    if typ == TRUST_LIST_TYP:
        return "list"
    if typ == CATALOGUE_TYP:
        return "catalogue"
    raise MalformedDocument(f"unknown document type {typ!r}")


def cmd_trust_submit(args: argparse.Namespace) -> int:
    store = _open_store(args.config)
    limit = max(MAX_TRUST_LIST_BYTES, MAX_CATALOGUE_BYTES, MAX_STATUS_LIST_TOKEN_BYTES)
    for path in args.files:
        data = _read_bytes(path, limit)
        now = utc_now()
        before = store.state
        try:
            kind = document_kind(data)
            if kind == "list":
                signed = store.submit_trust_list(data, now=now)
                tl = signed.trust_list
                what = f"trust list {tl.jurisdiction} sequence {tl.sequence}"
            elif kind == "catalogue":
                cat = store.submit_catalogue(data, now=now)
                what = f"catalogue sequence {cat.catalogue.sequence}"
            else:
                issued = store.submit_status_list(data, now=now)
                what = f"status list {issued.status_list.uri}"
        except TrustStateError as exc:
            raise _with_path(exc, path) from exc
        verb = "already held:" if store.state is before else "accepted"
        print(f"{verb} {what} from {path}; trust state version {store.state.version}")
    return 0


def cmd_trust_show(args: argparse.Namespace) -> int:
    store = _open_store(args.config)
    state = store.state
    rows = []
    for code in store.jurisdictions:
        tl = state.trust_list(code)
        if tl is None:
            rows.append((code, "-", "-", "-", "-", "NO LIST", str(store.highest_sequence(code))))
            continue
        rows.append(
            (
                code,
                shown(tl.name_zh),
                str(tl.sequence),
                format_time(tl.next_update),
                str(len(tl.services)),
                "STALE" if state.is_stale(code, args.at) else "fresh",
                str(store.highest_sequence(code)),
            )
        )
    print(f"trust state version {state.version} at {format_time(args.at)}")
    headers = ("JURISDICTION", "NAME", "SEQUENCE", "NEXT UPDATE", "SERVICES", "STATE", "GUARD")
    print(render_table(headers, rows, "  "))
    cat = state.catalogue
    print(f"catalogue: {'sequence ' + str(cat.catalogue.sequence) if cat else 'none'}")
    for uri, issued in sorted(state.status_lists.items()):
        sl = issued.status_list
        print(
            f"status list {shown(uri)}: issued {format_time(sl.issued_at)}, "
            f"expires {format_time(sl.expires_at)}"
        )
    return 0


def cmd_demo_init(args: argparse.Namespace) -> int:
    target = Path(args.dir)
    if target.exists() and not target.is_dir():
        raise UsageError(f"{target} exists and is not a directory")
    if (target / "huren.json").exists():
        raise UsageError(f"{target / 'huren.json'} exists; the demo world is already there")
    try:
        demo: Any = importlib.import_module("api.demo")
    except ModuleNotFoundError as exc:
        if exc.name == "api.demo":
            print(
                f"{PROG}: error: the demo world is not available (api/demo.py is missing)",
                file=sys.stderr,
            )
            return 1
        raise
    demo.write_demo(target, demo.build_demo_world(utc_now()))
    print(f"demo world written to {target}")
    print(f"  start the service: {PROG} serve --config {target / 'huren.json'}")
    print(f"  demo API keys: {target / 'demo-credentials.txt'}")
    return 0


def cmd_demo_export_server(args: argparse.Namespace) -> int:
    from api.deploy import ExportError, export_server_directory

    source, out = Path(args.dir), Path(args.out)
    try:
        written = export_server_directory(source / "huren.json", out)
    except ExportError as exc:
        raise UsageError(str(exc)) from exc
    print(f"server directory written to {out}: {', '.join(written)} (no operator keys)")
    print(f"  for the container image (uid 10001): chown -R 10001:10001 {out}")
    return 0


def cmd_demo_renew(args: argparse.Namespace) -> int:
    target = Path(args.dir)
    if not (target / "huren.json").is_file():
        raise UsageError(f"no demo world in {target}: create one with `{PROG} demo init {target}`")
    demo: Any = importlib.import_module("api.demo")
    within = timedelta(days=args.within_days)
    done = demo.renew_demo(target, utc_now(), within=within)
    for line in done:
        print(f"renewed {line}")
    if not done:
        print(f"nothing in {target} lapses within {args.within_days} days: kept as it is")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        serve: Any = importlib.import_module("api.server").serve
    except ModuleNotFoundError as exc:
        if exc.name == "api.server":
            print(
                f"{PROG}: error: the service is not available (api/server.py is missing)",
                file=sys.stderr,
            )
            return 1
        raise
    serve(args.config, args.host, args.port)
    return 0


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


def _version() -> str:
    try:
        return importlib.metadata.version("huren")
    except importlib.metadata.PackageNotFoundError:  # run from a tree that is not installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="huren (互认) trust-list administration and service.")
    p.add_argument("--version", action="version", version=f"{PROG} {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
            type=_positive_int,
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
            type=_positive_int,
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

    # keys
    keys = sub.add_parser("keys", help="create signing keys, inspect certificates").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    g: argparse.ArgumentParser = keys.add_parser(
        "generate", help="generate a key pair (private PEM, mode 0600)"
    )
    g.add_argument(
        "--alg",
        required=True,
        choices=sorted(ALLOWED_ALGORITHMS),
        help="signature algorithm, e.g. --alg ES256",
    )
    g.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="private key file; the public JWK goes to FILE.jwk.json, e.g. --out op1.pem",
    )
    passphrase_arg(g)
    g.set_defaults(func=cmd_keys_generate)
    g = keys.add_parser("public", help="print the public JWK of a private key")
    g.add_argument("key", metavar="KEY", help="the private key file (PEM)")
    passphrase_arg(g)
    g.add_argument("--out", metavar="FILE", help="write the JWK here (default: print it)")
    g.set_defaults(func=cmd_keys_public)
    g = keys.add_parser(
        "inspect", help="show an X.509 certificate and the trust-list key it becomes (--cert)"
    )
    g.add_argument("file", metavar="CERTIFICATE", help="DER or PEM; SM2 or P-256")
    g.set_defaults(func=cmd_keys_inspect)

    # anchors
    anchors = sub.add_parser("anchors", help="pin operator keys per jurisdiction").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    g = anchors.add_parser("add", help="pin (or re-pin) one jurisdiction in an anchors file")
    g.add_argument("anchors", metavar="ANCHORS", help="anchors.json (created if missing)")
    g.add_argument("--jurisdiction", required=True, help="six-digit GB/T 2260 code, e.g. 440300")
    threshold_arg(g, "of these operator keys")
    operators_arg(g, required=False)
    g.add_argument(
        "--kid",
        action="append",
        help="an operator key's RFC 7638 thumbprint, when its public key is not at hand "
        "(repeatable)",
    )
    g.add_argument(
        "--thumbprints-only",
        action="store_true",
        help="pin only the thumbprints of the --operator keys, not the keys themselves",
    )
    g.set_defaults(func=cmd_anchors_add)

    # list
    lst = sub.add_parser("list", help="author, sign, verify, show and diff trust lists")
    ls = lst.add_subparsers(dest="sub", required=True, metavar="ACTION")

    def edit(name: str, help_text: str) -> argparse.ArgumentParser:
        e = ls.add_parser(name, help=help_text)
        e.add_argument(
            "file", metavar="FILE", help="draft (edited in place unless --out) or signed list"
        )
        e.add_argument(
            "--out", metavar="FILE", help="write the new draft here (needed for a signed list)"
        )
        return e

    g = ls.add_parser("new", help="create a draft trust list")
    g.add_argument("--jurisdiction", required=True, help="six-digit GB/T 2260 code, e.g. 440300")
    g.add_argument("--name-zh", required=True, help="the list's Chinese name, e.g. 深圳市")
    g.add_argument("--name-en", required=True, help="the list's English name, e.g. Shenzhen")
    operators_arg(g, required=True)
    threshold_arg(g, "of the operators")
    valid_days_arg(g)
    g.add_argument(
        "--sequence",
        type=_positive_int,
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

    g = ls.add_parser("sign", help="sign a draft (or add a signature to a signed list)")
    g.add_argument("file", metavar="FILE", help="the draft, or a list signed by others")
    g.add_argument("--key", required=True, help="operator private key (PEM), e.g. --key op1.pem")
    passphrase_arg(g)
    out_arg(g, "the signed list")
    g.set_defaults(func=cmd_list_sign)

    g = ls.add_parser("combine", help="combine separately made signatures over one list")
    g.add_argument("files", nargs="+", metavar="FILE", help="signed copies of the same list")
    out_arg(g, "the list with every signature")
    g.set_defaults(func=cmd_list_combine)

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
        type=_non_negative_int,
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

    # trust store
    trust = sub.add_parser("trust", help="the service's trust store, offline").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    g = trust.add_parser("submit", help="verify and store signed lists, catalogues, status lists")
    g.add_argument(
        "files", nargs="+", metavar="FILE", help="signed trust lists, catalogues, status lists"
    )
    config_option(g)
    g.set_defaults(func=cmd_trust_submit)
    g = trust.add_parser("show", help="what the store holds")
    config_option(g)
    at_arg(g, "freshness as of this time")
    g.set_defaults(func=cmd_trust_show)

    # demo and service
    demo = sub.add_parser("demo", help="the Shenzhen-Zhongshan demo world").add_subparsers(
        dest="sub", required=True, metavar="ACTION"
    )
    g = demo.add_parser("init", help="create a complete demo world in DIR")
    g.add_argument("dir", metavar="DIR", help="a new or empty directory, e.g. .demo")
    g.set_defaults(func=cmd_demo_init)
    g = demo.add_parser(
        "renew", help="keep the demo in DIR: renew its lists that lapse soon (make run does this)"
    )
    g.add_argument("dir", metavar="DIR", help="the demo's directory, e.g. .demo")
    g.add_argument(
        "--within-days",
        type=_positive_int,
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

    from api import national_cli

    national_cli.add_parser(sub)  # huren verify FILE --config DIR
    importlib.import_module("cli.licence").add_parser(sub)  # huren licence qr ...
    importlib.import_module("api.status_cli").add_parser(sub)  # huren status ...

    g = sub.add_parser("serve", help="run the verification service")
    config_option(g)
    g.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    g.add_argument(
        "--port", type=int, default=8000, help="port to listen on (default 8000), e.g. --port 8080"
    )
    g.set_defaults(func=cmd_serve)
    return p


def _one_line(text: str) -> str:
    return shown(" ".join(str(text).split()))


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
    except UsageError as exc:
        print(f"{PROG}: usage error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except TrustStateError as exc:
        print(f"{PROG}: refused [{exc.code}]: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"{PROG}: error:{where}: {_one_line(exc.strerror or str(exc))}", file=sys.stderr)
        return 1
    except ValueError as exc:  # KeyMaterialError, MalformedJSON, MalformedJWS, ...
        code = getattr(exc, "code", None)
        tag = f" [{code}]" if isinstance(code, str) else ""
        print(f"{PROG}: error{tag}: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("HUREN_DEBUG"):
            raise
        print(
            f"{PROG}: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
            "(set HUREN_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
