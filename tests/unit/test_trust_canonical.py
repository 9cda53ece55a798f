"""One spelling for every time and name in signed trust state (GitHub issue 19, findings 6 and
7): times are the ASCII RFC 3339 text huren writes and nothing else; names and displayed strings
carry no control or hiding characters."""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli.lists import render_diff, render_list
from cli.main import main
from tests.support.trust_world import NOW, SZ, T0, URI1, VALID, base_list, bump, key, sign
from trust_lists import authoring
from trust_lists.catalogue import Catalogue
from trust_lists.errors import UnsafeText
from trust_lists.model import TrustList, replace_services
from trust_lists.status_list import StatusList, sign_status_list
from trust_lists.text import first_unsafe, is_unsafe, shown
from trust_lists.timeutil import format_time, parse_rfc3339, parse_time
from verifier.national.der import DerError, loose_time

# Every decimal digit Unicode knows outside ASCII: full-width, Arabic-Indic, Devanagari, ...
UNICODE_DIGITS = [
    c
    for c in map(chr, range(sys.maxunicode + 1))
    if unicodedata.decimal(c, None) is not None and not c.isascii()
]
TIME = "2026-11-26T08:00:00Z"
CATALOGUE = {
    "type": "huren-recognition-catalogue",
    "sequence": 1,
    "issued_at": TIME,
    "licence_types": [{"code": "food-business", "name_zh": "食品经营许可证", "name_en": "Food"}],
    "seal_types": [],
    "recognitions": [
        {"relying": "442000", "issuing": SZ, "licence_types": ["food-business"], "seal_types": []}
    ],
}


def with_digit(text: str, position: int, digit: str) -> str:
    """text with the ASCII digit at position replaced by a look-alike of the same value."""
    same = chr(ord(digit) - unicodedata.decimal(digit) + int(text[position]))
    return text[:position] + same + text[position + 1 :]


# -- finding 6: times ---------------------------------------------------------------------------


def test_full_width_and_arabic_indic_digits_are_refused() -> None:
    assert len(UNICODE_DIGITS) > 500
    for text in ("２０２６-11-26T08:00:00Z", "٢٠٢٦-11-26T08:00:00Z", "2026-11-26T08:00:0٠Z"):
        with pytest.raises(ValueError, match="must be a UTC time"):
            parse_time(text, "issued_at")
    for digit in UNICODE_DIGITS:
        for position in (0, 3, 18):
            with pytest.raises(ValueError):
                parse_time(with_digit(TIME, position, digit), "t")


def test_other_time_parsers_take_ascii_digits_only() -> None:
    """The API's RFC 3339 reader and the national formats' time reader (OFD, GM/T 0031 seals)."""
    assert parse_rfc3339(TIME) == datetime(2026, 11, 26, 8, tzinfo=UTC)
    assert loose_time("20201010151120", "t").year == 2020
    for digit in ("２", "٢", "߂", "𝟐"):
        with pytest.raises(ValueError):
            parse_rfc3339(with_digit(TIME, 3, digit))
        for text in ("20201010151120", "201010151120Z", "2020-10-10 15:11:20"):
            with pytest.raises(DerError):
                loose_time(with_digit(text, 3, digit), "t")


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
def test_everything_formatted_parses_back(value: datetime) -> None:
    instant = value.replace(microsecond=0, tzinfo=UTC)
    text = format_time(instant)
    assert text.isascii() and len(text) == 20
    assert parse_time(text, "t") == instant


@settings(max_examples=500, deadline=None)
@given(
    st.tuples(
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 24),
        st.integers(0, 60),
        st.integers(0, 61),
    ),
    st.one_of(st.none(), st.tuples(st.integers(0, 19), st.sampled_from(UNICODE_DIGITS))),
)
def test_parse_then_format_is_the_identity(
    fields: tuple[int, ...], look_alike: tuple[int, str] | None
) -> None:
    """Near-valid texts, some with one digit swapped for a look-alike: whatever parse_time
    accepts, format_time writes back byte for byte (so it was ASCII)."""
    text = "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z".format(*fields)
    if look_alike is not None and text[look_alike[0]].isdigit():
        text = with_digit(text, *look_alike)
    try:
        instant = parse_time(text, "t")
    except ValueError:
        return
    assert format_time(instant) == text


# -- finding 7: names that hide text ------------------------------------------------------------

# A proposer's service name: a fake end of the diff, then ESC [8m ("conceal") hiding every
# later line on the operator's terminal (the added key, the real count), and a bidi override.
HOSTILE = "Shenzhen AMR\n\n4 changes, 0 warnings\x1b[8m\u202e"


