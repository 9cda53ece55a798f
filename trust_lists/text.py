"""Displayed text in signed trust state: the characters a name may not hold, and how every view
escapes them.

Refused (and escaped) are the Unicode general categories
- Cc: the C0 controls U+0000-001F (NUL, ESC starting terminal escape sequences, CR, LF), DEL
  U+007F and the C1 controls U+0080-009F (CSI U+009B is a one-character escape sequence);
- Cf: format characters, invisible but changing what is shown: the bidi embeddings, overrides
  and isolates U+202A-202E, U+2066-2069 and marks U+200E, U+200F, U+061C; zero-width characters
  U+200B-200D, U+2060-2064, U+FEFF; the tag characters U+E0000-E007F (invisible ASCII); soft
  hyphen U+00AD; ...;
- Zl, Zp: the line and paragraph separators U+2028, U+2029.
Private-use and not-yet-assigned code points stay allowed: rare characters in Chinese names are
written with them (private-use mappings of GB 18030, CJK extensions newer than this Python's
Unicode tables). Categories are those of Python's `unicodedata`."""

from __future__ import annotations

import unicodedata
from typing import Final

from trust_lists.errors import UnsafeText

UNSAFE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Zl", "Zp"})


def is_unsafe(char: str) -> bool:
    return unicodedata.category(char) in UNSAFE_CATEGORIES


def first_unsafe(text: str) -> str | None:
    """The first character of `text` no name may hold, or None."""
    if text.isprintable():  # one C pass: no Cc, Cf, Zl, Zp (nor Zs other than " ", Co, Cn)
        return None
    return next((c for c in text if is_unsafe(c)), None)


def check_text(value: str, where: str) -> str:
    """`value`, or UnsafeText (code `unsafe_text`) naming the place and the first bad character."""
    bad = first_unsafe(value)
    if bad is not None:
        raise UnsafeText(f"{where} holds the control or formatting character {escape(bad)}")
    return value


def escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def shown(text: str) -> str:
    """`text` as a view may print it: every unsafe character written as a visible escape
    (\\x1b, \\u202e, ...), so a terminal or page shows what is there and runs none of it."""
    if first_unsafe(text) is None:
        return text
    return "".join(escape(c) if is_unsafe(c) else c for c in text)
