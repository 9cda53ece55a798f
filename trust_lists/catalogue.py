"""The recognition catalogue: which licence and seal types each relying jurisdiction accepts from
each issuing jurisdiction, the service items each relying jurisdiction handles (with what each
accepts, trust_lists/items.py), and the catalogue of type codes with their names. Versioned,
signed data (not code): every relying jurisdiction named must have signed it with its operators'
threshold."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from keys import GeneralJWS, MalformedJWS, SigningKey, canonical_json
from trust_lists.errors import DocumentTooLarge, MalformedDocument
from trust_lists.items import (
    BY_CITY_WIDE,
    NOT_BY_CITY_WIDE,
    ItemDecision,
    ServiceItem,
    decide_by_rules,
    parse_items,
)
from trust_lists.model import _Fields
from trust_lists.signed import parse_canonical_payload
from trust_lists.timeutil import format_time

CATALOGUE_TYP = "huren-catalogue+jws"
FORMAT = "huren-recognition-catalogue"
# Room for a few thousand service items per city with their rules (a catalogue of 2 cities x
# 1,000 items x 20 rules is about 6 MiB); parsing stays well under a second (bench/).
MAX_CATALOGUE_BYTES = 16 * 1024 * 1024
_CODE = re.compile(r"\A[a-z0-9][a-z0-9._-]{0,63}\Z")
_JURISDICTION = re.compile(r"\A[1-9][0-9]{5}\Z")
MAX_SES_TYPE_NUMBERS = 16
MAX_SES_TYPE_NUMBER = 2**31 - 1


@dataclass(frozen=True, slots=True)
class DocumentType:
    code: str
    name_zh: str
    name_en: str
    # Seal types only: the type numbers of GB/T 38540 / GM/T 0031 seals (SES_ESPropertyInfo.type)
    # that mean this type, so a city can name a number vendors use without a code change
    # (docs/national-formats.md has the built-in table these extend or override).
    ses_type_numbers: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Recognition:
    relying: str
    issuing: str
    licence_types: frozenset[str]
    seal_types: frozenset[str]


@dataclass(frozen=True, slots=True)
class Catalogue:
    sequence: int
    issued_at: datetime
    licence_types: Mapping[str, DocumentType]
    seal_types: Mapping[str, DocumentType]
    recognitions: tuple[Recognition, ...]
    items: tuple[ServiceItem, ...] = ()
    # (relying, issuing) -> its recognition (the first, should a hand-built catalogue repeat a
    # pair): O(1) look-ups however many jurisdictions recognise each other.
    _by_pair: dict[tuple[str, str], Recognition] = field(init=False, repr=False, compare=False)
    _by_ses_number: dict[int, str] = field(init=False, repr=False, compare=False)
    _items: dict[tuple[str, str], ServiceItem] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[tuple[str, str], Recognition] = {}
        for rec in self.recognitions:
            index.setdefault((rec.relying, rec.issuing), rec)
        object.__setattr__(self, "_by_pair", index)
        numbers: dict[int, str] = {}
        for t in self.seal_types.values():
            for n in t.ses_type_numbers:
                numbers.setdefault(n, t.code)
        object.__setattr__(self, "_by_ses_number", numbers)
        by_code: dict[tuple[str, str], ServiceItem] = {}
        for item in self.items:
            by_code.setdefault((item.relying, item.code), item)
        object.__setattr__(self, "_items", by_code)

    def item(self, relying: str, code: str) -> ServiceItem | None:
        """O(1): the service item `code` of the relying jurisdiction, if the catalogue lists it."""
        return self._items.get((relying, code))

    def items_of(self, relying: str) -> tuple[ServiceItem, ...]:
        return tuple(i for i in self.items if i.relying == relying)

    def search_items(self, relying: str, query: str = "", limit: int = 50) -> list[ServiceItem]:
        """The relying city's items whose code or name (zh or en) contains `query`, ignoring
        case and outer spaces: the exact code first, then codes starting with it, then by code."""
        q = query.strip().casefold()
        found = [i for i in self.items_of(relying) if not q or i.matches(q)]
        found.sort(
            key=lambda i: (i.code.casefold() != q, not i.code.casefold().startswith(q), i.code)
        )
        return found[:limit]

    def seal_type_for_number(self, number: int) -> str | None:
        """The seal type this catalogue names for a GB/T 38540 type number, if any."""
        return self._by_ses_number.get(number)

    def recognises(
        self,
        relying: str,
        issuing: str,
        *,
        licence_type: str | None = None,
        seal_type: str | None = None,
    ) -> bool:
        rec = self._by_pair.get((relying, issuing))
        if rec is None:
            return False
        if licence_type is not None:
            return licence_type in rec.licence_types
        if seal_type is not None:
            return seal_type in rec.seal_types
        return False

    def decide_item(
        self,
        item: ServiceItem,
        issuing: str,
        *,
        licence_type: str | None = None,
        seal_type: str | None = None,
        enterprise: bool = True,
        data: Mapping[str, object] | None = None,
    ) -> ItemDecision:
        """Whether `item` accepts a document of this type issued in `issuing`: by the item's own
        rules, or by its city's city-wide recognitions when it has none."""
        if item.accepts is None:
            ok = self.recognises(
                item.relying, issuing, licence_type=licence_type, seal_type=seal_type
            )
            return BY_CITY_WIDE if ok else NOT_BY_CITY_WIDE
        return decide_by_rules(
            item,
            issuing,
            licence_type=licence_type,
            seal_type=seal_type,
            enterprise=enterprise,
            data=data or {},
        )

    @property
    def relying_jurisdictions(self) -> frozenset[str]:
        """Every city with entries here (recognitions or items): each must sign the catalogue."""
        return frozenset(r.relying for r in self.recognitions) | frozenset(
            i.relying for i in self.items
        )

    @classmethod
    def from_dict(cls, data: object) -> Catalogue:
        f = _Fields(data, "catalogue")
        if f.get("type", str) != FORMAT:
            raise MalformedDocument(f"catalogue.type must be {FORMAT!r}")
        sequence = f.get("sequence", int)
        issued_at = f.time("issued_at")
        licence_types = _types(f.get("licence_types", list), "catalogue.licence_types")
        seal_types = _types(f.get("seal_types", list), "catalogue.seal_types", numbered=True)
        raw = f.get("recognitions", list)
        raw_items = f.get("items", list, optional=True)
        f.done()
        assert issued_at is not None
        if not 0 < sequence < 2**53:
            raise MalformedDocument("catalogue.sequence must be a positive integer")
        recs: list[Recognition] = []
        for i, entry in enumerate(raw):
            where = f"catalogue.recognitions[{i}]"
            rf = _Fields(entry, where)
            relying, issuing = rf.get("relying", str), rf.get("issuing", str)
            lic = rf.get("licence_types", list)
            seal = rf.get("seal_types", list)
            rf.done()
            if not (_JURISDICTION.match(relying) and _JURISDICTION.match(issuing)):
                raise MalformedDocument(f"{where}: jurisdictions are six-digit codes")
            if not all(isinstance(code, str) for code in (*lic, *seal)):  # set() needs hashable
                raise MalformedDocument(f"{where}: type codes are strings")
            if not set(lic) <= licence_types.keys() or not set(seal) <= seal_types.keys():
                raise MalformedDocument(f"{where} names a type the catalogue does not define")
            recs.append(Recognition(relying, issuing, frozenset(lic), frozenset(seal)))
        if len({(r.relying, r.issuing) for r in recs}) != len(recs):
            raise MalformedDocument("catalogue: one entry per relying/issuing pair")
        if not recs:
            raise MalformedDocument("catalogue: at least one recognition is needed")
        items = () if raw_items is None else parse_items(raw_items, licence_types, seal_types)
        if raw_items is not None and not items:
            raise MalformedDocument("catalogue.items: leave it out rather than list no items")
        return cls(sequence, issued_at, licence_types, seal_types, tuple(recs), items)

    def to_dict(self) -> dict[str, Any]:
        def types(m: Mapping[str, DocumentType]) -> list[dict[str, Any]]:
            out: list[dict[str, Any]] = []
            for t in m.values():
                d: dict[str, Any] = {"code": t.code, "name_zh": t.name_zh, "name_en": t.name_en}
                if t.ses_type_numbers:  # absent, not empty: older catalogues keep their bytes
                    d["ses_type_numbers"] = sorted(t.ses_type_numbers)
                out.append(d)
            return out

        out: dict[str, Any] = {
            "type": FORMAT,
            "sequence": self.sequence,
            "issued_at": format_time(self.issued_at),
            "licence_types": types(self.licence_types),
            "seal_types": types(self.seal_types),
            "recognitions": [
                {
                    "relying": r.relying,
                    "issuing": r.issuing,
                    "licence_types": sorted(r.licence_types),
                    "seal_types": sorted(r.seal_types),
                }
                for r in self.recognitions
            ],
        }
        if self.items:  # absent, not empty: catalogues without items keep their bytes
            out["items"] = [i.to_dict() for i in self.items]
        return out