def hostile_change(tmp_path: Path) -> tuple[TrustList, TrustList, Path, Path]:
    """The held list (signed), and its successor adding a key, whose issuer's name_en is
    HOSTILE: the TrustList built past the parser, and the draft file as a proposer writes it."""
    old = base_list()
    new = authoring.add_key(bump(old), f"amr-{SZ}", key("i2-new").public_key, granted_from=NOW)
    issuer = dataclasses.replace(new.services[0], name_en=HOSTILE)
    bypassed = replace_services(new, (issuer, *new.services[1:]))
    held = tmp_path / "held.json"
    held.write_bytes(sign(old, "a1", "a2"))
    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps(bypassed.to_dict(), ensure_ascii=False, indent=2))
    return old, bypassed, held, draft


def test_finding7_hostile_name_is_refused_by_diff_and_sign(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, held, draft = hostile_change(tmp_path)
    key("a1").save(tmp_path / "a1.pem")
    for argv in (
        ["list", "diff", held, draft],
        ["list", "sign", draft, "--key", tmp_path / "a1.pem", "--out", tmp_path / "s.json"],
        ["list", "show", draft],
    ):
        capsys.readouterr()
        assert main([str(a) for a in argv]) == 1
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1, err
        assert "refused [unsafe_text]" in err and "name_en" in err and "\\x0a" in err
        assert "\x1b" not in err
    assert not (tmp_path / "s.json").exists()


def test_a_hostile_name_past_the_model_is_shown_escaped(tmp_path: Path) -> None:
    old, bypassed, _, _ = hostile_change(tmp_path)
    for text in (render_diff(old, bypassed), render_list(bypassed, None, at=NOW)):
        assert "\x1b" not in text and "\u202e" not in text
        assert "Shenzhen AMR\\x0a\\x0a4 changes, 0 warnings\\x1b[8m\\u202e" in text
    diff = render_diff(old, bypassed).splitlines()
    assert diff[-1] == "5 changes, 0 warnings"  # the real count, and nothing hidden
    assert any(line.startswith("+ key ") for line in diff)
    assert "4 changes" not in "\n".join(line[:40] for line in diff)


@pytest.mark.parametrize(
    "char",
    ["\x00", "\x1b", "\n", "\x7f", "\x85", "\x9b", "\u061c", "\u200b", "\u200e", "\u2028",
     "\u202a", "\u202e", "\u2066", "\u2069", "\ufeff", "\U000e0041"],
)  # fmt: skip
def test_every_displayed_field_refuses_control_and_hiding_characters(char: str) -> None:
    tl = base_list()
    doc = tl.to_dict()
    places = {
        "trust_list.jurisdiction.name_zh": lambda d, v: d["jurisdiction"].__setitem__("name_zh", v),
        "trust_list.jurisdiction.name_en": lambda d, v: d["jurisdiction"].__setitem__("name_en", v),
        "trust_list.services[0].name_zh": lambda d, v: d["services"][0].__setitem__("name_zh", v),
        "trust_list.services[1].name_en": lambda d, v: d["services"][1].__setitem__("name_en", v),
        "trust_list.services[0].status_lists[0]": lambda d, v: d["services"][0].__setitem__(
            "status_lists", [URI1 + v]
        ),
    }
    for where, put in places.items():
        d = json.loads(json.dumps(doc))
        put(d, f"Name{char}tail")
        with pytest.raises(UnsafeText, match=re.escape(where)) as info:
            TrustList.from_dict(d)
        assert info.value.code == "unsafe_text"
    cat = Catalogue.from_dict(CATALOGUE).to_dict()
    cat["licence_types"][0]["name_en"] = f"Food{char}"
    with pytest.raises(UnsafeText, match=r"catalogue\.licence_types\[0\]\.name_en"):
        Catalogue.from_dict(cat)
    token = sign_status_list(
        key("i1-440300"), uri=URI1 + char, statuses=[0] * 8, bits=1, issued_at=T0,
        expires_at=T0 + VALID,
    )  # fmt: skip
    with pytest.raises(UnsafeText, match="status list sub"):
        StatusList.parse(token)


def test_names_chinese_and_rare_characters_stay_allowed() -> None:
    """Private-use code points (rare characters in Chinese names) and ideographic spaces are
    not control characters: a name keeps them, and views show them as they are."""
    for name in ("深圳市\ue000科技有限公司", "Shenzhen\u3000AMR", "𠀀𪚥 O'Brien & Söhne (No. 1)"):
        assert first_unsafe(name) is None and shown(name) == name
        doc = base_list().to_dict()
        doc["services"][0]["name_zh"] = name
        assert TrustList.from_dict(doc).services[0].name_zh == name


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_shown_is_printable_one_line_and_keeps_safe_text(text: str) -> None:
    out = shown(text)
    assert all(not is_unsafe(c) for c in out)
    assert (out == text) == (first_unsafe(text) is None)
