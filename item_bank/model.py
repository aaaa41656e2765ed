"""The item model: immutable dataclasses for items and their parts, canonical dicts and student views.

Build items with :func:`item_bank.validation.build_item`, :meth:`Item.from_dict` or the loader,
which validate and sanitise; the dataclass constructors trust their arguments.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

from item_bank.grid import MapLayout, parse_map, shortest_path

if TYPE_CHECKING:  # pragma: no cover
    from item_bank.types import ItemType

#: An image placeholder in a text, {{img:NAME}} (validation.PLACEHOLDER checks the same syntax).
_IMAGE_REF = re.compile(r"\{\{img:([A-Za-z0-9_-]{1,64})\}\}")

__all__ = [
    "DIMENSIONS",
    "GRADES",
    "LANGUAGES",
    "STATUSES",
    "Grid",
    "IrtParameters",
    "Item",
    "ItemStatus",
    "Key",
    "Option",
    "ShortAnswerKey",
    "Text",
    "normalize_lang",
]

DIMENSIONS = ("D1", "D2", "D3", "D4")
GRADES = (5, 8)
class ItemStatus(StrEnum):
    """An item version's life: draft (editable), pilot and operational (published), retired."""

    DRAFT = "draft"
    PILOT = "pilot"
    OPERATIONAL = "operational"
    RETIRED = "retired"


STATUSES = tuple(status.value for status in ItemStatus)
LANGUAGES = ("zh-TW", "en")

#: Per-student shuffles drawn before falling back to a fixed non-leaking order.
_SHUFFLE_DRAWS = 20

Cell = tuple[int, int]
#: single_choice: an option id; multiple_response/ordering: option ids; matching: (left, right) pairs.
Key = str | tuple[str, ...] | tuple[tuple[str, str], ...]

# Fields that make up what a student sees and how it is scored, with the type's own fields: changing
# any of them needs a new version. Metadata (dimension, grades, anchor, status, rationale, irt) may
# change in place.
_CONTENT_FIELDS = ("id", "version", "type", "title", "stem", "max_score", "images")


def normalize_lang(lang: str) -> str:
    """Map a requested language tag to 'zh-TW' or 'en'; raise ValueError for anything else."""
    tag = str(lang).strip().replace("_", "-").lower()
    if tag in ("zh-tw", "zh", "zh-hant", "zh-hant-tw"):
        return "zh-TW"
    if tag == "en" or tag.startswith("en-"):
        return "en"
    raise ValueError(f"lang must be one of {', '.join(LANGUAGES)}, got {lang!r}")


@dataclass(frozen=True)
class Text:
    """A bilingual text (sanitised HTML subset): zh-TW always, English optional for drafts."""

    zh_tw: str
    en: str | None = None

    def get(self, lang: str = "zh-TW") -> str:
        """Return the text in `lang`, falling back to zh-TW when the English text is missing."""
        if normalize_lang(lang) == "en" and self.en:
            return self.en
        return self.zh_tw

    def to_dict(self) -> dict[str, str]:
        """Return the file form {'zh-TW': ..., 'en': ...} (en omitted when missing)."""
        out = {"zh-TW": self.zh_tw}
        if self.en is not None:
            out["en"] = self.en
        return out


@dataclass(frozen=True)
class Option:
    """One option (or one side of a matching pair) with a stable id used in responses."""

    id: str
    text: Text

    def to_dict(self) -> dict[str, Any]:
        """Return the file form {'id': ..., 'text': {...}}."""
        return {"id": self.id, "text": self.text.to_dict()}


