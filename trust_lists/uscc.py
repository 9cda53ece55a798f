"""Unified social credit code (统一社会信用代码) per GB 32100-2015.

An 18-character code over a 31-symbol alphabet (0-9 and the capital letters without I, O, S, V
and Z), valued 0..30. Positions 1..17 carry the weights 3^(i-1) mod 31 and the 18th character is
the check character (31 - weighted sum mod 31) mod 31; a sum divisible by 31 gives check '0'.

Strict on purpose: no trimming, no upper-casing, no removal of spaces or hyphens. Callers that
accept human input must normalise it themselves and show the user what they normalised. The first
positions are not required to be digits: real codes start with letters too (A, N, Y, ...)."""

from __future__ import annotations

from operator import mul
from typing import Final

ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CODE_LENGTH: Final = 18

_VALUES: Final[dict[str, int]] = {ch: i for i, ch in enumerate(ALPHABET)}
_WEIGHTS: Final[tuple[int, ...]] = tuple(pow(3, i, 31) for i in range(CODE_LENGTH - 1))

assert len(ALPHABET) == 31
assert _WEIGHTS[:6] == (1, 3, 9, 27, 19, 26)


def uscc_check_character(first17: str) -> str:
    """The check character for the first 17 characters of a code.

    Raises ValueError unless first17 is exactly 17 characters from the alphabet."""
    if not isinstance(first17, str) or len(first17) != CODE_LENGTH - 1:
        raise ValueError(f"expected {CODE_LENGTH - 1} characters")
    try:  # the common case in one C-level pass; the loop below names a bad character
        total = sum(map(mul, map(_VALUES.__getitem__, first17), _WEIGHTS))
    except KeyError:
        pass
    else:
        return ALPHABET[(31 - total % 31) % 31]
    total = 0
    for position, (char, weight) in enumerate(zip(first17, _WEIGHTS, strict=True), start=1):
        value = _VALUES.get(char)
        if value is None:
            raise ValueError(f"character {char!r} at position {position} is not allowed")
        total += value * weight
    return ALPHABET[(31 - total % 31) % 31]


def make_uscc(first17: str) -> str:
    """first17 followed by its check character (for demo and test data)."""
    return first17 + uscc_check_character(first17)


def is_valid_uscc(code: str) -> bool:
    """True iff code is exactly 18 alphabet characters with a correct check character."""
    if not isinstance(code, str) or len(code) != CODE_LENGTH:
        return False
    try:
        return uscc_check_character(code[:-1]) == code[-1]
    except ValueError:
        return False


__all__ = ["ALPHABET", "CODE_LENGTH", "is_valid_uscc", "make_uscc", "uscc_check_character"]
