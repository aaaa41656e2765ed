"""Student responses: shape validation, normalisation and scoring, each by the item's type (pure functions).

Responses name options by id, never by position, so per-student option shuffling
(:func:`shuffle_options`) cannot change a score. What a response of each type looks like and how
it scores lives in ``item_bank/types/<type>.py``; this module applies the rules all types share.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from item_bank.errors import ResponseError
from item_bank.fields import parse_number
from item_bank.model import Item
from item_bank.presentation import is_adjacent_swap

__all__ = [
    "is_adjacent_swap",
    "parse_number",
    "score_response",
    "shuffle_options",
    "validate_response",
]


def validate_response(item: Item, response: Any) -> dict[str, Any] | None:
    """Check a response's shape against the item; return its normalised form, or None if empty.

    Raises ResponseError (HTTP 422, never stored) for a wrong shape, unknown ids, a partial
    ordering, letters other than URDL or too many moves. Normal forms: choices and pairs in
    display order, moves upper-cased without spaces; short-answer text is kept as typed.
    """
    if response is None:
        return None
    kind = item.item_type
    field = kind.response_field
    if not isinstance(response, Mapping):
        raise ResponseError(
            item.id, "response", f"must be an object {{{field!r}: ...}}, got {type(response).__name__}"
        )
    extra = [k for k in response if k != field]
    if extra:
        raise ResponseError(
            item.id, "response", f"unexpected field(s) {', '.join(map(repr, extra))}; a {item.type} "
            f"response has only {field!r}"
        )
    value = response.get(field)
    if value is None or (isinstance(value, (str, list, tuple)) and len(value) == 0):
        return None
    normal = kind.normalize(item, value)
    return None if normal is None else {field: normal}


def score_response(item: Item, response: Any) -> int:
    """Score a response 0..item.max_score; empty scores 0; malformed raises ResponseError."""
    normal = validate_response(item, response)
    if normal is None:
        return 0
    kind = item.item_type
    return kind.score(item, normal[kind.response_field])


def shuffle_options(item: Item, seed: int | str) -> dict[str, tuple[str, ...]]:
    """A deterministic per-student display order of option ids ('options', or 'left'/'right').

    Scoring is unaffected because responses carry ids; ordering items never get the key order.
    """
    return item.display_order(seed)