@dataclass(frozen=True)
class Grid:
    """A grid_path map: rows of S/G/#/., parsed cells, the answer cap and the BFS shortest length."""

    rows: tuple[str, ...]
    start: Cell
    goal: Cell
    walls: frozenset[Cell]
    max_moves: int
    shortest_path_length: int | None

    @classmethod
    def from_map(cls, rows: list[str] | tuple[str, ...], max_moves: int | None = None) -> Grid:
        """Parse map rows (ValueError if malformed) and compute the shortest path by BFS."""
        layout = parse_map(rows)
        path = shortest_path(layout)
        cap = max_moves if max_moves is not None else layout.n_rows * layout.n_cols
        return cls(
            rows=tuple(rows),
            start=layout.start,
            goal=layout.goal,
            walls=layout.walls,
            max_moves=cap,
            shortest_path_length=None if path is None else len(path),
        )

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return len(self.rows)

    @property
    def n_cols(self) -> int:
        """Number of columns."""
        return len(self.rows[0])

    @property
    def layout(self) -> MapLayout:
        """The parsed cells, as used by :func:`item_bank.grid.simulate`."""
        return MapLayout(self.n_rows, self.n_cols, self.start, self.goal, self.walls)

    def shortest_path(self) -> str | None:
        """One shortest move string from S to G (for authors and tests; never sent to students)."""
        return shortest_path(self.layout)

    def to_dict(self) -> dict[str, Any]:
        """Return the file form {'map': [...], 'max_moves': n}."""
        return {"map": list(self.rows), "max_moves": self.max_moves}


