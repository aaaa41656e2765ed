"""The ItemType base class: every hook one item type implements, and helpers the option-list types share.

A type is one subclass in ``item_bank/types/<name>.py``; the shared code (validation, the model's
student view, responses, QTI export and import) calls these hooks and never names a type.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar
from xml.etree.ElementTree import Element, SubElement

from item_bank.errors import ResponseError
from item_bank.fields import Collector, id_list, parse_options
from item_bank.model import Item, Option

if TYPE_CHECKING:  # pragma: no cover
    from item_bank.qti.xml import QtiInteraction

__all__ = [
    "ItemType",
    "add_choices",
    "choice_is_single",
    "declare_identifiers",
    "key_ids_field",
    "options_to_dict",
    "parse_options_and_key",
    "refuse_unknown_ids",
    "response_ids",
]


class ItemType(ABC):
    """One item type: its file fields, student view, response shape, scoring and QTI mapping.

    Subclass it, set the class attributes, implement the abstract hooks and register an
    instance with :func:`item_bank.types.register`. Parsed fields are :class:`~item_bank.model.Item`
    keyword arguments: ``options``, ``left``, ``right``, ``key``, ``answer``, ``grid``, or, for a
    type without a dedicated attribute, ``extra`` (a mapping the type reads back itself).
    """

    #: The `type:` value in item files, e.g. "single_choice".
    name: ClassVar[str]
    #: The type's own item-file fields; elsewhere they are "not used by type X".
    fields: ClassVar[tuple[str, ...]]
    #: The one field of a response object, e.g. "choice" in {"choice": "B"}.
    response_field: ClassVar[str]
    #: Whether max_score 2 (0/1/2 partial credit) is allowed.
    partial_credit: ClassVar[bool] = False
    #: Item attributes holding (id, text) lists shown to students, shuffled per student.
    option_lists: ClassVar[tuple[str, ...]] = ()
    #: QTI interaction elements (local names, QTI 3 spelling) the type may read back on import.
    qti_interactions: ClassVar[tuple[str, ...]] = ()
    #: Scored outside QTI response processing (the SCORE outcome is external-scored="externalMachine").
    qti_external_scoring: ClassVar[bool] = False

    # ------------------------------------------------------------------ item file
    @abstractmethod
    def parse(self, col: Collector, data: Mapping[str, Any], need_en: bool) -> dict[str, Any]:
        """Validate the type's fields of an item mapping (errors go to `col`); return Item keyword arguments.

        A field that failed may be None; the item is only built when `col` holds no error.
        `need_en`: English text is required (operational items).
        """

    def check_presentation(self, col: Collector, fields: Mapping[str, Any]) -> None:
        """Add an error when the authored order gives the key away (docs/item-format.md); default: no rule."""
        return None

    @abstractmethod
    def to_dict(self, item: Item) -> dict[str, Any]:
        """The type's fields in file form (what :meth:`parse` reads back to an equal item)."""

    # ------------------------------------------------------------------- delivery
    def display_lists(self, item: Item) -> dict[str, tuple[str, ...]]:
        """Ids of each option list in authored order (the student view shows and shuffles these)."""
        return {name: tuple(o.id for o in getattr(item, name)) for name in self.option_lists}

    def reveals_key(self, item: Item, shown: Mapping[str, tuple[str, ...]]) -> bool:
        """Whether a (shuffled) display order gives the key away; such a shuffle is drawn again."""
        return False

    def fallback_order(self, item: Item) -> dict[str, tuple[str, ...]] | None:
        """An order that never gives the key away, when shuffles keep leaking (None: the authored one)."""
        return None

    def student_fields(self, item: Item, lang: str) -> dict[str, Any]:
        """Fields the browser needs beyond title, stem and option lists; never key data."""
        return {}

    # ------------------------------------------------------------------ responses
    @abstractmethod
    def normalize(self, item: Item, value: Any) -> Any:
        """Check a non-empty response value; return its stored normal form, or None when it counts as empty.

        Raise :class:`~item_bank.errors.ResponseError` for a malformed value (HTTP 422, never stored).
        """

    @abstractmethod
    def score(self, item: Item, value: Any) -> int:
        """Score a normalised, non-empty value 0..item.max_score (no negative marking)."""

    def sample_responses(self, item: Item, score: int, rng: random.Random) -> list[dict[str, Any]]:
        """Candidate responses meant to score `score`, for simulated data (checked by scoring them)."""
        raise NotImplementedError(f"{self.name} has no response samples for simulated data")

    # ------------------------------------------------------------------------ QTI
    @abstractmethod
    def qti_declare(self, item: Item, decl: Element) -> None:
        """Fill the RESPONSE declaration: cardinality, base-type, correct response, mapping."""

    @abstractmethod
    def qti_interaction(self, item: Item, body: Element, image_src: Mapping[str, str]) -> None:
        """Append the interaction to the item body (texts through qti.xml.add_bilingual with `image_src`)."""

    @abstractmethod
    def qti_processing(self, item: Item, root: Element) -> None:
        """Append the response processing that computes SCORE as :meth:`score` does (if QTI can say it)."""

    def qti_metadata(self, item: Item, meta: Element) -> None:
        """Set type data QTI has no place for on the manifest's ctc:item element; default: none."""
        return None

    @abstractmethod
    def qti_read(self, source: QtiInteraction) -> dict[str, Any] | None:
        """The type's item-file fields from an imported interaction, or None when it is not this type's.

        Raise :class:`~item_bank.qti.xml.QtiReadError` for content of this type that cannot be kept.
        """


