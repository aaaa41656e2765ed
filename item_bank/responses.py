"""Student responses: shape validation, normalisation and scoring per item type (pure functions).

Responses name options by id, never by position, so per-student option shuffling
(:func:`shuffle_options`) cannot change a score.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from item_bank.errors import ResponseError
from item_bank.grid import normalize_moves, simulate
from item_bank.model import Item
from item_bank.validation import MAX_ANSWER_TEXT, normalize_answer_text

__all__ = [
    "RESPONSE_FIELDS",
    "is_adjacent_swap",
    "parse_number",
    "score_response",
    "shuffle_options",
    "validate_response",
]

#: The one field a response object carries, per item type.
RESPONSE_FIELDS = {
    "single_choice": "choice",
    "multiple_response": "choices",
    "ordering": "order",
    "matching": "pairs",
    "short_answer": "text",
    "grid_path": "moves",
}

_NUMBER = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?$")


def parse_number(text: str) -> Decimal | None:
    """Parse a typed number: NFKC (full-width digits), trimmed, thousands separators; else None."""
    s = unicodedata.normalize("NFKC", text).strip().replace("\u2212", "-")
    if not s or not any(ch.isdigit() for ch in s) or not _NUMBER.match(s):
        return None
    try:
        return Decimal(s.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return None


def is_adjacent_swap(order: tuple[str, ...] | list[str], key: tuple[str, ...]) -> bool:
    """True when `order` differs from `key` by exactly one swap of neighbours (Kendall distance 1)."""
    diff = [i for i, (a, b) in enumerate(zip(order, key)) if a != b]
    return (
        len(order) == len(key)
        and len(diff) == 2
        and diff[1] == diff[0] + 1
        and order[diff[0]] == key[diff[1]]
        and order[diff[1]] == key[diff[0]]
    )


def _ids(item: Item, field: str, value: Any) -> list[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ResponseError(item.id, field, f"must be a list of ids, got {type(value).__name__}")
    if not all(isinstance(v, str) for v in value):
        raise ResponseError(item.id, field, "every entry must be an id string")
    return list(value)


def _unknown(item: Item, field: str, values: list[str], known: tuple[str, ...]) -> None:
    bad = [v for v in values if v not in known]
    if bad:
        raise ResponseError(
            item.id, field, f"unknown id(s) {', '.join(map(repr, bad[:5]))}; expected {', '.join(known)}"
        )


def validate_response(item: Item, response: Any) -> dict[str, Any] | None:
    """Check a response's shape against the item; return its normalised form, or None if empty.

    Raises ResponseError (HTTP 422, never stored) for a wrong shape, unknown ids, a partial
    ordering, letters other than URDL or too many moves. Normal forms: choices and pairs in
    display order, moves upper-cased without spaces; short-answer text is kept as typed.
    """
    if response is None:
        return None
    field = RESPONSE_FIELDS[item.type]
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

    if item.type == "single_choice":
        if not isinstance(value, str):
            raise ResponseError(item.id, field, f"must be one option id, got {type(value).__name__}")
        _unknown(item, field, [value], item.option_ids)
        return {field: value}

    if item.type == "multiple_response":
        ids = _ids(item, field, value)
        _unknown(item, field, ids, item.option_ids)
        if len(set(ids)) != len(ids):
            raise ResponseError(item.id, field, "an option is chosen more than once")
        return {field: [i for i in item.option_ids if i in ids]}

    if item.type == "ordering":
        ids = _ids(item, field, value)
        _unknown(item, field, ids, item.option_ids)
        if sorted(ids) != sorted(item.option_ids):
            raise ResponseError(
                item.id, field, f"must be a permutation of all option ids {', '.join(item.option_ids)}"
            )
        return {field: ids}

    if item.type == "matching":
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
            _unknown(item, field, [left], item.left_ids)
            _unknown(item, field, [right], item.right_ids)
            if left in pairs:
                raise ResponseError(item.id, field, f"left id {left!r} is matched more than once")
            pairs[left] = right
        return {field: [[lid, pairs[lid]] for lid in item.left_ids if lid in pairs]}

    if item.type == "short_answer":
        if not isinstance(value, str):
            raise ResponseError(item.id, field, f"must be text, got {type(value).__name__}")
        if len(value) > MAX_ANSWER_TEXT:
            raise ResponseError(item.id, field, f"longer than {MAX_ANSWER_TEXT} characters")
        if not value.strip():
            return None
        return {field: value}

    if item.type == "grid_path":
        if not isinstance(value, str):
            raise ResponseError(item.id, field, f"must be a string of U R D L, got {type(value).__name__}")
        try:
            moves = normalize_moves(value)
        except ValueError as exc:
            raise ResponseError(item.id, field, str(exc)) from None
        assert item.grid is not None
        if len(moves) > item.grid.max_moves:
            raise ResponseError(
                item.id, field, f"{len(moves)} moves is more than the maximum {item.grid.max_moves}"
            )
        return {field: moves} if moves else None

    raise ResponseError(item.id, "type", f"unknown item type {item.type!r}")  # pragma: no cover


def score_response(item: Item, response: Any) -> int:
    """Score a response 0..item.max_score; empty scores 0; malformed raises ResponseError."""
    normal = validate_response(item, response)
    if normal is None:
        return 0
    top = item.max_score

    if item.type == "single_choice":
        return 1 if normal["choice"] == item.key else 0

    if item.type == "multiple_response":
        return 1 if set(normal["choices"]) == set(item.key or ()) else 0

    if item.type == "ordering":
        order, key = tuple(normal["order"]), tuple(item.key or ())
        if order == key:
            return top
        return 1 if top == 2 and is_adjacent_swap(order, key) else 0

    if item.type == "matching":
        key_pairs = {tuple(p) for p in (item.key or ())}
        right = sum(1 for p in normal["pairs"] if tuple(p) in key_pairs)
        n = len(item.left)
        if right == n:
            return top
        return 1 if top == 2 and 2 * right >= n else 0

    if item.type == "short_answer":
        answer = item.answer
        assert answer is not None
        text = normal["text"]
        if answer.kind == "numeric":
            number = parse_number(text)
            if number is None:
                return 0  # unparseable text is a wrong answer, not a malformed response
            target = Decimal(str(answer.value))
            return 1 if abs(number - target) <= Decimal(str(answer.tolerance)) else 0
        typed = normalize_answer_text(text, answer.case_sensitive)
        accepted = {normalize_answer_text(a, answer.case_sensitive) for a in answer.accepted}
        return 1 if typed in accepted else 0

    if item.type == "grid_path":
        assert item.grid is not None
        outcome = simulate(item.grid, normal["moves"])
        if outcome.crashed or not outcome.reached_goal:
            return 0
        if top == 2 and outcome.n_moves != item.grid.shortest_path_length:
            return 1
        return top

    raise ResponseError(item.id, "type", f"unknown item type {item.type!r}")  # pragma: no cover


def shuffle_options(item: Item, seed: int | str) -> dict[str, tuple[str, ...]]:
    """A deterministic per-student display order of option ids ('options', or 'left'/'right').

    Scoring is unaffected because responses carry ids; ordering items never get the key order.
    """
    return item.display_order(seed)
