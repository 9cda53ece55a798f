"""docs/verdicts.md and docs/formats.md stay in step with the code."""

from __future__ import annotations

import re
import string
from pathlib import Path

from verifier import LICENCE_TYP, SEAL_TYP, SEALED_DOC_TYP
from verifier.messages import PASSED, SPECS, markdown_table

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_check_code_is_documented() -> None:
    text = (DOCS / "verdicts.md").read_text(encoding="utf-8")
    missing = [code for code in SPECS if f"`{code}`" not in text]
    assert missing == []


def test_the_code_table_is_the_generated_one() -> None:
    text = (DOCS / "verdicts.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- codes:begin.*?-->\n(.*?)<!-- codes:end -->", text, re.S)
    assert found, "docs/verdicts.md lost its generated code table markers"
    assert found.group(1).strip() == markdown_table().strip()


def test_every_spec_is_complete_and_its_templates_parse() -> None:
    for code, spec in SPECS.items():
        assert re.fullmatch(r"[a-z]+\.[a-z_]+", code), code
        assert spec.meaning_zh and spec.meaning_en
        can_pass = spec.passed_zh is not None and spec.passed_en is not None
        can_fail = spec.result is not None and spec.sub_indication is not None
        assert can_pass or can_fail, code
        # Passing messages with parameters are built per verdict, never shared.
        assert can_pass == (code in PASSED or spec.passed_params), code
        if spec.passed_params:
            assert spec.passed_zh is not None and spec.passed_en is not None, code
            zh = {f for _, f, _, _ in string.Formatter().parse(spec.passed_zh) if f}
            en = {f for _, f, _, _ in string.Formatter().parse(spec.passed_en) if f}
            strip = {f.removesuffix("_zh").removesuffix("_en") for f in zh}
            assert strip == {f.removesuffix("_zh").removesuffix("_en") for f in en}, code
        if can_fail:
            assert spec.failed_zh and spec.failed_en, code
            zh = {f for _, f, _, _ in string.Formatter().parse(spec.failed_zh) if f}
            en = {f for _, f, _, _ in string.Formatter().parse(spec.failed_en) if f}
            # Both languages say the same things (names may differ by a _zh/_en suffix), but a
            # technical {detail} (English text from a parser) stands in the English one only.
            strip = {f.removesuffix("_zh").removesuffix("_en") for f in zh}
            assert "detail" not in strip, code
            assert strip == {f.removesuffix("_zh").removesuffix("_en") for f in en} - {"detail"}


def test_formats_doc_names_every_typ() -> None:
    text = (DOCS / "formats.md").read_text(encoding="utf-8")
    for typ in (LICENCE_TYP, SEAL_TYP, SEALED_DOC_TYP):
        assert f"`{typ}`" in text
