"""Service items of the recognition catalogue: the format, the signing rules between cities, and
verification for an item (licences, seals, sealed documents) with real signatures against the
demo world's trust state."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from demo.world import (
    BUSINESS_LICENCE,
    FOOD_BUSINESS_PERMIT,
    FOOD_PRODUCTION_LICENCE,
    ITEM_SZ_FOOD_PRODUCTION,
    ITEM_SZ_MEAL_SUPPLIER,
    SHENZHEN,
    ZHONGSHAN,
    ZS_ENTERPRISE,
    DemoWorld,
)
from keys import SigningKey
from trust_lists.catalogue import Catalogue, SignedCatalogue
from trust_lists.catalogue_authoring import (
    add_item,
    add_rule,
    change_item,
    diff_catalogues,
    next_catalogue,
    remove_item,
)
from trust_lists.errors import (
    CatalogueOverreach,
    DocumentTooLarge,
    MalformedDocument,
    ThresholdNotMet,
    TrustStateError,
)
from trust_lists.items import ItemRule, ServiceItem
from trust_lists.store import TrustStore
from verifier import Expectations, UnknownServiceItem, Verdict
from verifier.formats import make_pid
from verifier.verdict import CheckResult, Indication, SubIndication

VAT_SZ = "440300-SW-0102"
CONSTRUCTION_SZ = "440300-ZJJ-0210"
RENEWAL_ZS = "442000-SCJG-0020"


def item_of(code: str) -> Expectations:
    return Expectations(service_item=code)


def check(verdict: Verdict, code: str) -> Any:
    return next(c for c in verdict.checks if c.code == code)


# -- the format --------------------------------------------------------------------------------


def catalogue_dict(w: DemoWorld) -> dict[str, Any]:
    return json.loads(json.dumps(w.catalogue.to_dict()))


def test_items_round_trip_through_the_strict_parser(demo_world: DemoWorld) -> None:
    cat = demo_world.catalogue
    again = Catalogue.from_dict(cat.to_dict())
    assert again.items == cat.items
    assert again.to_dict() == cat.to_dict()
    item = again.item(SHENZHEN, ITEM_SZ_MEAL_SUPPLIER)
    assert item is not None and item.name_zh == "集体用餐配送供应商备案"
    assert item.department_zh == "深圳市市场监督管理局"
    assert again.item(ZHONGSHAN, ITEM_SZ_MEAL_SUPPLIER) is None  # items belong to one city


def test_a_catalogue_without_items_keeps_its_bytes(demo_world: DemoWorld) -> None:
    bare = dataclasses.replace(demo_world.catalogue, items=())
    assert "items" not in bare.to_dict()
    assert Catalogue.from_dict(bare.to_dict()) == bare


def _item_edit(d: dict[str, Any], **changes: Any) -> dict[str, Any]:
    d["items"][0] = {**d["items"][0], **changes}
    return d


def _rule_edit(d: dict[str, Any], **changes: Any) -> dict[str, Any]:
    rule = d["items"][0]["accepts"][0]
    d["items"][0]["accepts"][0] = {**rule, **changes}
    return d


MALFORMED = {
    "empty-accepts": lambda d: _item_edit(d, accepts=[]),
    "lower-case-code": lambda d: _item_edit(d, code="440300-scjg-0012"),
    "code-with-space": lambda d: _item_edit(d, code="440300 SCJG"),
    "unknown-member": lambda d: _item_edit(d, priority=1),
    "bad-relying": lambda d: _item_edit(d, relying="4403"),
    "control-in-name": lambda d: _item_edit(d, name_en="Filing\u202e"),
    "department-half": lambda d: _item_edit(d, department={"name_zh": "局"}),
    "repeated-item": lambda d: {**d, "items": [d["items"][0], *d["items"]]},
    "empty-items": lambda d: {**d, "items": []},
    "unknown-type": lambda d: _rule_edit(d, licence_types=["drug_licence"]),
    "no-types": lambda d: _rule_edit(d, licence_types=[], seal_types=[]),
    "no-issuing": lambda d: _rule_edit(d, issuing=[]),
    "repeated-issuing": lambda d: _rule_edit(d, issuing=["440300", "440300"]),
    "holder-person": lambda d: _rule_edit(d, holder="person"),
    "data-on-seals": lambda d: _rule_edit(d, seal_types=["official"]),
    "value-with-separator": lambda d: _rule_edit(
        d, data_includes={"field": "主体业态", "any_of": ["中央厨房；食堂"]}
    ),
    "value-with-outer-space": lambda d: _rule_edit(
        d, data_includes={"field": "主体业态", "any_of": [" 中央厨房"]}
    ),
    "no-values": lambda d: _rule_edit(d, data_includes={"field": "主体业态", "any_of": []}),
    "issuing-as-number": lambda d: _rule_edit(d, issuing=[440300]),
}


@pytest.mark.parametrize("edit", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_items_refused(demo_world: DemoWorld, edit: Any) -> None:
    d = catalogue_dict(demo_world)
    assert d["items"][0]["code"] == ITEM_SZ_MEAL_SUPPLIER  # the edits assume it
    with pytest.raises(MalformedDocument):
        Catalogue.from_dict(edit(d))


def test_too_many_items_refused_before_reading_them(demo_world: DemoWorld) -> None:
    d = catalogue_dict(demo_world)
    d["items"] = [None] * 20_001
    with pytest.raises(DocumentTooLarge):
        Catalogue.from_dict(d)


def test_a_city_with_items_only_must_sign(demo_world: DemoWorld) -> None:
    cat = demo_world.catalogue
    only_sz_recognises = dataclasses.replace(
        cat, recognitions=tuple(r for r in cat.recognitions if r.relying == SHENZHEN)
    )
    assert ZHONGSHAN in only_sz_recognises.relying_jurisdictions  # through its items


# -- authoring and diff ------------------------------------------------------------------------


def test_authoring_round_trip_and_diff(demo_world: DemoWorld) -> None:
    cat = demo_world.catalogue
    nxt = next_catalogue(cat, issued_at=demo_world.now)
    new = ServiceItem(SHENZHEN, "440300-WJW-0007", "医疗机构执业登记", "Registration of clinics")
    nxt = add_item(nxt, new)
    with pytest.raises(MalformedDocument, match="already exists"):
        add_item(nxt, new)
    nxt = add_rule(
        nxt,
        SHENZHEN,
        new.code,
        ItemRule(frozenset({SHENZHEN}), frozenset({BUSINESS_LICENCE}), frozenset()),
    )
    nxt = change_item(nxt, SHENZHEN, VAT_SZ, name_en="Collection of VAT e-invoices")
    nxt = remove_item(nxt, ZHONGSHAN, RENEWAL_ZS)
    with pytest.raises(MalformedDocument, match="no service item"):
        remove_item(nxt, ZHONGSHAN, RENEWAL_ZS)
    with pytest.raises(MalformedDocument):  # the strict parser judges every edit
        change_item(nxt, SHENZHEN, VAT_SZ, name_zh="增值税\x1b[8m")
    lines = [(c.sign, c.text, c.warning) for c in diff_catalogues(cat, nxt)]
    texts = [f"{s} {t}" for s, t, _ in lines]
    assert f"~ sequence: {cat.sequence} -> {cat.sequence + 1}" in texts
    assert "+ item 440300/440300-WJW-0007 医疗机构执业登记 / Registration of clinics" in texts
    assert "+ item 440300/440300-WJW-0007 accepts from 440300; licences business_licence" in texts
    assert (
        f"~ item 440300/{VAT_SZ} name_en: Collection of VAT invoices -> "
        "Collection of VAT e-invoices" in texts
    )
    removed = [(s, w) for s, t, w in lines if t.startswith(f"item 442000/{RENEWAL_ZS}")]
    assert removed[0][0] == "-" and removed[0][1]  # removing an item is a point to read twice
    # Back to the city-wide recognitions, and the other way round, are both shown.
    cw = change_item(nxt, SHENZHEN, ITEM_SZ_MEAL_SUPPLIER, accepts=None)
    texts = [f"{c.sign} {c.text}" for c in diff_catalogues(nxt, cw)]
    assert f"+ item 440300/{ITEM_SZ_MEAL_SUPPLIER} accepts city-wide recognitions" in texts
    narrowed = diff_catalogues(cw, nxt)
    assert any(c.warning and "only what its rules name" in c.warning for c in narrowed)


# -- signing rules between cities --------------------------------------------------------------


def _signed(w: DemoWorld, cat: Catalogue, *cities: str) -> bytes:
    signers: list[SigningKey] = [k for c in cities for k in w.operators(c)[:2]]
    return SignedCatalogue.create(cat, signers).to_json()


def _refused(store: TrustStore, data: bytes, error: type[TrustStateError], now: Any) -> None:
    before = store.state
    with pytest.raises(error):
        store.submit_catalogue(data, now=now)
    assert store.state is before  # nothing changed


def test_only_a_citys_operators_change_its_items(demo_world: DemoWorld) -> None:
    w = demo_world
    store = w.store()
    changed = change_item(
        next_catalogue(w.catalogue, issued_at=w.now), ZHONGSHAN, RENEWAL_ZS, name_en="Renewal"
    )
    # Shenzhen alone cannot rename a Zhongshan item ...
    _refused(store, _signed(w, changed, SHENZHEN), ThresholdNotMet, w.now)
    # ... nor drop every Zhongshan entry (items and recognitions) to escape its signature.
    dropped = dataclasses.replace(
        next_catalogue(w.catalogue, issued_at=w.now),
        recognitions=tuple(r for r in w.catalogue.recognitions if r.relying == SHENZHEN),
        items=tuple(i for i in w.catalogue.items if i.relying == SHENZHEN),
    )
    _refused(store, _signed(w, dropped, SHENZHEN), CatalogueOverreach, w.now)
    # Both cities' thresholds: accepted.
    accepted = store.submit_catalogue(_signed(w, changed, SHENZHEN, ZHONGSHAN), now=w.now)
    item = accepted.catalogue.item(ZHONGSHAN, RENEWAL_ZS)
    assert item is not None and item.name_en == "Renewal"


# -- verification for an item -----------------------------------------------------------------


@pytest.fixture(scope="module")
def store(demo_world: DemoWorld) -> TrustStore:
    return demo_world.store()


def verify_licence(w: DemoWorld, store: TrustStore, token: str, relying: str, item: str) -> Verdict:
    return w.verifier(store).verify_licence(token, relying, expect=item_of(item))


def test_central_kitchen_permit_accepted_for_the_supplier_filing(
    demo_world: DemoWorld, store: TrustStore
) -> None:
    v = verify_licence(demo_world, store, demo_world.licence_zs, SHENZHEN, ITEM_SZ_MEAL_SUPPLIER)
    assert v.indication is Indication.PASSED, v.checks
    c = check(v, "item.accepted")
    assert c.result is CheckResult.PASSED
    assert "集体用餐配送供应商备案" in c.message_zh and ITEM_SZ_MEAL_SUPPLIER in c.message_zh
    assert "Filing of collective-meal suppliers" in c.message_en
    assert "中山市" in c.message_zh and "食品经营许可证" in c.message_zh
    assert "recognition.accepted" not in [x.code for x in v.checks]  # the item decides


def test_the_same_permit_refused_for_another_item(demo_world: DemoWorld, store: TrustStore) -> None:
    v = verify_licence(demo_world, store, demo_world.licence_zs, SHENZHEN, ITEM_SZ_FOOD_PRODUCTION)
    assert v.indication is Indication.FAILED
    assert v.sub_indication is SubIndication.SIG_CONSTRAINTS_FAILURE
    last = v.checks[-1]
    assert last.code == "item.refused" and last.result is CheckResult.FAILED
    assert "食品生产许可证变更" in last.message_zh and "文档本身有效" in last.message_zh
    assert "Change of a food production licence" in last.message_en
    # Everything before it passed: the document itself is valid.
    assert all(c.result is CheckResult.PASSED for c in v.checks[:-1])
    # Without an item, the city-wide recognitions accept it.
    plain = demo_world.verifier(store).verify_licence(demo_world.licence_zs, SHENZHEN)
    assert plain.indication is Indication.PASSED


KITCHEN = {"主体业态": "中央厨房"}
PERSON = make_pid("44030019900101001")


@pytest.mark.parametrize(
    ("data", "pid", "reason_en"),
    [
        ({"主体业态": "食品销售经营者"}, None, "“主体业态” to include one of “中央厨房”"),
        ({"主体业态": "中央厨房餐饮"}, None, "“主体业态” to include one of"),  # not a whole part
        ({"主体业态": 1}, None, "“主体业态” to include one of"),
        ({"经营场所": "中山市"}, None, "“主体业态” to include one of"),  # the field is missing
        (KITCHEN, PERSON, "the holder to be an enterprise"),
    ],
    ids=["other-business-form", "part-of-a-word", "not-text", "missing", "person"],
)
def test_conditions_of_an_item_rule(
    demo_world: DemoWorld,
    store: TrustStore,
    data: dict[str, Any],
    pid: str | None,
    reason_en: str,
) -> None:
    token = demo_world.issue_licence(
        ZHONGSHAN,
        licence_type=FOOD_BUSINESS_PERMIT,
        holder_name=ZS_ENTERPRISE.name_zh,
        holder_uscc=None if pid else ZS_ENTERPRISE.credit_code,
        holder_pid=pid,
        data=data,
    )
    v = verify_licence(demo_world, store, token, SHENZHEN, ITEM_SZ_MEAL_SUPPLIER)
    assert v.indication is Indication.FAILED, v.checks
    assert v.checks[-1].code == "item.refused"
    assert reason_en in v.checks[-1].message_en
    # The same document for an item without conditions on it: accepted (city-wide).
    plain = verify_licence(demo_world, store, token, SHENZHEN, VAT_SZ)
    assert plain.indication is Indication.PASSED, plain.checks


def test_a_value_among_several_parts_is_included(demo_world: DemoWorld, store: TrustStore) -> None:
    token = demo_world.issue_licence(
        ZHONGSHAN,
        licence_type=FOOD_BUSINESS_PERMIT,
        data={"主体业态": "热食类食品制售；集体用餐配送单位"},
    )
    v = verify_licence(demo_world, store, token, SHENZHEN, ITEM_SZ_MEAL_SUPPLIER)
    assert v.indication is Indication.PASSED, v.checks


def test_item_without_rules_follows_the_city_wide_recognitions(
    demo_world: DemoWorld, store: TrustStore
) -> None:
    w = demo_world
    v = verify_licence(w, store, w.licence_sz, SHENZHEN, VAT_SZ)
    assert v.indication is Indication.PASSED
    assert "city-wide recognitions apply" in check(v, "item.accepted").message_en
    # Zhongshan does not recognise Shenzhen's food production licences city-wide.
    token = w.issue_licence(SHENZHEN, licence_type=FOOD_PRODUCTION_LICENCE)
    refused = verify_licence(w, store, token, ZHONGSHAN, "442000-SW-0015")
    assert refused.checks[-1].code == "item.refused"
    assert "全市互认" in refused.checks[-1].message_zh


def test_seal_accepted_for_one_item_refused_for_another(
    demo_world: DemoWorld, store: TrustStore
) -> None:
    w = demo_world
    verifier = w.verifier(store)
    ok = verifier.verify_seal(w.seal_sz, SHENZHEN, expect=item_of(CONSTRUCTION_SZ))
    assert ok.indication is Indication.PASSED
    assert "Filing of construction contracts" in check(ok, "item.accepted").message_en
    no = verifier.verify_seal(w.seal_sz, ZHONGSHAN, expect=item_of(RENEWAL_ZS))
    assert no.indication is Indication.FAILED and no.checks[-1].code == "item.refused"
    finance = w.make_seal(SHENZHEN, seal_type="finance")
    no = verifier.verify_seal(finance, SHENZHEN, expect=item_of(CONSTRUCTION_SZ))
    assert no.checks[-1].code == "item.refused"


def test_sealed_document_judged_for_the_item(demo_world: DemoWorld, store: TrustStore) -> None:
    w = demo_world
    verifier = w.verifier(store)
    ok = verifier.verify_sealed_document(
        w.sealed_document, w.sealed_signature, ZHONGSHAN, expect=item_of("442000-ZJJ-0033")
    )
    assert ok.indication is Indication.PASSED, ok.checks
    assert check(ok, "seal:item.accepted").message_zh.startswith("印章：")
    no = verifier.verify_sealed_document(
        w.sealed_document, w.sealed_signature, ZHONGSHAN, expect=item_of(RENEWAL_ZS)
    )
    assert no.indication is Indication.FAILED
    assert no.checks[-1].code == "seal:item.refused"
    assert "食品经营许可证延续" in no.checks[-1].message_zh


@pytest.mark.parametrize(
    ("relying", "code"),
    [(SHENZHEN, "440300-NOPE-0001"), (ZHONGSHAN, ITEM_SZ_MEAL_SUPPLIER), (SHENZHEN, "")],
    ids=["unknown-code", "another-citys-item", "empty"],
)
def test_an_item_the_catalogue_does_not_list_is_refused_as_a_request(
    demo_world: DemoWorld, store: TrustStore, relying: str, code: str
) -> None:
    w = demo_world
    verifier = w.verifier(store)
    for call in (
        lambda: verifier.verify_licence(w.licence_zs, relying, expect=item_of(code)),
        lambda: verifier.verify_seal(w.seal_sz, relying, expect=item_of(code)),
        lambda: verifier.verify_sealed_document(
            w.sealed_document, w.sealed_signature, relying, expect=item_of(code)
        ),
    ):
        with pytest.raises(UnknownServiceItem) as info:
            call()
        assert info.value.code == "unknown_service_item"
        assert relying in str(info.value)


def test_no_catalogue_held_leaves_the_item_undecided(demo_world: DemoWorld) -> None:
    from tests.support.verifier_support import store_with

    w = demo_world
    bare = store_with(w, catalogue=False)
    v = w.verifier(bare).verify_licence(w.licence_zs, SHENZHEN, expect=item_of("ANY"))
    assert v.indication is Indication.INDETERMINATE
    assert v.sub_indication is SubIndication.TRY_LATER
    assert "recognition.catalogue_missing" in [c.code for c in v.checks]


def test_search(demo_world: DemoWorld) -> None:
    cat = demo_world.catalogue
    codes = [i.code for i in cat.search_items(SHENZHEN, "备案")]
    assert codes == [ITEM_SZ_MEAL_SUPPLIER, CONSTRUCTION_SZ]
    assert [i.code for i in cat.search_items(SHENZHEN, "  VAT ")] == [VAT_SZ]
    assert [i.code for i in cat.search_items(SHENZHEN, "construction")] == [CONSTRUCTION_SZ]
    assert [i.code for i in cat.search_items(SHENZHEN, "440300-scjg")] == [
        ITEM_SZ_MEAL_SUPPLIER,
        ITEM_SZ_FOOD_PRODUCTION,
    ]
    exact = cat.search_items(ZHONGSHAN, "442000-SCJG-0020")
    assert [i.code for i in exact] == [RENEWAL_ZS]
    assert len(cat.search_items(SHENZHEN, "")) == 5
    assert cat.search_items(SHENZHEN, "中山") == []  # Zhongshan's items are not Shenzhen's
    assert len(cat.search_items(SHENZHEN, "", limit=2)) == 2


def test_the_verdict_names_the_trust_it_was_judged_under(
    demo_world: DemoWorld, store: TrustStore
) -> None:
    # Items are signed data: a later catalogue can change the answer, and the verdict says which
    # catalogue version answered.
    v = verify_licence(demo_world, store, demo_world.licence_zs, SHENZHEN, ITEM_SZ_MEAL_SUPPLIER)
    assert v.trust.catalogue_sequence == demo_world.catalogue.sequence
    assert f"（第 {demo_world.catalogue.sequence} 版）" in check(v, "item.accepted").message_zh


def test_the_qr_form_of_a_licence_is_judged_for_the_item_as_the_jws_form(
    demo_world: DemoWorld, store: TrustStore
) -> None:
    """The same permit as an HR1: string: accepted for the supplier filing, refused for the food
    production item, and an unlisted item refused as a request — as its JWS form."""
    text = demo_world.samples["licence-zs-food.hr1.txt"].decode().strip()
    verifier = demo_world.verifier(store)
    ok = verifier.verify_licence_qr(text, SHENZHEN, expect=item_of(ITEM_SZ_MEAL_SUPPLIER))
    assert ok.indication is Indication.PASSED, ok.checks
    assert check(ok, "item.accepted").result is CheckResult.PASSED
    refused = verifier.verify_licence_qr(text, SHENZHEN, expect=item_of(ITEM_SZ_FOOD_PRODUCTION))
    assert (refused.indication, refused.checks[-1].code) == (Indication.FAILED, "item.refused")
    with pytest.raises(UnknownServiceItem):
        verifier.verify_licence_qr(text, SHENZHEN, expect=item_of("440300-NOPE-0001"))
