"""Unified social credit codes (GB 32100-2015) against python-stdnum's public examples."""

from __future__ import annotations

import csv

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.vectors import vector_path
from trust_lists.uscc import ALPHABET, is_valid_uscc, make_uscc, uscc_check_character


def _valid_codes() -> list[str]:
    text = vector_path("uscc", "stdnum_valid_uscc_part1.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_stdnum_valid_codes_all_pass() -> None:
    codes = _valid_codes()
    assert len(codes) >= 90, "the vector file should hold about 100 codes"
    bad = [code for code in codes if not is_valid_uscc(code)]
    assert bad == []


def test_stdnum_corner_cases() -> None:
    with vector_path("uscc", "stdnum_corner_cases.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows, "no corner cases read"
    for row in rows:
        code, expected, reason = row["code"], row["expected"], row["reason"] or ""
        assert expected in {"valid", "invalid"}, row
        if " " in code:
            # stdnum compacts input first; we are strict: the raw form is refused and the
            # compacted form must give stdnum's answer.
            assert not is_valid_uscc(code), (code, reason)
            code = code.replace(" ", "")
        assert is_valid_uscc(code) is (expected == "valid"), (code, expected, reason)


def test_letters_allowed_in_first_positions() -> None:
    # stdnum refuses 'A' as the first character; GB 32100 registration authority codes include
    # letters (A, N, Y ...), so only the checksum decides. The stdnum example A111...341L is
    # invalid for its checksum alone; with the right check character it is valid.
    assert not is_valid_uscc("A1110000600037341L")
    assert uscc_check_character("A1110000600037341") == "K"
    assert is_valid_uscc("A1110000600037341K")
    for first in "ANY":
        assert is_valid_uscc(make_uscc(first + "1440300MA5DXXXX0"))


def test_check_character_zero_when_sum_divisible_by_31() -> None:
    body = "0" * 17
    assert uscc_check_character(body) == "0"  # sum 0: (31 - 0) % 31 == 0, not 31
    assert is_valid_uscc(body + "0")
    # A non-trivial body with sum % 31 == 0: position 1 (weight 1) value 3, position 2 (weight 3)
    # value 30 ('Y'): 3 + 90 = 93 = 3 * 31.
    body = "3Y" + "0" * 15
    assert uscc_check_character(body) == "0"
    assert make_uscc(body) == body + "0"
    assert is_valid_uscc(body + "0")
    assert not is_valid_uscc(body + "Y")


def test_known_weights() -> None:
    # A single 1 in position i contributes weight w_i; check = (31 - w_i) % 31.
    weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    for i, weight in enumerate(weights):
        body = "0" * i + "1" + "0" * (16 - i)
        assert uscc_check_character(body) == ALPHABET[(31 - weight) % 31]


@pytest.mark.parametrize(
    "code",
    [
        "",
        "91110000600037341",  # 17 characters
        "91110000600037341LL",  # 19 characters
        "91110000600037341l",  # lower case check character
        "91110000600037341l".lower(),
        " 91110000600037341L",
        "91110000600037341L ",
        "91110000600037341L\n",
        "9111000060003734-L",
        "9111000060003734IL",  # I is not in the alphabet
        "9111000060003734OL",
        "9111000060003734ZL",
        "9111000060003734SL",
        "9111000060003734VL",
        "９1110000600037341L",  # full-width digit
        "91110000600037341I",
    ],
)
def test_strictly_invalid(code: str) -> None:
    assert not is_valid_uscc(code)


def test_non_string_input_is_invalid() -> None:
    assert not is_valid_uscc(None)  # type: ignore[arg-type]
    assert not is_valid_uscc(b"91110000600037341L")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "9111000060003734",
        "911100006000373411",
        "9111000060003734I",
        "9111000060003734a",
        "9111000060003734 ",
    ],
)
def test_check_character_rejects_bad_input(bad: str) -> None:
    with pytest.raises(ValueError):
        uscc_check_character(bad)
    with pytest.raises(ValueError):
        make_uscc(bad)


_body = st.text(alphabet=ALPHABET, min_size=17, max_size=17)


@given(_body)
def test_make_uscc_is_always_valid(body: str) -> None:
    code = make_uscc(body)
    assert len(code) == 18
    assert code[:17] == body
    assert is_valid_uscc(code)


@given(_body, st.integers(min_value=0, max_value=17), st.integers(min_value=1, max_value=30))
def test_any_single_substitution_is_detected(body: str, position: int, shift: int) -> None:
    code = make_uscc(body)
    replaced = ALPHABET[(ALPHABET.index(code[position]) + shift) % 31]
    assert replaced != code[position]
    mutated = code[:position] + replaced + code[position + 1 :]
    assert not is_valid_uscc(mutated)


@given(_body, st.integers(min_value=0, max_value=17), st.characters())
def test_any_foreign_character_is_rejected(body: str, position: int, char: str) -> None:
    code = make_uscc(body)
    if char in ALPHABET:
        return
    assert not is_valid_uscc(code[:position] + char + code[position + 1 :])
