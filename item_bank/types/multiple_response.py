"""multiple_response: all and only the keyed options; 1 if the chosen set equals the key set."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from typing import Any
from xml.etree.ElementTree import Element, SubElement

from item_bank.errors import ResponseError
from item_bank.fields import Collector, not_among
from item_bank.model import Item
from item_bank.qti.xml import TEMPLATES, QtiInteraction, qti_tag
from item_bank.types.base import (
    ItemType,
    add_choices,
    choice_is_single,
    declare_identifiers,
    key_ids_field,
    options_to_dict,
    parse_options_and_key,
    refuse_unknown_ids,
    response_ids,
)

__all__ = ["TYPE", "MultipleResponse"]


class MultipleResponse(ItemType):
    """Options and the keyed option ids (stored in display order); the response is {"choices": [ids]}."""

    name = "multiple_response"
    fields = ("options", "key")
    response_field = "choices"
    option_lists = ("options",)
    qti_interactions = ("qti-choice-interaction",)

    def parse(self, col: Collector, data: Mapping[str, Any], need_en: bool) -> dict[str, Any]:
        """Options (at least 2) and a non-empty key of distinct option ids."""
        return parse_options_and_key(col, data, need_en, 2, self._key)

    @staticmethod
    def _key(col: Collector, raw: Any, ids: tuple[str, ...]) -> tuple[str, ...] | None:
        keys = key_ids_field(col, raw)
        if keys is None:
            return None
        if not keys:
            col.add("key", "must list at least one keyed option")
            return None
        unknown = [k for k in keys if k not in ids]
        not_among(col, "key", unknown, ids, "option")
        dups = sorted(k for k, n in Counter(keys).items() if n > 1)
        if dups:
            col.add("key", f"option ids repeated in the key: {', '.join(dups)}")
        if unknown or dups:
            return None
        return tuple(i for i in ids if i in keys)  # canonical: display order

    def to_dict(self, item: Item) -> dict[str, Any]:
        """Options and the keyed ids."""
        return {"options": options_to_dict(item.options), "key": list(item.key_ids)}

    def normalize(self, item: Item, value: Any) -> Any:
        """Distinct known option ids, in display order."""
        field = self.response_field
        ids = response_ids(item, field, value)
        refuse_unknown_ids(item, field, ids, item.option_ids)
        if len(set(ids)) != len(ids):
            raise ResponseError(item.id, field, "an option is chosen more than once")
        return [i for i in item.option_ids if i in ids]

    def score(self, item: Item, value: Any) -> int:
        """1 if the chosen set is the key set."""
        return 1 if set(value) == set(item.key_ids) else 0

    def sample_responses(self, item: Item, score: int, rng: random.Random) -> list[dict[str, Any]]:
        """The key, or a key missing one option, with an extra one, or a lone wrong one."""
        key = list(item.key_ids)
        if score == item.max_score:
            return [{"choices": key}]
        others = [o for o in item.option_ids if o not in key]
        fewer: list[dict[str, Any]] = [{"choices": key[:-1]}] if len(key) > 1 else []
        return fewer + [{"choices": [*key, o]} for o in others] + [{"choices": [o]} for o in others]

    def qti_declare(self, item: Item, decl: Element) -> None:
        """Multiple identifier cardinality; the keyed ids as correct response."""
        declare_identifiers(decl, "multiple", item.key_ids)

    def qti_interaction(self, item: Item, body: Element, image_src: Mapping[str, str]) -> None:
        """A choice interaction with max-choices 0 (any number)."""
        inter = SubElement(
            body,
            qti_tag("qti-choice-interaction"),
            {"response-identifier": "RESPONSE", "shuffle": "false", "max-choices": "0", "min-choices": "0"},
        )
        add_choices(inter, item.options, image_src)

    def qti_processing(self, item: Item, root: Element) -> None:
        """The match_correct template."""
        SubElement(root, qti_tag("qti-response-processing"), {"template": TEMPLATES + "match_correct.xml"})

    def qti_read(self, source: QtiInteraction) -> dict[str, Any] | None:
        """A choice interaction that is not single-choice."""
        if choice_is_single(source):
            return None
        return {"options": source.options(source.interaction, "qti-simple-choice"), "key": source.correct}


TYPE = MultipleResponse()
