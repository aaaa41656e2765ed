"""Parsing helpers for item fields, shared by validation and the item types: each problem is collected, not raised.

A :class:`Collector` gathers the errors of one item (file, item id, field, message); the ``parse_*``
helpers read one field, add what is wrong to the collector and return the parsed value or None.
"""

from __future__ import annotations

import datetime
import math
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from item_bank.errors import ItemValidationError
from item_bank.model import Option, Text
from item_bank.sanitizer import clean_html

__all__ = [
    "MAX_ANSWER_TEXT",
    "OPTION_ID_PATTERN",
    "PLACEHOLDER",
    "Collector",
    "canon_number",
    "describe",
    "id_list",
    "is_int",
    "is_number",
    "normalize_answer_text",
    "not_among",
    "parse_number",
    "parse_options",
    "parse_text",
    "scalar_text",
]

#: Option ids must be valid QTI identifiers (NCName-like): a letter first.
OPTION_ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
#: An image placeholder in text, exactly {{img:NAME}}; anything else starting {{img is an error.
PLACEHOLDER = re.compile(r"\{\{img:([A-Za-z0-9_-]{1,64})\}\}")
#: The longest short-answer text (accepted answers and responses alike).
MAX_ANSWER_TEXT = 200
_FLOAT_MAX = sys.float_info.max
_NUMBER = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?$")


def normalize_answer_text(text: str, case_sensitive: bool = False) -> str:
    """NFKC, trim, collapse whitespace and (unless case_sensitive) casefold a short-answer text."""
    out = " ".join(unicodedata.normalize("NFKC", text).split())
    return out if case_sensitive else out.casefold()


def parse_number(text: str) -> Decimal | None:
    """Parse a typed number: NFKC (full-width digits), trimmed, thousands separators; else None."""
    s = unicodedata.normalize("NFKC", text).strip().replace("\u2212", "-")
    if not s or not any(ch.isdigit() for ch in s) or not _NUMBER.match(s):
        return None
    try:
        return Decimal(s.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return None


class Collector:
    """Errors of one item, each located by the item's file and id."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.item_id: str | None = None
        self.errors: list[ItemValidationError] = []

    def add(self, field: str | None, message: str) -> None:
        """Record one problem in `field` (None: the item as a whole)."""
        self.errors.append(ItemValidationError(self.file, self.item_id, field, message))


def is_int(value: Any) -> bool:
    """An int that is not a bool (YAML true is not 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite number that fits a float (math.isfinite on a huge int would raise OverflowError)."""
    if is_int(value):
        return -_FLOAT_MAX <= value <= _FLOAT_MAX
    return isinstance(value, float) and math.isfinite(value)


def canon_number(value: float) -> int | float:
    """Integral floats become ints so 42 and 42.0 hash and export the same way."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def describe(value: Any) -> str:
    """A short description of a found value for an error message (quoting advice for dates and booleans)."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()} (quote it if you meant text)"
    if isinstance(value, str):
        return _shorten(repr(value))
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list" if value else "an empty list"
    if isinstance(value, datetime.datetime):
        return f"a date and time {value.isoformat()} (quote it if you meant text)"
    if isinstance(value, datetime.date):
        return f"a date {value.isoformat()} (quote it if you meant text)"
    if is_int(value) and len(str(value)) > 40:
        return f"int {str(value)[:12]}... ({len(str(value).lstrip('-'))} digits)"
    return _shorten(f"{type(value).__name__} {value!r}")


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text)} characters)"


def scalar_text(value: Any) -> str | None:
    """Text values may be written as numbers in YAML (e.g. option '12'); booleans and dates are refused."""
    if isinstance(value, str):
        return value
    if is_int(value) or (isinstance(value, float) and math.isfinite(value)):
        return str(value)
    return None


def parse_text(
    col: Collector, value: Any, field: str, need_en: bool, required: bool = True
) -> Text | None:
    """A bilingual text object, sanitised; zh-TW required, en when `need_en`."""
    if value is None:
        if required:
            col.add(field, "missing; give an object with zh-TW (and en) text")
        return None
    if not isinstance(value, Mapping):
        col.add(field, f"must be an object {{zh-TW: ..., en: ...}}, found {describe(value)}")
        return None
    ok = True
    for k in value:
        if k not in ("zh-TW", "en"):
            col.add(f"{field}.{k}", "unknown language; use zh-TW and en")
            ok = False
    zh_raw = value.get("zh-TW")
    zh_text = scalar_text(zh_raw)
    zh = clean_html(zh_text) if zh_text is not None else ""
    if zh_text is None and zh_raw is not None:
        col.add(f"{field}.zh-TW", f"must be text, found {describe(zh_raw)}")
        ok = False
    elif not zh:
        col.add(f"{field}.zh-TW", "missing zh-TW text (required)")
        ok = False
    en_raw = value.get("en")
    en: str | None = None
    if en_raw is not None:
        en = scalar_text(en_raw)
        if en is None:
            col.add(f"{field}.en", f"must be text, found {describe(en_raw)}")
            ok = False
        else:
            en = clean_html(en) or None
    if need_en and en is None and ok:
        col.add(f"{field}.en", "missing English text (required for operational items)")
        ok = False
    return Text(zh, en) if ok else None


def parse_options(
    col: Collector, value: Any, field: str, need_en: bool, minimum: int
) -> tuple[Option, ...] | None:
    """A list of {id, text} options with valid, unique ids and at least `minimum` entries."""
    if value is None:
        col.add(field, "missing; give a list of {id, text} options")
        return None
    if not isinstance(value, list):
        col.add(field, f"must be a list of {{id, text}} options, found {describe(value)}")
        return None
    options: list[Option] = []
    ok = True
    for i, raw in enumerate(value, start=1):
        where = f"{field}[{i}]"
        if not isinstance(raw, Mapping):
            col.add(where, f"must be an object {{id, text}}, found {describe(raw)}")
            ok = False
            continue
        for k in raw:
            if k not in ("id", "text"):
                col.add(f"{where}.{k}", "unknown field; an option has only id and text")
                ok = False
        oid = raw.get("id")
        if not isinstance(oid, str) or not OPTION_ID_PATTERN.match(oid):
            col.add(
                f"{where}.id",
                f"option id must be a letter followed by letters, digits, '_' or '-' "
                f"(at most 32), found {describe(oid)}",
            )
            ok = False
            continue
        where = f"{field}[{oid}]"
        text = parse_text(col, raw.get("text"), f"{where}.text", need_en)
        if text is None:
            ok = False
            continue
        options.append(Option(oid, text))
    counts = Counter(o.id for o in options)
    dups = sorted(k for k, n in counts.items() if n > 1)
    if dups:
        col.add(field, f"option ids must be unique; repeated: {', '.join(dups)}")
        ok = False
    if ok and len(options) < minimum:
        col.add(field, f"needs at least {minimum} options, found {len(options)}")
        ok = False
    return tuple(options) if ok else None


def id_list(col: Collector, value: Any, field: str) -> list[str] | None:
    """A list of id strings, else an error and None."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        col.add(field, f"must be a list of option ids, found {describe(value)}")
        return None
    return list(value)


def not_among(
    col: Collector, field: str, unknown: Iterable[str], ids: Sequence[str], what: str
) -> None:
    """One error per id in `unknown` that is not among `ids` (the `what` ids, e.g. option)."""
    for u in unknown:
        col.add(field, f"{u!r} is not among the {what} ids {', '.join(ids)}")

