"""Validation of item data against docs/item-format.md: every problem named by file, item id and field.

:func:`build_item` turns one item mapping (from YAML, the database or QTI) into a sanitised
:class:`~item_bank.model.Item`, collecting every error it finds instead of stopping at the first.
:func:`validate_bank` adds the rules that span items (duplicate id and version).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from item_bank import types as item_types
from item_bank.errors import ItemBankError, ItemValidationError
from item_bank.fields import (
    MAX_ANSWER_TEXT,
    OPTION_ID_PATTERN,
    PLACEHOLDER,
    Collector,
    describe,
    is_int,
    is_number,
    normalize_answer_text,
    parse_text,
)
from item_bank.model import DIMENSIONS, GRADES, STATUSES, IrtParameters, Item, Option, Text
from item_bank.sanitizer import clean_svg

__all__ = [
    "ID_PATTERN",
    "IMAGE_NAME_PATTERN",
    "MAX_ANSWER_TEXT",
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
IMAGE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_LOOSE_PLACEHOLDER = re.compile(r"\{\{\s*img\b[^}]*\}?\}?")

_COMMON_FIELDS = frozenset(
    ["id", "version", "type", "dimension", "grades", "anchor", "status", "title", "stem", "rationale", "max_score", "irt", "images"]
)
_REQUIRED = ("id", "version", "type", "dimension", "grades", "status", "title", "stem")
_IRT_MODELS = ("2pl", "3pl", "gpcm")
#: Versions are stored in a 32-bit INTEGER column (SQLite and PostgreSQL alike).
MAX_VERSION = 2**31 - 1
_SURROGATE = re.compile(r"[\ud800-\udfff]")


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


def _parse_irt(col: Collector, raw: Any, max_score: int | None) -> IrtParameters | None:
    if not isinstance(raw, Mapping):
        col.add("irt", f"must be an object {{model, a, d, parameter_set}}, found {describe(raw)}")
        return None
    ok = True
    for k in raw:
        if k not in ("model", "a", "d", "c", "parameter_set"):
            col.add(f"irt.{k}", "unknown field; irt has model, a, d, c, parameter_set")
            ok = False
    model = raw.get("model")
    if model not in _IRT_MODELS:
        col.add("irt.model", f"must be one of {', '.join(_IRT_MODELS)}, found {describe(model)}")
        return None
    if max_score == 2 and model != "gpcm":
        col.add("irt.model", f"max_score is 2, so the model must be gpcm, found {model}")
        ok = False
    if max_score == 1 and model == "gpcm":
        col.add("irt.model", "gpcm is for partial-credit items (max_score 2); use 2pl or 3pl")
        ok = False
    a: Any = raw.get("a")
    if not is_number(a):
        col.add("irt.a", f"must be a finite number, found {describe(a)}")
        ok = False
    d_raw = raw.get("d")
    d_list: Any = [d_raw] if is_number(d_raw) else d_raw
    if not isinstance(d_list, list) or not d_list or not all(is_number(x) for x in d_list):
        col.add("irt.d", f"must be a list of finite numbers, found {describe(d_raw)}")
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
        if not is_number(c_raw) or not 0 <= c_raw < 1:
            col.add("irt.c", f"3pl needs a guessing parameter 0 <= c < 1, found {describe(c_raw)}")
            ok = False
        else:
            c = float(c_raw)
    elif c_raw is not None and not (is_number(c_raw) and c_raw == 0):
        col.add("irt.c", f"c is only used by 3pl; remove it or set it to 0, found {describe(c_raw)}")
        ok = False
    pset: Any = raw.get("parameter_set")
    if not isinstance(pset, str) or not pset.strip():
        col.add("irt.parameter_set", f"must name the parameter set, found {describe(pset)}")
        ok = False
    if not ok:
        return None
    return IrtParameters(model, float(a), tuple(float(x) for x in d_list), c, pset.strip())


def _parse_images(
    col: Collector, raw: Any, extra: Mapping[str, str] | None
) -> dict[str, str] | None:
    images: dict[str, str] = {}
    ok = True
    if raw is not None and not isinstance(raw, Mapping):
        col.add("images", f"must be an object of name: '<svg ...>', found {describe(raw)}")
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
                col.add(field, f"must be SVG text, found {describe(svg)}")
                ok = False
                continue
            try:
                images[name] = clean_svg(svg)
            except ValueError as exc:
                col.add(field, str(exc))
                ok = False
    return images if ok else None


def _texts_of(item_fields: Mapping[str, Any]) -> Iterable[tuple[str, Text]]:
    """Every parsed text: title, stem, rationale, then the options of each option list the type has."""
    for name, value in item_fields.items():
        if isinstance(value, Text):
            yield name, value
        elif isinstance(value, tuple):
            for o in value:
                if isinstance(o, Option):
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
    col = Collector(str(file))
    if not isinstance(data, Mapping):
        col.add(None, f"an item file must hold one mapping (an item), found {describe(data)}")
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
            f"found {describe(raw_id)}",
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
    type_names = item_types.names()
    if item_type is None:
        col.add("type", f"missing (required); use one of {', '.join(type_names)}")
    elif item_type not in type_names:
        col.add("type", f"unknown type {describe(item_type)}; use one of {', '.join(type_names)}")
        item_type = None
    kind = item_types.get(item_type) if item_type is not None else None
    type_fields = item_types.type_fields()
    for name in data:
        if name in _COMMON_FIELDS:
            continue
        if name in type_fields:
            if kind is not None and name not in kind.fields:
                col.add(str(name), f"not used by type {item_type}; remove it")
            continue
        col.add(str(name), "unknown field")
    for name in _REQUIRED:
        if data.get(name) is None and name not in ("id", "type", "title", "stem"):
            col.add(name, "missing (required)")

    version: Any = data.get("version")
    if version is not None and (not is_int(version) or not 1 <= version <= MAX_VERSION):
        col.add("version", f"must be a positive integer (at most {MAX_VERSION}), found {describe(version)}")
    dimension: Any = data.get("dimension")
    if dimension is not None and dimension not in DIMENSIONS:
        col.add("dimension", f"must be one of {', '.join(DIMENSIONS)}, found {describe(dimension)}")
    grades_raw = data.get("grades")
    grades: tuple[int, ...] | None = None
    if grades_raw is not None:
        if (
            not isinstance(grades_raw, list)
            or not grades_raw
            or not all(is_int(g) and g in GRADES for g in grades_raw)
            or len(set(grades_raw)) != len(grades_raw)
        ):
            col.add("grades", f"must be [5], [8] or [5, 8], found {describe(grades_raw)}")
        else:
            grades = tuple(sorted(grades_raw))
    anchor = data.get("anchor", False)
    if not isinstance(anchor, bool):
        col.add("anchor", f"must be true or false, found {describe(anchor)}")
    elif anchor and grades is not None and grades != GRADES:
        col.add("anchor", f"an anchor item must have grades [5, 8], found {list(grades)}")
    status: Any = data.get("status")
    if status is not None and status not in STATUSES:
        col.add("status", f"must be one of {', '.join(STATUSES)}, found {describe(status)}")
    max_score = data.get("max_score", 1)
    if not is_int(max_score) or max_score not in (1, 2):
        col.add("max_score", f"must be 1 or 2, found {describe(max_score)}")
        max_score = None
    elif max_score == 2 and kind is not None and not kind.partial_credit:
        col.add(
            "max_score",
            f"{item_type} has no partial credit, so max_score must be 1 "
            f"(2 is only for {', '.join(sorted(item_types.partial_credit_names()))})",
        )
        max_score = None

    need_en = status == "operational"
    fields: dict[str, Any] = {}
    fields["title"] = parse_text(col, data.get("title"), "title", need_en)
    fields["stem"] = parse_text(col, data.get("stem"), "stem", need_en)
    if data.get("rationale") is None and status in ("pilot", "operational", "retired"):
        col.add("rationale", f"missing; {status} items need a rationale for their key")
    fields["rationale"] = parse_text(
        col, data.get("rationale"), "rationale", need_en, required=False
    )

    own: dict[str, Any] = {}
    if kind is not None:
        own = kind.parse(col, data, need_en)
        fields.update(own)
        if check_presentation and status != "retired":
            kind.check_presentation(col, own)

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
        irt=irt,
        images=images or {},
        source=str(file),
        **own,
    )
    return item, []


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