def _types(raw: list[Any], where: str, *, numbered: bool = False) -> dict[str, DocumentType]:
    out: dict[str, DocumentType] = {}
    owner: dict[int, str] = {}  # one reading: a type number names one seal type
    if len(raw) > 256:
        raise MalformedDocument(f"{where}: at most 256 types")
    for i, entry in enumerate(raw):
        tf = _Fields(entry, f"{where}[{i}]")
        code = tf.get("code", str)
        name_zh, name_en = tf.text("name_zh"), tf.text("name_en")
        numbers = tf.get("ses_type_numbers", list, optional=True) if numbered else None
        tf.done()
        if not _CODE.match(code) or code in out:
            raise MalformedDocument(f"{where}[{i}].code is malformed or repeated")
        if numbers is not None:
            _check_numbers(numbers, f"{where}[{i}].ses_type_numbers", code, owner)
        out[code] = DocumentType(code, name_zh, name_en, frozenset(numbers or ()))
    return out


def _check_numbers(numbers: list[Any], where: str, code: str, owner: dict[int, str]) -> None:
    if not 0 < len(numbers) <= MAX_SES_TYPE_NUMBERS:
        raise MalformedDocument(f"{where}: 1..{MAX_SES_TYPE_NUMBERS} numbers")
    for n in numbers:
        if type(n) is not int or not 0 <= n <= MAX_SES_TYPE_NUMBER:
            raise MalformedDocument(f"{where}: type numbers are integers 0..{MAX_SES_TYPE_NUMBER}")
        if n in owner:
            raise MalformedDocument(f"{where}: type number {n} also names {owner[n]!r}")
        owner[n] = code


