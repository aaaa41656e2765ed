"""Text that comes from outside (HTTP requests, roster files): the characters no field may hold.

One rule for every edge (issue 8.7, 8.10): control characters (Unicode category Cc: C0, DEL,
C1; PostgreSQL cannot even store NUL) are refused everywhere; names shown to people are also
refused with bidirectional controls or zero-width characters, which can make a name display
as something else (U+202E shows the rest of a name reversed), and are normalised to NFC.
"""
from __future__ import annotations

import unicodedata

from .errors import InvalidInput

__all__ = [
    "BIDI_CONTROLS",
    "ZERO_WIDTH",
    "check_name",
    "check_text",
    "control_character",
    "describe_character",
    "spoofing_character",
]

#: Embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), LRM/RLM and the Arabic letter mark.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
#: Zero-width space, non-joiner, joiner, word joiner and the zero-width no-break space (BOM).
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")
_LINE_BREAKS = frozenset("\t\n\r")


def describe_character(ch: str) -> str:
    """'U+0000 (NULL)': a character named so that a person can find it."""
    name = unicodedata.name(ch, "") or {"\x00": "NULL", "\x7f": "DELETE"}.get(ch, "control character")
    return f"U+{ord(ch):04X} ({name})"


def control_character(text: str, *, allow_line_breaks: bool = False) -> str | None:
    """The first control character (category Cc) in `text`, or None; tab, LF and CR pass if allowed."""
    for ch in text:
        if unicodedata.category(ch) == "Cc" and not (allow_line_breaks and ch in _LINE_BREAKS):
            return ch
    return None


def spoofing_character(text: str) -> str | None:
    """The first control, bidirectional-control or zero-width character in `text`, or None."""
    for ch in text:
        if ch in BIDI_CONTROLS or ch in ZERO_WIDTH or unicodedata.category(ch) == "Cc":
            return ch
    return None


def check_text(value: str, field: str, *, allow_line_breaks: bool = False) -> str:
    """Return `value` unchanged, or raise InvalidInput (code control_character) naming the field and character."""
    ch = control_character(value, allow_line_breaks=allow_line_breaks)
    if ch is not None:
        raise InvalidInput(f"{field} holds the control character {describe_character(ch)}; "
                           "remove it and send plain text", code="control_character")
    return value


def check_name(value: str, field: str) -> str:
    """A name as stored and shown: NFC-normalised; InvalidInput if it holds a control, bidi or zero-width character."""
    ch = spoofing_character(value)
    if ch is not None:
        raise InvalidInput(f"{field} holds the invisible character {describe_character(ch)}, which can make a "
                           "name display as something else; remove it", code="invisible_character")
    return unicodedata.normalize("NFC", value)
