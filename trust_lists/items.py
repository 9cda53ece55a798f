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
from dataclasses import field as dataclass_field
from typing import Any

from trust_lists.errors import DocumentTooLarge, MalformedDocument
from trust_lists.model import _Fields
from trust_lists.text import check_text

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
    _values: frozenset[str] = dataclass_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_values", frozenset(self.any_of))

    def holds(self, data: Mapping[str, object]) -> bool:
        value = data.get(self.field)
        if type(value) is not str:
            return False
        if value.strip() in self._values:  # the usual case: a single part
            return True
        return not self._values.isdisjoint(p.strip() for p in _PARTS.split(value))


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
    # (issuing, is_licence, type) -> the rules naming them, in order; built on first use.
    _index: dict[tuple[str, bool, str], tuple[ItemRule, ...]] | None = dataclass_field(
        default=None, init=False, repr=False, compare=False
    )

    def rules_for(self, issuing: str, is_licence: bool, type_code: str) -> tuple[ItemRule, ...]:
        """The rules that name this city and type: one look-up however many rules the item has."""
        index = self._index
        if index is None:
            built: dict[tuple[str, bool, str], list[ItemRule]] = {}
            for rule in self.accepts or ():
                for city in rule.issuing:
                    for code in rule.licence_types:
                        built.setdefault((city, True, code), []).append(rule)
                    for code in rule.seal_types:
                        built.setdefault((city, False, code), []).append(rule)
            index = {k: tuple(v) for k, v in built.items()}
            object.__setattr__(self, "_index", index)  # the same for every thread that builds it
        return index.get((issuing, is_licence, type_code), ())

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
    readers = (_Codes(_JURISDICTION, MAX_ISSUING), _Codes(_TYPE_CODE, MAX_TYPES_PER_RULE))
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
                _rule(r, f"{where}.accepts[{j}]", licence_types, seal_types, readers)
                for j, r in enumerate(accepts)
            )
        items.append(ServiceItem(relying, code, name_zh, name_en, dep_zh, dep_en, rules))
    return tuple(items)


_RULE_REQUIRED = frozenset({"issuing", "licence_types", "seal_types"})
_RULE_MEMBERS = _RULE_REQUIRED | {"holder", "data_includes"}


class _Codes:
    """Code lists read once per distinct list: catalogues repeat the same few city and type
    lists across thousands of rules, and each is checked (and made a frozenset) only once."""

    def __init__(self, pattern: re.Pattern[str], cap: int) -> None:
        self.pattern, self.cap = pattern, cap
        self.seen: dict[tuple[str, ...], frozenset[str]] = {}
        self.includes: dict[object, DataIncludes] = {}  # conditions read so far, likewise

    def read(self, raw: object, where: str) -> frozenset[str]:
        if type(raw) is not list:
            raise MalformedDocument(f"{where} must be a list")
        if not all(type(c) is str for c in raw):
            raise MalformedDocument(f"{where} must list codes (strings)")
        key = tuple(raw)
        known = self.seen.get(key)
        if known is not None:
            return known
        if len(raw) > self.cap or not all(self.pattern.match(c) for c in raw):
            raise MalformedDocument(f"{where} must list at most {self.cap} well-formed codes")
        codes = frozenset(raw)
        if len(codes) != len(raw):
            raise MalformedDocument(f"{where} lists a code twice")
        self.seen[key] = codes
        return codes


