"""Whether the order an item is presented in gives its key away (issue 8.1).

Used by validation (an authored order that leaks is an error) and by the per-student
shuffle (a drawn order that leaks is drawn again), so both apply one rule.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "is_adjacent_swap",
    "matching_reveals_key",
    "ordering_reveals_key",
    "same_number_pairs",
    "straight_across_pairs",
]

_TRAILING_NUMBER = re.compile(r"(\d+)$")


def ordering_reveals_key(shown: Sequence[str], key: Sequence[str]) -> bool:
    """True if `shown` is the key order or one swap of two options away from it.

    Left as shown, such an order either scores (an adjacent swap earns partial credit) or
    already has every option but two in its keyed place.
    """
    misplaced = sum(1 for a, b in zip(shown, key, strict=True) if a != b)
    return misplaced <= 2


def is_adjacent_swap(order: Sequence[str], key: Sequence[str]) -> bool:
    """True when `order` differs from `key` by exactly one swap of neighbours (Kendall distance 1)."""
    diff = [i for i, (a, b) in enumerate(zip(order, key)) if a != b]
    return (
        len(order) == len(key)
        and len(diff) == 2
        and diff[1] == diff[0] + 1
        and order[diff[0]] == key[diff[1]]
        and order[diff[1]] == key[diff[0]]
    )


def straight_across_pairs(left: Sequence[str], right: Sequence[str], key: Sequence[tuple[str, str]]) -> int:
    """How many left items are keyed to the right item shown in the same position."""
    position = {rid: i for i, rid in enumerate(right)}
    return sum(1 for i, lid in enumerate(left) for klid, rid in key if klid == lid and position.get(rid) == i)


def same_number_pairs(key: Sequence[tuple[str, str]]) -> int:
    """How many key pairs have ids ending in the same number (L2 → R2): ids travel with the delivered options."""
    count = 0
    for lid, rid in key:
        a, b = _TRAILING_NUMBER.search(lid), _TRAILING_NUMBER.search(rid)
        count += bool(a and b and int(a.group(1)) == int(b.group(1)))
    return count


def matching_reveals_key(n_revealed: int, n_left: int) -> bool:
    """True if at least half of the left items are given away: matching "straight across" would score."""
    return 2 * n_revealed >= n_left
