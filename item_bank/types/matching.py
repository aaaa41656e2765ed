"""matching: each left item maps to one right item; max 2: 1 when at least half of the left items are right."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any
from xml.etree.ElementTree import Element, SubElement

from item_bank.errors import ResponseError
from item_bank.fields import Collector, describe, not_among, parse_options
from item_bank.model import Item
from item_bank.presentation import matching_reveals_key, same_number_pairs, straight_across_pairs
from item_bank.qti.xml import (
    TEMPLATES,
    QtiInteraction,
    QtiReadError,
    add_bilingual,
    add_value,
    children_named,
    partial_credit_processing,
    qti_tag,
)
from item_bank.types.base import ItemType, options_to_dict, refuse_unknown_ids

__all__ = ["TYPE", "Matching"]


class Matching(ItemType):
    """Left and right lists and the key pairs (left display order); response {"pairs": [[left, right], ...]}."""

    name = "matching"
    fields = ("left", "right", "key")
    response_field = "pairs"
    partial_credit = True
    option_lists = ("left", "right")
    qti_interactions = ("qti-match-interaction",)

    def parse(self, col: Collector, data: Mapping[str, Any], need_en: bool) -> dict[str, Any]:
        """Left and right lists (2+ each, distinct ids) and a key matching every left id exactly once."""
        left = parse_options(col, data.get("left"), "left", need_en, 2)
        right = parse_options(col, data.get("right"), "right", need_en, 2)
        out: dict[str, Any] = {"left": left, "right": right}
        if left is not None and right is not None:
            shared = sorted({o.id for o in left} & {o.id for o in right})
            if shared:
                col.add("right", f"left and right ids must differ; both use {', '.join(shared)}")
            else:
                out["key"] = self._key(col, data.get("key"), tuple(o.id for o in left), tuple(o.id for o in right))
        return out

    @staticmethod
    def _key(
        col: Collector, raw: Any, left: tuple[str, ...], right: tuple[str, ...]
    ) -> tuple[tuple[str, str], ...] | None:
        if raw is None:
            col.add("key", "missing")
            return None
        if not isinstance(raw, list):
            col.add("key", f"must be a list of [left, right] pairs, found {describe(raw)}")
            return None
        pairs: dict[str, str] = {}
        ok = True
        for i, pair in enumerate(raw, start=1):
            if (
                not isinstance(pair, (list, tuple))
                or len(pair) != 2
                or not all(isinstance(p, str) for p in pair)
            ):
                col.add(f"key[{i}]", f"must be a [left, right] pair of ids, found {describe(pair)}")
                ok = False
                continue
            lid, rid = pair
            if lid not in left:
                not_among(col, f"key[{i}]", [lid], left, "left")
                ok = False
            if rid not in right:
                not_among(col, f"key[{i}]", [rid], right, "right")
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

    def check_presentation(self, col: Collector, fields: Mapping[str, Any]) -> None:
        """Fewer than half of the left items may sit beside, or share a number with, their keyed right item."""
        key = fields.get("key")
        if key is None:
            return
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

    def to_dict(self, item: Item) -> dict[str, Any]:
        """Left, right and the key pairs."""
        return {
            "left": options_to_dict(item.left),
            "right": options_to_dict(item.right),
            "key": [list(p) for p in item.key_pairs],
        }

    def reveals_key(self, item: Item, shown: Mapping[str, tuple[str, ...]]) -> bool:
        """Half or more of the left items shown beside their keyed right item leaks the key."""
        if not item.key_pairs:
            return False
        across = straight_across_pairs(shown["left"], shown["right"], item.key_pairs)
        return matching_reveals_key(across, len(shown["left"]))

    def normalize(self, item: Item, value: Any) -> Any:
        """Known [left, right] pairs, each left id at most once, in left display order."""
        field = self.response_field
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ResponseError(item.id, field, "must be a list of [left, right] pairs")
        pairs: dict[str, str] = {}
        for pair in value:
            if (
                not isinstance(pair, (list, tuple))
                or len(pair) != 2
                or not all(isinstance(p, str) for p in pair)
            ):
                raise ResponseError(item.id, field, "every entry must be a [left, right] pair of ids")
            left, right = pair
            refuse_unknown_ids(item, field, [left], item.left_ids)
            refuse_unknown_ids(item, field, [right], item.right_ids)
            if left in pairs:
                raise ResponseError(item.id, field, f"left id {left!r} is matched more than once")
            pairs[left] = right
        return [[lid, pairs[lid]] for lid in item.left_ids if lid in pairs]

    def score(self, item: Item, value: Any) -> int:
        """max_score if all pairs are right; with max_score 2, 1 if at least half are."""
        key_pairs = set(item.key_pairs)
        right = sum(1 for p in value if tuple(p) in key_pairs)
        n = len(item.left)
        if right == n:
            return item.max_score
        return 1 if item.max_score == 2 and 2 * right >= n else 0

    def sample_responses(self, item: Item, score: int, rng: random.Random) -> list[dict[str, Any]]:
        """A full matching with as many right pairs as the score needs."""
        top = item.max_score
        pairs = dict(item.key_pairs)
        lefts = list(item.left_ids)
        rights = list(item.right_ids)
        n = len(lefts)
        if score == top:
            n_right = n
        elif score == 1 and top == 2:
            n_right = (n + 1) // 2
        else:
            n_right = 0 if top == 2 else n - 1
        keep = set(rng.sample(lefts, n_right))
        out_pairs = []
        for left in lefts:
            if left in keep:
                out_pairs.append([left, pairs[left]])
            else:
                out_pairs.append([left, rng.choice([r for r in rights if r != pairs[left]] or rights)])
        return [{"pairs": out_pairs}]

    def qti_declare(self, item: Item, decl: Element) -> None:
        """Multiple directedPair cardinality; with partial credit, a mapping of 1 per right pair."""
        decl.attrib.update({"cardinality": "multiple", "base-type": "directedPair"})
        correct = SubElement(decl, qti_tag("qti-correct-response"))
        for lid, rid in item.key_pairs:
            add_value(correct, f"{lid} {rid}")
        if item.max_score == 2:
            mapping = SubElement(decl, qti_tag("qti-mapping"), {"default-value": "0", "lower-bound": "0"})
            for lid, rid in item.key_pairs:
                SubElement(mapping, qti_tag("qti-map-entry"), {"map-key": f"{lid} {rid}", "mapped-value": "1"})

    def qti_interaction(self, item: Item, body: Element, image_src: Mapping[str, str]) -> None:
        """A match interaction: left set (match-max 1), right set."""
        inter = SubElement(
            body,
            qti_tag("qti-match-interaction"),
            {"response-identifier": "RESPONSE", "shuffle": "false", "max-associations": str(len(item.left))},
        )
        for options, match_max in ((item.left, "1"), (item.right, str(len(item.left)))):
            match_set = SubElement(inter, qti_tag("qti-simple-match-set"))
            for option in options:
                choice = SubElement(
                    match_set,
                    qti_tag("qti-simple-associable-choice"),
                    {"identifier": option.id, "match-max": match_max},
                )
                add_bilingual(choice, option.text, image_src)

    def qti_processing(self, item: Item, root: Element) -> None:
        """match_correct; with partial credit, 1 when the mapped response is at least half the left items."""
        if item.max_score == 1:
            SubElement(root, qti_tag("qti-response-processing"), {"template": TEMPLATES + "match_correct.xml"})
            return

        def half_right(parent: Element) -> None:
            gte = SubElement(parent, qti_tag("qti-gte"))
            SubElement(gte, qti_tag("qti-map-response"), {"identifier": "RESPONSE"})
            SubElement(gte, qti_tag("qti-base-value"), {"base-type": "float"}).text = repr(len(item.left) / 2)

        partial_credit_processing(root, half_right)

    def qti_read(self, source: QtiInteraction) -> dict[str, Any] | None:
        """Two match sets (left, right) and directed pairs (an undirected pair written right-first is turned)."""
        sets = children_named(source.interaction, "qti-simple-match-set")
        if len(sets) != 2:
            raise QtiReadError("interaction", f"a match interaction needs 2 match sets, found {len(sets)}")
        left = source.options(sets[0], "qti-simple-associable-choice", "left")
        right = source.options(sets[1], "qti-simple-associable-choice", "right")
        left_ids = {o["id"] for o in left}
        pairs = []
        for value in source.correct:
            ids = value.split()
            if len(ids) == 2 and ids[0] not in left_ids and ids[1] in left_ids:
                ids.reverse()  # an undirected 'pair' written right-first
            pairs.append(ids)
        return {"left": left, "right": right, "key": pairs}


TYPE = Matching()
