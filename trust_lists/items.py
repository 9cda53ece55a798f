"""Service items (政务服务事项) of the recognition catalogue: per relying city, the counter services
it handles and which licence and seal types each accepts from which issuing cities.

An item with no `accepts` member follows the city-wide recognitions of its relying city; an item
with rules accepts exactly what its rules name (nothing else, not even the city-wide types), so a
city can recognise a document for some items only. A rule may add conditions on claims the
document already carries: the holder must be an enterprise, a licence data field must include one
of some values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trust_lists.errors import DocumentTooLarge, MalformedDocument
from trust_lists.model import _Fields

# A stable code, as the city's item catalogue (事项目录) numbers it: upper-case letters, digits
# and . _ -. Upper case only, so one code is never two items that differ by case.
ITEM_CODE = re.compile(r"\A[0-9A-Z][0-9A-Z._-]{0,63}\Z")
_JURISDICTION = re.compile(r"\A[1-9][0-9]{5}\Z")
_TYPE_CODE = re.compile(r"\A[a-z0-9][a-z0-9._-]{0,63}\Z")
MAX_ITEMS = 20_000
MAX_RULES = 64
MAX_ISSUING = 64
MAX_TYPES_PER_RULE = 64
MAX_VALUES = 32
# What separates the parts of a data field ("软件开发；信息技术咨询服务"): Chinese and ASCII
# semicolons and commas and the enumeration comma. A value matches one whole part, never a piece.
_PARTS = re.compile(r"[；;，,、]")
HOLDER_ENTERPRISE = "enterprise"


@dataclass(frozen=True, slots=True)
class DataIncludes:
    """The licence's data field `field`, cut into parts, includes one of `any_of`."""

    field: str
    any_of: tuple[str, ...]

    def holds(self, data: Mapping[str, object]) -> bool:
        value = data.get(self.field)
        if type(value) is not str:
            return False
        parts = {p.strip() for p in _PARTS.split(value)}
        return any(v in parts for v in self.any_of)


@dataclass(frozen=True, slots=True)
class ItemRule:
    """Accept these licence and seal types issued in these cities, when the conditions hold."""

    issuing: frozenset[str]
    licence_types: frozenset[str]
    seal_types: frozenset[str]
    holder: str | None = None  # HOLDER_ENTERPRISE: the holder has a credit code, not a person id
    data_includes: DataIncludes | None = None  # licences only

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "issuing": sorted(self.issuing),
            "licence_types": sorted(self.licence_types),
            "seal_types": sorted(self.seal_types),
        }
        if self.holder is not None:
            out["holder"] = self.holder
        if self.data_includes is not None:
            out["data_includes"] = {
                "field": self.data_includes.field,
                "any_of": list(self.data_includes.any_of),
            }
        return out


@dataclass(frozen=True, slots=True)
class ServiceItem:
    relying: str
    code: str
    name_zh: str
    name_en: str
    department_zh: str | None = None
    department_en: str | None = None
    # None: the item follows its city's city-wide recognitions; else exactly these rules.
    accepts: tuple[ItemRule, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "relying": self.relying,
            "code": self.code,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
        }
        if self.department_zh is not None:
            out["department"] = {"name_zh": self.department_zh, "name_en": self.department_en}
        if self.accepts is not None:
            out["accepts"] = [r.to_dict() for r in self.accepts]
        return out

    def matches(self, query: str) -> bool:
        """Search: `query` (already case-folded) in the code or either name."""
        return (
            query in self.code.casefold()
            or query in self.name_zh.casefold()
            or query in self.name_en.casefold()
        )


@dataclass(frozen=True, slots=True)
class ItemDecision:
    """Whether an item accepts a document: `accepted`, and when refused by a rule that names the
    type and city but whose condition fails, that rule (for the reason)."""

    accepted: bool
    by_item_rules: bool  # False: decided by the city-wide recognitions
    unmet: ItemRule | None = None


