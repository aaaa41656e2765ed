"""Validation of item data against docs/item-format.md: every problem named by file, item id and field.

:func:`build_item` turns one item mapping (from YAML, the database or QTI) into a sanitised
:class:`~item_bank.model.Item`, collecting every error it finds instead of stopping at the first.
:func:`validate_bank` adds the rules that span items (duplicate id and version).
"""

from __future__ import annotations

import datetime
import math
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from item_bank.errors import ItemBankError, ItemValidationError
from item_bank.model import (
    DIMENSIONS,
    GRADES,
    ITEM_TYPES,
    PARTIAL_CREDIT_TYPES,
    STATUSES,
    Grid,
    IrtParameters,
    Item,
    Option,
    ShortAnswerKey,
    Text,
)
from item_bank.presentation import (
    matching_reveals_key,
    ordering_reveals_key,
    same_number_pairs,
    straight_across_pairs,
)
from item_bank.sanitizer import clean_html, clean_svg

__all__ = [
    "ID_PATTERN",
    "IMAGE_NAME_PATTERN",
    "OPTION_ID_PATTERN",
    "PLACEHOLDER",
    "build_item",
    "collect_item",
    "normalize_answer_text",
    "validate_bank",
    "validate_item",
    "verify_published",
]

ID_PATTERN = re.compile(r"^[a-z0-9-]{3,64}$")
#: Option ids must be valid QTI identifiers (NCName-like): a letter first.
OPTION_ID_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
IMAGE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: An image placeholder in text, exactly {{img:NAME}}; anything else starting {{img is an error.
PLACEHOLDER = re.compile(r"\{\{img:([A-Za-z0-9_-]{1,64})\}\}")
_LOOSE_PLACEHOLDER = re.compile(r"\{\{\s*img\b[^}]*\}?\}?")

_COMMON_FIELDS = frozenset(
    ["id", "version", "type", "dimension", "grades", "anchor", "status", "title", "stem", "rationale", "max_score", "irt", "images"]
)
_TYPE_FIELDS: dict[str, frozenset[str]] = {
    "single_choice": frozenset({"options", "key"}),
    "multiple_response": frozenset({"options", "key"}),
    "ordering": frozenset({"options", "key"}),
    "matching": frozenset({"left", "right", "key"}),
    "short_answer": frozenset({"answer"}),
    "grid_path": frozenset({"grid"}),
}
_ALL_TYPE_FIELDS = frozenset().union(*_TYPE_FIELDS.values())
_REQUIRED = ("id", "version", "type", "dimension", "grades", "status", "title", "stem")
_IRT_MODELS = ("2pl", "3pl", "gpcm")
MAX_ANSWER_TEXT = 200
#: Versions are stored in a 32-bit INTEGER column (SQLite and PostgreSQL alike).
MAX_VERSION = 2**31 - 1
_FLOAT_MAX = sys.float_info.max
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def normalize_answer_text(text: str, case_sensitive: bool = False) -> str:
    """NFKC, trim, collapse whitespace and (unless case_sensitive) casefold a short-answer text."""
    out = " ".join(unicodedata.normalize("NFKC", text).split())
    return out if case_sensitive else out.casefold()


class _Collector:
    """Errors of one item, each located by the item's file and id."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.item_id: str | None = None
        self.errors: list[ItemValidationError] = []

    def add(self, field: str | None, message: str) -> None:
        self.errors.append(ItemValidationError(self.file, self.item_id, field, message))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A finite number that fits a float (math.isfinite on a huge int would raise OverflowError)."""
    if _is_int(value):
        return -_FLOAT_MAX <= value <= _FLOAT_MAX
    return isinstance(value, float) and math.isfinite(value)


def _canon_number(value: float) -> int | float:
    """Integral floats become ints so 42 and 42.0 hash and export the same way."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _describe(value: Any) -> str:
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
    if _is_int(value) and len(str(value)) > 40:
        return f"int {str(value)[:12]}... ({len(str(value).lstrip('-'))} digits)"
    return _shorten(f"{type(value).__name__} {value!r}")


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text)} characters)"


def _surrogate_fields(data: Any, path: str = "", seen: set[int] | None = None) -> Iterable[tuple[str, str]]:
    """(field, character) of every text holding a lone UTF-16 surrogate, e.g. from a YAML "\\ud800" escape.

    Such text is not Unicode: the sanitiser, UTF-8 output and PostgreSQL all refuse it. Containers
    are visited once (YAML aliases share them), so an alias bomb costs no more than its size.
    """
    seen = set() if seen is None else seen
    if isinstance(data, str):
        found = _SURROGATE.search(data)
        if found:
            yield path or "-", found.group()
        return
    if not isinstance(data, (Mapping, list, tuple)) or id(data) in seen:
        return
    seen.add(id(data))
    if isinstance(data, Mapping):
        for key, value in data.items():
            bad_key = _SURROGATE.search(key) if isinstance(key, str) else None
            name = ascii(key) if bad_key else str(key)
            where = f"{path}.{name}" if path else name
            if bad_key:
                yield where, bad_key.group()
            yield from _surrogate_fields(value, where, seen)
    else:
        for i, value in enumerate(data, start=1):
            yield from _surrogate_fields(value, f"{path}[{i}]", seen)


def _scalar_text(value: Any) -> str | None:
    """Text values may be written as numbers in YAML (e.g. option '12'); booleans and dates are refused."""
    if isinstance(value, str):
        return value
    if _is_int(value) or (isinstance(value, float) and math.isfinite(value)):
        return str(value)
    return None


def _parse_text(
    col: _Collector, value: Any, field: str, need_en: bool, required: bool = True
) -> Text | None:
    if value is None:
        if required:
            col.add(field, "missing; give an object with zh-TW (and en) text")
        return None
    if not isinstance(value, Mapping):
        col.add(field, f"must be an object {{zh-TW: ..., en: ...}}, found {_describe(value)}")
        return None
    ok = True
    for k in value:
        if k not in ("zh-TW", "en"):
            col.add(f"{field}.{k}", "unknown language; use zh-TW and en")
            ok = False
    zh_raw = value.get("zh-TW")
    zh_text = _scalar_text(zh_raw)
    zh = clean_html(zh_text) if zh_text is not None else ""
    if zh_text is None and zh_raw is not None:
        col.add(f"{field}.zh-TW", f"must be text, found {_describe(zh_raw)}")
        ok = False
    elif not zh:
        col.add(f"{field}.zh-TW", "missing zh-TW text (required)")
        ok = False
    en_raw = value.get("en")
    en: str | None = None
    if en_raw is not None:
        en = _scalar_text(en_raw)
        if en is None:
            col.add(f"{field}.en", f"must be text, found {_describe(en_raw)}")
            ok = False
        else:
            en = clean_html(en) or None
    if need_en and en is None and ok:
        col.add(f"{field}.en", "missing English text (required for operational items)")
        ok = False
    return Text(zh, en) if ok else None


def _parse_options(
    col: _Collector, value: Any, field: str, need_en: bool, minimum: int
) -> tuple[Option, ...] | None:
    if value is None:
        col.add(field, "missing; give a list of {id, text} options")
        return None
    if not isinstance(value, list):
        col.add(field, f"must be a list of {{id, text}} options, found {_describe(value)}")
        return None
    options: list[Option] = []
    ok = True
    for i, raw in enumerate(value, start=1):
        where = f"{field}[{i}]"
        if not isinstance(raw, Mapping):
            col.add(where, f"must be an object {{id, text}}, found {_describe(raw)}")
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
                f"(at most 32), found {_describe(oid)}",
            )
            ok = False
            continue
        where = f"{field}[{oid}]"
        text = _parse_text(col, raw.get("text"), f"{where}.text", need_en)
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


def _id_list(col: _Collector, value: Any, field: str) -> list[str] | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        col.add(field, f"must be a list of option ids, found {_describe(value)}")
        return None
    return list(value)


def _not_among(
    col: _Collector, field: str, unknown: Iterable[str], ids: Sequence[str], what: str
) -> None:
    for u in unknown:
        col.add(field, f"{u!r} is not among the {what} ids {', '.join(ids)}")


def _parse_key(col: _Collector, item_type: str, data: Mapping[str, Any], opts: dict[str, Any]):
    raw = data.get("key")
    if raw is None:
        col.add("key", "missing")
        return None
    if item_type == "single_choice":
        ids = opts["options"].ids
        if not isinstance(raw, str):
            col.add("key", f"must be one option id, found {_describe(raw)}")
            return None
        if raw not in ids:
            _not_among(col, "key", [raw], ids, "option")
            return None
        return raw
    if item_type == "multiple_response":
        ids = opts["options"].ids
        keys = _id_list(col, raw, "key")
        if keys is None:
            return None
        if not keys:
            col.add("key", "must list at least one keyed option")
            return None
        unknown = [k for k in keys if k not in ids]
        _not_among(col, "key", unknown, ids, "option")
        dups = sorted(k for k, n in Counter(keys).items() if n > 1)
        if dups:
            col.add("key", f"option ids repeated in the key: {', '.join(dups)}")
        if unknown or dups:
            return None
        return tuple(i for i in ids if i in keys)  # canonical: display order
    if item_type == "ordering":
        ids = opts["options"].ids
        keys = _id_list(col, raw, "key")
        if keys is None:
            return None
        unknown = [k for k in keys if k not in ids]
        _not_among(col, "key", unknown, ids, "option")
        missing = [i for i in ids if i not in keys]
        dups = sorted(k for k, n in Counter(keys).items() if n > 1)
        if missing or dups:
            detail = []
            if missing:
                detail.append(f"missing {', '.join(missing)}")
            if dups:
                detail.append(f"repeated {', '.join(dups)}")
            col.add("key", f"the key must be a permutation of all option ids; {'; '.join(detail)}")
        if unknown or missing or dups:
            return None
        if tuple(keys) == tuple(ids):
            col.add(
                "options",
                "the options are listed in the key order, so students would see the answer; "
                "list them in a different display order",
            )
            return None
        return tuple(keys)
    if item_type == "matching":
        left, right = opts["left"].ids, opts["right"].ids
        if not isinstance(raw, list):
            col.add("key", f"must be a list of [left, right] pairs, found {_describe(raw)}")
            return None
        pairs: dict[str, str] = {}
        ok = True
        for i, pair in enumerate(raw, start=1):
            if (
                not isinstance(pair, (list, tuple))
                or len(pair) != 2
                or not all(isinstance(p, str) for p in pair)
            ):
                col.add(f"key[{i}]", f"must be a [left, right] pair of ids, found {_describe(pair)}")
                ok = False
                continue
            lid, rid = pair
            if lid not in left:
                _not_among(col, f"key[{i}]", [lid], left, "left")
                ok = False
            if rid not in right:
                _not_among(col, f"key[{i}]", [rid], right, "right")
                ok = False
            if lid in pairs:
                col.add(f"key[{i}]", f"left id {lid!r} is matched twice")
                ok = False
            pairs[lid] = rid
        if ok:
            missing = [lid for lid in left if lid not in pairs]
            if missing:
                col.add("key", f"every left id needs a match; missing {', '.join(missing)}")
                ok = False
        if not ok:
            return None
        return tuple((lid, pairs[lid]) for lid in left)  # canonical: left display order
    return None


class _Ids:
    def __init__(self, options: tuple[Option, ...]) -> None:
        self.options = options
        self.ids = tuple(o.id for o in options)


def _parse_answer(col: _Collector, raw: Any) -> ShortAnswerKey | None:
    if not isinstance(raw, Mapping):
        col.add("answer", f"missing or not an object {{kind, ...}}, found {_describe(raw)}")
        return None
    kind = raw.get("kind")
    allowed = {
        "numeric": {"kind", "value", "tolerance"},
        "text": {"kind", "accepted", "case_sensitive"},
    }
    if not isinstance(kind, str) or kind not in allowed:
        col.add("answer.kind", f"must be numeric or text, found {_describe(kind)}")
        return None
    ok = True
    for k in raw:
        if k not in allowed[kind]:
            col.add(f"answer.{k}", f"unknown field for a {kind} answer")
            ok = False
    if kind == "numeric":
        value: Any = raw.get("value")
        if not _is_number(value):
            col.add("answer.value", f"must be a number, found {_describe(value)}")
            ok = False
        tol = raw.get("tolerance", 0)
        if not _is_number(tol) or tol < 0:
            col.add("answer.tolerance", f"must be a number >= 0, found {_describe(tol)}")
            ok = False
        if not ok:
            return None
        return ShortAnswerKey("numeric", value=_canon_number(value), tolerance=_canon_number(tol))
    accepted_raw = raw.get("accepted")
    case_sensitive = raw.get("case_sensitive", False)
    if not isinstance(case_sensitive, bool):
        col.add("answer.case_sensitive", f"must be true or false, found {_describe(case_sensitive)}")
        ok = False
    if not isinstance(accepted_raw, list) or not accepted_raw:
        col.add("answer.accepted", f"must be a non-empty list of texts, found {_describe(accepted_raw)}")
        return None
    accepted: list[str] = []
    for i, a in enumerate(accepted_raw, start=1):
        text = _scalar_text(a)
        if text is None or not normalize_answer_text(text):
            col.add(f"answer.accepted[{i}]", f"must be a non-empty text, found {_describe(a)}")
            ok = False
        elif len(text) > MAX_ANSWER_TEXT:
            col.add(f"answer.accepted[{i}]", f"longer than {MAX_ANSWER_TEXT} characters")
            ok = False
        else:
            accepted.append(text.strip())
    if not ok:
        return None
    norm = Counter(normalize_answer_text(a, bool(case_sensitive)) for a in accepted)
    dups = sorted(k for k, n in norm.items() if n > 1)
    if dups:
        col.add("answer.accepted", f"accepted answers repeat after normalisation: {', '.join(dups)}")
        return None
    return ShortAnswerKey("text", accepted=tuple(accepted), case_sensitive=bool(case_sensitive))


def _parse_grid(col: _Collector, raw: Any) -> Grid | None:
    if not isinstance(raw, Mapping):
        col.add("grid", f"missing or not an object {{map, max_moves}}, found {_describe(raw)}")
        return None
    ok = True
    for k in raw:
        if k not in ("map", "max_moves"):
            col.add(f"grid.{k}", "unknown field; a grid has map and max_moves")
            ok = False
    rows = raw.get("map")
    max_moves = raw.get("max_moves")
    if max_moves is not None and (not _is_int(max_moves) or max_moves < 1):
        col.add("grid.max_moves", f"must be a positive integer, found {_describe(max_moves)}")
        ok = False
    if not isinstance(rows, list):
        col.add("grid.map", f"must be a list of row strings, found {_describe(rows)}")
        return None
    try:
        grid = Grid.from_map(rows, max_moves if ok else None)
    except ValueError as exc:
        col.add("grid.map", str(exc))
        return None
    if grid.shortest_path_length is None:
        col.add(
            "grid.map",
            f"the goal G (row {grid.goal[0] + 1}, column {grid.goal[1] + 1}) cannot be reached "
            f"from S (row {grid.start[0] + 1}, column {grid.start[1] + 1})",
        )
        return None
    if ok and grid.max_moves < grid.shortest_path_length:
        col.add(
            "grid.max_moves",
            f"{grid.max_moves} is less than the shortest path ({grid.shortest_path_length} moves)",
        )
        return None
    return grid if ok else None


def _parse_irt(col: _Collector, raw: Any, max_score: int | None) -> IrtParameters | None:
    if not isinstance(raw, Mapping):
        col.add("irt", f"must be an object {{model, a, d, parameter_set}}, found {_describe(raw)}")
        return None
    ok = True
    for k in raw:
        if k not in ("model", "a", "d", "c", "parameter_set"):
            col.add(f"irt.{k}", "unknown field; irt has model, a, d, c, parameter_set")
            ok = False
    model = raw.get("model")
    if model not in _IRT_MODELS:
        col.add("irt.model", f"must be one of {', '.join(_IRT_MODELS)}, found {_describe(model)}")
        return None
    if max_score == 2 and model != "gpcm":
        col.add("irt.model", f"max_score is 2, so the model must be gpcm, found {model}")
        ok = False
    if max_score == 1 and model == "gpcm":
        col.add("irt.model", "gpcm is for partial-credit items (max_score 2); use 2pl or 3pl")
        ok = False
    a: Any = raw.get("a")
    if not _is_number(a):
        col.add("irt.a", f"must be a finite number, found {_describe(a)}")
        ok = False
    d_raw = raw.get("d")
    d_list: Any = [d_raw] if _is_number(d_raw) else d_raw
    if not isinstance(d_list, list) or not d_list or not all(_is_number(x) for x in d_list):
        col.add("irt.d", f"must be a list of finite numbers, found {_describe(d_raw)}")
        ok = False
        d_list = []
    else:
        expected = (max_score or 1) if model == "gpcm" else 1
        if len(d_list) != expected:
            col.add(
                "irt.d",
                f"{model} with max_score {max_score} needs {expected} intercept(s), found {len(d_list)}",
            )
            ok = False
    c_raw: Any = raw.get("c")
    c: float | None = None
    if model == "3pl":
        if not _is_number(c_raw) or not 0 <= c_raw < 1:
            col.add("irt.c", f"3pl needs a guessing parameter 0 <= c < 1, found {_describe(c_raw)}")
            ok = False
        else:
            c = float(c_raw)
    elif c_raw is not None and not (_is_number(c_raw) and c_raw == 0):
        col.add("irt.c", f"c is only used by 3pl; remove it or set it to 0, found {_describe(c_raw)}")
        ok = False
    pset: Any = raw.get("parameter_set")
    if not isinstance(pset, str) or not pset.strip():
        col.add("irt.parameter_set", f"must name the parameter set, found {_describe(pset)}")
        ok = False
    if not ok:
        return None
    return IrtParameters(model, float(a), tuple(float(x) for x in d_list), c, pset.strip())


def _parse_images(
    col: _Collector, raw: Any, extra: Mapping[str, str] | None
) -> dict[str, str] | None:
    images: dict[str, str] = {}
    ok = True
    if raw is not None and not isinstance(raw, Mapping):
        col.add("images", f"must be an object of name: '<svg ...>', found {_describe(raw)}")
        raw, ok = None, False
    sources = [("images", raw or {}), ("images (file)", extra or {})]
    for label, mapping in sources:
        for name, svg in mapping.items():
            field = f"images.{name}"
            if not isinstance(name, str) or not IMAGE_NAME_PATTERN.match(name):
                col.add(field, "image names use letters, digits, '_' and '-' (at most 64)")
                ok = False
                continue
            if name in images:
                col.add(field, "defined both inline and as a file beside the item")
                ok = False
                continue
            if not isinstance(svg, str):
                col.add(field, f"must be SVG text, found {_describe(svg)}")
                ok = False
                continue
            try:
                images[name] = clean_svg(svg)
            except ValueError as exc:
                col.add(field, str(exc))
                ok = False
    return images if ok else None


def _texts_of(item_fields: Mapping[str, Any]) -> Iterable[tuple[str, Text]]:
    for name in ("title", "stem", "rationale"):
        t = item_fields.get(name)
        if isinstance(t, Text):
            yield name, t
    for name in ("options", "left", "right"):
        for o in item_fields.get(name) or ():
            yield f"{name}[{o.id}].text", o.text


def collect_item(
    data: Any,
    file: str = "<dict>",
    extra_images: Mapping[str, str] | None = None,
    *,
    check_presentation: bool = True,
) -> tuple[Item | None, list[ItemValidationError]]:
    """Validate one item mapping; return the item (None if invalid) and every error found.

    `check_presentation=False` skips the rule that the presented order must not give the key
    away: only for content already stored (it was checked when imported, and a frozen form
    that holds it must stay deliverable after the rule changes).
    """
    col = _Collector(str(file))
    if not isinstance(data, Mapping):
        col.add(None, f"an item file must hold one mapping (an item), found {_describe(data)}")
        return None, col.errors
    raw_id = data.get("id")
    if isinstance(raw_id, str) and ID_PATTERN.match(raw_id):
        col.item_id = raw_id
    elif raw_id is None:
        col.add("id", "missing (required)")
    else:
        if isinstance(raw_id, str) and raw_id:
            col.item_id = raw_id
        col.add(
            "id",
            "must be 3-64 characters of lowercase a-z, 0-9 and '-', "
            f"found {_describe(raw_id)}",
        )
    surrogates = list(_surrogate_fields(data))
    if surrogates:
        for field, char in surrogates[:10]:
            col.add(
                field,
                f"the text holds {char!a}, half of a UTF-16 surrogate pair and not a character; "
                "write the character itself (or a \\U0001F600-style escape)",
            )
        return None, col.errors
    item_type: Any = data.get("type")
    if item_type is None:
        col.add("type", f"missing (required); use one of {', '.join(ITEM_TYPES)}")
    elif item_type not in ITEM_TYPES:
        col.add("type", f"unknown type {_describe(item_type)}; use one of {', '.join(ITEM_TYPES)}")
        item_type = None
    for name in data:
        if name in _COMMON_FIELDS:
            continue
        if name in _ALL_TYPE_FIELDS:
            if item_type is not None and name not in _TYPE_FIELDS[item_type]:
                col.add(str(name), f"not used by type {item_type}; remove it")
            continue
        col.add(str(name), "unknown field")
    for name in _REQUIRED:
        if data.get(name) is None and name not in ("id", "type", "title", "stem"):
            col.add(name, "missing (required)")

    version: Any = data.get("version")
    if version is not None and (not _is_int(version) or not 1 <= version <= MAX_VERSION):
        col.add("version", f"must be a positive integer (at most {MAX_VERSION}), found {_describe(version)}")
    dimension: Any = data.get("dimension")
    if dimension is not None and dimension not in DIMENSIONS:
        col.add("dimension", f"must be one of {', '.join(DIMENSIONS)}, found {_describe(dimension)}")
    grades_raw = data.get("grades")
    grades: tuple[int, ...] | None = None
    if grades_raw is not None:
        if (
            not isinstance(grades_raw, list)
            or not grades_raw
            or not all(_is_int(g) and g in GRADES for g in grades_raw)
            or len(set(grades_raw)) != len(grades_raw)
        ):
            col.add("grades", f"must be [5], [8] or [5, 8], found {_describe(grades_raw)}")
        else:
            grades = tuple(sorted(grades_raw))
    anchor = data.get("anchor", False)
    if not isinstance(anchor, bool):
        col.add("anchor", f"must be true or false, found {_describe(anchor)}")
    elif anchor and grades is not None and grades != GRADES:
        col.add("anchor", f"an anchor item must have grades [5, 8], found {list(grades)}")
    status: Any = data.get("status")
    if status is not None and status not in STATUSES:
        col.add("status", f"must be one of {', '.join(STATUSES)}, found {_describe(status)}")
    max_score = data.get("max_score", 1)
    if not _is_int(max_score) or max_score not in (1, 2):
        col.add("max_score", f"must be 1 or 2, found {_describe(max_score)}")
        max_score = None
    elif max_score == 2 and item_type is not None and item_type not in PARTIAL_CREDIT_TYPES:
        col.add(
            "max_score",
            f"{item_type} has no partial credit, so max_score must be 1 "
            f"(2 is only for {', '.join(sorted(PARTIAL_CREDIT_TYPES))})",
        )
        max_score = None

    need_en = status == "operational"
    fields: dict[str, Any] = {}
    fields["title"] = _parse_text(col, data.get("title"), "title", need_en)
    fields["stem"] = _parse_text(col, data.get("stem"), "stem", need_en)
    if data.get("rationale") is None and status in ("pilot", "operational", "retired"):
        col.add("rationale", f"missing; {status} items need a rationale for their key")
    fields["rationale"] = _parse_text(
        col, data.get("rationale"), "rationale", need_en, required=False
    )

    key: Any = None
    if item_type in ("single_choice", "multiple_response", "ordering"):
        minimum = 3 if item_type == "ordering" else 2
        options = _parse_options(col, data.get("options"), "options", need_en, minimum)
        fields["options"] = options
        if options is not None:
            key = _parse_key(col, item_type, data, {"options": _Ids(options)})
    elif item_type == "matching":
        left = _parse_options(col, data.get("left"), "left", need_en, 2)
        right = _parse_options(col, data.get("right"), "right", need_en, 2)
        fields["left"], fields["right"] = left, right
        if left is not None and right is not None:
            shared = sorted({o.id for o in left} & {o.id for o in right})
            if shared:
                col.add("right", f"left and right ids must differ; both use {', '.join(shared)}")
            else:
                key = _parse_key(col, item_type, data, {"left": _Ids(left), "right": _Ids(right)})
    elif item_type == "short_answer":
        fields["answer"] = _parse_answer(col, data.get("answer"))
    elif item_type == "grid_path":
        fields["grid"] = _parse_grid(col, data.get("grid"))

    if key is not None and check_presentation and status != "retired":
        _check_presentation(col, item_type, fields, key)

    irt = None
    if data.get("irt") is not None:
        irt = _parse_irt(col, data.get("irt"), max_score)
    images = _parse_images(col, data.get("images"), extra_images)
    if images is not None:
        for field, text in _texts_of(fields):
            for lang in (text.zh_tw, text.en or ""):
                for name in PLACEHOLDER.findall(lang):
                    if name not in images:
                        col.add(
                            field,
                            f"refers to image {name!r}, which the item does not have "
                            f"(images: {', '.join(images) or 'none'})",
                        )
                for loose in _LOOSE_PLACEHOLDER.findall(lang):
                    if not PLACEHOLDER.fullmatch(loose):
                        col.add(field, f"malformed image placeholder {loose!r}; write {{{{img:NAME}}}}")
    if col.errors:
        return None, col.errors
    item = Item(
        id=data["id"],
        version=version,
        type=item_type,
        dimension=dimension,
        grades=grades or (),
        status=status,
        title=fields["title"],
        stem=fields["stem"],
        max_score=max_score,
        anchor=anchor,
        rationale=fields["rationale"],
        options=fields.get("options") or (),
        left=fields.get("left") or (),
        right=fields.get("right") or (),
        key=key,
        answer=fields.get("answer"),
        grid=fields.get("grid"),
        irt=irt,
        images=images or {},
        source=str(file),
    )
    return item, []


def _check_presentation(col: _Collector, item_type: str, fields: Mapping[str, Any], key: Any) -> None:
    """The presented order must not give the key away (docs/item-format.md); retired versions are exempt."""
    if item_type == "ordering":
        shown = tuple(o.id for o in fields["options"])
        if shown != tuple(key) and ordering_reveals_key(shown, key):
            col.add(
                "options",
                "the options are listed one swap away from the key order, so students would nearly see "
                "the answer; list them so that at least three are out of their keyed place",
            )
    elif item_type == "matching":
        left = tuple(o.id for o in fields["left"])
        right = tuple(o.id for o in fields["right"])
        across = straight_across_pairs(left, right, key)
        if matching_reveals_key(across, len(left)):
            col.add(
                "right",
                f"{across} of the {len(left)} left items are keyed to the right item in the same position, "
                "so matching straight across would score; reorder the right-hand list so that fewer than "
                "half are (and renumber the ids in the new order)",
            )
            return
        numbered = same_number_pairs(key)
        if matching_reveals_key(numbered, len(left)):
            col.add(
                "key",
                f"{numbered} of the {len(left)} left items are keyed to the right item with the same number "
                "(L1 → R1), and ids are sent with the options; renumber the right ids in display order",
            )


def build_item(
    data: Any,
    file: str = "<dict>",
    extra_images: Mapping[str, str] | None = None,
    *,
    check_presentation: bool = True,
) -> Item:
    """Validate one item mapping and return the sanitised Item; raise ItemBankError with every error."""
    item, errors = collect_item(data, file, extra_images, check_presentation=check_presentation)
    if errors:
        raise ItemBankError(errors)
    assert item is not None
    return item


def validate_item(item: Item) -> list[ItemValidationError]:
    """Re-check an Item built by hand (not via build_item) against every per-item rule."""
    return collect_item(item.to_dict(), item.source or "<item>")[1]


def validate_bank(items: Iterable[Item]) -> list[ItemValidationError]:
    """Rules across items: the same id and version must not be defined twice."""
    seen: dict[tuple[str, int], Item] = {}
    errors: list[ItemValidationError] = []
    for item in items:
        ref = (item.id, item.version)
        if ref in seen:
            errors.append(
                ItemValidationError(
                    item.source or "<item>",
                    item.id,
                    "id",
                    f"duplicate id and version {item.id} v{item.version}; also defined in "
                    f"{seen[ref].source or '<item>'} (an edit needs a new version)",
                )
            )
        else:
            seen[ref] = item
    return errors


def verify_published(
    items: Iterable[Item], published: Mapping[tuple[str, int], str]
) -> None:
    """Raise ItemBankError if an item's content differs from the published hash of its id+version."""
    errors = [
        ItemValidationError(
            item.source or "<item>",
            item.id,
            "version",
            f"version {item.version} is already published with different content; "
            f"a published version is immutable, so give the edit version {item.version + 1} "
            "or higher",
        )
        for item in items
        if (item.id, item.version) in published
        and published[(item.id, item.version)] != item.content_hash()
    ]
    if errors:
        raise ItemBankError(errors)