# ----------------------------------------------------------- shared by the option-list types


def options_to_dict(options: Sequence[Option]) -> list[dict[str, Any]]:
    """Options in file form."""
    return [o.to_dict() for o in options]


def parse_options_and_key(
    col: Collector,
    data: Mapping[str, Any],
    need_en: bool,
    minimum: int,
    parse_key: Callable[[Collector, Any, tuple[str, ...]], Any],
) -> dict[str, Any]:
    """`options` (at least `minimum`), then `key` read by `parse_key(col, raw, option_ids)` once they are valid."""
    options = parse_options(col, data.get("options"), "options", need_en, minimum)
    if options is None:
        return {"options": None}
    return {"options": options, "key": parse_key(col, data.get("key"), tuple(o.id for o in options))}


def key_ids_field(col: Collector, raw: Any) -> list[str] | None:
    """The `key` field as a list of id strings (an error for a missing or malformed key)."""
    if raw is None:
        col.add("key", "missing")
        return None
    return id_list(col, raw, "key")


def response_ids(item: Item, field: str, value: Any) -> list[str]:
    """A response value that must be a list of id strings."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ResponseError(item.id, field, f"must be a list of ids, got {type(value).__name__}")
    if not all(isinstance(v, str) for v in value):
        raise ResponseError(item.id, field, "every entry must be an id string")
    return list(value)


def refuse_unknown_ids(item: Item, field: str, values: Sequence[str], known: tuple[str, ...]) -> None:
    """Raise ResponseError naming the ids in `values` that are not among `known`."""
    bad = [v for v in values if v not in known]
    if bad:
        raise ResponseError(
            item.id, field, f"unknown id(s) {', '.join(map(repr, bad[:5]))}; expected {', '.join(known)}"
        )


def add_choices(inter: Element, options: Sequence[Option], image_src: Mapping[str, str]) -> None:
    """One qti-simple-choice per option (choice and order interactions)."""
    from item_bank.qti.xml import add_bilingual, qti_tag

    for option in options:
        choice = SubElement(inter, qti_tag("qti-simple-choice"), {"identifier": option.id})
        add_bilingual(choice, option.text, image_src)


def declare_identifiers(decl: Element, cardinality: str, correct: Sequence[str]) -> None:
    """A RESPONSE declaration of identifiers with these correct values (multiple or ordered cardinality)."""
    from item_bank.qti.xml import add_value, qti_tag

    decl.attrib.update({"cardinality": cardinality, "base-type": "identifier"})
    values = SubElement(decl, qti_tag("qti-correct-response"))
    for value in correct:
        add_value(values, value)


def choice_is_single(source: QtiInteraction) -> bool:
    """Whether an imported choice interaction takes one choice (single cardinality, or max-choices 1)."""
    cardinality = source.declaration.get("cardinality") if source.declaration is not None else None
    return cardinality == "single" or (cardinality is None and source.interaction.get("max-choices") == "1")
