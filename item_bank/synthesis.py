"""Responses that earn a chosen score: for simulated census data that goes through the real scoring.

`response_for_score(item, k)` builds a well-formed response of the item's type
and checks it with `score_response`, so a simulation stores answers exactly
like the player would and their scores come from the item's own key.
"""
from __future__ import annotations

import random
from typing import Any

from .grid import MOVES, simulate
from .model import Item
from .responses import is_adjacent_swap, score_response

__all__ = ["response_for_score"]

_REVERSE = {"U": "D", "D": "U", "L": "R", "R": "L"}


def _candidates(item: Item, k: int, rng: random.Random) -> list[dict[str, Any]]:
    top = item.max_score
    t = item.type
    if t == "single_choice":
        wrong = [o for o in item.option_ids if o != item.key]
        return [{"choice": item.key}] if k == top else [{"choice": rng.choice(wrong)}]
    if t == "multiple_response":
        key = list(item.key_ids)
        if k == top:
            return [{"choices": key}]
        others = [o for o in item.option_ids if o not in key]
        fewer: list[dict[str, Any]] = [{"choices": key[:-1]}] if len(key) > 1 else []
        return fewer + [{"choices": [*key, o]} for o in others] + [{"choices": [o]} for o in others]
    if t == "ordering":
        key = list(item.key_ids)
        if k == top:
            return [{"order": key}]
        if k == 1 and top == 2:
            i = rng.randrange(len(key) - 1)
            return [{"order": key[:i] + [key[i + 1], key[i]] + key[i + 2:]}]
        out = [{"order": key[::-1]}]
        for _ in range(50):
            order = key[:]
            rng.shuffle(order)
            if tuple(order) != tuple(key) and not is_adjacent_swap(order, tuple(key)):
                out.append({"order": order})
        return out
    if t == "matching":
        pairs = dict(item.key_pairs)
        lefts = list(item.left_ids)
        rights = list(item.right_ids)
        n = len(lefts)
        if k == top:
            n_right = n
        elif k == 1 and top == 2:
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
    if t == "short_answer":
        answer = item.answer
        assert answer is not None
        if answer.kind == "numeric":
            value = float(answer.value or 0)
            good_text = str(int(value)) if value == int(value) else str(value)
            bad_text = str(int(value + float(answer.tolerance or 0) + 1 + rng.randrange(5)))
        else:
            good_text, bad_text = answer.accepted[0], "不知道"
        return [{"text": good_text if k == top else bad_text}]
    if t == "grid_path":
        assert item.grid is not None
        from .grid import parse_map, shortest_path

        path = shortest_path(parse_map(item.grid.rows)) or ""
        if k == top:
            return [{"moves": path}]
        if k == 1 and top == 2 and path:
            return [{"moves": path[0] + _REVERSE[path[0]] + path}]
        return [{"moves": letter} for letter in MOVES
                if simulate(item.grid, letter).crashed or not simulate(item.grid, letter).reached_goal]
    raise ValueError(f"unknown item type {t!r}")


def response_for_score(item: Item, score: int, rng: random.Random | None = None) -> dict[str, Any]:
    """A well-formed response to `item` that scores exactly `score` (ValueError if none is found)."""
    if not 0 <= score <= item.max_score:
        raise ValueError(f"item {item.id}: score must be 0..{item.max_score}; got {score}")
    rng = rng or random.Random(0)
    for response in _candidates(item, score, rng):
        if score_response(item, response) == score:
            return response
    raise ValueError(f"item {item.id}: found no {item.type} response that scores {score}")