def parse_items(
    raw: list[Any], licence_types: Mapping[str, object], seal_types: Mapping[str, object]
) -> tuple[ServiceItem, ...]:
    if len(raw) > MAX_ITEMS:
        raise DocumentTooLarge(f"catalogue.items: at most {MAX_ITEMS} items")
    items: list[ServiceItem] = []
    seen: set[tuple[str, str]] = set()
    for i, entry in enumerate(raw):
        where = f"catalogue.items[{i}]"
        f = _Fields(entry, where)
        relying = f.get("relying", str)
        code = f.get("code", str)
        name_zh, name_en = f.text("name_zh"), f.text("name_en")
        department = f.get("department", dict, optional=True)
        accepts = f.get("accepts", list, optional=True)
        f.done()
        if not _JURISDICTION.match(relying):
            raise MalformedDocument(f"{where}.relying must be a six-digit code")
        if not ITEM_CODE.match(code):
            raise MalformedDocument(
                f"{where}.code must be 1..64 upper-case letters, digits, . _ - "
                "(starting with a letter or digit)"
            )
        if (relying, code) in seen:
            raise MalformedDocument(f"{where}: item {code} of {relying} is listed twice")
        seen.add((relying, code))
        dep_zh = dep_en = None
        if department is not None:
            df = _Fields(department, f"{where}.department")
            dep_zh, dep_en = df.text("name_zh"), df.text("name_en")
            df.done()
        rules = None
        if accepts is not None:
            # An empty list would read as "accepts nothing" to one reader and "says nothing" to
            # another: an item that follows the city-wide recognitions leaves `accepts` out.
            if not 0 < len(accepts) <= MAX_RULES:
                raise MalformedDocument(
                    f"{where}.accepts must hold 1..{MAX_RULES} rules (leave it out to follow the "
                    "city-wide recognitions)"
                )
            rules = tuple(
                _rule(r, f"{where}.accepts[{j}]", licence_types, seal_types)
                for j, r in enumerate(accepts)
            )
        items.append(ServiceItem(relying, code, name_zh, name_en, dep_zh, dep_en, rules))
    return tuple(items)


def _codes(raw: list[Any], where: str, pattern: re.Pattern[str], cap: int) -> frozenset[str]:
    if len(raw) > cap or not all(type(c) is str and pattern.match(c) for c in raw):
        raise MalformedDocument(f"{where} must list at most {cap} codes")
    if len(set(raw)) != len(raw):
        raise MalformedDocument(f"{where} lists a code twice")
    return frozenset(raw)


def _rule(
    raw: object, where: str, licence_types: Mapping[str, object], seal_types: Mapping[str, object]
) -> ItemRule:
    f = _Fields(raw, where)
    issuing = _codes(f.get("issuing", list), f"{where}.issuing", _JURISDICTION, MAX_ISSUING)
    lic = _codes(f.get("licence_types", list), f"{where}.licence_types", _TYPE_CODE, 64)
    seal = _codes(f.get("seal_types", list), f"{where}.seal_types", _TYPE_CODE, 64)
    holder = f.get("holder", str, optional=True)
    includes = f.get("data_includes", dict, optional=True)
    f.done()
    if not issuing:
        raise MalformedDocument(f"{where}.issuing must name at least one city")
    if not lic and not seal:
        raise MalformedDocument(f"{where} must name at least one licence or seal type")
    if not lic <= licence_types.keys() or not seal <= seal_types.keys():
        raise MalformedDocument(f"{where} names a type the catalogue does not define")
    if holder is not None and holder != HOLDER_ENTERPRISE:
        raise MalformedDocument(f"{where}.holder can only be {HOLDER_ENTERPRISE!r}")
    data_includes = None
    if includes is not None:
        if seal:
            # Seals carry no data fields: such a rule could never accept a seal.
            raise MalformedDocument(f"{where}.data_includes applies to licences only")
        inf = _Fields(includes, f"{where}.data_includes")
        name = inf.text("field", max_len=64)
        values = inf.get("any_of", list)
        inf.done()
        if not 0 < len(values) <= MAX_VALUES or not all(
            type(v) is str and 0 < len(v) <= 256 for v in values
        ):
            raise MalformedDocument(f"{where}.data_includes.any_of must hold 1..{MAX_VALUES} texts")
        for v in values:
            if v != v.strip() or _PARTS.search(v):
                # It could never equal a part: refuse it rather than let it silently never match.
                raise MalformedDocument(
                    f"{where}.data_includes.any_of: {v!r} holds a separator or outer spaces"
                )
        if len(set(values)) != len(values):
            raise MalformedDocument(f"{where}.data_includes.any_of lists a value twice")
        data_includes = DataIncludes(name, tuple(values))
    return ItemRule(issuing, lic, seal, holder, data_includes)


def decide_by_rules(
    rules: tuple[ItemRule, ...],
    issuing: str,
    *,
    licence_type: str | None,
    seal_type: str | None,
    enterprise: bool,
    data: Mapping[str, object],
) -> ItemDecision:
    """The item's rules for one document: accepted when one rule names the city and the type and
    its conditions hold; else the first rule naming both whose condition failed, if any."""
    unmet: ItemRule | None = None
    for rule in rules:
        if issuing not in rule.issuing:
            continue
        if licence_type is not None:
            if licence_type not in rule.licence_types:
                continue
        elif seal_type not in rule.seal_types:
            continue
        ok = (rule.holder is None or enterprise) and (
            rule.data_includes is None or rule.data_includes.holds(data)
        )
        if ok:
            return ItemDecision(True, True)
        if unmet is None:
            unmet = rule
    return ItemDecision(False, True, unmet)


__all__ = [
    "HOLDER_ENTERPRISE",
    "ITEM_CODE",
    "DataIncludes",
    "ItemDecision",
    "ItemRule",
    "ServiceItem",
    "decide_by_rules",
    "parse_items",
]
