"""GB/T 38540 / GM/T 0031 seal type numbers (SES_ESPropertyInfo.type) and the catalogue's seal
types (finding 5 of issue 13): real seals carry numbers the built-in table does not know (6 and 15
were seen); such a seal, intact and trusted, is shown as "type N" and can be recognised by naming
the number in the signed catalogue, without a code change."""

from __future__ import annotations

import dataclasses
import json

import pytest

from issuing import national as issue
from tests.support.national_world import IN_2021, SZ, catalogue, world
from tests.unit.test_national_documents import make_seal, stamped_files
from trust_lists.catalogue import Catalogue, DocumentType
from trust_lists.errors import MalformedDocument
from verifier import Indication, SubIndication
from verifier.national.verifier import DEFAULT_SEAL_TYPES


def _named(**numbers: list[int]) -> Catalogue:
    """The test catalogue with GB/T 38540 type numbers named on some of its seal types."""
    base = catalogue()
    types = {
        code: dataclasses.replace(t, ses_type_numbers=frozenset(numbers.get(code, ())))
        for code, t in base.seal_types.items()
    }
    return dataclasses.replace(base, seal_types=types)


@pytest.mark.parametrize("number", [6, 15])
def test_unknown_type_number_is_shown_and_refused(number: int) -> None:
    """The finding, reproduced: an intact seal from a trusted maker, refused for its number."""
    seal = make_seal(seal_type=number)
    v = world().verifier.verify_seal(seal, SZ, IN_2021)
    assert (v.indication, v.sub_indication) == (
        Indication.FAILED,
        SubIndication.SIG_CONSTRAINTS_FAILURE,
    )
    assert [c.code for c in v.checks if c.result.value != "PASSED"] == ["ses.type"]
    assert v.summary is not None and v.summary.type_code is None
    assert (v.summary.type_name_zh, v.summary.type_name_en) == (f"类型 {number}", f"type {number}")
    assert v.summary.extra["seal_type_value"] == number


def test_type_numbers_named_in_the_catalogue_are_recognised() -> None:
    w = world(cat=_named(official=[6], contract=[15]))
    for number, code in ((6, "official"), (15, "contract"), (4, "contract"), (1, "official")):
        v = w.verifier.verify_seal(make_seal(seal_type=number), SZ, IN_2021)
        assert v.indication is Indication.PASSED, [c.code for c in v.checks]
        assert v.summary is not None and v.summary.type_code == code
    # Inside a stamped document too (the seal judged at the signing time).
    doc = issue.package(stamped_files(make_seal(seal_type=6)))
    d = w.verifier.verify_document(doc, SZ, IN_2021)
    assert d.overall.indication is Indication.PASSED
    assert d.signatures[0].verdict.summary.type_code == "official"  # type: ignore[union-attr]
    # Numbers the catalogue does not name keep the built-in meaning; others stay unknown.
    assert w.verifier.verify_seal(make_seal(seal_type=7), SZ, IN_2021).indication is (
        Indication.FAILED
    )


def test_the_catalogue_can_rename_a_built_in_number() -> None:
    """The signed catalogue (signed by every relying city) wins over the built-in table."""
    assert DEFAULT_SEAL_TYPES[2] == "finance"
    w = world(cat=_named(contract=[2]))
    v = w.verifier.verify_seal(make_seal(seal_type=2), SZ, IN_2021)
    assert v.indication is Indication.PASSED and v.summary is not None
    assert v.summary.type_code == "contract"


def test_catalogue_type_numbers_are_read_strictly() -> None:
    cat = _named(official=[6, 1], contract=[15])
    d = cat.to_dict()
    assert [t.get("ses_type_numbers") for t in d["seal_types"]][:2] == [[1, 6], [15]]
    again = Catalogue.from_dict(json.loads(json.dumps(d)))
    assert again.seal_type_for_number(6) == "official" and again.seal_type_for_number(7) is None
    # A catalogue without numbers keeps its exact form (and so its digest and signatures).
    plain = catalogue().to_dict()
    assert all("ses_type_numbers" not in t for t in plain["seal_types"])

    def refused(change: dict[str, object], where: str = "seal_types") -> None:
        bad = json.loads(json.dumps(d))
        bad[where][0].update(change)
        with pytest.raises(MalformedDocument):
            Catalogue.from_dict(bad)

    refused({"ses_type_numbers": [15]})  # one number, two types: two readings
    refused({"ses_type_numbers": [6, 6]})
    refused({"ses_type_numbers": []})
    refused({"ses_type_numbers": [True]})
    refused({"ses_type_numbers": [-1]})
    refused({"ses_type_numbers": ["6"]})
    refused({"ses_type_numbers": list(range(100, 117))})
    refused({"ses_type_numbers": [6]}, where="licence_types")  # seal types only
    new = DocumentType("customs", "报关专用章", "customs seal", frozenset({9}))
    cat2 = dataclasses.replace(cat, seal_types={**cat.seal_types, "customs": new})
    assert Catalogue.from_dict(cat2.to_dict()).seal_type_for_number(9) == "customs"