@dataclass(frozen=True)
class ShortAnswerKey:
    """The key of a short_answer item: a number with a tolerance, or accepted texts."""

    kind: str  # "numeric" | "text"
    value: int | float | None = None
    tolerance: int | float = 0
    accepted: tuple[str, ...] = ()
    case_sensitive: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the file form of the `answer` block."""
        if self.kind == "numeric":
            return {"kind": "numeric", "value": self.value, "tolerance": self.tolerance}
        return {
            "kind": "text",
            "accepted": list(self.accepted),
            "case_sensitive": self.case_sensitive,
        }


@dataclass(frozen=True)
class IrtParameters:
    """Item parameters in slope/intercept form (mirt style) and the parameter set they came from."""

    model: str  # "2pl" | "3pl" | "gpcm"
    a: float
    d: tuple[float, ...]
    c: float | None
    parameter_set: str

    def to_dict(self) -> dict[str, Any]:
        """Return the file form of the `irt` block (c only for 3pl)."""
        out: dict[str, Any] = {"model": self.model, "a": self.a, "d": list(self.d)}
        if self.c is not None:
            out["c"] = self.c
        out["parameter_set"] = self.parameter_set
        return out


def _freeze_images(images: Mapping[str, str] | None) -> Mapping[str, str]:
    images = images or {}
    return MappingProxyType({k: images[k] for k in sorted(images)})


def _freeze(data: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(data or {}))


@dataclass(frozen=True)
class Item:
    """One version of one item: content, key, metadata and optional IRT parameters; immutable."""

    id: str
    version: int
    type: str
    dimension: str
    grades: tuple[int, ...]
    status: str
    title: Text
    stem: Text
    max_score: int = 1
    anchor: bool = False
    rationale: Text | None = None
    options: tuple[Option, ...] = ()
    left: tuple[Option, ...] = ()
    right: tuple[Option, ...] = ()
    key: Key | None = None
    answer: ShortAnswerKey | None = None
    grid: Grid | None = None
    irt: IrtParameters | None = None
    images: Mapping[str, str] = field(default_factory=dict, hash=False)
    source: str | None = field(default=None, compare=False)
    #: Parsed fields of a type without a dedicated attribute above (item_bank.types reads them back).
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "images", _freeze_images(self.images))
        object.__setattr__(self, "extra", _freeze(self.extra))

    @property
    def item_type(self) -> ItemType:
        """The registered type that validates, delivers, scores and exports this item."""
        from item_bank import types  # the registry's type modules import this one

        return types.get(self.type)

    # ----------------------------------------------------------------- ids
    @property
    def option_ids(self) -> tuple[str, ...]:
        """Option ids in display order (single_choice, multiple_response, ordering)."""
        return tuple(o.id for o in self.options)

    @property
    def left_ids(self) -> tuple[str, ...]:
        """Left ids of a matching item, in display order."""
        return tuple(o.id for o in self.left)

    @property
    def right_ids(self) -> tuple[str, ...]:
        """Right ids of a matching item, in display order."""
        return tuple(o.id for o in self.right)

    @property
    def key_ids(self) -> tuple[str, ...]:
        """A key of several option ids (multiple_response in display order, ordering in keyed order), else ()."""
        if isinstance(self.key, tuple) and all(isinstance(k, str) for k in self.key):
            return cast(tuple[str, ...], self.key)
        return ()

    @property
    def key_pairs(self) -> tuple[tuple[str, str], ...]:
        """A key of (left, right) pairs (matching, in left display order), else ()."""
        if isinstance(self.key, tuple) and self.key and all(isinstance(k, tuple) for k in self.key):
            return cast(tuple[tuple[str, str], ...], self.key)
        return ()

    @property
    def ref(self) -> str:
        """'id@version', the key used for immutability checks and logs."""
        return f"{self.id}@{self.version}"

    # ---------------------------------------------------------- canonical form
    def to_dict(self) -> dict[str, Any]:
        """Return the canonical JSON-able dict (the YAML file form); from_dict(to_dict()) == self."""
        out: dict[str, Any] = {
            "id": self.id,
            "version": self.version,
            "type": self.type,
            "dimension": self.dimension,
            "grades": list(self.grades),
            "anchor": self.anchor,
            "status": self.status,
            "title": self.title.to_dict(),
            "stem": self.stem.to_dict(),
        }
        if self.rationale is not None:
            out["rationale"] = self.rationale.to_dict()
        out["max_score"] = self.max_score
        out.update(self.item_type.to_dict(self))
        if self.irt is not None:
            out["irt"] = self.irt.to_dict()
        if self.images:
            out["images"] = dict(self.images)
        return out

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], source: str | None = None, *, check_presentation: bool = True
    ) -> Item:
        """Build and validate an item from its dict form; raise ItemBankError listing every problem.

        `check_presentation=False` is for stored content (see :func:`item_bank.validation.collect_item`).
        """
        from item_bank.validation import (
            build_item,  # validation builds Items: import late
        )

        return build_item(data, file=source or "<dict>", check_presentation=check_presentation)

    def content_hash(self) -> str:
        """SHA-256 of the canonical content a student sees and is scored on (not metadata)."""
        full = self.to_dict()
        content = {k: full[k] for k in (*_CONTENT_FIELDS, *self.item_type.fields) if k in full}
        blob = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    # ------------------------------------------------------------ delivery
    def display_order(self, seed: int | str | None = None) -> dict[str, tuple[str, ...]]:
        """Option ids per list as shown: stored order, or a deterministic per-seed shuffle.

        A shuffle never gives the key away (item_bank.presentation): an ordering item is never
        shown within one swap of its key, and a matching item never with half or more of its left
        items beside their keyed right item; such a draw is drawn again (a few times, then the
        authored order, which validation has checked, or the key rotated by one for ordering).
        """
        kind = self.item_type
        lists = kind.display_lists(self)
        if seed is None:
            return lists
        rng = random.Random(f"{seed}|{self.id}|{self.version}")
        for _ in range(_SHUFFLE_DRAWS):
            shuffled: dict[str, tuple[str, ...]] = {}
            for name, ids in lists.items():
                order = list(ids)
                rng.shuffle(order)
                shuffled[name] = tuple(order)
            if not kind.reveals_key(self, shuffled):
                return shuffled
        return kind.fallback_order(self) or lists

    def student_view(self, lang: str = "zh-TW", seed: int | str | None = None) -> dict[str, Any]:
        """The dict sent to a student's browser: text in `lang` (zh-TW fallback), never key data.

        Leaves out key, answer, rationale, IRT parameters, the shortest path and all metadata.
        With `seed`, options are shuffled per student; responses carry option ids, so scoring
        does not depend on display order.
        """
        lang = normalize_lang(lang)
        view: dict[str, Any] = {
            "id": self.id,
            "version": self.version,
            "type": self.type,
            "lang": lang,
            "title": self.title.get(lang),
            "stem": self.stem.get(lang),
        }
        order = self.display_order(seed)
        by_id = {o.id: o for o in (*self.options, *self.left, *self.right)}
        for name, ids in order.items():
            view[name] = [{"id": i, "text": by_id[i].text.get(lang)} for i in ids]
        view.update(self.item_type.student_fields(self, lang))
        # Only the images the student's texts show: one used only by the rationale would give it away.
        shown = " ".join(filter(None, [view["title"], view["stem"],
                                       *(o["text"] for name in order for o in view[name])]))
        used = set(_IMAGE_REF.findall(shown))
        view["images"] = {name: svg for name, svg in self.images.items() if name in used}
        return view
