"""Operator-side editing of the recognition catalogue's service items, and what changed between
two catalogues: pure functions from one Catalogue to the next, like trust_lists/authoring.py for
lists. Every result is read back through the strict parser, so an edit can never produce a
catalogue the service would refuse. Nothing here signs or stores."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from trust_lists.catalogue import Catalogue, Recognition
from trust_lists.errors import MalformedDocument
from trust_lists.items import ItemRule, ServiceItem
from trust_lists.timeutil import format_time

_UNCHANGED: object = object()


def checked(cat: Catalogue) -> Catalogue:
    """`cat` as the service would read it (raises MalformedDocument where it would refuse)."""
    return Catalogue.from_dict(cat.to_dict())


def next_catalogue(cat: Catalogue, *, issued_at: datetime) -> Catalogue:
    """The next version: sequence + 1 (every published change needs one), issued at `issued_at`."""
    return dataclasses.replace(cat, sequence=cat.sequence + 1, issued_at=issued_at)


def _find(cat: Catalogue, relying: str, code: str) -> ServiceItem:
    item = cat.item(relying, code)
    if item is None:
        raise MalformedDocument(
            f"no service item {code} of {relying} in this catalogue "
            "(`huren catalogue items FILE` lists them)"
        )
    return item


def _with_items(cat: Catalogue, items: tuple[ServiceItem, ...]) -> Catalogue:
    return checked(dataclasses.replace(cat, items=items))


def add_item(cat: Catalogue, item: ServiceItem) -> Catalogue:
    if cat.item(item.relying, item.code) is not None:
        raise MalformedDocument(f"service item {item.code} of {item.relying} already exists")
    return _with_items(cat, (*cat.items, item))


def change_item(
    cat: Catalogue,
    relying: str,
    code: str,
    *,
    name_zh: str | None = None,
    name_en: str | None = None,
    department: tuple[str, str] | object | None = _UNCHANGED,
    accepts: tuple[ItemRule, ...] | object | None = _UNCHANGED,
) -> Catalogue:
    """Change an item's names, department (None removes it) or rules (None: back to the city-wide
    recognitions). Its code and city never change: a new code is a new item."""
    old = _find(cat, relying, code)
    new = dataclasses.replace(
        old,
        name_zh=name_zh if name_zh is not None else old.name_zh,
        name_en=name_en if name_en is not None else old.name_en,
    )
    if department is not _UNCHANGED:
        dep = department if isinstance(department, tuple) else (None, None)
        new = dataclasses.replace(new, department_zh=dep[0], department_en=dep[1])
    if accepts is not _UNCHANGED:
        new = dataclasses.replace(new, accepts=accepts)  # type: ignore[arg-type]
    return _with_items(cat, tuple(new if i is old else i for i in cat.items))


def add_rule(cat: Catalogue, relying: str, code: str, rule: ItemRule) -> Catalogue:
    """Append a rule to the item (an item following the city-wide recognitions gets its first)."""
    old = _find(cat, relying, code)
    rules = (*(old.accepts or ()), rule)
    return change_item(cat, relying, code, accepts=rules)


def remove_item(cat: Catalogue, relying: str, code: str) -> Catalogue:
    old = _find(cat, relying, code)
    return _with_items(cat, tuple(i for i in cat.items if i is not old))


# -- diff ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatalogueChange:
    """One difference, as one line: `sign` is "+", "-" or "~"; `warning` asks for a second look."""

    sign: str
    text: str
    warning: str | None = None


def rule_text(rule: ItemRule) -> str:
    parts = [f"from {','.join(sorted(rule.issuing))}"]
    if rule.licence_types:
        parts.append(f"licences {','.join(sorted(rule.licence_types))}")
    if rule.seal_types:
        parts.append(f"seals {','.join(sorted(rule.seal_types))}")
    if rule.holder is not None:
        parts.append(f"holder {rule.holder}")
    if rule.data_includes is not None:
        d = rule.data_includes
        parts.append(f"{d.field} includes one of {'/'.join(d.any_of)}")
    return "; ".join(parts)


def rules_text(item: ServiceItem) -> list[str]:
    if item.accepts is None:
        return ["city-wide recognitions"]
    return [rule_text(r) for r in item.accepts]


def _recognition_text(r: Recognition) -> str:
    return (
        f"{r.relying} accepts from {r.issuing}: licences "
        f"{','.join(sorted(r.licence_types)) or '-'}; seals {','.join(sorted(r.seal_types)) or '-'}"
    )


def diff_catalogues(old: Catalogue, new: Catalogue) -> tuple[CatalogueChange, ...]:
    out: list[CatalogueChange] = []
    if old.sequence != new.sequence:
        warn = None if new.sequence > old.sequence else "the sequence does not increase"
        out.append(CatalogueChange("~", f"sequence: {old.sequence} -> {new.sequence}", warn))
    if old.issued_at != new.issued_at:
        out.append(
            CatalogueChange(
                "~",
                f"issued at: {format_time(old.issued_at)} -> {format_time(new.issued_at)}",
            )
        )
    for kind, a, b in (
        ("licence type", old.licence_types, new.licence_types),
        ("seal type", old.seal_types, new.seal_types),
    ):
        for code in sorted(a.keys() - b.keys()):
            out.append(CatalogueChange("-", f"{kind} {code}"))
        for code in sorted(b.keys() - a.keys()):
            out.append(
                CatalogueChange("+", f"{kind} {code}: {b[code].name_zh} / {b[code].name_en}")
            )
        for code in sorted(a.keys() & b.keys()):
            if a[code] != b[code]:
                out.append(CatalogueChange("~", f"{kind} {code}: {a[code]} -> {b[code]}"))
    old_recs = {(r.relying, r.issuing): r for r in old.recognitions}
    new_recs = {(r.relying, r.issuing): r for r in new.recognitions}
    for pair in sorted(old_recs.keys() | new_recs.keys()):
        a_rec, b_rec = old_recs.get(pair), new_recs.get(pair)
        if a_rec == b_rec:
            continue
        if b_rec is None:
            assert a_rec is not None
            out.append(
                CatalogueChange(
                    "-",
                    f"recognition {_recognition_text(a_rec)}",
                    f"{pair[0]} no longer accepts anything city-wide from {pair[1]}",
                )
            )
        elif a_rec is None:
            out.append(CatalogueChange("+", f"recognition {_recognition_text(b_rec)}"))
        else:
            out.append(
                CatalogueChange(
                    "~",
                    f"recognition {_recognition_text(a_rec)} -> {_recognition_text(b_rec)}",
                )
            )
    old_items = {(i.relying, i.code): i for i in old.items}
    new_items = {(i.relying, i.code): i for i in new.items}
    for key in sorted(old_items.keys() | new_items.keys()):
        a_item, b_item = old_items.get(key), new_items.get(key)
        if a_item == b_item:
            continue
        name = f"item {key[0]}/{key[1]}"
        if b_item is None:
            assert a_item is not None
            out.append(
                CatalogueChange(
                    "-",
                    f"{name} {a_item.name_zh} / {a_item.name_en}",
                    "counters can no longer verify documents for this item",
                )
            )
            continue
        if a_item is None:
            out.append(CatalogueChange("+", f"{name} {b_item.name_zh} / {b_item.name_en}"))
            out.extend(CatalogueChange("+", f"{name} accepts {t}") for t in rules_text(b_item))
            continue
        for attr in ("name_zh", "name_en", "department_zh", "department_en"):
            va, vb = getattr(a_item, attr), getattr(b_item, attr)
            if va != vb:
                out.append(CatalogueChange("~", f"{name} {attr}: {va or '-'} -> {vb or '-'}"))
        ra, rb = rules_text(a_item), rules_text(b_item)
        if ra != rb:
            narrowed = a_item.accepts is None and b_item.accepts is not None
            out.extend(CatalogueChange("-", f"{name} accepts {t}") for t in ra if t not in rb)
            added = [t for t in rb if t not in ra]
            for i, t in enumerate(added):
                warn = (
                    "the item now accepts only what its rules name, no longer the city-wide "
                    "recognitions"
                    if narrowed and i == 0
                    else None
                )
                out.append(CatalogueChange("+", f"{name} accepts {t}", warn))
    return tuple(out)


__all__ = [
    "CatalogueChange",
    "add_item",
    "add_rule",
    "change_item",
    "checked",
    "diff_catalogues",
    "next_catalogue",
    "remove_item",
    "rule_text",
    "rules_text",
]
