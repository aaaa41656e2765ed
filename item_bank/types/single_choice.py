"""single_choice: one keyed option among at least two; 1 if the chosen option is the key."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any
from xml.etree.ElementTree import Element, SubElement

from item_bank.errors import ResponseError
from item_bank.fields import Collector, describe, not_among
from item_bank.model import Item
from item_bank.qti.xml import TEMPLATES, QtiInteraction, QtiReadError, add_value, qti_tag
from item_bank.types.base import (
    ItemType,
    add_choices,
    choice_is_single,
    options_to_dict,
    parse_options_and_key,
    refuse_unknown_ids,
)

__all__ = ["TYPE", "SingleChoice"]


class SingleChoice(ItemType):
    """Options and one keyed option id; the response is {"choice": id}."""

    name = "single_choice"
    fields = ("options", "key")
    response_field = "choice"
    option_lists = ("options",)
    qti_interactions = ("qti-choice-interaction",)

    def parse(self, col: Collector, data: Mapping[str, Any], need_en: bool) -> dict[str, Any]:
        """Options (at least 2) and a key that is one of their ids."""
        return parse_options_and_key(col, data, need_en, 2, self._key)

    @staticmethod
    def _key(col: Collector, raw: Any, ids: tuple[str, ...]) -> str | None:
        if raw is None:
            col.add("key", "missing")
        elif not isinstance(raw, str):
            col.add("key", f"must be one option id, found {describe(raw)}")
        elif raw not in ids:
            not_among(col, "key", [raw], ids, "option")
        else:
            return raw
        return None

    def to_dict(self, item: Item) -> dict[str, Any]:
        """Options and the key id."""
        return {"options": options_to_dict(item.options), "key": item.key}

    def normalize(self, item: Item, value: Any) -> Any:
        """One known option id."""
        if not isinstance(value, str):
            raise ResponseError(item.id, self.response_field, f"must be one option id, got {type(value).__name__}")
        refuse_unknown_ids(item, self.response_field, [value], item.option_ids)
        return value

    def score(self, item: Item, value: Any) -> int:
        """1 if the choice is the key."""
        return 1 if value == item.key else 0

    def sample_responses(self, item: Item, score: int, rng: random.Random) -> list[dict[str, Any]]:
        """The key, or a random wrong option."""
        wrong = [o for o in item.option_ids if o != item.key]
        return [{"choice": item.key}] if score == item.max_score else [{"choice": rng.choice(wrong)}]

    def qti_declare(self, item: Item, decl: Element) -> None:
        """Single identifier cardinality; the key as correct response."""
        decl.attrib.update({"cardinality": "single", "base-type": "identifier"})
        add_value(SubElement(decl, qti_tag("qti-correct-response")), str(item.key))

    def qti_interaction(self, item: Item, body: Element, image_src: Mapping[str, str]) -> None:
        """A choice interaction with max-choices 1."""
        inter = SubElement(
            body,
            qti_tag("qti-choice-interaction"),
            {"response-identifier": "RESPONSE", "shuffle": "false", "max-choices": "1", "min-choices": "0"},
        )
        add_choices(inter, item.options, image_src)

    def qti_processing(self, item: Item, root: Element) -> None:
        """The match_correct template."""
        SubElement(root, qti_tag("qti-response-processing"), {"template": TEMPLATES + "match_correct.xml"})

    def qti_read(self, source: QtiInteraction) -> dict[str, Any] | None:
        """A choice interaction of single cardinality (or max-choices 1) with one correct value."""
        if not choice_is_single(source):
            return None
        options = source.options(source.interaction, "qti-simple-choice")
        if len(source.correct) != 1:
            raise QtiReadError("key", f"a single-choice item needs one correct value, found {len(source.correct)}")
        return {"options": options, "key": source.correct[0]}


TYPE = SingleChoice()
