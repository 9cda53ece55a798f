"""`huren trust`: the service's trust store, offline (submit signed lists, catalogues and
status lists; show what it holds)."""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import json
import os
import sys
from typing import Any

from cli.common import (
    at_arg,
    command_group,
    config_option,
    config_path,
    open_store,
    read_bytes,
    read_config,
    render_table,
    utc_now,
    with_path,
)
from keys import (
    strict_json_loads,
)
from trust_lists.catalogue import CATALOGUE_TYP, MAX_CATALOGUE_BYTES
from trust_lists.errors import MalformedDocument, TrustStateError
from trust_lists.signed import (
    MAX_TRUST_LIST_BYTES,
    TRUST_LIST_TYP,
    UNSIGNED_DRAFT,
    is_unsigned_draft,
)
from trust_lists.status_list import MAX_STATUS_LIST_TOKEN_BYTES
from trust_lists.store import TrustStore
from trust_lists.text import shown
from trust_lists.timeutil import format_time


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
    """Offline submission, refused while a service holds the directory (its API is the one way
    in then: judged against its state, audited, propagated); audited as an upload is."""
    from api.obs.audit import AuditLog
    from api.settings import Settings

    anchors, directory, grace = read_config(args.config)
    audit = AuditLog(Settings.load(config_path(args.config)).audit_log_path)
    limit = max(MAX_TRUST_LIST_BYTES, MAX_CATALOGUE_BYTES, MAX_STATUS_LIST_TOKEN_BYTES)

    def record(path: str, **fields: Any) -> dict[str, Any]:
        return {
            "time": utc_now().isoformat(timespec="milliseconds"),
            "key_id": f"cli:uid-{os.getuid()}",  # no API key: the local user
            "file": str(path),
            **fields,
        }

    with contextlib.ExitStack() as held:
        try:
            held.enter_context(directory.unserved())
        except TrustStateError as exc:
            for path in args.files:
                audit.append(record(path, outcome="refused", code=exc.code, detail=str(exc)))
            raise
        store = TrustStore(anchors, directory, grace=grace)
        for problem in store.load():
            print(f"warning: {problem}", file=sys.stderr)
        for path in args.files:
            data = read_bytes(path, limit)
            now = utc_now()
            before = store.state
            entry = record(path, old_version=before.version)
            try:
                kind = document_kind(data)
                if kind == "list":
                    signed = store.submit_trust_list(data, now=now)
                    tl = signed.trust_list
                    what = f"trust list {tl.jurisdiction} sequence {tl.sequence}"
                    old = before.lists.get(tl.jurisdiction)
                    entry.update(action="trust_list", jurisdiction=tl.jurisdiction)
                    entry.update(
                        old_sequence=old.trust_list.sequence if old else None,
                        old_digest=old.digest if old else None,
                        new_sequence=tl.sequence,
                        new_digest=signed.digest,
                    )
                elif kind == "catalogue":
                    cat = store.submit_catalogue(data, now=now)
                    what = f"catalogue sequence {cat.catalogue.sequence}"
                    old_cat = before.catalogue
                    entry.update(action="catalogue", jurisdiction="catalogue")
                    entry.update(
                        old_sequence=old_cat.catalogue.sequence if old_cat else None,
                        old_digest=old_cat.digest if old_cat else None,
                        new_sequence=cat.catalogue.sequence,
                        new_digest=cat.digest,
                    )
                else:
                    issued = store.submit_status_list(data, now=now)
                    what = f"status list {issued.status_list.uri}"
                    entry.update(action="status_list", jurisdiction=issued.status_list.uri)
                    entry.update(new_digest=issued.status_list.digest)
            except TrustStateError as exc:
                entry.update(outcome="refused", code=exc.code, detail=str(exc)[:500])
                audit.append(entry)
                raise with_path(exc, path) from exc
            changed = store.state is not before
            entry.update(outcome="accepted" if changed else "unchanged")
            audit.append(entry)
            verb = "accepted" if changed else "already held:"
            print(f"{verb} {what} from {path}; trust state version {store.state.version}")
    return 0


def cmd_trust_show(args: argparse.Namespace) -> int:
    store = open_store(args.config)
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


def add_parser(sub: Any) -> None:
    trust = command_group(sub, "trust", "the service's trust store, offline")
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