@dataclass(frozen=True, slots=True)
class SignedCatalogue:
    envelope: GeneralJWS
    catalogue: Catalogue
    digest: str

    @classmethod
    def parse(cls, data: bytes) -> SignedCatalogue:
        if len(data) > MAX_CATALOGUE_BYTES:
            raise DocumentTooLarge(f"catalogue larger than {MAX_CATALOGUE_BYTES} bytes")
        try:
            envelope = GeneralJWS.parse(data, max_bytes=MAX_CATALOGUE_BYTES, typ=CATALOGUE_TYP)
        except MalformedJWS as exc:
            raise MalformedDocument(f"envelope: {exc}") from exc
        return cls.from_envelope(envelope)

    @classmethod
    def from_envelope(cls, envelope: GeneralJWS) -> SignedCatalogue:
        value = parse_canonical_payload(envelope.payload, MAX_CATALOGUE_BYTES)
        return cls(
            envelope, Catalogue.from_dict(value), hashlib.sha256(envelope.payload).hexdigest()
        )

    @classmethod
    def create(cls, catalogue: Catalogue, signers: Iterable[SigningKey]) -> SignedCatalogue:
        env = GeneralJWS.sign(canonical_json(catalogue.to_dict()), signers, typ=CATALOGUE_TYP)
        return cls.from_envelope(env)

    def add_signature(self, key: SigningKey) -> SignedCatalogue:
        return SignedCatalogue(
            self.envelope.add_signature(key, typ=CATALOGUE_TYP), self.catalogue, self.digest
        )

    def combine(self, other: SignedCatalogue) -> SignedCatalogue:
        try:
            return SignedCatalogue(
                self.envelope.combine(other.envelope), self.catalogue, self.digest
            )
        except MalformedJWS as exc:
            raise MalformedDocument(str(exc)) from exc

    def to_json(self) -> bytes:
        return self.envelope.to_json()