def _rule(
    raw: object,
    where: str,
    licence_types: Mapping[str, object],
    seal_types: Mapping[str, object],
    readers: tuple[_Codes, _Codes],
) -> ItemRule:
    # By hand rather than with _Fields: a big catalogue has tens of thousands of rules.
    if type(raw) is not dict:
        raise MalformedDocument(f"{where} must be a JSON object")
    members = raw.keys()
    if not members >= _RULE_REQUIRED:
        raise MalformedDocument(f"{where}.{sorted(_RULE_REQUIRED - members)[0]} is missing")
    if not members <= _RULE_MEMBERS:
        raise MalformedDocument(f"{where} has unknown members {sorted(members - _RULE_MEMBERS)}")
    cities, types = readers
    issuing = cities.read(raw["issuing"], f"{where}.issuing")
    lic = types.read(raw["licence_types"], f"{where}.licence_types")
    seal = types.read(raw["seal_types"], f"{where}.seal_types")
    holder = raw.get("holder")
    includes = raw.get("data_includes")
    if not issuing:
        raise MalformedDocument(f"{where}.issuing must name at least one city")
    if not lic and not seal:
        raise MalformedDocument(f"{where} must name at least one licence or seal type")
    if not lic <= licence_types.keys() or not seal <= seal_types.keys():
        raise MalformedDocument(f"{where} names a type the catalogue does not define")
    if "holder" in members and holder != HOLDER_ENTERPRISE:
        raise MalformedDocument(f"{where}.holder can only be {HOLDER_ENTERPRISE!r}")
    data_includes = None
    if "data_includes" in members:
        if seal:
            # Seals carry no data fields: such a rule could never accept a seal.
            raise MalformedDocument(f"{where}.data_includes applies to licences only")
        data_includes = _data_includes(includes, f"{where}.data_includes", cities.includes)
    return ItemRule(issuing, lic, seal, holder, data_includes)


_INCLUDES_MEMBERS = frozenset({"field", "any_of"})


def _data_includes(raw: object, where: str, seen: dict[object, DataIncludes]) -> DataIncludes:
    if type(raw) is not dict or raw.keys() != _INCLUDES_MEMBERS:
        raise MalformedDocument(f"{where} must be an object of exactly field and any_of")
    name, values = raw["field"], raw["any_of"]
    if type(name) is not str or type(values) is not list:
        raise MalformedDocument(f"{where}: field is a text, any_of a list of texts")
    if not all(type(v) is str for v in values):
        raise MalformedDocument(f"{where}.any_of must list texts")
    key = (name, *values)
    known = seen.get(key)
    if known is not None:
        return known
    if not 0 < len(name) <= 64:
        raise MalformedDocument(f"{where}.field must be 1..64 characters")
    check_text(name, f"{where}.field")
    if not 0 < len(values) <= MAX_VALUES:
        raise MalformedDocument(f"{where}.any_of must hold 1..{MAX_VALUES} texts")
    for i, v in enumerate(values):
        if not 0 < len(v) <= 256:
            raise MalformedDocument(f"{where}.any_of[{i}] must be 1..256 characters")
        check_text(v, f"{where}.any_of[{i}]")
        if v != v.strip() or _PARTS.search(v):
            # It could never equal a part: refuse it rather than let it silently never match.
            raise MalformedDocument(f"{where}.any_of: {v!r} holds a separator or outer spaces")
    if len(set(values)) != len(values):
        raise MalformedDocument(f"{where}.any_of lists a value twice")
    seen[key] = DataIncludes(name, tuple(values))
    return seen[key]


def decide_by_rules(
    item: ServiceItem,
    issuing: str,
    *,
    licence_type: str | None,
    seal_type: str | None,
    enterprise: bool,
    data: Mapping[str, object],
) -> ItemDecision:
    """The item's rules for one document: accepted when one rule names the city and the type and
    its conditions hold; else the first rule naming both whose condition failed, if any."""
    if licence_type is not None:
        rules = item.rules_for(issuing, True, licence_type)
    else:
        rules = item.rules_for(issuing, False, seal_type or "")
    for rule in rules:
        if (rule.holder is None or enterprise) and (
            rule.data_includes is None or rule.data_includes.holds(data)
        ):
            return _BY_RULES
    return ItemDecision(False, True, rules[0]) if rules else _NOT_BY_RULES


# The decisions without a rule to name, made once (a verdict asks for one each time).
_BY_RULES = ItemDecision(True, True)
_NOT_BY_RULES = ItemDecision(False, True)
BY_CITY_WIDE = ItemDecision(True, False)
NOT_BY_CITY_WIDE = ItemDecision(False, False)


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
