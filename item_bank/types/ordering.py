"""ordering: put all options in the keyed order; max 2: 1 for one adjacent swap away (Kendall distance 1)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from typing import Any
from xml.etree.ElementTree import Element, SubElement

from item_bank.errors import ResponseError
from item_bank.fields import Collector, not_among
from item_bank.model import Item
from item_bank.presentation import is_adjacent_swap, ordering_reveals_key
from item_bank.qti.xml import (
    TEMPLATES,
    QtiInteraction,
    partial_credit_processing,
    qti_tag,
)
from item_bank.types.base import (
    ItemType,
    add_choices,
    declare_identifiers,
    key_ids_field,
    options_to_dict,
    parse_options_and_key,
    refuse_unknown_ids,
    response_ids,
)

__all__ = ["TYPE", "Ordering"]


class Ordering(ItemType):
    """Options in display order and the key: all option ids in the correct order; response {"order": [ids]}."""

    name = "ordering"
    fields = ("options", "key")
    response_field = "order"
    partial_credit = True
    option_lists = ("options",)
    qti_interactions = ("qti-order-interaction",)

    def parse(self, col: Collector, data: Mapping[str, Any], need_en: bool) -> dict[str, Any]:
        """Options (at least 3) and a key that permutes all of them, not in the display order."""
        return parse_options_and_key(col, data, need_en, 3, self._key)

    @staticmethod
    def _key(col: Collector, raw: Any, ids: tuple[str, ...]) -> tuple[str, ...] | None:
        keys = key_ids_field(col, raw)
        if keys is None:
            return None
        unknown = [k for k in keys if k not in ids]
        not_among(col, "key", unknown, ids, "option")
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
        if tuple(keys) == ids:
            col.add(
                "options",
                "the options are listed in the key order, so students would see the answer; "
                "list them in a different display order",
            )
            return None
        return tuple(keys)

    def check_presentation(self, col: Collector, fields: Mapping[str, Any]) -> None:
        """The display order may not be one swap away from the key."""
        key = fields.get("key")
        if key is None:
            return
        shown = tuple(o.id for o in fields["options"])
        if shown != tuple(key) and ordering_reveals_key(shown, key):
            col.add(
                "options",
                "the options are listed one swap away from the key order, so students would nearly see "
                "the answer; list them so that at least three are out of their keyed place",
            )

    def to_dict(self, item: Item) -> dict[str, Any]:
        """Options and the keyed order."""
        return {"options": options_to_dict(item.options), "key": list(item.key_ids)}

    def reveals_key(self, item: Item, shown: Mapping[str, tuple[str, ...]]) -> bool:
        """A shown order within one swap of the key leaks it."""
        return bool(item.key_ids) and ordering_reveals_key(shown["options"], item.key_ids)

    def fallback_order(self, item: Item) -> dict[str, tuple[str, ...]] | None:
        """The key rotated by one: every option one place off, which never leaks (3+ options)."""
        key = item.key_ids
        return {"options": key[1:] + key[:1]}

    def normalize(self, item: Item, value: Any) -> Any:
        """A permutation of all option ids."""
        field = self.response_field
        ids = response_ids(item, field, value)
        refuse_unknown_ids(item, field, ids, item.option_ids)
        if sorted(ids) != sorted(item.option_ids):
            raise ResponseError(
                item.id, field, f"must be a permutation of all option ids {', '.join(item.option_ids)}"
            )
        return ids

    def score(self, item: Item, value: Any) -> int:
        """max_score if exact; with max_score 2, 1 for one adjacent swap."""
        order, key = tuple(value), item.key_ids
        if order == key:
            return item.max_score
        return 1 if item.max_score == 2 and is_adjacent_swap(order, key) else 0

    def sample_responses(self, item: Item, score: int, rng: random.Random) -> list[dict[str, Any]]:
        """The key, an adjacent swap of it (partial credit), or orders further away."""
        top = item.max_score
        key = list(item.key_ids)
        if score == top:
            return [{"order": key}]
        if score == 1 and top == 2:
            i = rng.randrange(len(key) - 1)
            return [{"order": key[:i] + [key[i + 1], key[i]] + key[i + 2:]}]
        out = [{"order": key[::-1]}]
        for _ in range(50):
            order = key[:]
            rng.shuffle(order)
            if tuple(order) != tuple(key) and not is_adjacent_swap(order, tuple(key)):
                out.append({"order": order})
        return out

    def qti_declare(self, item: Item, decl: Element) -> None:
        """Ordered identifier cardinality; the keyed order as correct response."""
        declare_identifiers(decl, "ordered", item.key_ids)

    def qti_interaction(self, item: Item, body: Element, image_src: Mapping[str, str]) -> None:
        """An order interaction."""
        inter = SubElement(
            body, qti_tag("qti-order-interaction"), {"response-identifier": "RESPONSE", "shuffle": "false"}
        )
        add_choices(inter, item.options, image_src)

    def qti_processing(self, item: Item, root: Element) -> None:
        """match_correct; with partial credit, 1 for any one adjacent swap of the key."""
        if item.max_score == 1:
            SubElement(root, qti_tag("qti-response-processing"), {"template": TEMPLATES + "match_correct.xml"})
            return
        order_key = list(item.key_ids)

        def one_adjacent_swap(parent: Element) -> None:
            alternatives = SubElement(parent, qti_tag("qti-or"))
            for i in range(len(order_key) - 1):
                swapped = order_key[:i] + [order_key[i + 1], order_key[i]] + order_key[i + 2 :]
                match = SubElement(alternatives, qti_tag("qti-match"))
                SubElement(match, qti_tag("qti-variable"), {"identifier": "RESPONSE"})
                ordered = SubElement(match, qti_tag("qti-ordered"))
                for k in swapped:
                    SubElement(ordered, qti_tag("qti-base-value"), {"base-type": "identifier"}).text = k

        partial_credit_processing(root, one_adjacent_swap)

    def qti_read(self, source: QtiInteraction) -> dict[str, Any] | None:
        """An order interaction: its choices and the correct order."""
        return {"options": source.options(source.interaction, "qti-simple-choice"), "key": source.correct}


TYPE = Ordering()
