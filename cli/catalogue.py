"""`huren catalogue`: the recognition catalogue's service items (政务服务事项): export the held
catalogue, bump it, add, change and remove items and their rules, show and search them, sign,
combine and diff, as for lists. Drafts are the unsigned payload as pretty JSON; every edit is a
pure function from `trust_lists.catalogue_authoring`, read back by the service's own parser."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from cli.common import (
    UsageError,
    combine_files,
    command_group,
    config_option,
    edit_command,
    edit_draft,
    issued_at_arg,
    open_store,
    out_arg,
    read_draft_or_signed,
    render_table,
    say,
    sign_and_combine_parsers,
    sign_file,
    write_output,
)
from trust_lists import catalogue_authoring as authoring
from trust_lists.catalogue import MAX_CATALOGUE_BYTES, Catalogue, SignedCatalogue
from trust_lists.errors import MalformedDocument
from trust_lists.items import HOLDER_ENTERPRISE, DataIncludes, ItemRule, ServiceItem
from trust_lists.text import shown

UNSIGNED_CATALOGUE = (
    "is an unsigned catalogue draft: sign it first (`huren catalogue sign DRAFT --key KEY --out "
    "SIGNED`, by a threshold of every city's operators, then `huren catalogue combine`)"
)


# -- files -------------------------------------------------------------------------------------


def read_catalogue_file(path: str) -> tuple[Catalogue, SignedCatalogue | None]:
    """A draft (the unsigned payload as JSON) or a signed catalogue; the catalogue and envelope."""
    draft, signed = read_draft_or_signed(
        path, MAX_CATALOGUE_BYTES, SignedCatalogue.parse, Catalogue.from_dict
    )
    return (signed.catalogue if signed is not None else draft), signed


def _signed(path: str) -> SignedCatalogue:
    _, signed = read_catalogue_file(path)
    if signed is None:
        raise MalformedDocument(f"{path} {UNSIGNED_CATALOGUE}")
    return signed


def _write_draft(cat: Catalogue, path: str) -> Catalogue:
    checked = authoring.checked(cat)
    text = json.dumps(checked.to_dict(), indent=2, ensure_ascii=False) + "\n"
    write_output(path, text.encode("utf-8"))
    return checked


def _edit(args: argparse.Namespace, edit: Callable[[Catalogue], Catalogue], done: str) -> int:
    return edit_draft(
        args,
        read_catalogue_file,
        _write_draft,
        edit,
        done,
        kind="catalogue",
        bump="huren catalogue bump",
    )


def _codes(text: str | None) -> frozenset[str]:
    return frozenset(c.strip() for c in (text or "").split(",") if c.strip())


# -- commands ----------------------------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    signed = open_store(args.config).state.catalogue
    if signed is None:
        raise MalformedDocument("the service holds no recognition catalogue")
    write_output(args.out, signed.to_json())
    say(args, f"catalogue sequence {signed.catalogue.sequence} -> {args.out}")
    return 0


def cmd_bump(args: argparse.Namespace) -> int:
    return _edit(
        args,
        lambda cat: authoring.next_catalogue(cat, issued_at=args.issued_at),
        "bumped",
    )


def _department(args: argparse.Namespace) -> tuple[str, str] | None:
    zh, en = args.department_zh, args.department_en
    if (zh is None) != (en is None):
        raise UsageError("give both --department-zh and --department-en, or neither")
    return (zh, en) if zh is not None and en is not None else None


def cmd_add_item(args: argparse.Namespace) -> int:
    dep = _department(args)
    item = ServiceItem(
        args.relying,
        args.code,
        args.name_zh,
        args.name_en,
        dep[0] if dep else None,
        dep[1] if dep else None,
    )
    return _edit(
        args,
        lambda cat: authoring.add_item(cat, item),
        f"added item {args.code} of {args.relying} (city-wide recognitions until it has rules: "
        "`huren catalogue add-rule`)",
    )


def cmd_change_item(args: argparse.Namespace) -> int:
    changes: dict[str, Any] = {"name_zh": args.name_zh, "name_en": args.name_en}
    dep = _department(args)
    if args.no_department:
        if dep is not None:
            raise UsageError("--no-department and --department-zh/-en exclude each other")
        changes["department"] = None
    elif dep is not None:
        changes["department"] = dep
    if args.city_wide:
        changes["accepts"] = None
    return _edit(
        args,
        lambda cat: authoring.change_item(cat, args.relying, args.code, **changes),
        f"changed item {args.code} of {args.relying}",
    )


def _data_includes(text: str | None) -> DataIncludes | None:
    if text is None:
        return None
    field, sep, values = text.partition("=")
    if not sep or not field.strip():
        raise UsageError("--data-includes is FIELD=VALUE[|VALUE...], e.g. 主体业态=中央厨房")
    return DataIncludes(field.strip(), tuple(v.strip() for v in values.split("|") if v.strip()))


def cmd_add_rule(args: argparse.Namespace) -> int:
    rule = ItemRule(
        _codes(args.issuing),
        _codes(args.licence_types),
        _codes(args.seal_types),
        HOLDER_ENTERPRISE if args.enterprise else None,
        _data_includes(args.data_includes),
    )
    return _edit(
        args,
        lambda cat: authoring.add_rule(cat, args.relying, args.code, rule),
        f"added a rule to item {args.code} of {args.relying}: {authoring.rule_text(rule)}",
    )


def cmd_remove_item(args: argparse.Namespace) -> int:
    return _edit(
        args,
        lambda cat: authoring.remove_item(cat, args.relying, args.code),
        f"removed item {args.code} of {args.relying}",
    )


def cmd_items(args: argparse.Namespace) -> int:
    cat, signed = read_catalogue_file(args.file)
    kind = f"SIGNED ({len(signed.envelope.signatures)} signatures)" if signed else "DRAFT"
    print(f"CATALOGUE {kind}, sequence {cat.sequence}")
    cities = [args.relying] if args.relying else sorted({i.relying for i in cat.items})
    for city in cities:
        found = cat.search_items(city, args.q or "", limit=len(cat.items) or 1)
        print(f"\n{city}: {len(found)} item(s)")
        rows = []
        for item in found:
            rules = authoring.rules_text(item)
            rows.append([item.code, f"{item.name_zh} / {item.name_en}", rules[0]])
            rows.extend(["", "", more] for more in rules[1:])
        if rows:
            print(render_table(["CODE", "NAME", "ACCEPTS"], [[shown(c) for c in r] for r in rows]))
    return 0


def cmd_sign(args: argparse.Namespace) -> int:
    cat, signed = read_catalogue_file(args.file)
    sign_file(args, cat, signed, SignedCatalogue.create, "catalogue")
    return 0


def cmd_combine(args: argparse.Namespace) -> int:
    return combine_files(args, _signed, "catalogue")


def cmd_diff(args: argparse.Namespace) -> int:
    old, _ = read_catalogue_file(args.old)
    new, _ = read_catalogue_file(args.new)
    changes = authoring.diff_catalogues(old, new)
    print(f"--- catalogue sequence {old.sequence}\n+++ catalogue sequence {new.sequence}")
    warnings = 0
    for c in changes:
        print(shown(f"{c.sign} {c.text}"))
        if c.warning:
            warnings += 1
            print(shown(f"  ! {c.warning}"))
    relying = sorted(old.relying_jurisdictions | new.relying_jurisdictions)
    print(
        f"\n{len(changes)} changes, {warnings} warnings; to be accepted it needs the signatures "
        f"of a threshold of the operators of {', '.join(relying)}"
    )
    return 0


# -- the parser --------------------------------------------------------------------------------


def add_parser(sub: Any) -> None:
    cs = command_group(
        sub, "catalogue", "the recognition catalogue's service items: edit, sign, combine, diff"
    )

    def edit(name: str, help_text: str) -> argparse.ArgumentParser:
        return edit_command(cs, name, help_text, signed="catalogue")

    def item(e: argparse.ArgumentParser) -> None:
        e.add_argument("--relying", required=True, help="the city handling the item, e.g. 440300")
        e.add_argument("--code", required=True, help="the item's code, e.g. 440300-SCJG-0012")

    g = cs.add_parser("export", help="the catalogue the service holds, signed")
    config_option(g)
    out_arg(g, "the signed catalogue")
    g.set_defaults(func=cmd_export)

    g = edit("bump", "next sequence, issued now (every published change needs one)")
    issued_at_arg(g)
    g.set_defaults(func=cmd_bump)

    g = edit("add-item", "add a service item (it follows the city-wide recognitions until ruled)")
    item(g)
    g.add_argument("--name-zh", required=True, help="e.g. 集体用餐配送供应商备案")
    g.add_argument("--name-en", required=True, help="e.g. 'Filing of collective-meal suppliers'")
    g.add_argument("--department-zh", help="the handling department, e.g. 深圳市市场监督管理局")
    g.add_argument("--department-en", help="its English name (with --department-zh)")
    g.set_defaults(func=cmd_add_item)

    g = edit("change-item", "rename an item, change its department, or drop its rules")
    item(g)
    g.add_argument("--name-zh", help="the new Chinese name")
    g.add_argument("--name-en", help="the new English name")
    g.add_argument("--department-zh", help="the new department (with --department-en)")
    g.add_argument("--department-en", help="the new department's English name")
    g.add_argument("--no-department", action="store_true", help="remove the department")
    g.add_argument(
        "--city-wide",
        action="store_true",
        help="drop the item's rules: the city-wide recognitions apply to it again",
    )
    g.set_defaults(func=cmd_change_item)

    g = edit("add-rule", "the item accepts these types from these cities (rules add up)")
    item(g)
    g.add_argument("--issuing", required=True, help="issuing cities, e.g. 440300,442000")
    g.add_argument("--licence-types", help="licence type codes, e.g. food_business_permit")
    g.add_argument("--seal-types", help="seal type codes, e.g. official,contract")
    g.add_argument(
        "--enterprise", action="store_true", help="only documents whose holder is an enterprise"
    )
    g.add_argument(
        "--data-includes",
        metavar="FIELD=VALUE[|VALUE]",
        help="licences only: the data field includes one of the values, e.g. "
        "'主体业态=中央厨房|集体用餐配送单位'",
    )
    g.set_defaults(func=cmd_add_rule)

    g = edit("remove-item", "remove a service item")
    item(g)
    g.set_defaults(func=cmd_remove_item)

    g = cs.add_parser("items", help="show or search the items of a draft or signed catalogue")
    g.add_argument("file", metavar="FILE", help="a draft or signed catalogue")
    g.add_argument("--relying", help="only this city's items, e.g. 440300")
    g.add_argument("--q", help="code or name (zh or en) contains this, e.g. 食品")
    g.set_defaults(func=cmd_items)

    sign_and_combine_parsers(cs, "catalogue", cmd_sign, cmd_combine)

    g = cs.add_parser("diff", help="what changed between two catalogues (review before signing)")
    g.add_argument("old", metavar="OLD", help="the catalogue held now (draft or signed)")
    g.add_argument("new", metavar="NEW", help="the catalogue to be signed (draft or signed)")
    g.set_defaults(func=cmd_diff)
