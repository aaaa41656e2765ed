"""Responses that earn a chosen score: for simulated census data that goes through the real scoring.

`response_for_score(item, k)` takes candidate responses from the item's type
(`ItemType.sample_responses`) and checks them with `score_response`, so a simulation stores answers exactly
like the player would and their scores come from the item's own key.
"""
from __future__ import annotations

import random
from typing import Any

from .model import Item
from .responses import score_response

__all__ = ["response_for_score"]


def response_for_score(item: Item, score: int, rng: random.Random | None = None) -> dict[str, Any]:
    """A well-formed response to `item` that scores exactly `score` (ValueError if none is found)."""
    if not 0 <= score <= item.max_score:
        raise ValueError(f"item {item.id}: score must be 0..{item.max_score}; got {score}")
    rng = rng or random.Random(0)
    for response in item.item_type.sample_responses(item, score, rng):
        if score_response(item, response) == score:
            return response
    raise ValueError(f"item {item.id}: found no {item.type} response that scores {score}")
