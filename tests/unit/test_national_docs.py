"""docs/national-formats.md stays in step with the national check-code table."""

from __future__ import annotations

import re
import string
from pathlib import Path

from verifier.messages import SPECS as SHARED
from verifier.national.messages import SPECS, check, failed, markdown_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "national-formats.md"


def test_the_code_table_is_the_generated_one() -> None:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(r"<!-- codes:begin.*?-->\n(.*?)<!-- codes:end -->", text, re.S)
    assert found, "docs/national-formats.md lost its generated code table markers"
    assert found.group(1).strip() == markdown_table().strip()


def test_codes_are_new_complete_and_bilingual() -> None:
    assert not set(SPECS) & set(SHARED)
    for code, spec in SPECS.items():
        assert re.fullmatch(r"[a-z]+\.[a-z_]+", code), code
        assert spec.meaning_zh and spec.meaning_en
        for zh, en in ((spec.passed_zh, spec.passed_en), (spec.failed_zh, spec.failed_en)):
            assert (zh is None) == (en is None), code
            if zh is None or en is None:
                continue
            names_zh = {f for _, f, _, _ in string.Formatter().parse(zh) if f}
            names_en = {f for _, f, _, _ in string.Formatter().parse(en) if f}
            strip = {n.removesuffix("_zh").removesuffix("_en") for n in names_zh}
            assert "detail" not in strip, code  # parser details are English: en only
            en_names = {n.removesuffix("_zh").removesuffix("_en") for n in names_en}
            assert strip == en_names - {"detail"}, code


def test_messages_render_with_and_without_the_seal_prefix() -> None:
    c = check("ses.maker_found", "seal:")
    assert c.code == "seal:ses.maker_found" and c.message_zh.startswith("印章：")
    f, sub = failed("ofd.references", file="/Doc_0/x.xml")
    assert sub is not None and sub.value == "HASH_FAILURE" and "/Doc_0/x.xml" in f.message_zh
    shared, _ = failed("validity.expired", "seal:", exp="a", at="b")
    assert shared.code == "seal:validity.expired"
