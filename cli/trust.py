"""`huren trust`: the service's trust store, offline (submit signed lists, catalogues and
status lists; show what it holds)."""

from __future__ import annotations

import argparse
import base64
import binascii
import json
from typing import Any

from cli.common import (
    at_arg,
    command_group,
    config_option,
    open_store,
    read_bytes,
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
    store = open_store(args.config)
    limit = max(MAX_TRUST_LIST_BYTES, MAX_CATALOGUE_BYTES, MAX_STATUS_LIST_TOKEN_BYTES)
    for path in args.files:
        data = read_bytes(path, limit)
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
            raise with_path(exc, path) from exc
        verb = "already held:" if store.state is before else "accepted"
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
